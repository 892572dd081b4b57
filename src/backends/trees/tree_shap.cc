#include "backends/trees/tree_shap.h"

#include <algorithm>
#include <vector>

namespace vigil {
namespace {

// One feature on the path from the root, and the weight of the subsets of
// path features (of each size) that reach the current node.
struct PathElement {
  int feature;
  double zero_fraction;  // Share of the cover that follows this split without the feature.
  double one_fraction;   // 1 if the row follows this split, 0 if not.
  double weight;         // Proportion of subsets of a given size.
};

// Adds a feature to the path, updating the subset weights.
void Extend(PathElement* path, int depth, double zero_fraction, double one_fraction, int feature) {
  path[depth] = {feature, zero_fraction, one_fraction, depth == 0 ? 1.0 : 0.0};
  for (int i = depth - 1; i >= 0; --i) {
    path[i + 1].weight += one_fraction * path[i].weight * (i + 1) / static_cast<double>(depth + 1);
    path[i].weight = zero_fraction * path[i].weight * (depth - i) / static_cast<double>(depth + 1);
  }
}

// Removes the element at `index`, the inverse of Extend.
void Unwind(PathElement* path, int depth, int index) {
  const double one = path[index].one_fraction;
  const double zero = path[index].zero_fraction;
  double next = path[depth].weight;
  for (int i = depth - 1; i >= 0; --i) {
    if (one != 0) {
      const double w = path[i].weight;
      path[i].weight = next * (depth + 1) / ((i + 1) * one);
      next = w - path[i].weight * zero * (depth - i) / static_cast<double>(depth + 1);
    } else {
      path[i].weight = path[i].weight * (depth + 1) / (zero * (depth - i));
    }
  }
  for (int i = index; i < depth; ++i) {
    path[i].feature = path[i + 1].feature;
    path[i].zero_fraction = path[i + 1].zero_fraction;
    path[i].one_fraction = path[i + 1].one_fraction;
  }
}

// The total subset weight if the element at `index` were unwound.
double UnwoundSum(const PathElement* path, int depth, int index) {
  const double one = path[index].one_fraction;
  const double zero = path[index].zero_fraction;
  double next = path[depth].weight;
  double total = 0;
  for (int i = depth - 1; i >= 0; --i) {
    if (one != 0) {
      const double w = next * (depth + 1) / ((i + 1) * one);
      total += w;
      next = path[i].weight - w * zero * (depth - i) / static_cast<double>(depth + 1);
    } else {
      total += path[i].weight / zero / ((depth - i) / static_cast<double>(depth + 1));
    }
  }
  return total;
}

class TreeWalker {
 public:
  TreeWalker(const Forest& forest, const float* row, float* phi)
      : forest_(forest), row_(row), phi_(phi) {}

  // `path` holds room for every depth's copy of the path (a triangle).
  void Walk(uint32_t node, PathElement* parent_path, int depth, double zero_fraction,
            double one_fraction, int feature) {
    PathElement* path = parent_path + depth + 1;
    std::copy(parent_path, parent_path + depth + 1, path);
    Extend(path, depth, zero_fraction, one_fraction, feature);
    const Forest::Node& n = forest_.nodes()[node];
    if (Forest::IsLeaf(n)) {
      for (int i = 1; i <= depth; ++i) {
        const double w = UnwoundSum(path, depth, i);
        phi_[path[i].feature] += static_cast<float>(w * (path[i].one_fraction - path[i].zero_fraction) * n.value);
      }
      return;
    }
    const int split = static_cast<int>(n.feature_flags & Forest::kFeatureMask);
    const uint32_t hot = forest_.GoesLeft(node, row_[split]) ? n.left : n.left + 1;
    const uint32_t cold = hot == n.left ? n.left + 1 : n.left;
    const double cover = forest_.covers()[node];
    const double hot_zero = cover > 0 ? forest_.covers()[hot] / cover : 0;
    const double cold_zero = cover > 0 ? forest_.covers()[cold] / cover : 0;
    double incoming_zero = 1, incoming_one = 1;
    // A feature split on again above: undo its earlier split first.
    int k = 0;
    while (k <= depth && path[k].feature != split) ++k;
    if (k <= depth) {
      incoming_zero = path[k].zero_fraction;
      incoming_one = path[k].one_fraction;
      Unwind(path, depth, k);
      --depth;
    }
    Walk(hot, path, depth + 1, hot_zero * incoming_zero, incoming_one, split);
    Walk(cold, path, depth + 1, cold_zero * incoming_zero, 0, split);
  }

 private:
  const Forest& forest_;
  const float* row_;
  float* phi_;
};

// The cover-weighted mean of a subtree's leaves: the tree's expected value.
double MeanValue(const Forest& forest, uint32_t node) {
  const Forest::Node& n = forest.nodes()[node];
  if (Forest::IsLeaf(n)) return n.value;
  const double cover = forest.covers()[node];
  if (cover <= 0) return 0;
  return (MeanValue(forest, n.left) * forest.covers()[n.left] +
          MeanValue(forest, n.left + 1) * forest.covers()[n.left + 1]) / cover;
}

}  // namespace

void TreeShap(const Forest& forest, const float* data, int64_t rows, float* out) {
  const int f = forest.num_features();
  const int groups = forest.num_groups();
  const int64_t width = static_cast<int64_t>(f) + 1;
  std::fill(out, out + rows * groups * width, 0.0f);
  std::vector<double> means(forest.num_trees());
  uint32_t max_depth = 0;
  for (int t = 0; t < forest.num_trees(); ++t) {
    means[t] = MeanValue(forest, forest.tree_roots()[t]);
    max_depth = std::max(max_depth, forest.tree_depths()[t]);
  }
  const size_t path_size = (max_depth + 2) * (max_depth + 3) / 2 + 1;
  std::vector<PathElement> path(path_size);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = data + r * f;
    for (int g = 0; g < groups; ++g) out[(r * groups + g) * width + f] = forest.base_margin();
    for (int t = 0; t < forest.num_trees(); ++t) {
      float* phi = out + (r * groups + forest.tree_groups()[t]) * width;
      TreeWalker(forest, row, phi).Walk(forest.tree_roots()[t], path.data(), 0, 1, 1, -1);
      phi[f] += static_cast<float>(means[t]);
    }
  }
}

}  // namespace vigil
