#pragma once

// Secrets the CLI reads from standard input, so they never appear in the process list or in
// shell history.

#include <string>
#include <string_view>

#include "common/status.h"

namespace outpost::cli {

// A password for --password-stdin. From a terminal: prompts on stderr (naming `user`) with echo
// off, twice, and the two must match. From a pipe or file: the first line, without its "\n" or
// "\r\n"; more than one line is refused (a likely mistake). Errors (kInvalidArgument): empty,
// longer than 1024 bytes, or nothing to read.
Result<std::string> ReadPasswordFromStdin(std::string_view user);

// An API key for `--api-key -`: all of standard input, surrounding whitespace removed.
Result<std::string> ReadApiKeyFromStdin();

// The value of a secret flag (--api-key, --token), read so that the secret stays out of the
// process list and shell history: "-" reads all of standard input, "@FILE" reads FILE (at most
// 64 KiB); anything else is the secret itself. Surrounding whitespace is removed. Errors
// (kInvalidArgument, naming `flag`): nothing left after trimming, more than one line, too long,
// or the file cannot be read (its error).
Result<std::string> ReadSecretArgument(std::string_view value, std::string_view flag);

// `text` without leading and trailing ASCII whitespace.
std::string TrimWhitespace(std::string_view text);

}  // namespace outpost::cli
