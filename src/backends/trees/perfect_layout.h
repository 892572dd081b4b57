// PerfectLayout: the forest's prediction layout when its trees are shallow.
//
// Each tree is stored as a perfect binary tree of its group's depth D (a
// group is kLanes consecutive trees, walked together by one row): internal
// slot n has its children at 2n + 1 and 2n + 2, so no child index is stored,
// and the 2^D leaves sit in their own array. A group's trees are interleaved
// slot by slot (slot n of its k-th tree at n * kLanes + k), so that the top
// levels of all of them share a few cache lines. A leaf of the original tree
// above depth D becomes a split whose both subtrees end in copies of its
// value, so any direction taken below it is right. An internal slot is 8
// bytes: the input index and the threshold (the float's bits, a quantised
// bound, or a categorical mask), side by side so that a step touches one
// cache line.
//
// Every comparison is on unsigned integers, and missing values cost nothing
// in the walk. A row is expanded once into two copies of its features, as
// codes: a numeric value becomes its float's bits mapped to an unsigned key
// of the same order (after -0 becomes +0, which floats compare equal), so
// that `x < t` is `key(x) < key(t)`; a categorical value becomes a one-bit
// mask. A missing value is all ones in the first copy (above every key, and
// matching some right-going category: goes right) and zero in the second
// (goes left); a split whose default direction is left reads the second
// copy. Quantised forests hold bin indices instead of keys;
// when every bound, mask and input index fits in 16 bits (as they do for
// most tabular models), slots and codes are 16-bit and a slot is 4 bytes,
// half the size. A step is then: load the input, compare, n = 2n + 2 - left.
//
// The layout is built only when it is exact and not much larger than the
// general one (see Build); the general layout serves the rest.
//
// Self-contained (copies of a Forest share it). Thread-safety: immutable after Build; the Predict* calls are thread-safe.
#ifndef VIGIL_BACKENDS_TREES_PERFECT_LAYOUT_H_
#define VIGIL_BACKENDS_TREES_PERFECT_LAYOUT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigil {

class Forest;

class PerfectLayout {
 public:
  // Trees walked together by the single-row path.
  static constexpr int kLanes = 16;
  // Rows walked together by the batch path.
  static constexpr int64_t kBlockRows = 32;
  // Deepest tree stored this way.
  static constexpr uint32_t kMaxDepth = 12;

  // The layout of `forest`, or null with the reason when it cannot be exact
  // (wide categorical sets, a feature split both as numeric and as
  // categorical, a NaN threshold) or would be too large (deep, sparse trees).
  // `vector_kernels`: use the AVX-512 single-row kernel when the processor
  // has it (the same floats as the scalar one; false is for tests and
  // comparisons).
  static std::unique_ptr<const PerfectLayout> Build(const Forest& forest, std::string* why,
                                                    bool vector_kernels = true);

  // As Forest::PredictRowMargins / PredictMargins (same floats, same order).
  void PredictRowMargins(const float* row, float* margins) const;
  void PredictMargins(const float* data, int64_t rows, float* margins) const;

  // Bytes of slots and leaves, the part a prediction walks.
  size_t memory_bytes() const {
    return slots_.size() * sizeof(Slot) + narrow_slots_.size() * sizeof(NarrowSlot) + leaf_.size() * sizeof(float);
  }
  bool narrow() const { return !narrow_slots_.empty(); }
  // Whether single rows go through the AVX-512 kernel.
  bool vectorized() const { return avx512_; }

 private:
  // How a step decides: by the numeric test only, or by the numeric or the
  // categorical test (forests with categorical splits).
  // An internal slot: the index of its input in the expanded row, with the
  // top bit marking a categorical split, and its threshold (float bits, bin
  // bound or category mask). Code is the type of an expanded row's values.
  template <typename T>
  struct SlotOf {
    using Code = T;
    static constexpr T kCategorical = T{1} << (8 * sizeof(T) - 1);
    static constexpr T kMissingRight = static_cast<T>(~T{0});  // Above every bound, matches every mask.
    T input;
    T threshold;  // Numeric key, bin bound or category mask.
  };
  using Slot = SlotOf<uint32_t>;
  using NarrowSlot = SlotOf<uint16_t>;

  PerfectLayout() = default;
  // One step down from internal slot `n` of a tree, which is `slot`: 2n + 1
  // when the row goes left, 2n + 2 otherwise.
  template <bool kCategorical, typename S>
  static size_t Step(size_t n, const S& slot, const typename S::Code* expanded);
  // The row's two copies (2 * num_features codes) into `expanded`.
  template <typename S>
  void Expand(const float* row, typename S::Code* expanded) const;
  template <bool kCategorical, typename S>
  void RowMargins(const S* slots, const float* row, float* margins) const;
  // The single-row walk with AVX-512: a group's sixteen trees are one
  // vector, their slots and codes gathered, several groups in flight.
  template <bool kCategorical>
  void RowMarginsAvx512(const float* row, float* margins) const;
  template <bool kCategorical, typename S>
  void BatchMargins(const S* slots, const float* data, int64_t rows, float* margins) const;

  bool has_categorical_ = false;
  bool avx512_ = false;
  bool quantized_ = false;
  int num_features_ = 0;
  int num_groups_ = 1;
  float base_margin_ = 0;
  std::vector<char> categorical_;                   // Per feature.
  std::vector<std::vector<float>> bin_thresholds_;  // Per feature, when quantised.
  std::vector<int> tree_groups_;
  std::vector<Slot> slots_;                // Internal slots of all trees; or
  std::vector<NarrowSlot> narrow_slots_;  // the same, 16 bits wide (quantised).
  std::vector<float> leaf_;              // Per leaf slot.
  std::vector<uint32_t> group_slots_;   // Per group of kLanes trees: its first slot;
  std::vector<uint32_t> group_leaves_;  // its first leaf;
  std::vector<uint32_t> group_depth_;   // the depth of its deepest tree.
};

}  // namespace vigil

#endif  // VIGIL_BACKENDS_TREES_PERFECT_LAYOUT_H_
