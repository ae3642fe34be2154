#pragma once

// What the CLI prints: errors on stderr, answers on stdout as aligned text or as the protobuf
// JSON mapping (--json).

#include <google/protobuf/message.h>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/text.h"

namespace outpost::cli {

// Prints "outpost: <message>" to stderr and returns kExitFailure.
int Fail(const Status& status);
// Prints "outpost: <message>" and a pointer to --help to stderr and returns kExitUsage.
int UsageError(std::string_view message);

// ToJson(message, pretty) and a newline on stdout.
void PrintJson(const google::protobuf::Message& message);

// `json` (valid JSON, e.g. several messages' ToJson combined into one object) laid out the way
// PrintJson lays out a message: one member or element per line, indented one space per level,
// "name": value. Whitespace outside strings is replaced; strings are copied as they are.
std::string PrettyJson(std::string_view json);
// PrettyJson(json) and a newline on stdout: every --json answer looks the same.
void PrintJsonText(std::string_view json);

// `text` safe to show on a terminal: control characters (which could move the cursor or
// recolour the screen when a user name or description holds them) are shown as \xNN.
std::string Printable(std::string_view text);

// Plural() and DurationText() are in common/text.h.

// `text`, or `fallback` when it is empty (e.g. "never" for a time that has not happened).
std::string OrDefault(std::string_view text, std::string_view fallback);

// Rows under a header line, columns left-aligned and separated by two spaces. Cells go through
// Printable(); widths count UTF-8 code points. Rows shorter than the header are padded.
void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// "  label:  value" lines with the values aligned, values through Printable().
void PrintFields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace outpost::cli
