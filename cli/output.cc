#include "cli/output.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "common/proto_json.h"

namespace outpost::cli {
namespace {

size_t DisplayWidth(std::string_view text) {
  // Continuation bytes (10xxxxxx) do not start a code point.
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

int Fail(const Status& status) {
  std::cerr << "outpost: " << status.message() << "\n";
  return kExitFailure;
}

int UsageError(std::string_view message) {
  std::cerr << "outpost: " << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

void PrintJson(const google::protobuf::Message& message) {
  const std::string json = ToJson(message, true);
  std::cout << json << (json.ends_with('\n') ? "" : "\n");
}

std::string PrettyJson(std::string_view json) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  const auto newline = [&out, &depth] {
    out.push_back('\n');
    out.append(static_cast<size_t>(std::max(depth, 0)), ' ');
  };
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        break;
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case '{':
      case '[': {
        // An empty object or array stays on one line.
        size_t next = json.find_first_not_of(" \t\r\n", i + 1);
        const char close = c == '{' ? '}' : ']';
        if (next != std::string_view::npos && json[next] == close) {
          out.push_back(c);
          out.push_back(close);
          i = next;
          break;
        }
        out.push_back(c);
        ++depth;
        newline();
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out.push_back(c);
        break;
      case ',':
        out.push_back(c);
        newline();
        break;
      case ':':
        out.append(": ");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

void PrintJsonText(std::string_view json) { std::cout << PrettyJson(json) << "\n"; }

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string OrDefault(std::string_view text, std::string_view fallback) {
  return std::string(text.empty() ? fallback : text);
}

void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size() + 1);
  cells.push_back(header);
  for (const auto& row : rows) {
    std::vector<std::string> printable;
    for (const auto& cell : row) printable.push_back(Printable(cell));
    printable.resize(std::max(printable.size(), header.size()));
    cells.push_back(std::move(printable));
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  for (const auto& row : cells) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        const size_t width = i < widths.size() ? widths[i] : 0;
        line.append(width - std::min(width, DisplayWidth(row[i])) + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

void PrintFields(std::ostream& out,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [label, value] : fields) width = std::max(width, DisplayWidth(label) + 1);
  for (const auto& [label, value] : fields) {
    out << "  " << label << ":" << std::string(width - DisplayWidth(label) - 1 + 2, ' ')
        << Printable(value) << "\n";
  }
}

}  // namespace outpost::cli
