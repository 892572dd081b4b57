#include "backends/trees/xgboost_model_reader.h"

#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace vigil {
namespace {

using nlohmann::json;

// What the reader refuses beyond nlohmann's own errors (json::exception).
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Nesting deeper than this is refused: an XGBoost model nests 7 levels, and
// nlohmann's UBJ reader recurses once per level (a file of 50,000 '[' bytes
// overflowed the stack of a release build).
constexpr int kMaxModelDepth = 64;
// Categories at or above 2^24 never match a split (forest.cc, kMaxCategory),
// so they are dropped; the category bitsets of the whole forest are bounded
// (a category near 2^24 costs a 2 MiB bitset): 16M words, 64 MiB.
constexpr int64_t kMaxCategory = int64_t{1} << 24;
constexpr size_t kMaxCategoryWords = size_t{1} << 24;

// Builds the document as json::parse and json::from_ubjson do, stopping at
// kMaxModelDepth levels. (The base class is nlohmann's own DOM builder;
// sax_parse calls these members statically.)
class DepthLimitedBuilder : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  explicit DepthLimitedBuilder(json& root) : json_sax_dom_parser(root, /*allow_exceptions_=*/true) {}
  bool start_object(std::size_t n) { return Enter() && json_sax_dom_parser::start_object(n); }
  bool start_array(std::size_t n) { return Enter() && json_sax_dom_parser::start_array(n); }
  bool end_object() {
    --depth_;
    return json_sax_dom_parser::end_object();
  }
  bool end_array() {
    --depth_;
    return json_sax_dom_parser::end_array();
  }

 private:
  bool Enter() {
    if (++depth_ > kMaxModelDepth) {
      throw ModelError("nested deeper than " + std::to_string(kMaxModelDepth) + " levels");
    }
    return true;
  }
  int depth_ = 0;
};

