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

// Rows per block in the batch path: enough independent traversals to keep
// the processor busy, few enough that the block's rows stay in L1.
constexpr int64_t kBlockRows = 32;

float Logistic(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

void SoftmaxRows(float* values, int64_t rows, int64_t k) {
  for (int64_t r = 0; r < rows; ++r) {
    float* v = values + r * k;
    const float max = *std::max_element(v, v + k);
    float sum = 0;
    for (int64_t g = 0; g < k; ++g) {
      v[g] = std::exp(v[g] - max);
      sum += v[g];
    }
    for (int64_t g = 0; g < k; ++g) v[g] /= sum;
  }
}

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

Forest::Node Forest::CategoricalNode(uint32_t feature, bool default_left,
                                     const std::vector<uint32_t>& categories) {
  has_categorical_ = true;
  if (std::find(categorical_features_.begin(), categorical_features_.end(), static_cast<int>(feature)) ==
      categorical_features_.end()) {
    categorical_features_.push_back(static_cast<int>(feature));
  }
  uint32_t flags = feature | kCategorical | (default_left ? kDefaultLeft : 0u);
  uint32_t max_category = 0;
  for (uint32_t c : categories) max_category = std::max(max_category, c);
  uint32_t payload = 0;
  if (max_category < 32) {
    for (uint32_t c : categories) payload |= 1u << c;
  } else {
    CategorySet set{static_cast<uint32_t>(category_words_.size()), max_category / 32 + 1};
    category_words_.resize(category_words_.size() + set.num_words, 0);
    for (uint32_t c : categories) category_words_[set.offset + c / 32] |= 1u << (c % 32);
    category_sets_.push_back(set);
    payload = static_cast<uint32_t>(category_sets_.size() - 1);
    flags |= kWideCategorical;
  }
  Node node{0.0f, flags, 0};
  std::memcpy(&node.value, &payload, sizeof(payload));
  return node;
}

void Forest::AddTree(int group, std::vector<Node> nodes, std::vector<float> covers) {
  covers.resize(nodes.size(), 0.0f);
  covers_.insert(covers_.end(), covers.begin(), covers.end());
  const uint32_t base = static_cast<uint32_t>(nodes_.size());
  // Children come after their parent, so one forward pass finds every depth.
  std::vector<uint32_t> depth(nodes.size(), 0);
  uint32_t max_depth = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!IsLeaf(nodes[i])) {
      depth[nodes[i].left] = depth[nodes[i].left + 1] = depth[i] + 1;
      max_depth = std::max(max_depth, depth[i] + 1);
    }
  }
  for (Node& n : nodes) n.left += base;
  perfect_.reset();
  tree_roots_.push_back(base);
  tree_groups_.push_back(group);
  tree_depths_.push_back(max_depth);
  nodes_.insert(nodes_.end(), nodes.begin(), nodes.end());
}

int Forest::num_iterations() const {
  return trees_per_iteration_ > 0 ? num_trees() / trees_per_iteration_ : 0;
}

Forest Forest::Slice(int begin, int end) const {
  Forest out(num_features_, num_groups_, objective_, base_margin_);
  out.trees_per_iteration_ = trees_per_iteration_;
  out.category_words_ = category_words_;
  out.category_sets_ = category_sets_;
  out.has_categorical_ = has_categorical_;
  out.categorical_features_ = categorical_features_;
  out.quantized_ = quantized_;
  out.bin_thresholds_ = bin_thresholds_;
  out.numeric_split_features_ = numeric_split_features_;
  const int first = begin * trees_per_iteration_;
  const int last = std::min(num_trees(), end * trees_per_iteration_);
  for (int t = first; t < last; ++t) {
    const uint32_t root = tree_roots_[t];
    const uint32_t stop = t + 1 < num_trees() ? tree_roots_[t + 1] : static_cast<uint32_t>(nodes_.size());
    std::vector<Node> nodes(nodes_.begin() + root, nodes_.begin() + stop);
    for (Node& n : nodes) n.left -= root;
    out.AddTree(tree_groups_[t], std::move(nodes),
                std::vector<float>(covers_.begin() + root, covers_.begin() + stop));
  }
  std::string why;
  if (perfect_) out.BuildLayout(&why);
  return out;
}

