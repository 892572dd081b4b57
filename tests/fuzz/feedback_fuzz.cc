// Fuzzes the feedback decoder, DecodeFeedback (src/http/feedback_codec.cc,
// nlohmann-json), with arbitrary bodies of POST /v2/models/{m}/feedback.
//
// The first byte chooses the model: even for a classifier (classes good,
// bad), odd for a regressor (no classes); the rest is the body. A refusal (a
// Status error) is a correct answer. A crash, a sanitizer report, an uncaught
// exception, a timeout or a broken invariant below is a finding.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/feedback_codec.h"

using vigil::fuzz::Check;

namespace {

vigil::ModelConfig Config(bool classifier) {
  vigil::ModelConfig config;
  config.name = classifier ? "credit" : "price";
  config.backend = "xgboost";
  config.features.resize(2);
  config.features[0].name = "a";
  config.features[1].name = "b";
  if (classifier) config.classes = {"good", "bad"};
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::ModelConfig classifier = Config(true);
  static const vigil::ModelConfig regressor = Config(false);
  if (size == 0) return 0;
  const bool is_classifier = (data[0] & 1) == 0;
  const vigil::ModelConfig& config = is_classifier ? classifier : regressor;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto items = vigil::DecodeFeedback(body, config, config.name);
  vigil::fuzz::Report(items.status());
  if (!items.ok()) return 0;
  Check(!items->empty() && items->size() <= vigil::kMaxFeedbackItems, "1 to kMaxFeedbackItems items");
  for (const vigil::FeedbackItem& item : *items) {
    Check(!item.request_id.empty(), "an item has an id");
    Check(item.row >= 0, "a row is non-negative");
    // The label is stored as JSON: a class name of the model, or a finite number.
    const nlohmann::json label = nlohmann::json::parse(item.label, nullptr, /*allow_exceptions=*/false);
    if (is_classifier) {
      Check(label.is_string() && (label == "good" || label == "bad"), "a classifier's label is one of its classes",
            item.label);
    } else {
      Check(label.is_number() && std::isfinite(label.get<double>()), "a regressor's label is a finite number",
            item.label);
    }
  }
  return 0;
}
