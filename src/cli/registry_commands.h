// The registry's subcommands of `vigil`: register, versions, alias, rollback,
// history; and `vigil train --store`, which trains into a staging
// repository and registers the result. They work on the store and the
// repository directly (a running server picks alias moves up within a
// second); lifecycle/registry.h does the work.
#ifndef VIGIL_CLI_REGISTRY_COMMANDS_H_
#define VIGIL_CLI_REGISTRY_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>

#include "lifecycle/xgboost_trainer.h"

namespace vigil {

// Adds the subcommands to `app`; after parsing, Run() runs the one given
// (returns -1 if none of them was).
class RegistryCommands {
 public:
  explicit RegistryCommands(CLI::App& app);
  int Run() const;

  // `vigil train` with --store: trains `options` (its repository is the
  // destination) and registers the version with its parameters and metrics.
  static int TrainAndRegister(TrainOptions options, const std::string& store, const std::string& author,
                              const std::vector<std::string>& aliases);

  struct Flags;  // The subcommands' options (registry_commands.cc).

 private:
  std::shared_ptr<Flags> flags_;
  std::vector<std::pair<CLI::App*, std::function<int(const Flags&)>>> commands_;
};

}  // namespace vigil

#endif  // VIGIL_CLI_REGISTRY_COMMANDS_H_
