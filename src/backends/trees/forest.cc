#include "backends/trees/forest.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace vigil {
namespace {

constexpr std::pair<Objective, const char*> kObjectives[] = {
    {Objective::kBinaryLogistic, "binary:logistic"},
    {Objective::kBinaryLogitRaw, "binary:logitraw"},
    {Objective::kRegSquaredError, "reg:squarederror"},
    {Objective::kRegLogistic, "reg:logistic"},
    {Objective::kRegPseudoHuber, "reg:pseudohubererror"},
    {Objective::kCountPoisson, "count:poisson"},
    {Objective::kMultiSoftprob, "multi:softprob"},
    {Objective::kMultiSoftmax, "multi:softmax"},
};

// Categories at or above 2^24 are not exactly representable in float;
// XGBoost 1.7 treats them, and negative ones, as invalid, and an invalid
// category goes left, like any category not in the split's set (only a
// missing value takes the default direction).
constexpr float kMaxCategory = 16777216.0f;

// Rows per block in the batch path.
constexpr int64_t kBlockRows = 64;

float Logistic(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

bool ParseObjective(const std::string& name, Objective* out) {
  for (const auto& [o, n] : kObjectives) {
    if (name == n) {
      *out = o;
      return true;
    }
  }
  return false;
}

std::string ObjectiveName(Objective objective) {
  for (const auto& [o, n] : kObjectives) {
    if (o == objective) return n;
  }
  return "unknown";
}

Forest::Forest(int num_features, int num_groups, Objective objective, float base_margin)
    : num_features_(num_features),
      num_groups_(num_groups),
      objective_(objective),
      base_margin_(base_margin),
      trees_per_iteration_(num_groups) {}

uint32_t Forest::AddCategorySet(const std::vector<uint32_t>& categories) {
  uint32_t max_category = 0;
  for (uint32_t c : categories) max_category = std::max(max_category, c);
  CategorySet set{static_cast<uint32_t>(category_words_.size()),
                  categories.empty() ? 0u : max_category / 32 + 1};
  category_words_.resize(category_words_.size() + set.num_words, 0);
  for (uint32_t c : categories) category_words_[set.offset + c / 32] |= 1u << (c % 32);
  category_sets_.push_back(set);
  return static_cast<uint32_t>(category_sets_.size() - 1);
}

void Forest::AddTree(int group, std::vector<Node> nodes) {
  const uint32_t base = static_cast<uint32_t>(nodes_.size());
  for (Node& n : nodes) {
    if (n.feature_flags != kLeaf) n.left += base;
  }
  tree_roots_.push_back(base);
  tree_groups_.push_back(group);
  nodes_.insert(nodes_.end(), nodes.begin(), nodes.end());
}

int Forest::num_iterations() const {
  return trees_per_iteration_ > 0 ? num_trees() / trees_per_iteration_ : 0;
}

size_t Forest::memory_bytes() const {
  return nodes_.size() * sizeof(Node) + category_words_.size() * sizeof(uint32_t) +
         category_sets_.size() * sizeof(CategorySet) + tree_roots_.size() * (sizeof(uint32_t) + sizeof(int));
}

Forest Forest::Slice(int begin, int end) const {
  Forest out(num_features_, num_groups_, objective_, base_margin_);
  out.trees_per_iteration_ = trees_per_iteration_;
  out.category_words_ = category_words_;
  out.category_sets_ = category_sets_;
  const int first = begin * trees_per_iteration_;
  const int last = std::min(num_trees(), end * trees_per_iteration_);
  for (int t = first; t < last; ++t) {
    const uint32_t root = tree_roots_[t];
    const uint32_t stop = t + 1 < num_trees() ? tree_roots_[t + 1] : static_cast<uint32_t>(nodes_.size());
    std::vector<Node> nodes(nodes_.begin() + root, nodes_.begin() + stop);
    for (Node& n : nodes) {
      if (n.feature_flags != kLeaf) n.left -= root;
    }
    out.AddTree(tree_groups_[t], std::move(nodes));
  }
  return out;
}

bool Forest::GoesLeft(uint32_t index, float value) const {
  const Node& n = nodes_[index];
  if (!(n.feature_flags & kCategorical)) return value < n.value;
  if (value < 0 || value >= kMaxCategory) return true;
  uint32_t set_index;
  std::memcpy(&set_index, &n.value, sizeof(set_index));
  const CategorySet& set = category_sets_[set_index];
  const uint32_t category = static_cast<uint32_t>(value);  // Truncates, as XGBoost does.
  const uint32_t word = category / 32;
  if (word >= set.num_words) return true;
  return ((category_words_[set.offset + word] >> (category % 32)) & 1u) == 0;
}

uint32_t Forest::LeafIndex(int tree, const float* row) const {
  uint32_t i = tree_roots_[tree];
  const Node* nodes = nodes_.data();
  while (nodes[i].feature_flags != kLeaf) {
    const Node& n = nodes[i];
    const float v = row[n.feature_flags & kFeatureMask];
    bool left;
    if (std::isnan(v)) {
      left = (n.feature_flags & kDefaultLeft) != 0;
    } else if (!(n.feature_flags & kCategorical)) {
      left = v < n.value;
    } else {
      left = GoesLeft(i, v);
    }
    i = n.left + (left ? 0u : 1u);
  }
  return i;
}

void Forest::PredictRowMargins(const float* row, float* margins) const {
  for (int g = 0; g < num_groups_; ++g) margins[g] = base_margin_;
  const int trees = num_trees();
  if (num_groups_ == 1) {
    float sum = base_margin_;
    for (int t = 0; t < trees; ++t) sum += nodes_[LeafIndex(t, row)].value;
    margins[0] = sum;
    return;
  }
  for (int t = 0; t < trees; ++t) margins[tree_groups_[t]] += nodes_[LeafIndex(t, row)].value;
}

void Forest::PredictMargins(const float* data, int64_t rows, float* margins) const {
  const int64_t stride = num_features_;
  for (int64_t i = 0; i < rows * num_groups_; ++i) margins[i] = base_margin_;
  const int trees = num_trees();
  for (int64_t block = 0; block < rows; block += kBlockRows) {
    const int64_t end = std::min(rows, block + kBlockRows);
    for (int t = 0; t < trees; ++t) {
      const int group = tree_groups_[t];
      for (int64_t r = block; r < end; ++r) {
        margins[r * num_groups_ + group] += nodes_[LeafIndex(t, data + r * stride)].value;
      }
    }
  }
}

void Forest::Transform(float* values, int64_t rows) const {
  const int64_t n = rows * num_groups_;
  switch (objective_) {
    case Objective::kBinaryLogistic:
    case Objective::kRegLogistic:
      for (int64_t i = 0; i < n; ++i) values[i] = Logistic(values[i]);
      break;
    case Objective::kCountPoisson:
      for (int64_t i = 0; i < n; ++i) values[i] = std::exp(values[i]);
      break;
    case Objective::kMultiSoftprob:
      for (int64_t r = 0; r < rows; ++r) {
        float* v = values + r * num_groups_;
        const float max = *std::max_element(v, v + num_groups_);
        float sum = 0;
        for (int g = 0; g < num_groups_; ++g) {
          v[g] = std::exp(v[g] - max);
          sum += v[g];
        }
        for (int g = 0; g < num_groups_; ++g) v[g] /= sum;
      }
      break;
    case Objective::kMultiSoftmax:
      for (int64_t r = 0; r < rows; ++r) {
        const float* v = values + r * num_groups_;
        values[r * num_groups_] = static_cast<float>(std::max_element(v, v + num_groups_) - v);
      }
      break;
    case Objective::kBinaryLogitRaw:
    case Objective::kRegSquaredError:
    case Objective::kRegPseudoHuber:
      break;
  }
}

}  // namespace vigil
