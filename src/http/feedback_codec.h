// DecodeFeedback: the body of POST /v2/models/{m}/feedback, one item
// {"id": ..., "row": ..., "label": ...} or a list of them, checked against the
// model's configuration (a classifier's labels are its classes, by name or
// index; a regressor's are finite numbers).
//
// Thread-safety: a pure function.
#ifndef VIGIL_HTTP_FEEDBACK_CODEC_H_
#define VIGIL_HTTP_FEEDBACK_CODEC_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "repository/model_config.h"
#include "store/store.h"

namespace vigil {

// At most this many items per request.
inline constexpr size_t kMaxFeedbackItems = 10000;

// INVALID_ARGUMENT names the item and field that is wrong, e.g.
// "[3].label: 2 is not a class of model 'credit' (good, bad, or their index)".
Result<std::vector<FeedbackItem>> DecodeFeedback(std::string_view body, const ModelConfig& config,
                                                 const std::string& model);

}  // namespace vigil

#endif  // VIGIL_HTTP_FEEDBACK_CODEC_H_
