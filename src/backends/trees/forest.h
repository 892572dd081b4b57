// Forest: Vigil's own in-memory tree ensemble, laid out for prediction.
//
// Built from an XGBoost gbtree model (trees/xgboost_model_reader.h), it
// predicts exactly what XGBoost predicts: the same float arithmetic in the
// same order (base margin first, then each tree of a group in model order),
// the same missing-value and categorical decisions. What differs is the
// layout and the absence of per-call overhead:
//   - each tree's nodes are renumbered breadth-first so that the two children
//     of a node are adjacent (right = left + 1): one index per node;
//   - a node is 12 bytes: threshold (or leaf value, or categorical mask),
//     feature index with the flags folded into the high bits, and the left
//     child's index; a leaf points at itself, so every tree is walked in
//     exactly its depth in branch-free steps (see Node);
//   - categorical splits keep their right-going categories as a 32-bit mask
//     in the node, or as a bitset in one shared word array when wider;
//   - trees are stored back to back in one node array.
// This general layout serves explanations and every forest; shallow forests
// are predicted from a second layout of perfect trees (perfect_layout.h),
// which is faster. In both, the single-row path walks eight trees at a time
// and allocates nothing (after a thread's first call); the batch path walks
// the trees in blocks of rows so that a tree stays in cache while the block
// goes through it.
//
// Thread-safety: immutable after construction; Predict* are thread-safe.
#ifndef VIGIL_BACKENDS_TREES_FOREST_H_
#define VIGIL_BACKENDS_TREES_FOREST_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/trees/perfect_layout.h"

namespace vigil {

// The objectives of XGBoost's gbtree that the engine reproduces.
enum class Objective {
  kBinaryLogistic,   // binary:logistic: probability = logistic(margin)
  kBinaryLogitRaw,   // binary:logitraw: the margin itself
  kRegSquaredError,  // reg:squarederror: identity
  kRegLogistic,      // reg:logistic: logistic(margin)
  kRegPseudoHuber,   // reg:pseudohubererror: identity
  kCountPoisson,     // count:poisson: exp(margin)
  kMultiSoftprob,    // multi:softprob: softmax over classes
  kMultiSoftmax,     // multi:softmax: index of the largest margin
};

// Class probabilities from multi-class margins, in place: the softmax of
// each row's `k` values, computed as XGBoost's multi:softprob does.
void SoftmaxRows(float* values, int64_t rows, int64_t k);

// The objective for XGBoost's name, e.g. "binary:logistic"; false if unknown.
bool ParseObjective(const std::string& name, Objective* out);
std::string ObjectiveName(Objective objective);

class Forest {
 public:
  // One node. A leaf has kLeafFlag, its value in `value`, and itself as
  // `left`: traversal then runs a fixed number of steps per tree (its depth)
  // with no branch on "is this a leaf", and a row that reached a leaf stays
  // there. A categorical split has no threshold: when all its categories are
  // below 32, `value` holds them as a bit mask (bit c: category c goes
  // right), decided without a branch; otherwise (kWideCategorical) it holds
  // the index of its set in the category bitsets.
  struct Node {
    float value;             // Threshold, leaf value, category mask or set index (bit-cast).
    uint32_t feature_flags;  // Feature index | flags.
    uint32_t left;           // Index of the left child (right is left + 1); a leaf's own index.
  };
  static constexpr uint32_t kDefaultLeft = 1u << 31;
  static constexpr uint32_t kCategorical = 1u << 30;
  static constexpr uint32_t kLeafFlag = 1u << 29;
  static constexpr uint32_t kWideCategorical = 1u << 28;
  static constexpr uint32_t kFeatureMask = kWideCategorical - 1;

  // A categorical split's right-going categories: bits [offset, offset +
  // num_words * 32) of category_words, bit c for category c.
  struct CategorySet {
    uint32_t offset;
    uint32_t num_words;
  };

  // Builder interface (used by the model reader).
  Forest(int num_features, int num_groups, Objective objective, float base_margin);
  // The node for a categorical split on `feature` whose `categories` go
  // right; children are set by the caller.
  Node CategoricalNode(uint32_t feature, bool default_left, const std::vector<uint32_t>& categories);
  // Appends a tree whose node indices are local (root 0, children after
  // their parent); it is rebased. `covers` (one per node: the training
  // weight, XGBoost's sum_hessian, that reached it) serve explanations.
  void AddTree(int group, std::vector<Node> nodes, std::vector<float> covers);
  static bool IsLeaf(const Node& n) { return (n.feature_flags & kLeafFlag) != 0; }
  // Threshold quantisation, as FIL and Treelite do it: each numeric
  // feature's split thresholds become its bins, a row's values are binned
  // once, and nodes compare integers. Exact by construction (a bin boundary is
  // a threshold). False, with the reason, for a forest it cannot quantise
  // (a category of 32 or more, a feature split both ways).
  bool Quantize(std::string* why);
  bool quantized() const { return quantized_; }
  // Builds the prediction layout of perfect trees (perfect_layout.h) when
  // the forest allows it; otherwise false, with the reason, and prediction
  // keeps the general layout. Call once the trees are added: AddTree drops
  // the layout, Quantize rebuilds it, Slice builds it for the slice when
  // this forest has one.
  bool BuildLayout(std::string* why, bool vector_kernels = true);
  void DropLayout() { perfect_.reset(); }
  const PerfectLayout* layout() const { return perfect_.get(); }