bool Forest::CategoryGoesLeft(const Node& n, float value) const {
  if (value < 0 || value >= kMaxCategory) return true;
  uint32_t set_index;
  std::memcpy(&set_index, &n.value, sizeof(set_index));
  const CategorySet& set = category_sets_[set_index];
  const uint32_t category = static_cast<uint32_t>(value);  // Truncates, as XGBoost does.
  const uint32_t word = category / 32;
  if (word >= set.num_words) return true;
  return ((category_words_[set.offset + word] >> (category % 32)) & 1u) == 0;
}

template <Forest::StepMode kMode>
inline uint32_t Forest::Step(uint32_t i, const float* row, const uint32_t* category_bits) const {
  const Node& n = nodes_[i];
  const uint32_t flags = n.feature_flags;
  const uint32_t feature = flags & kFeatureMask;
  if constexpr (kMode == StepMode::kQuantized) {
    // Integers only: `category_bits` holds the row's codes (QuantizedCodes):
    // bin indices for numeric features, one-bit masks for categorical ones,
    // kMissingCode for missing values; a node holds a bin bound or a mask.
    const uint32_t code = category_bits[feature];
    uint32_t payload;
    std::memcpy(&payload, &n.value, sizeof(payload));
    const uint32_t missing = code == kMissingCode;
    const uint32_t numeric_left = code < payload;
    const uint32_t category_left = (code & payload) == 0;
    const uint32_t is_categorical = (flags >> 30) & 1u;
    const uint32_t decided = (is_categorical & category_left) | ((1u ^ is_categorical) & numeric_left);
    const uint32_t left = (((1u ^ missing) & decided) | (missing & (flags >> 31))) & 1u;
    return n.left + ((1u ^ left) & ((~flags >> 29) & 1u));
  }
  const float v = row[feature];
  const bool missing = std::isnan(v);
  const bool default_left = (flags >> 31) != 0;
  bool left;
  if (kMode == StepMode::kNumeric) {
    // Numeric splits only: NaN compares false, so it goes left only with
    // the default direction.
    left = (v < n.value) | (missing & default_left);
  } else if (flags & kWideCategorical) [[unlikely]] {
    left = missing ? default_left : CategoryGoesLeft(n, v);
  } else {
    // Numeric and small categorical decisions are both computed and one is
    // selected with integer arithmetic, so that neither costs a branch (or a
    // misprediction). `category_bits` holds each categorical feature's value
    // of this row as a one-bit mask (0 when missing, invalid or >= 32),
    // computed once per row.
    const uint32_t numeric_left = v < n.value;  // NaN compares false.
    uint32_t mask;
    std::memcpy(&mask, &n.value, sizeof(mask));
    const uint32_t category_left = (category_bits[feature] & mask) == 0;
    const uint32_t is_categorical = (flags >> 30) & 1u;
    const uint32_t decided = (is_categorical & category_left) | ((1u ^ is_categorical) & numeric_left);
    const uint32_t present = 1u ^ static_cast<uint32_t>(missing);
    left = ((present & decided) | (static_cast<uint32_t>(missing) & (flags >> 31))) != 0;
  }
  const uint32_t move_right = static_cast<uint32_t>(!left) & ((~flags >> 29) & 1u);
  return n.left + move_right;
}

void Forest::CategoryBits(const float* row, uint32_t* bits) const {
  for (int f : categorical_features_) {
    const float v = row[f];
    bits[f] = (v >= 0.0f && v < 32.0f) ? 1u << static_cast<uint32_t>(v) : 0u;
  }
}

bool Forest::GoesLeft(uint32_t i, float value) const {
  const Node& n = nodes_[i];
  if (std::isnan(value)) return (n.feature_flags & kDefaultLeft) != 0;
  if (!(n.feature_flags & kCategorical)) {
    if (!quantized_) return value < n.value;
    uint32_t bound;
    std::memcpy(&bound, &n.value, sizeof(bound));
    return Bin(n.feature_flags & kFeatureMask, value) < bound;
  }
  if (n.feature_flags & kWideCategorical) return CategoryGoesLeft(n, value);
  if (!(value >= 0.0f && value < 32.0f)) return true;
  uint32_t mask;
  std::memcpy(&mask, &n.value, sizeof(mask));
  return ((mask >> static_cast<uint32_t>(value)) & 1u) == 0;
}

