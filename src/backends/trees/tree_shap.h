// TreeSHAP: exact Shapley-value explanations of a forest's raw margin.
//
// Lundberg, Erion and Lee, "Consistent Individualized Feature Attribution
// for Tree Ensembles" (2018), Algorithm 2: per tree, one recursive walk that
// keeps, for the path from the root, the proportion of all feature subsets
// that reach each node. Node covers (the training weight that reached a node)
// stand for the data distribution, as in XGBoost's pred_contribs, so the
// result matches XGBoost's own contributions. For each row the contributions
// plus the bias (the margin expected before seeing any feature) sum to the
// row's raw margin.
//
// Thread-safety: a pure function of an immutable forest.
#ifndef VIGIL_BACKENDS_TREES_TREE_SHAP_H_
#define VIGIL_BACKENDS_TREES_TREE_SHAP_H_

#include <cstdint>

#include "backends/trees/forest.h"

namespace vigil {

// For `rows` rows of `data` (row-major, num_features values each), writes
// rows * num_groups * (num_features + 1) values to `out`: for each row and
// class, one contribution per feature, then the bias.
void TreeShap(const Forest& forest, const float* data, int64_t rows, float* out);

}  // namespace vigil

#endif  // VIGIL_BACKENDS_TREES_TREE_SHAP_H_