  // Keeps the trees of iterations [begin, end) (an iteration is one tree
  // per group and parallel tree).
  Forest Slice(int begin, int end) const;
  void set_trees_per_iteration(int n) { trees_per_iteration_ = n; }

  int num_features() const { return num_features_; }
  int num_groups() const { return num_groups_; }
  int num_trees() const { return static_cast<int>(tree_roots_.size()); }
  int num_iterations() const;
  int trees_per_iteration() const { return trees_per_iteration_; }
  Objective objective() const { return objective_; }
  float base_margin() const { return base_margin_; }
  size_t num_nodes() const { return nodes_.size(); }
  // Bytes that prediction walks: the perfect layout's, or the general one's.
  size_t prediction_bytes() const {
    return perfect_ ? perfect_->memory_bytes()
                    : nodes_.size() * sizeof(Node) + category_words_.size() * sizeof(uint32_t);
  }

  // Raw margins of one row (num_features values, NaN for missing) into
  // `margins` (num_groups values). No allocation.
  void PredictRowMargins(const float* row, float* margins) const;
  // Raw margins of `rows` rows, row-major; `margins` has rows * num_groups.
  void PredictMargins(const float* data, int64_t rows, float* margins) const;
  // Applies the objective's transform in place to rows * num_groups margins.
  // For multi:softmax the first of each row's values becomes the class index
  // (the caller reads one value per row).
  void Transform(float* values, int64_t rows) const;

  // Index of the leaf that `row` reaches in `tree`.
  uint32_t LeafIndex(int tree, const float* row) const;
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<uint32_t>& tree_roots() const { return tree_roots_; }
  const std::vector<int>& tree_groups() const { return tree_groups_; }
  const std::vector<uint32_t>& tree_depths() const { return tree_depths_; }
  const std::vector<float>& covers() const { return covers_; }
  const std::vector<std::vector<float>>& bin_thresholds() const { return bin_thresholds_; }
  // True if a row with `value` (possibly NaN) at node `i` goes left.
  bool GoesLeft(uint32_t i, float value) const;
  // True if the categorical `node` sends `value` (not NaN) to its left child.
  bool CategoryGoesLeft(const Node& node, float value) const;
  // kNumeric: forests without categorical splits; kMixed: with them;
  // kQuantized: after Quantize(), integer codes only.
  enum class StepMode { kNumeric, kMixed, kQuantized };
  static constexpr uint32_t kMissingCode = 0xffffffffu;
  // One step down from node `i` for `row`; a leaf stays where it is.
  template <StepMode kMode>
  uint32_t Step(uint32_t i, const float* row, const uint32_t* category_bits) const;
  // The bin of `value` for a quantised numeric feature: thresholds <= value.
  uint32_t Bin(uint32_t feature, float value) const { return CountAtMost(bin_thresholds_[feature], value); }
  // How many of the ascending `sorted` are <= `value` (not NaN): a binary
  // search whose steps are conditional moves, not branches.
  static uint32_t CountAtMost(const std::vector<float>& sorted, float value) {
    const float* base = sorted.data();
    size_t n = sorted.size();
    if (n == 0) return 0;
    while (n > 1) {
      const size_t half = n / 2;
      base = base[half] <= value ? base + half : base;
      n -= half;
    }
    return static_cast<uint32_t>(base - sorted.data()) + (*base <= value ? 1u : 0u);
  }
  // A quantised forest's per-row codes (see Step).
  void QuantizedCodes(const float* row, uint32_t* codes) const;
  // For each feature some categorical split uses: the row's category as a
  // one-bit mask (0 when missing, invalid or at least 32).
  void CategoryBits(const float* row, uint32_t* bits) const;
  template <StepMode kMode>
  void RowMargins(const float* row, float* margins) const;
  template <StepMode kMode>
  void BatchMargins(const float* data, int64_t rows, float* margins) const;

 private:
  int num_features_;
  int num_groups_;
  Objective objective_;
  float base_margin_;
  int trees_per_iteration_ = 1;
  bool has_categorical_ = false;
  std::vector<int> categorical_features_;
  bool quantized_ = false;
  std::vector<std::vector<float>> bin_thresholds_;  // Per feature, sorted and unique.
  std::vector<int> numeric_split_features_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> tree_roots_;
  std::vector<int> tree_groups_;
  std::vector<uint32_t> tree_depths_;  // Steps from the root to the deepest leaf.
  std::vector<float> covers_;          // Per node, for explanations.
  std::vector<uint32_t> category_words_;
  std::vector<CategorySet> category_sets_;
  std::shared_ptr<const PerfectLayout> perfect_;  // Immutable; shared by copies.
};

}  // namespace vigil

#endif  // VIGIL_BACKENDS_TREES_FOREST_H_
