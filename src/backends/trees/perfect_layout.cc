#include "backends/trees/perfect_layout.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/trees/forest.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VIGIL_AVX512_KERNELS 1
#endif

namespace vigil {
namespace {

uint32_t Bits(float v) { return std::bit_cast<uint32_t>(v); }

// An unsigned key with the order of floats (not NaN): negative floats have
// their bits reversed, the others gain the top bit; -0 is +0 first.
inline uint32_t Key(float v) {
  const uint32_t b = Bits(v + 0.0f);  // -0 + 0 is +0.
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

}  // namespace

std::unique_ptr<const PerfectLayout> PerfectLayout::Build(const Forest& forest, std::string* why,
                                                          bool vector_kernels) {
  const std::vector<Forest::Node>& nodes = forest.nodes();
  const int trees = forest.num_trees();
  auto layout = std::unique_ptr<PerfectLayout>(new PerfectLayout());
  PerfectLayout& l = *layout;
  l.num_features_ = forest.num_features();
  l.num_groups_ = forest.num_groups();
  l.base_margin_ = forest.base_margin();
  l.tree_groups_ = forest.tree_groups();
  l.categorical_.assign(l.num_features_, 0);
  std::vector<char> numeric(l.num_features_, 0);
  for (const Forest::Node& n : nodes) {
    if (Forest::IsLeaf(n)) continue;
    const uint32_t f = n.feature_flags & Forest::kFeatureMask;
    if (n.feature_flags & Forest::kWideCategorical) {
      *why = "feature " + std::to_string(f) + " has a categorical split with a category of 32 or more";
      return nullptr;
    }
    if (n.feature_flags & Forest::kCategorical) {
      l.categorical_[f] = 1;
      // Missing and default right is "all ones", which needs some category
      // going right to match.
      if (Bits(n.value) == 0 && !(n.feature_flags & Forest::kDefaultLeft)) {
        *why = "feature " + std::to_string(f) + " has a categorical split sending every category left";
        return nullptr;
      }
    } else {
      numeric[f] = 1;
      if (!forest.quantized() && std::isnan(n.value)) {
        *why = "feature " + std::to_string(f) + " has a split at NaN";
        return nullptr;
      }
    }
  }
  for (int f = 0; f < l.num_features_; ++f) {
    if (numeric[f] && l.categorical_[f]) {
      *why = "feature " + std::to_string(f) + " has both numeric and categorical splits";
      return nullptr;
    }
  }
  l.has_categorical_ = std::find(l.categorical_.begin(), l.categorical_.end(), 1) != l.categorical_.end();
  l.quantized_ = forest.quantized();
  if (forest.quantized()) l.bin_thresholds_ = forest.bin_thresholds();

  // Each group of kLanes trees is padded to its deepest tree, and its trees
  // are interleaved slot by slot: slot n of lane k at n * kLanes + k.
  const int groups = (trees + kLanes - 1) / kLanes;
  size_t internal = 0, leaves = 0;
  for (int g = 0; g < groups; ++g) {
    uint32_t depth = 0;
    for (int t = g * kLanes; t < std::min(trees, (g + 1) * kLanes); ++t) {
      depth = std::max(depth, forest.tree_depths()[t]);
    }
    if (depth > kMaxDepth) {
      *why = "a tree among " + std::to_string(g * kLanes) + " to " + std::to_string((g + 1) * kLanes - 1) +
             " is deeper than " + std::to_string(kMaxDepth);
      return nullptr;
    }
    l.group_depth_.push_back(depth);
    l.group_slots_.push_back(static_cast<uint32_t>(internal));
    l.group_leaves_.push_back(static_cast<uint32_t>(leaves));
    internal += ((size_t{1} << depth) - 1) * kLanes;
    leaves += (size_t{1} << depth) * kLanes;
  }
  // Padding sparse trees costs cache; beyond 4 times the general layout
  // (plus room for small models), the general layout is faster.
  const size_t bytes = internal * sizeof(Slot) + leaves * sizeof(float);
  const size_t general = nodes.size() * sizeof(Forest::Node);
  if (bytes > 4 * general + (size_t{1} << 20)) {
    *why = "the trees are too sparse for it (" + std::to_string(bytes) + " bytes against " +
           std::to_string(general) + ")";
    return nullptr;
  }
  l.slots_.assign(internal, Slot{0, 0});
  l.leaf_.assign(leaves, 0.0f);
  for (int t = 0; t < trees; ++t) {
    const int g = t / kLanes, k = t % kLanes;
    const uint32_t depth = l.group_depth_[g];
    Slot* slots = l.slots_.data() + l.group_slots_[g] + k;
    float* leaf = l.leaf_.data() + l.group_leaves_[g] + k;
    const uint32_t first_leaf_slot = (1u << depth) - 1;
    // Places `node` of the original tree at `slot` of the perfect one.
    auto place = [&](auto& self, uint32_t node, uint32_t slot) -> void {
      const Forest::Node& n = nodes[node];
      if (slot >= first_leaf_slot) {
        leaf[(slot - first_leaf_slot) * kLanes] = n.value;
        return;
      }
      if (Forest::IsLeaf(n)) {
        // Input 0 against threshold 0: either way leads to this value.
        self(self, node, 2 * slot + 1);
        self(self, node, 2 * slot + 2);
        return;
      }
      const uint32_t f = n.feature_flags & Forest::kFeatureMask;
      const bool default_left = (n.feature_flags & Forest::kDefaultLeft) != 0;
      Slot& out = slots[slot * kLanes];
      out.input = (f + (default_left ? static_cast<uint32_t>(l.num_features_) : 0u)) |
                  ((n.feature_flags & Forest::kCategorical) ? Slot::kCategorical : 0u);
      // A category mask or a bin bound as it is; a float threshold as its key.
      const bool integer = forest.quantized() || (n.feature_flags & Forest::kCategorical);
      out.threshold = integer ? Bits(n.value) : Key(n.value);
      self(self, n.left, 2 * slot + 1);
      self(self, n.left + 1, 2 * slot + 2);
    };
    place(place, forest.tree_roots()[t], 0);
  }
  // The lanes of a last, partial group hold zero slots and zero leaves: they
  // are walked (the walk is branch-free) but never added.
  // Quantised slots whose inputs, bounds and masks all fit in 16 bits are
  // stored narrow. A bound must stay below the missing code (all ones).
  if (l.quantized_ && 2 * l.num_features_ < NarrowSlot::kCategorical &&
      std::all_of(l.slots_.begin(), l.slots_.end(),
                  [](const Slot& s) { return s.threshold < NarrowSlot::kMissingRight; })) {
    l.narrow_slots_.reserve(l.slots_.size());
    for (const Slot& s : l.slots_) {
      const uint16_t input = static_cast<uint16_t>(s.input & ~Slot::kCategorical) |
                             ((s.input & Slot::kCategorical) ? NarrowSlot::kCategorical : uint16_t{0});
      l.narrow_slots_.push_back({input, static_cast<uint16_t>(s.threshold)});
    }
    l.slots_ = {};
  }
#if defined(VIGIL_AVX512_KERNELS)
  l.avx512_ = vector_kernels && !l.narrow() && __builtin_cpu_supports("avx512f");
#else
  (void)vector_kernels;
#endif
  return layout;
}

template <typename S>
void PerfectLayout::Expand(const float* row, typename S::Code* expanded) const {
  using Code = typename S::Code;
  const int f_count = num_features_;
  Code* right = expanded;           // Missing goes right.
  Code* left = expanded + f_count;  // Missing goes left.
  for (int f = 0; f < f_count; ++f) {
    const float v = row[f];
    Code code;
    if (categorical_[f]) {
      // A category of 16 or more is in no narrow mask, and its code is 0.
      code = static_cast<Code>((v >= 0.0f && v < 32.0f) ? 1u << static_cast<uint32_t>(v) : 0u);
    } else if (quantized_) {
      code = static_cast<Code>(Forest::CountAtMost(bin_thresholds_[f], v));
    } else {
      code = static_cast<Code>(Key(v));
    }
    const bool missing = std::isnan(v);
    right[f] = missing ? S::kMissingRight : code;
    left[f] = missing ? Code{0} : code;
  }
}

template <bool kCategorical, typename S>
inline size_t PerfectLayout::Step(size_t n, const S& slot, const typename S::Code* expanded) {
  using Code = typename S::Code;
  const Code in = slot.input;
  // Only categorical splits carry the flag bit.
  const Code code = expanded[kCategorical ? in & static_cast<Code>(~S::kCategorical) : in];
  const Code t = slot.threshold;
  uint32_t left;
  if constexpr (!kCategorical) {
    left = code < t;
  } else {
    // Both decisions, one selected with integer arithmetic: no branch.
    const uint32_t numeric_left = code < t;
    const uint32_t category_left = (code & t) == 0;
    const uint32_t is_categorical = static_cast<uint32_t>(in >> (8 * sizeof(Code) - 1));
    left = (is_categorical & category_left) | ((1u ^ is_categorical) & numeric_left);
  }
  return 2 * n + 2 - left;
}

template <bool kCategorical, typename S>
void PerfectLayout::RowMargins(const S* slots, const float* row, float* margins) const {
  using Code = typename S::Code;
  for (int g = 0; g < num_groups_; ++g) margins[g] = base_margin_;
  thread_local std::vector<Code> expanded;
  if (expanded.size() < static_cast<size_t>(2 * num_features_)) expanded.resize(2 * num_features_);
  Expand<S>(row, expanded.data());
  const Code* codes = expanded.data();
  const int trees = static_cast<int>(tree_groups_.size());
  for (size_t g = 0; g < group_depth_.size(); ++g) {
    // The group's trees walk down together, unrolled: independent walks that
    // the processor overlaps, one lane's slot an immediate offset from the
    // next, and the top levels of all of them in a few cache lines.
    const S* group = slots + group_slots_[g];
    // Keeps `group` one register: otherwise GCC folds its offset into every
    // lane's index and spills sixteen of them.
    asm("" : "+r"(group));
    const uint32_t depth = group_depth_[g];
    size_t index[kLanes] = {};  // 64-bit, so that addresses need no extension.
    for (uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 16
      for (int k = 0; k < kLanes; ++k) index[k] = Step<kCategorical>(index[k], group[index[k] * kLanes + k], codes);
    }
    // Added in tree order: the same float sum as one tree at a time.
    const int t0 = static_cast<int>(g) * kLanes;
    const int lanes = std::min(kLanes, trees - t0);
    const float* leaf = leaf_.data() + group_leaves_[g];
    const uint32_t first_leaf_slot = (1u << depth) - 1;
    if (num_groups_ == 1) {
      float sum = margins[0];
      for (int k = 0; k < lanes; ++k) sum += leaf[(index[k] - first_leaf_slot) * kLanes + k];
      margins[0] = sum;
    } else {
      for (int k = 0; k < lanes; ++k) margins[tree_groups_[t0 + k]] += leaf[(index[k] - first_leaf_slot) * kLanes + k];
    }
  }
}

template <bool kCategorical, typename S>
void PerfectLayout::BatchMargins(const S* slots, const float* data, int64_t rows, float* margins) const {
  using Code = typename S::Code;
  const int64_t stride = num_features_;
  const int64_t expanded_stride = 2 * stride;
  for (int64_t i = 0; i < rows * num_groups_; ++i) margins[i] = base_margin_;
  thread_local std::vector<Code> expanded;
  if (expanded.size() < static_cast<size_t>(kBlockRows * expanded_stride)) {
    expanded.resize(kBlockRows * expanded_stride);
  }
  const int trees = static_cast<int>(tree_groups_.size());
  uint32_t index[kBlockRows];
  for (int64_t block = 0; block < rows; block += kBlockRows) {
    const int64_t n = std::min(kBlockRows, rows - block);
    for (int64_t r = 0; r < n; ++r) Expand<S>(data + (block + r) * stride, expanded.data() + r * expanded_stride);
    for (int t = 0; t < trees; ++t) {
      // The block's rows step down together: independent loads and compares
      // that the processor overlaps, and no per-row branches.
      const int g = t / kLanes, k = t % kLanes;
      const S* tree = slots + group_slots_[g] + k;
      const uint32_t depth = group_depth_[g];
      std::fill(index, index + n, 0u);
      // kLanes rows at a time with a constant trip count, which the compiler
      // unrolls and keeps in registers; then the block's last rows.
      int64_t r0 = 0;
      for (; r0 + kLanes <= n; r0 += kLanes) {
        const Code* codes = expanded.data() + r0 * expanded_stride;
        uint32_t* at = index + r0;
        for (uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 16
          for (int k = 0; k < kLanes; ++k) at[k] = Step<kCategorical>(at[k], tree[at[k] * kLanes], codes + k * expanded_stride);
        }
      }
      for (uint32_t d = 0; d < depth; ++d) {
        for (int64_t r = r0; r < n; ++r) {
          index[r] = Step<kCategorical>(index[r], tree[index[r] * kLanes], expanded.data() + r * expanded_stride);
        }
      }
      const float* leaf = leaf_.data() + group_leaves_[g] + k;
      const uint32_t first_leaf_slot = (1u << depth) - 1;
      float* out = margins + block * num_groups_ + tree_groups_[t];
      for (int64_t r = 0; r < n; ++r) out[r * num_groups_] += leaf[(index[r] - first_leaf_slot) * kLanes];
    }
  }
}

#if defined(VIGIL_AVX512_KERNELS)
// GCC 12's intrinsics start from a deliberately undefined vector, which its
// own -Wmaybe-uninitialized reports once inlined here.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <bool kCategorical>
__attribute__((target("avx512f"))) void PerfectLayout::RowMarginsAvx512(const float* row, float* margins) const {
  static_assert(kLanes == 16, "one 512-bit vector of 32-bit lanes per group");
  for (int g = 0; g < num_groups_; ++g) margins[g] = base_margin_;
  thread_local std::vector<uint32_t> expanded;
  if (expanded.size() < static_cast<size_t>(2 * num_features_)) expanded.resize(2 * num_features_);
  Expand<Slot>(row, expanded.data());
  const int* codes = reinterpret_cast<const int*>(expanded.data());
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i two = _mm512_set1_epi32(2);
  const __m512i categorical_bit = _mm512_set1_epi32(static_cast<int>(Slot::kCategorical));
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const int trees = static_cast<int>(tree_groups_.size());
  const size_t groups = group_depth_.size();
  // Groups walked together: each level is three dependent gathers, so
  // several independent groups keep the processor busy meanwhile.
  constexpr size_t kInFlight = 4;
  alignas(64) float values[kLanes];
  for (size_t g0 = 0; g0 < groups; g0 += kInFlight) {
    const size_t count = std::min(kInFlight, groups - g0);
    __m512i n[kInFlight];
    uint32_t depth = 0;
    for (size_t i = 0; i < kInFlight; ++i) {
      n[i] = _mm512_setzero_si512();
      if (i < count) depth = std::max(depth, group_depth_[g0 + i]);
    }
    for (uint32_t d = 0; d < depth; ++d) {
      for (size_t i = 0; i < kInFlight; ++i) {
        if (i >= count || d >= group_depth_[g0 + i]) continue;
        const long long* slots = reinterpret_cast<const long long*>(slots_.data() + group_slots_[g0 + i]);
        const __m512i at = _mm512_add_epi32(_mm512_slli_epi32(n[i], 4), lane);  // n * 16 + k
        // Each slot whole (8 bytes: 16 loads for 16 lanes, not 32), then
        // inputs and thresholds apart.
        const __m512i low = _mm512_i32gather_epi64(_mm512_castsi512_si256(at), slots, 8);
        const __m512i high = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(at, 1), slots, 8);
        const __m512i input = _mm512_permutex2var_epi32(low, even, high);
        const __m512i threshold = _mm512_permutex2var_epi32(low, odd, high);
        __m512i code;
        __mmask16 left;
        if constexpr (kCategorical) {
          code = _mm512_i32gather_epi32(_mm512_andnot_si512(categorical_bit, input), codes, 4);
          const __mmask16 is_categorical = _mm512_test_epi32_mask(input, categorical_bit);
          const __mmask16 numeric_left = _mm512_cmplt_epu32_mask(code, threshold);
          const __mmask16 category_right = _mm512_test_epi32_mask(code, threshold);
          left = static_cast<__mmask16>((is_categorical & ~category_right) | (~is_categorical & numeric_left));
        } else {
          code = _mm512_i32gather_epi32(input, codes, 4);
          left = _mm512_cmplt_epu32_mask(code, threshold);
        }
        // 2n + 2, minus one where the row goes left.
        const __m512i next = _mm512_add_epi32(_mm512_add_epi32(n[i], n[i]), two);
        n[i] = _mm512_mask_sub_epi32(next, left, next, one);
      }
    }
    // Leaf values, added in tree order: the scalar kernel's floats.
    for (size_t i = 0; i < count; ++i) {
      const size_t g = g0 + i;
      const __m512i first_leaf = _mm512_set1_epi32(static_cast<int>((1u << group_depth_[g]) - 1));
      const __m512i at = _mm512_add_epi32(_mm512_slli_epi32(_mm512_sub_epi32(n[i], first_leaf), 4), lane);
      _mm512_store_ps(values, _mm512_i32gather_ps(at, leaf_.data() + group_leaves_[g], 4));
      const int t0 = static_cast<int>(g) * kLanes;
      const int lanes = std::min(kLanes, trees - t0);
      if (num_groups_ == 1) {
        float sum = margins[0];
        for (int k = 0; k < lanes; ++k) sum += values[k];
        margins[0] = sum;
      } else {
        for (int k = 0; k < lanes; ++k) margins[tree_groups_[t0 + k]] += values[k];
      }
    }
  }
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

void PerfectLayout::PredictRowMargins(const float* row, float* margins) const {
#if defined(VIGIL_AVX512_KERNELS)
  if (avx512_) {
    return has_categorical_ ? RowMarginsAvx512<true>(row, margins) : RowMarginsAvx512<false>(row, margins);
  }
#endif
  if (narrow()) {
    has_categorical_ ? RowMargins<true>(narrow_slots_.data(), row, margins)
                     : RowMargins<false>(narrow_slots_.data(), row, margins);
  } else {
    has_categorical_ ? RowMargins<true>(slots_.data(), row, margins) : RowMargins<false>(slots_.data(), row, margins);
  }
}

void PerfectLayout::PredictMargins(const float* data, int64_t rows, float* margins) const {
  if (narrow()) {
    has_categorical_ ? BatchMargins<true>(narrow_slots_.data(), data, rows, margins)
                     : BatchMargins<false>(narrow_slots_.data(), data, rows, margins);
  } else {
    has_categorical_ ? BatchMargins<true>(slots_.data(), data, rows, margins)
                     : BatchMargins<false>(slots_.data(), data, rows, margins);
  }
}

}  // namespace vigil