// Replaces each of `tokens` found outside JSON strings with `replacement`.
std::string ReplaceBareTokens(std::string_view text, std::initializer_list<std::string_view> tokens,
                              std::string_view replacement) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (std::string_view token : tokens) {
      if (text.substr(i, token.size()) == token) {
        out += replacement;
        i += token.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

// XGBoost writes NaN and Infinity as bare tokens, which JSON does not allow:
// read them as null (NaN for the engine).
std::string SanitizeNonFinite(std::string_view text) {
  return ReplaceBareTokens(text, {"NaN", "-Infinity", "Infinity", "-nan", "nan", "-inf", "inf"}, "null");
}

// The model document from JSON text (with XGBoost's bare NaN and Infinity)
// or UBJ. Throws json::exception or ModelError.
json ParseDocument(std::string_view bytes, bool ubj) {
  json root;
  DepthLimitedBuilder builder(root);
  const bool ok = ubj ? json::sax_parse(bytes, &builder, json::input_format_t::ubjson)
                      : json::sax_parse(SanitizeNonFinite(bytes), &builder);
  if (!ok) throw ModelError("the document is incomplete");
  return root;
}

// A number that XGBoost may have written as a string ("5E-1").
float NumberOf(const json& v) {
  if (v.is_string()) return std::strtof(v.get<std::string>().c_str(), nullptr);
  if (v.is_null()) return std::numeric_limits<float>::quiet_NaN();
  return v.get<float>();
}

// An integer of type T: converting a float or a wider integer that does not
// fit would be undefined (nlohmann's get<T> casts), so it is refused.
template <typename T>
T IntegerOf(const json& v) {
  constexpr double kMin = static_cast<double>(std::numeric_limits<T>::min());
  constexpr double kEnd = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;  // 2^(bits - 1)
  bool fits = true;
  if (v.is_number_float()) {
    const double d = v.get<double>();
    fits = d >= kMin && d < kEnd;  // False for NaN.
  } else if (v.is_number_unsigned()) {
    fits = v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  } else if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    fits = i >= std::numeric_limits<T>::min() && i <= std::numeric_limits<T>::max();
  }
  if (!fits) throw ModelError("the integer " + v.dump() + " is out of range");
  return v.get<T>();  // A type_error for what is not a number.
}

// An int that XGBoost may have written as a string ("12").
int IntOf(const json& v) {
  if (v.is_string()) {
    const long long n = std::strtoll(v.get<std::string>().c_str(), nullptr, 10);  // Saturates.
    if (n < INT_MIN || n > INT_MAX) throw ModelError("the integer " + v.dump() + " is out of range");
    return static_cast<int>(n);
  }
  return IntegerOf<int>(v);
}

// The objective's inverse link, in single precision as XGBoost computes it:
// base_score is stored as a prediction, the forest starts from a margin.
Result<float> BaseMargin(Objective objective, float base_score) {
  switch (objective) {
    case Objective::kBinaryLogistic:
    case Objective::kRegLogistic:
      if (!(base_score > 0.0f && base_score < 1.0f)) {
        return Status::InvalidArgument("base_score must lie in (0, 1) for a logistic objective");
      }
      return -std::log(1.0f / base_score - 1.0f);
    case Objective::kCountPoisson:
      if (!(base_score > 0.0f)) return Status::InvalidArgument("base_score must be positive for count:poisson");
      return std::log(base_score);
    default:
      return base_score;
  }
}

template <typename T>
std::vector<T> ArrayOf(const json& tree, const char* key) {
  std::vector<T> out;
  const json& a = tree.at(key);
  out.reserve(a.size());
  for (const json& v : a) {
    if constexpr (std::is_same_v<T, float>) {
      out.push_back(NumberOf(v));
    } else {
      out.push_back(v.is_boolean() ? static_cast<T>(v.get<bool>()) : IntegerOf<T>(v));
    }
  }
  return out;
}

// `category_words` counts the words of the forest's category bitsets.
Status ReadTree(const json& tree, int tree_index, int num_features, int group, Forest& forest,
                size_t& category_words) {
  const std::string where = "trees[" + std::to_string(tree_index) + "]";
  const json& param = tree.at("tree_param");
  if (param.contains("size_leaf_vector") && IntOf(param["size_leaf_vector"]) > 1) {
    return Status::InvalidArgument(where + ": vector leaves (multi-target trees) are not supported");
  }
  const auto left = ArrayOf<int64_t>(tree, "left_children");
  const auto right = ArrayOf<int64_t>(tree, "right_children");
  const auto feature = ArrayOf<int64_t>(tree, "split_indices");
  const auto condition = ArrayOf<float>(tree, "split_conditions");
  const auto default_left = ArrayOf<int64_t>(tree, "default_left");
  std::vector<float> hessian(left.size(), 0.0f);
  if (tree.contains("sum_hessian")) hessian = ArrayOf<float>(tree, "sum_hessian");
  std::vector<int64_t> split_type(left.size(), 0);
  if (tree.contains("split_type")) split_type = ArrayOf<int64_t>(tree, "split_type");
  const size_t n = left.size();
  if (n == 0 || right.size() != n || feature.size() != n || condition.size() != n ||
      default_left.size() != n || split_type.size() != n || hessian.size() != n) {
    return Status::InvalidArgument(where + ": node arrays are empty or of different lengths");
  }
  // Categories of categorical nodes: categories[segment .. segment + size).
  std::vector<std::vector<uint32_t>> categories(n);
  if (tree.contains("categories_nodes")) {
    const auto cat_nodes = ArrayOf<int64_t>(tree, "categories_nodes");
    const auto segments = ArrayOf<int64_t>(tree, "categories_segments");
    const auto sizes = ArrayOf<int64_t>(tree, "categories_sizes");
    const auto values = ArrayOf<int64_t>(tree, "categories");
    if (segments.size() != cat_nodes.size() || sizes.size() != cat_nodes.size()) {
      return Status::InvalidArgument(where + ": categorical split arrays are inconsistent");
    }
    for (size_t k = 0; k < cat_nodes.size(); ++k) {
      if (cat_nodes[k] < 0 || static_cast<size_t>(cat_nodes[k]) >= n || segments[k] < 0 || sizes[k] < 0 ||
          static_cast<size_t>(segments[k]) > values.size() ||
          static_cast<size_t>(sizes[k]) > values.size() - static_cast<size_t>(segments[k])) {
        return Status::InvalidArgument(where + ": categorical split " + std::to_string(k) + " is out of range");
      }
      int64_t max_category = -1;
      for (int64_t j = segments[k]; j < segments[k] + sizes[k]; ++j) {
        if (values[j] < 0) return Status::InvalidArgument(where + ": negative category");
        if (values[j] >= kMaxCategory) continue;  // Never matches: an invalid category goes left.
        categories[cat_nodes[k]].push_back(static_cast<uint32_t>(values[j]));
        max_category = std::max(max_category, values[j]);
      }
      if (max_category >= 32) category_words += static_cast<size_t>(max_category / 32 + 1);
      if (category_words > kMaxCategoryWords) {
        return Status::InvalidArgument(where + ": the categorical splits need more than " +
                                       std::to_string(kMaxCategoryWords * 4 >> 20) + " MiB of category sets");
      }
    }
  }
  // Breadth-first renumbering: the children of a node get adjacent indices.
  std::vector<Forest::Node> nodes(n);
  std::vector<int64_t> new_index(n, -1);
  std::deque<int64_t> queue = {0};
  new_index[0] = 0;
  uint32_t next = 1;
  size_t visited = 0;
  while (!queue.empty()) {
    const int64_t old = queue.front();
    queue.pop_front();
    ++visited;
    Forest::Node& node = nodes[new_index[old]];
    if (left[old] == -1) {
      node = {condition[old], Forest::kLeafFlag, static_cast<uint32_t>(new_index[old])};
      continue;
    }
    const int64_t l = left[old], r = right[old];
    if (l <= 0 || r <= 0 || static_cast<size_t>(l) >= n || static_cast<size_t>(r) >= n ||
        new_index[l] != -1 || new_index[r] != -1) {
      return Status::InvalidArgument(where + ": node " + std::to_string(old) + " has invalid children");
    }
    if (feature[old] < 0 || feature[old] >= num_features || feature[old] > Forest::kFeatureMask) {
      return Status::InvalidArgument(where + ": node " + std::to_string(old) + " splits on feature " +
                                     std::to_string(feature[old]) + " of " + std::to_string(num_features));
    }
    new_index[l] = next;
    new_index[r] = next + 1;
    if (split_type[old] == 1) {
      node = forest.CategoricalNode(static_cast<uint32_t>(feature[old]), default_left[old] != 0, categories[old]);
    } else if (split_type[old] == 0) {
      node = {condition[old], static_cast<uint32_t>(feature[old]) | (default_left[old] ? Forest::kDefaultLeft : 0u), 0};
    } else {
      return Status::InvalidArgument(where + ": unknown split type " + std::to_string(split_type[old]));
    }
    node.left = next;
    next += 2;
    queue.push_back(l);
    queue.push_back(r);
  }
  // Deleted nodes (pruned by XGBoost) are unreachable and dropped.
  nodes.resize(next);
  (void)visited;
  std::vector<float> covers(next, 0.0f);
  for (size_t old = 0; old < n; ++old) {
    if (new_index[old] >= 0) covers[new_index[old]] = hessian[old];
  }
  forest.AddTree(group, std::move(nodes), std::move(covers));
  return Status::Ok();
}

Result<XGBoostModel> FromJson(const json& root) {
  const json& learner = root.at("learner");
  const json& booster = learner.at("gradient_booster");
  const std::string booster_name = booster.at("name").get<std::string>();
  if (booster_name != "gbtree") {
    return Status::InvalidArgument("booster '" + booster_name +
                                   "' is not supported by the native engine (only gbtree)");
  }
  const std::string objective_name = learner.at("objective").at("name").get<std::string>();
  Objective objective;
  if (!ParseObjective(objective_name, &objective)) {
    return Status::InvalidArgument("objective '" + objective_name + "' is not supported by the native engine");
  }
  const json& mparam = learner.at("learner_model_param");
  const int num_features = IntOf(mparam.at("num_feature"));
  if (num_features < 0 || num_features > static_cast<int>(Forest::kFeatureMask) + 1) {
    return Status::InvalidArgument("num_feature " + std::to_string(num_features) + " is out of range (0 to " +
                                   std::to_string(Forest::kFeatureMask + 1) + ")");
  }
  const int num_class = IntOf(mparam.at("num_class"));
  if (mparam.contains("num_target") && IntOf(mparam["num_target"]) > 1) {
    return Status::InvalidArgument("multi-target models are not supported by the native engine");
  }
  const int num_groups = std::max(1, num_class);
  auto base = BaseMargin(objective, NumberOf(mparam.at("base_score")));
  if (!base.ok()) return base.status();

  const json& model = booster.at("model");
  const json& gparam = model.at("gbtree_model_param");
  const int parallel = gparam.contains("num_parallel_tree") ? std::max(1, IntOf(gparam["num_parallel_tree"])) : 1;
  const json& trees = model.at("trees");
  const json& tree_info = model.at("tree_info");
  if (tree_info.size() != trees.size()) {
    return Status::InvalidArgument("tree_info lists " + std::to_string(tree_info.size()) +
                                   " trees, the model has " + std::to_string(trees.size()));
  }
  if (int64_t{num_groups} * parallel > INT_MAX) {
    return Status::InvalidArgument(std::to_string(num_groups) + " classes of " + std::to_string(parallel) +
                                   " parallel trees are too many trees per iteration");
  }
  XGBoostModel out{Forest(num_features, num_groups, objective, *base), std::nullopt, {}};
  out.forest.set_trees_per_iteration(num_groups * parallel);
  size_t category_words = 0;
  for (size_t t = 0; t < trees.size(); ++t) {
    const int group = IntegerOf<int>(tree_info[t]);
    if (group < 0 || group >= num_groups) {
      return Status::InvalidArgument("tree " + std::to_string(t) + " belongs to class " +
                                     std::to_string(group) + " of " + std::to_string(num_groups));
    }
    VIGIL_RETURN_IF_ERROR(ReadTree(trees[t], static_cast<int>(t), num_features, group, out.forest, category_words));
  }
  if (learner.contains("attributes") && learner["attributes"].contains("best_iteration")) {
    out.best_iteration = IntOf(learner["attributes"]["best_iteration"]);
  }
  out.forest.BuildLayout(&out.general_layout_reason);
  return out;
}

}  // namespace

