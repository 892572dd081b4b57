// Fuzzes the model configuration parser, ParseModelConfig
// (src/repository/model_config.cc and the sections it delegates to:
// alerts, monitoring, gate, training, rollout; yaml-cpp), with arbitrary
// model.yaml text.
//
// A refusal (a Status error) is a correct answer. A crash, a sanitizer
// report, an uncaught exception (yaml-cpp throws; the parser must turn every
// exception into a Status), a timeout or a broken invariant below is a
// finding. An accepted configuration must also survive ModelConfigToYaml and
// parse again, since the registry writes configurations back that way.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "repository/model_config.h"

using vigil::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = vigil::ParseModelConfig(text, "credit");
  vigil::fuzz::Report(config.status());
  if (!config.ok()) return 0;
  Check(config->name == "credit", "the name is the directory's");
  Check(!config->outputs.empty(), "a configuration has outputs");
  if (config->is_tabular()) Check(config->inputs.size() == 1, "a tabular model has one input");
  const std::string yaml = vigil::ModelConfigToYaml(*config);
  auto again = vigil::ParseModelConfig(yaml, "credit");
  Check(again.ok(), "ModelConfigToYaml gives YAML that parses again",
        yaml + "\n" + (again.ok() ? std::string() : again.status().ToString()));
  return 0;
}
