#include "common/config/config_file.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <tuple>

#include "common/config/key_table.h"
#include "common/text.h"

namespace outpost::config {
namespace {

using internal::FindKey;
using internal::Key;
using internal::Keys;
using internal::Value;
using internal::ValueKind;

// One problem found in a file, kept with its position so all of them are reported in file
// order (toml++ tables iterate in key order, not in file order).
struct Problem {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;
};

class ProblemList {
 public:
  explicit ProblemList(std::string_view source_name) : source_name_(source_name) {}

  void Add(const toml::source_position& at, std::string_view message) {
    problems_.push_back({at.line, at.column,
                         source_name_ + ":" + std::to_string(at.line) + ":" +
                             std::to_string(at.column) + ": " + std::string(message)});
  }

  Status ToStatus() {
    if (problems_.empty()) return Status::Ok();
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::vector<std::string> lines;
    for (const Problem& p : problems_) lines.push_back(p.message);
    return InvalidArgument(internal::JoinLines(lines));
  }

 private:
  std::string source_name_;
  std::vector<Problem> problems_;
};

// "integer 3600", "boolean true", "table": what was found instead of the expected kind.
std::string DescribeNode(const toml::node& node) {
  std::ostringstream out;
  out << node.type();
  if (node.is_table()) return out.str();
  // Strings as in our own messages (toml++ would print a 'literal string').
  if (const auto* s = node.as_string()) return out.str() + " " + internal::QuoteToml(s->get());
  std::ostringstream value;
  node.visit([&value](const auto& n) { value << n; });
  std::string text = value.str();
  constexpr std::size_t kMaxShown = 60;
  if (text.size() > kMaxShown) text = std::string(Utf8Prefix(text, kMaxShown)) + "...";
  return out.str() + " " + text;
}

Result<Value> ValueFromNode(const Key& key, const toml::node& node) {
  switch (key.kind) {
    case ValueKind::kString:
    case ValueKind::kDuration:
      if (const auto* s = node.as_string()) return Value(s->get());
      break;
    case ValueKind::kInteger:
      if (const auto* i = node.as_integer()) return Value(i->get());
      break;
    case ValueKind::kStringList:
      if (const auto* array = node.as_array()) {
        std::vector<std::string> items;
        bool all_strings = true;
        for (const toml::node& element : *array) {
          if (const auto* s = element.as_string()) {
            items.push_back(s->get());
          } else {
            all_strings = false;
          }
        }
        if (all_strings) return Value(std::move(items));
      }
      break;
    case ValueKind::kBoolean:
      if (const auto* b = node.as_boolean()) return Value(b->get());
      break;
  }
  return InvalidArgument("expected " + std::string(internal::DescribeKind(key.kind)) + ", got " +
                         DescribeNode(node));
}

const toml::source_position& PositionOf(const toml::key& key, const toml::node& node) {
  // Keys carry their own position; fall back to the value's if a key has none.
  return key.source().begin.line != 0 ? key.source().begin : node.source().begin;
}

void ReadEntry(Config& config, const Key& key, const toml::key& toml_key, const toml::node& node,
               ProblemList& problems) {
  Result<Value> value = ValueFromNode(key, node);
  const Status status = value.ok() ? key.set(config, *value) : value.status();
  if (!status.ok()) {
    problems.Add(PositionOf(toml_key, node), std::string(key.name) + ": " + status.message());
  }
}

void ReadSection(Config& config, std::string_view section, const toml::table& table,
                 ProblemList& problems) {
  for (const auto& [toml_key, node] : table) {
    const std::string dotted = std::string(section) + "." + std::string(toml_key.str());
    const Key* key = FindKey(dotted);
    if (key == nullptr) {
      problems.Add(PositionOf(toml_key, node), internal::UnknownKeyMessage(dotted));
      continue;
    }
    ReadEntry(config, *key, toml_key, node, problems);
  }
}

Status SetFromText(Config& config, const Key& key, std::string_view text) {
  Result<Value> value = internal::ValueFromText(key, text);
  const Status status = value.ok() ? key.set(config, *value) : value.status();
  return status.ok() ? status : status.WithContext(key.name);
}

}  // namespace

Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name) {
  const std::string source = source_name.empty() ? "<config>" : std::string(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return InvalidArgument(source + ":" + std::to_string(at.line) + ":" +
                           std::to_string(at.column) + ": " + std::string(e.description()));
  }

  Config config;
  ProblemList problems(source);
  for (const auto& [toml_key, node] : root) {
    const std::string_view name = toml_key.str();
    if (const Key* key = FindKey(name); key != nullptr && key->section().empty()) {
      ReadEntry(config, *key, toml_key, node, problems);
    } else if (internal::IsSection(name)) {
      if (const toml::table* table = node.as_table()) {
        ReadSection(config, name, *table, problems);
      } else {
        problems.Add(PositionOf(toml_key, node), "'" + std::string(name) + "' must be the table [" +
                                                     std::string(name) + "], got " +
                                                     DescribeNode(node));
      }
    } else if (node.is_table()) {
      problems.Add(PositionOf(toml_key, node), internal::UnknownTableMessage(name));
    } else {
      problems.Add(PositionOf(toml_key, node), internal::UnknownKeyMessage(name));
    }
  }
  OUTPOST_RETURN_IF_ERROR(problems.ToStatus());
  OUTPOST_RETURN_IF_ERROR(Validate(config).WithContext(source));
  return config;
}

