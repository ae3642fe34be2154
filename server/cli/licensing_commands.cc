#include "server/cli/commands.h"

namespace outpost::cli {

void AddLicensingCommands(CLI::App& /*app*/, CommandLine& /*cli*/) {}

}  // namespace outpost::cli
