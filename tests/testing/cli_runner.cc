#include "tests/testing/cli_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <regex>

#include "tests/testing/test_util.h"

extern char** environ;

namespace outpost::testing {
namespace {

std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "OUTPOST_", 8) != 0) env.emplace_back(*e);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Polls (no sleeping on a clock the test depends on: this is a child process's lifetime).
std::optional<int> WaitBounded(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return std::nullopt;
    }
    usleep(20'000);
  }
  if (!WIFEXITED(status)) return std::nullopt;
  return WEXITSTATUS(status);
}

}  // namespace

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

RunResult RunBinary(const std::string& binary, std::vector<std::string> args,
                    const std::map<std::string, std::string>& env, const std::string& stdin_text,
                    std::chrono::milliseconds timeout) {
  TempDir io;
  const std::string in_path = (io.path() / "in").string();
  const std::string out_path = (io.path() / "out").string();
  const std::string err_path = (io.path() / "err").string();
  WriteFileOrDie(in_path, stdin_text);
  std::string bin = binary;
  args.insert(args.begin(), bin);
  std::vector<std::string> env_strings = ChildEnvironment(env);
  const pid_t pid = fork();
  if (pid == 0) {
    if (freopen(in_path.c_str(), "r", stdin) == nullptr ||
        freopen(out_path.c_str(), "w", stdout) == nullptr ||
        freopen(err_path.c_str(), "w", stderr) == nullptr) {
      _exit(126);
    }
    execve(bin.c_str(), Pointers(args).data(), Pointers(env_strings).data());
    _exit(127);
  }
  RunResult r;
  r.exit_code = WaitBounded(pid, timeout).value_or(-1);
  r.out = ReadFileOrDie(out_path);
  r.err = ReadFileOrDie(err_path);
  return r;
}

ServingProcess::~ServingProcess() { Stop(); }

bool ServingProcess::Start(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& log_file) {
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return false;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    if (freopen(log_file.c_str(), "a", stderr) == nullptr) _exit(126);
    close(out_pipe[0]);
    std::vector<std::string> argv = args;
    argv.insert(argv.begin(), binary);
    std::vector<std::string> env = ChildEnvironment({});
    execve(binary.c_str(), Pointers(argv).data(), Pointers(env).data());
    _exit(127);
  }
  close(out_pipe[1]);
  const std::regex url(R"(URL:\s+(https://[^\s]+))");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string seen;
  std::smatch m;
  while (!std::regex_search(seen, m, url) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_pipe[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    const ssize_t n = read(out_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  if (!std::regex_search(seen, m, url)) return false;
  url_ = m[1].str();
  return true;
}

std::optional<int> ServingProcess::Stop() {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  const auto code = WaitBounded(pid_, std::chrono::seconds(15));
  pid_ = -1;
  return code;
}

}  // namespace outpost::testing