Result<Config> LoadConfigFile(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    return NotFound("configuration file " + path.string() +
                    " does not exist; create a data directory with `outpost init --data-dir "
                    "DIR` (it writes DIR/outpost.toml) or pass the right --config or --data-dir");
  }
  if (std::filesystem::is_directory(status)) {
    return FailedPrecondition("configuration file " + path.string() + " is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return FailedPrecondition("cannot read configuration file " + path.string() + ": " +
                              std::strerror(errno));
  }
  return ParseConfig(text.str(), path.string());
}

Status ApplyOverride(Config& config, std::string_view dotted_key, std::string_view value) {
  const Key* key = FindKey(dotted_key);
  if (key == nullptr) return InvalidArgument(internal::UnknownKeyMessage(dotted_key));
  return SetFromText(config, *key, value);  // a key's setter changes nothing on error
}

Status ApplyEnvironment(Config& config, const GetEnv& getenv) {
  Config updated = config;
  std::vector<std::string> problems;
  for (const Key& key : Keys()) {
    const std::string variable = internal::EnvironmentName(key);
    const std::optional<std::string> text = getenv(variable);
    if (!text.has_value()) continue;
    if (Status s = SetFromText(updated, key, *text); !s.ok()) {
      problems.push_back("environment variable " + variable + ": " + s.message());
    }
  }
  if (!problems.empty()) return InvalidArgument(internal::JoinLines(problems));
  config = std::move(updated);
  return Status::Ok();
}

GetEnv ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::optional<std::string> EnvironmentVariableFor(std::string_view dotted_key) {
  const Key* key = FindKey(dotted_key);
  if (key == nullptr) return std::nullopt;
  return internal::EnvironmentName(*key);
}

std::vector<std::string> KnownKeys() {
  std::vector<std::string> names;
  for (const Key& key : Keys()) names.emplace_back(key.name);
  return names;
}

std::string RenderConfig(const Config& config) {
  std::string out =
      "# Outpost configuration (outpost.toml), written by `outpost init`.\n"
      "# Relative paths are relative to the data directory (--data-dir).\n"
      "# Durations: whole numbers with units d, h, m, s, ms, largest first: \"90d\", \"1h30m\".\n"
      "# Precedence: this file < environment (OUTPOST_<SECTION>_<KEY>, e.g. OUTPOST_SYNC_MODE)\n"
      "# < command-line flags.\n";
  std::string_view section = "";
  for (const Key& key : Keys()) {
    if (key.section() != section) {
      section = key.section();
      out += "\n[" + std::string(section) + "]\n";
    } else {
      out += "\n";
    }
    out += "# " + std::string(key.comment) + "\n";
    out +=
        std::string(key.leaf()) + " = " + internal::RenderValue(key.kind, key.get(config)) + "\n";
  }
  return out;
}

Result<Config> LoadLayeredConfig(
    const std::filesystem::path& file, const std::filesystem::path& data_dir, const GetEnv& getenv,
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  OUTPOST_ASSIGN_OR_RETURN(Config config, LoadConfigFile(file));
  config.data_dir = data_dir;
  OUTPOST_RETURN_IF_ERROR(ApplyEnvironment(config, getenv));
  for (const auto& [key, value] : overrides) {
    OUTPOST_RETURN_IF_ERROR(ApplyOverride(config, key, value));
  }
  OUTPOST_RETURN_IF_ERROR(Validate(config));
  return config;
}

}  // namespace outpost::config
