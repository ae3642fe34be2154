#include "server/cli/commands.h"

namespace outpost::cli {

void AddCentralCommands(CLI::App& /*app*/, CommandLine& /*cli*/) {}

}  // namespace outpost::cli