uint32_t Forest::LeafIndex(int tree, const float* row) const {
  uint32_t i = tree_roots_[tree];
  std::vector<uint32_t> bits(num_features_, 0);
  if (quantized_) {
    QuantizedCodes(row, bits.data());
    for (uint32_t d = 0; d < tree_depths_[tree]; ++d) i = Step<StepMode::kQuantized>(i, row, bits.data());
    return i;
  }
  CategoryBits(row, bits.data());
  for (uint32_t d = 0; d < tree_depths_[tree]; ++d) i = Step<StepMode::kMixed>(i, row, bits.data());
  return i;
}

template <Forest::StepMode kMode>
void Forest::RowMargins(const float* row, float* margins) const {
  for (int g = 0; g < num_groups_; ++g) margins[g] = base_margin_;
  // Trees go down in groups of kLanes: their steps are independent, so the
  // processor overlaps them instead of waiting on one chain of loads. A
  // finished tree idles on its leaf. Values are then added in tree order, so
  // the float sum is the same as one tree at a time.
  constexpr int kLanes = 8;
  const int trees = num_trees();
  uint32_t index[kLanes];
  thread_local std::vector<uint32_t> bits;
  if (kMode != StepMode::kNumeric) {
    if (bits.size() < static_cast<size_t>(num_features_)) bits.resize(num_features_);
    if (kMode == StepMode::kQuantized) {
      QuantizedCodes(row, bits.data());
    } else {
      CategoryBits(row, bits.data());
    }
  }
  for (int t0 = 0; t0 < trees; t0 += kLanes) {
    const int lanes = std::min(kLanes, trees - t0);
    uint32_t depth = 0;
    for (int k = 0; k < lanes; ++k) {
      index[k] = tree_roots_[t0 + k];
      depth = std::max(depth, tree_depths_[t0 + k]);
    }
    for (uint32_t d = 0; d < depth; ++d) {
      for (int k = 0; k < lanes; ++k) index[k] = Step<kMode>(index[k], row, bits.data());
    }
    if (num_groups_ == 1) {
      float sum = margins[0];
      for (int k = 0; k < lanes; ++k) sum += nodes_[index[k]].value;
      margins[0] = sum;
    } else {
      for (int k = 0; k < lanes; ++k) margins[tree_groups_[t0 + k]] += nodes_[index[k]].value;
    }
  }
}

template <Forest::StepMode kMode>
void Forest::BatchMargins(const float* data, int64_t rows, float* margins) const {
  const int64_t stride = num_features_;
  for (int64_t i = 0; i < rows * num_groups_; ++i) margins[i] = base_margin_;
  const int trees = num_trees();
  uint32_t index[kBlockRows];
  thread_local std::vector<uint32_t> bits;
  if (kMode != StepMode::kNumeric && bits.size() < static_cast<size_t>(kBlockRows * stride)) {
    bits.resize(kBlockRows * stride);
  }
  for (int64_t block = 0; block < rows; block += kBlockRows) {
    const int64_t n = std::min(kBlockRows, rows - block);
    const float* block_rows = data + block * stride;
    for (int64_t r = 0; r < n && kMode != StepMode::kNumeric; ++r) {
      if (kMode == StepMode::kQuantized) {
        QuantizedCodes(block_rows + r * stride, bits.data() + r * stride);
      } else {
        CategoryBits(block_rows + r * stride, bits.data() + r * stride);
      }
    }
    for (int t = 0; t < trees; ++t) {
      // All rows of the block step down together: independent loads and
      // compares that the processor overlaps, and no per-row branches.
      for (int64_t r = 0; r < n; ++r) index[r] = tree_roots_[t];
      for (uint32_t d = 0; d < tree_depths_[t]; ++d) {
        for (int64_t r = 0; r < n; ++r) {
          // (Numeric steps read no bits, and `bits` may be empty then.)
          const uint32_t* row_bits = kMode == StepMode::kNumeric ? nullptr : bits.data() + r * stride;
          index[r] = Step<kMode>(index[r], block_rows + r * stride, row_bits);
        }
      }
      const int group = tree_groups_[t];
      float* out = margins + block * num_groups_ + group;
      for (int64_t r = 0; r < n; ++r) out[r * num_groups_] += nodes_[index[r]].value;
    }
  }
}