Result<XGBoostModel> ParseXGBoostModel(std::string_view bytes, bool ubj) {
  try {
    return FromJson(ParseDocument(bytes, ubj));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("not an XGBoost model the native engine can read: ") + e.what());
  } catch (const ModelError& e) {
    return Status::InvalidArgument(std::string("not an XGBoost model the native engine can read: ") + e.what());
  }
}

namespace {

Result<json> ReadRoot(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return ParseDocument(buffer.str(), path.extension() == ".ubj");
  } catch (const json::exception& e) {
    return Status::InvalidArgument(path.filename().string() + ": " + e.what());
  } catch (const ModelError& e) {
    return Status::InvalidArgument(path.filename().string() + ": " + e.what());
  }
}

// JSON text with XGBoost's NaN where the parsed model had null (XGBoost
// models have no other nulls; an infinite value read as null comes back as
// NaN, which no split or leaf of a trained model holds).
std::string DumpWithNaN(const json& root) { return ReplaceBareTokens(root.dump(), {"null"}, "NaN"); }

}  // namespace

Status WriteXGBoostModelSubset(const std::filesystem::path& source, const std::vector<int>& keep,
                               const std::filesystem::path& destination) {
  auto root = ReadRoot(source);
  if (!root.ok()) return root.status();
  try {
    json& learner = (*root).at("learner");
    json& model = learner.at("gradient_booster").at("model");
    const json& trees = model.at("trees");
    const json& info = model.at("tree_info");
    json new_trees = json::array(), new_info = json::array();
    for (int t : keep) {
      if (t < 0 || static_cast<size_t>(t) >= trees.size()) {
        return Status::InvalidArgument("tree " + std::to_string(t) + " does not exist");
      }
      json tree = trees[t];
      tree["id"] = static_cast<int>(new_trees.size());
      new_trees.push_back(std::move(tree));
      new_info.push_back(info[t]);
    }
    model["trees"] = std::move(new_trees);
    model["tree_info"] = std::move(new_info);
    model["gbtree_model_param"]["num_trees"] = std::to_string(keep.size());
    if (learner.contains("attributes")) {
      for (const char* key : {"best_iteration", "best_score", "best_ntree_limit"}) learner["attributes"].erase(key);
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(source.filename().string() + ": unexpected model layout: " + e.what());
  }
  std::ofstream out(destination, std::ios::binary | std::ios::trunc);
  out << DumpWithNaN(*root);
  if (!out) return Status::Internal("cannot write " + destination.string());
  return Status::Ok();
}

Result<XGBoostModel> ReadXGBoostModel(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto model = ParseXGBoostModel(buffer.str(), path.extension() == ".ubj");
  if (!model.ok()) return model.status().WithContext(path.filename().string());
  return model;
}

}  // namespace vigil
