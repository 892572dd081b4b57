// Writes the seed corpus of xgboost_model_fuzz: small models trained with
// the XGBoost C API (Debian's libxgboost-dev), each prefixed with the byte
// that selects the format ('0' JSON, '1' UBJ). Not part of the build; run by
// hand when the seeds need renewing:
//   g++ -std=c++20 -O1 tests/fuzz/make_xgboost_seeds.cc -lxgboost -o /tmp/make_xgboost_seeds
//   /tmp/make_xgboost_seeds tests/fuzz/corpus/xgboost_model
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

void X(int rc) {
  if (rc != 0) {
    std::fprintf(stderr, "xgboost: %s\n", XGBGetLastError());
    std::exit(1);
  }
}

struct Spec {
  std::string file;
  std::vector<std::pair<std::string, std::string>> params;
  int rounds;
  int num_class;       // 0: binary or regression.
  bool categorical;    // Feature 1 is categorical, with categories 0..39.
  const char* format;  // "json" or "ubj".
};

void Write(const std::string& dir, const Spec& s) {
  const int rows = 400, features = 3;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(rows * features), y(rows);
  for (int r = 0; r < rows; ++r) {
    float* row = &x[r * features];
    row[0] = u(rng);
    row[1] = s.categorical ? static_cast<float>(rng() % 40) : u(rng);
    row[2] = u(rng) < 0.1f ? NAN : u(rng);
    const float score = row[0] + (s.categorical ? (static_cast<int>(row[1]) % 3 == 0) : row[1]);
    y[r] = s.num_class ? static_cast<float>(static_cast<int>(score * s.num_class / 2) % s.num_class)
                       : (s.params[0].second == "reg:squarederror" ? score : score > 1.0f);
  }
  DMatrixHandle d;
  X(XGDMatrixCreateFromMat(x.data(), rows, features, NAN, &d));
  X(XGDMatrixSetFloatInfo(d, "label", y.data(), rows));
  if (s.categorical) {
    const char* types[] = {"q", "c", "q"};
    X(XGDMatrixSetStrFeatureInfo(d, "feature_type", types, features));
  }
  BoosterHandle b;
  X(XGBoosterCreate(&d, 1, &b));
  X(XGBoosterSetParam(b, "nthread", "1"));
  X(XGBoosterSetParam(b, "seed", "3"));
  X(XGBoosterSetParam(b, "tree_method", "hist"));
  for (const auto& [k, v] : s.params) X(XGBoosterSetParam(b, k.c_str(), v.c_str()));
  if (s.num_class) X(XGBoosterSetParam(b, "num_class", std::to_string(s.num_class).c_str()));
  for (int i = 0; i < s.rounds; ++i) X(XGBoosterUpdateOneIter(b, i, d));
  bst_ulong len;
  const char* buffer;
  const std::string config = std::string(R"({"format": ")") + s.format + "\"}";
  X(XGBoosterSaveModelToBuffer(b, config.c_str(), &len, &buffer));
  std::ofstream out(dir + "/" + s.file, std::ios::binary | std::ios::trunc);
  out << (std::string(s.format) == "ubj" ? '1' : '0');
  out.write(buffer, static_cast<std::streamsize>(len));
  XGBoosterFree(b);
  XGDMatrixFree(d);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::vector<Spec> specs = {
      {"binary_logistic.json", {{"objective", "binary:logistic"}, {"max_depth", "2"}}, 2, 0, false, "json"},
      {"binary_logistic.ubj", {{"objective", "binary:logistic"}, {"max_depth", "2"}}, 2, 0, false, "ubj"},
      {"multiclass_categorical.json",
       {{"objective", "multi:softprob"}, {"max_depth", "2"}, {"max_cat_to_onehot", "1"}},
       1, 3, true, "json"},
      {"regression_parallel.ubj",
       {{"objective", "reg:squarederror"}, {"max_depth", "2"}, {"num_parallel_tree", "2"}, {"subsample", "0.7"}},
       1, 0, false, "ubj"},
  };
  for (const Spec& s : specs) Write(dir, s);
  return 0;
}
