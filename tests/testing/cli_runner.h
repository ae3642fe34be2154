#pragma once

// The CLI-binary harness: runs the real `outpost` binary with arguments, standard input and a
// clean environment, and starts long-running `serve` processes that print their URL.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace outpost::testing {

struct RunResult {
  int exit_code = -1;  // -1 when it had to be killed or did not exit normally
  std::string out;
  std::string err;
};

// Runs `binary` with `args`, `stdin_text` on its standard input and `env` added to an
// environment without any OUTPOST_* variable of ours; bounded by `timeout`.
RunResult RunBinary(const std::string& binary, std::vector<std::string> args,
                    const std::map<std::string, std::string>& env = {},
                    const std::string& stdin_text = "",
                    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A process started with StartServing, stopped with SIGTERM by Stop() or the destructor.
class ServingProcess {
 public:
  ServingProcess() = default;
  ~ServingProcess();
  ServingProcess(const ServingProcess&) = delete;
  ServingProcess& operator=(const ServingProcess&) = delete;

  // Starts `binary args...` (stderr appended to `log_file`) and waits up to 30 s for a line
  // "URL: https://..." on its standard output. Empty url() when it did not appear (see log).
  bool Start(const std::string& binary, const std::vector<std::string>& args,
             const std::string& log_file);
  const std::string& url() const { return url_; }
  // The process id while it runs (-1 before Start and after Stop), e.g. to send it SIGHUP.
  pid_t pid() const { return pid_; }
  // SIGTERM and a bounded wait: the exit status, or nullopt if it had to be killed.
  std::optional<int> Stop();

 private:
  pid_t pid_ = -1;
  std::string url_;
};

bool Contains(const std::string& text, const std::string& part);

}  // namespace outpost::testing