void Forest::QuantizedCodes(const float* row, uint32_t* codes) const {
  for (int f : numeric_split_features_) {
    const float v = row[f];
    codes[f] = std::isnan(v) ? kMissingCode : Bin(f, v);
  }
  for (int f : categorical_features_) {
    const float v = row[f];
    codes[f] = std::isnan(v) ? kMissingCode : ((v >= 0.0f && v < 32.0f) ? 1u << static_cast<uint32_t>(v) : 0u);
  }
}

bool Forest::Quantize(std::string* why) {
  if (quantized_) return true;
  bin_thresholds_.assign(num_features_, {});
  std::vector<char> numeric(num_features_, 0);
  for (const Node& n : nodes_) {
    if (IsLeaf(n)) continue;
    if (n.feature_flags & kWideCategorical) {
      *why = "a categorical split has a category of 32 or more";
      return false;
    }
    if (!(n.feature_flags & kCategorical)) {
      const uint32_t f = n.feature_flags & kFeatureMask;
      bin_thresholds_[f].push_back(n.value);
      numeric[f] = 1;
    }
  }
  numeric_split_features_.clear();
  for (int f = 0; f < num_features_; ++f) {
    if (!numeric[f]) continue;
    if (std::find(categorical_features_.begin(), categorical_features_.end(), f) != categorical_features_.end()) {
      *why = "feature " + std::to_string(f) + " has both numeric and categorical splits";
      return false;
    }
    std::vector<float>& t = bin_thresholds_[f];
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
    if (t.size() >= kMissingCode - 1) {
      *why = "feature " + std::to_string(f) + " has too many thresholds";
      return false;
    }
    numeric_split_features_.push_back(f);
  }
  // x < t_j exactly when fewer than j + 1 thresholds are <= x: a node keeps
  // j + 1 and compares the row's bin (the count of thresholds <= x).
  for (Node& n : nodes_) {
    if (IsLeaf(n) || (n.feature_flags & kCategorical)) continue;
    const std::vector<float>& t = bin_thresholds_[n.feature_flags & kFeatureMask];
    const uint32_t bound = static_cast<uint32_t>(std::lower_bound(t.begin(), t.end(), n.value) - t.begin()) + 1;
    std::memcpy(&n.value, &bound, sizeof(bound));
  }
  quantized_ = true;
  std::string ignored;
  if (perfect_) BuildLayout(&ignored);
  return true;
}

bool Forest::BuildLayout(std::string* why, bool vector_kernels) {
  std::unique_ptr<const PerfectLayout> layout = PerfectLayout::Build(*this, why, vector_kernels);
  perfect_ = std::move(layout);
  return perfect_ != nullptr;
}

void Forest::PredictRowMargins(const float* row, float* margins) const {
  if (perfect_) return perfect_->PredictRowMargins(row, margins);
  if (quantized_) return RowMargins<StepMode::kQuantized>(row, margins);
  has_categorical_ ? RowMargins<StepMode::kMixed>(row, margins) : RowMargins<StepMode::kNumeric>(row, margins);
}

void Forest::PredictMargins(const float* data, int64_t rows, float* margins) const {
  if (perfect_) return perfect_->PredictMargins(data, rows, margins);
  if (quantized_) return BatchMargins<StepMode::kQuantized>(data, rows, margins);
  has_categorical_ ? BatchMargins<StepMode::kMixed>(data, rows, margins)
                   : BatchMargins<StepMode::kNumeric>(data, rows, margins);
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
      SoftmaxRows(values, rows, num_groups_);
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
