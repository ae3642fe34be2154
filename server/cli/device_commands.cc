#include "server/cli/commands.h"

namespace outpost::cli {

void AddDeviceCommands(CLI::App& /*app*/, CommandLine& /*cli*/) {}

}  // namespace outpost::cli
