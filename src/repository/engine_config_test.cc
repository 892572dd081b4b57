#include "repository/engine_config.h"

#include <gtest/gtest.h>

#include "repository/model_config.h"

namespace vigil {
namespace {

TEST(EngineConfigTest, ParsesInstancesBatchingAndRefusesBadSteps) {
  auto plain = ParseModelConfig("backend: onnx\ninputs: [{name: x, shape: [-1, 4]}]\n", "m");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->engine.instances, 1);
  EXPECT_EQ(plain->engine.max_queue, 64);
  EXPECT_FALSE(plain->engine.batching.enabled());
  auto batched = ParseModelConfig(R"(
backend: torchscript
inputs: [{name: x, datatype: FP32, shape: [-1, 64]}]
instances: 3
max_queue: 8
batching: {max_batch_size: 64, max_queue_delay_us: 250, preferred_batch_sizes: [32, 8]}
)", "digits");
  ASSERT_TRUE(batched.ok()) << batched.status().ToString();
  EXPECT_EQ(batched->engine.instances, 3);
  EXPECT_EQ(batched->engine.max_queue, 8);
  EXPECT_EQ(batched->engine.batching.max_batch_size, 64);
  EXPECT_EQ(batched->engine.batching.max_queue_delay_us, 250);
  EXPECT_EQ(batched->engine.batching.preferred_batch_sizes, (std::vector<int64_t>{8, 32}));
  // Rendered back and parsed again: the same engine settings.
  auto again = ParseModelConfig(ModelConfigToYaml(*batched), "digits");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << ModelConfigToYaml(*batched);
  EXPECT_EQ(again->engine.batching.preferred_batch_sizes, (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(again->engine.instances, 3);

  struct Case {
    std::string yaml, error;
  };
  const std::string base = "backend: onnx\nfeatures: [{name: Age}, {name: Home, type: categorical, categories: [a, b]}]\n";
  for (const Case& c : std::vector<Case>{
           {"preprocessing: [{feature: Size, fill: 1}]", "preprocessing[0].feature: no feature 'Size' in features"},
           {"preprocessing: [{feature: Age, standardize: {mean: 1, std: 0}}]", "preprocessing[0].standardize.std: must be positive"},
           {"preprocessing: [{feature: Age, one_hot: [a]}]", "preprocessing[0].one_hot: 'Age' is not categorical"},
           {"preprocessing: [{feature: Home, one_hot: [c]}]", "preprocessing[0].one_hot[0]: 'c' is not a category of Home"},
           {"preprocessing: [{feature: Age, fill: 1}, {feature: Age, fill: 2}]", "preprocessing[1].feature: 'Age' has steps already"},
           {"preprocessing: [{feature: Age, scale: 2}]", "preprocessing[0].scale: unknown key"},
           {"instances: 0", "instances: expected an integer from 1 to 256"},
           {"batching: {max_batch_size: 8, preferred_batch_sizes: [16]}",
            "batching.preferred_batch_sizes[0]: expected an integer from 1 to 8"},
       }) {
    auto parsed = ParseModelConfig(base + c.yaml, "credit");
    ASSERT_FALSE(parsed.ok()) << c.yaml;
    EXPECT_EQ(parsed.status().message(), c.error);
  }
}

}  // namespace
}  // namespace vigil
