#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "common/status.h"

// Reading, layering and writing `outpost.toml`.
//
// Precedence, lowest first: built-in defaults < the file < environment variables <
// command-line flags. Each layer only changes the keys it names. LoadLayeredConfig() applies
// them in that order; callers that layer by hand must do the same and call Validate() last.
//
// Every key has a dotted name ("listen", "sync.mode", "server.read_timeout"), which is also
// its flag spelling for ApplyOverride, and an environment variable made of OUTPOST_ and the
// dotted name upper-cased with '.' turned into '_' (OUTPOST_LISTEN, OUTPOST_SYNC_MODE,
// OUTPOST_SERVER_READ_TIMEOUT). No key maps to the CLI's own variables (OUTPOST_SERVER,
// OUTPOST_API_KEY, OUTPOST_CA, OUTPOST_DATA_DIR), and ApplyEnvironment reads no others.
//
// Values given as text (flags, environment) use the file's spelling without TOML quoting:
// durations as "1h30m", integers in decimal, lists comma-separated ("localhost,sat.lan").
namespace outpost::config {

// Looks up an environment variable; std::nullopt when it is not set. Injected for tests.
using GetEnv = std::function<std::optional<std::string>(const std::string& name)>;

// Parses TOML text. `source_name` (usually the file name) starts every error message, e.g.
// "outpost.toml:12:1: unknown key 'sync.intervall'; known keys in [sync]: mode, ...".
// Unknown keys and tables, wrong types and bad values are InvalidArgument errors naming the
// key, its line and column, the bad value and what is accepted; all problems are reported,
// one per line, in file order. Keys not in the text keep their defaults. The result has
// passed Validate(); data_dir is left empty.
Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name);

// Reads and parses a file. A missing file is NotFound naming the path and suggesting
// `outpost init`; an unreadable one is FailedPrecondition.
Result<Config> LoadConfigFile(const std::filesystem::path& path);

// Sets one key from text, with the key's own validation; errors name the key and the value.
// Rules between keys are not checked here (a later override may fix them): call Validate()
// after the last one. On error `config` is unchanged.
Status ApplyOverride(Config& config, std::string_view dotted_key, std::string_view value);

// Applies every set OUTPOST_<SECTION>_<KEY> variable that names a key; errors name the
// variable. All variables are checked and all problems reported; on error `config` is
// unchanged. Like ApplyOverride, leaves rules between keys to Validate().
Status ApplyEnvironment(Config& config, const GetEnv& getenv);

// A GetEnv over the process environment (std::getenv).
GetEnv ProcessEnvironment();

// The environment variable for a dotted key ("sync.mode" -> "OUTPOST_SYNC_MODE"), or
// std::nullopt for an unknown key.
std::optional<std::string> EnvironmentVariableFor(std::string_view dotted_key);

// Every key's dotted name, in file order.
std::vector<std::string> KnownKeys();

// A complete outpost.toml: every key with its current value and a one-line comment.
// ParseConfig(RenderConfig(c)) == c for any valid `c` with an empty data_dir (durations are
// whole milliseconds). `outpost init` writes this.
std::string RenderConfig(const Config& config);

// Defaults < `file` < environment < `overrides` (dotted key, value; applied in order), then
// Validate(). data_dir is set to `data_dir`.
Result<Config> LoadLayeredConfig(const std::filesystem::path& file,
                                 const std::filesystem::path& data_dir, const GetEnv& getenv,
                                 const std::vector<std::pair<std::string, std::string>>& overrides);

}  // namespace outpost::config
