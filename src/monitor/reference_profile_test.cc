#include "monitor/reference_profile.h"

#include <gtest/gtest.h>

#include <cmath>

#include "testing/test_repository.h"

namespace vigil {
namespace {

ModelConfig Config() {
  auto config = ParseModelConfig(R"(
backend: xgboost
features:
  - {name: x, type: numeric}
  - {name: d, type: numeric}
  - {name: c, type: categorical, categories: [a, b, c]}
)",
                                 "m");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return *config;
}

TEST(ReferenceProfileTest, QuantileBinsCountsAndMoments) {
  // x: 1..10; d: seven 0s, two 1s, a 2; c: a, a, b, missing, an unknown code, then c.
  std::vector<float> data;
  const float d[10] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 2};
  const float c[10] = {0, 0, 1, NAN, 7, 2, 2, 2, 2, 2};
  for (int r = 0; r < 10; ++r) data.insert(data.end(), {static_cast<float>(r + 1), d[r], c[r]});
  std::vector<float> scores = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, NAN};
  const ReferenceProfile p = BuildReferenceProfile(Config(), data, 10, scores, /*bins=*/5);
  ASSERT_EQ(p.features.size(), 3u);
  EXPECT_EQ(p.rows, 10);

  // Quintiles of 1..10 by nearest rank: 2, 4, 6, 8; two values per bin.
  const ColumnProfile& x = p.features[0];
  EXPECT_EQ(x.edges, (std::vector<double>{2, 4, 6, 8}));
  EXPECT_EQ(x.counts, (std::vector<double>{2, 2, 2, 2, 2}));
  EXPECT_EQ(x.centers, (std::vector<double>{1.5, 3.5, 5.5, 7.5, 9.5}));
  EXPECT_DOUBLE_EQ(x.mean, 5.5);
  EXPECT_NEAR(x.variance, 110.0 / 12.0, 1e-12);  // Sample variance of 1..n: n(n + 1) / 12.
  EXPECT_EQ(x.min, 1);
  EXPECT_EQ(x.max, 10);
  EXPECT_EQ(x.Bin(2.0), 0u);  // Bins are closed on the right.
  EXPECT_EQ(x.Bin(2.5), 1u);
  EXPECT_EQ(x.Bin(100), 4u);

  // A discrete feature: repeated quantiles merge.
  const ColumnProfile& dp = p.features[1];
  EXPECT_EQ(dp.edges, (std::vector<double>{0, 1}));
  EXPECT_EQ(dp.counts, (std::vector<double>{7, 2, 1}));

  const ColumnProfile& cp = p.features[2];
  EXPECT_TRUE(cp.categorical);
  EXPECT_EQ(cp.counts, (std::vector<double>{2, 1, 5}));
  EXPECT_EQ(cp.missing, 2);  // Missing and a code outside the categories.

  EXPECT_EQ(p.prediction.missing, 1);
  EXPECT_EQ(p.prediction.count, 10);
  EXPECT_NEAR(p.prediction.mean, 0.5, 1e-6);
}

TEST(ReferenceProfileTest, RoundTripsThroughItsFile) {
  std::vector<float> data;
  for (int r = 0; r < 50; ++r) data.insert(data.end(), {static_cast<float>(r % 13), static_cast<float>(r % 3), static_cast<float>(r % 3)});
  std::vector<float> scores(50, 0.5f);
  const ReferenceProfile p = BuildReferenceProfile(Config(), data, 50, scores);
  testing::TempDir dir;
  ASSERT_TRUE(WriteReferenceProfile(p, dir.path() / "profile.json").ok());
  auto back = ReadReferenceProfile(dir.path() / "profile.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), p.ToJson());
  EXPECT_EQ(back->features[2].categories, (std::vector<std::string>{"a", "b", "c"}));
  testing::WriteFile(dir.path() / "bad.json", R"({"rows": 1, "features": [{"name": "x"}]})");
  EXPECT_FALSE(ReadReferenceProfile(dir.path() / "bad.json").ok());
  EXPECT_EQ(ReadReferenceProfile(dir.path() / "none.json").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil
