#include "cli/input.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "common/crypto/secure_file.h"

namespace outpost::cli {
namespace {

constexpr size_t kMaxPasswordBytes = 1024;
constexpr size_t kMaxStdinBytes = 64 * 1024;

// Everything on standard input up to `limit` bytes (one more tells the caller it was longer).
Result<std::string> ReadAll(size_t limit) {
  std::string out;
  char buf[4096];
  while (out.size() <= limit) {
    const ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return InvalidArgument(std::string("cannot read standard input: ") + std::strerror(errno));
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// One line typed on the terminal with echo off; the prompt goes to stderr so stdout stays clean.
Result<std::string> PromptHidden(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  termios saved{};
  const bool have_termios = tcgetattr(STDIN_FILENO, &saved) == 0;
  if (have_termios) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  char c = 0;
  bool got_newline = false;
  while (line.size() <= kMaxPasswordBytes) {
    const ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (c == '\n') {
      got_newline = true;
      break;
    }
    line.push_back(c);
  }
  if (have_termios) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!got_newline && line.empty()) return InvalidArgument("no password was entered");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Status CheckPassword(const std::string& password) {
  if (password.empty()) return InvalidArgument("the password on standard input is empty");
  if (password.size() > kMaxPasswordBytes) {
    return InvalidArgument("the password is longer than " + std::to_string(kMaxPasswordBytes) +
                           " bytes");
  }
  return Status::Ok();
}

}  // namespace

std::string TrimWhitespace(std::string_view text) {
  const char* kSpace = " \t\r\n\v\f";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return "";
  const size_t end = text.find_last_not_of(kSpace);
  return std::string(text.substr(begin, end - begin + 1));
}

Result<std::string> ReadPasswordFromStdin(std::string_view user) {
  if (isatty(STDIN_FILENO)) {
    OUTPOST_ASSIGN_OR_RETURN(std::string first,
                             PromptHidden("New password for " + std::string(user) + ": "));
    OUTPOST_RETURN_IF_ERROR(CheckPassword(first));
    OUTPOST_ASSIGN_OR_RETURN(std::string second, PromptHidden("Repeat the password: "));
    if (first != second) return InvalidArgument("the two passwords differ; nothing was changed");
    return first;
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string text, ReadAll(kMaxPasswordBytes + 2));
  if (text.size() >= 2 && text.compare(text.size() - 2, 2, "\r\n") == 0) {
    text.resize(text.size() - 2);
  } else if (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  if (text.find('\n') != std::string::npos) {
    return InvalidArgument(
        "standard input holds more than one line; --password-stdin takes the password alone");
  }
  OUTPOST_RETURN_IF_ERROR(CheckPassword(text));
  return text;
}

Result<std::string> ReadSecretArgument(std::string_view value, std::string_view flag) {
  std::string text;
  std::string source;
  if (value == "-") {
    OUTPOST_ASSIGN_OR_RETURN(text, ReadAll(kMaxStdinBytes));
    source = std::string(flag) + " - (standard input)";
  } else if (value.starts_with("@")) {
    const std::string path(value.substr(1));
    if (path.empty()) {
      return InvalidArgument(std::string(flag) + " @FILE needs a file name after the '@'");
    }
    auto read = crypto::ReadSmallFile(path, kMaxStdinBytes);
    if (!read.ok()) return read.status().WithContext(std::string(flag) + " @" + path);
    text = std::move(*read);
    source = std::string(flag) + " @" + path;
  } else {
    text = std::string(value);
    source = std::string(flag);
  }
  if (text.size() > kMaxStdinBytes) {
    return InvalidArgument("the value of " + source + " is too long to be a secret");
  }
  std::string secret = TrimWhitespace(text);
  if (secret.empty()) return InvalidArgument("the value of " + source + " is empty");
  if (secret.find_first_of("\r\n") != std::string::npos) {
    return InvalidArgument("the value of " + source +
                           " holds more than one line; it must hold the secret alone");
  }
  return secret;
}

Result<std::string> ReadApiKeyFromStdin() {
  OUTPOST_ASSIGN_OR_RETURN(std::string text, ReadAll(kMaxStdinBytes));
  if (text.size() > kMaxStdinBytes) {
    return InvalidArgument("standard input is too long to be an API key (--api-key -)");
  }
  std::string key = TrimWhitespace(text);
  if (key.empty()) return InvalidArgument("--api-key - was given but standard input is empty");
  return key;
}

}  // namespace outpost::cli
