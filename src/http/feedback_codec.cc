#include "http/feedback_codec.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace vigil {

using nlohmann::json;

// A feedback body nests three levels at most (list, item, value). Deeper
// documents are refused while parsing: copying or printing one recurses once
// per level, and a 64 MiB body of brackets would overflow the stack.
constexpr int kMaxFeedbackDepth = 8;

Result<std::vector<FeedbackItem>> DecodeFeedback(std::string_view body, const ModelConfig& config,
                                                 const std::string& model) {
  bool too_deep = false;
  const json::parser_callback_t limit_depth = [&too_deep](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxFeedbackDepth) {
      too_deep = true;
    }
    return !too_deep;  // Nothing more is kept once too deep.
  };
  json doc = json::parse(body, limit_depth, /*allow_exceptions=*/false);
  if (too_deep) {
    return Status::InvalidArgument("request body: nested deeper than " + std::to_string(kMaxFeedbackDepth) +
                                   " levels");
  }
  if (doc.is_discarded()) return Status::InvalidArgument("request body is not valid JSON");
  if (doc.is_object()) {
    json list = json::array();
    list.push_back(std::move(doc));
    doc = std::move(list);
  }
  if (!doc.is_array() || doc.empty()) {
    return Status::InvalidArgument("request body: expected a feedback item {\"id\": ..., \"label\": ...} or a "
                              "non-empty list of them");
  }
  if (doc.size() > kMaxFeedbackItems) {
    return Status::InvalidArgument("request body: at most " + std::to_string(kMaxFeedbackItems) +
                                   " items per request, got " + std::to_string(doc.size()));
  }
  const bool classifier = !config.classes.empty();
  std::vector<FeedbackItem> items;
  items.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const json& item = doc[i];
    const std::string where = "[" + std::to_string(i) + "]";
    if (!item.is_object()) return Status::InvalidArgument(where + ": expected an object with id and label");
    for (const auto& [key, value] : item.items()) {
      if (key != "id" && key != "row" && key != "label") {
        return Status::InvalidArgument(where + "." + key + ": unknown key (expected id, row, label)");
      }
    }
    FeedbackItem f;
    if (!item.contains("id") || !item["id"].is_string() || item["id"].get<std::string>().empty()) {
      return Status::InvalidArgument(where + ".id: the inference response's id (a non-empty string) is required");
    }
    f.request_id = item["id"].get<std::string>();
    if (item.contains("row")) {
      if (!item["row"].is_number_integer() || item["row"].get<int64_t>() < 0) {
        return Status::InvalidArgument(where + ".row: expected the row's index in the request (an integer from 0)");
      }
      f.row = item["row"].get<int64_t>();
    }
    if (!item.contains("label")) return Status::InvalidArgument(where + ".label: is required");
    const json& label = item["label"];
    if (classifier) {
      // Stored as the class name, whichever way it came.
      std::string name;
      if (label.is_string()) {
        name = label.get<std::string>();
      } else if (label.is_number_integer() && label.get<int64_t>() >= 0 &&
                 label.get<int64_t>() < static_cast<int64_t>(config.classes.size())) {
        name = config.classes[label.get<size_t>()];
      }
      if (std::find(config.classes.begin(), config.classes.end(), name) == config.classes.end()) {
        std::string classes;
        for (const std::string& c : config.classes) classes += (classes.empty() ? "" : ", ") + c;
        return Status::InvalidArgument(where + ".label: " + label.dump() + " is not a class of model '" + model +
                                      "' (" + classes + ", or their index)");
      }
      f.label = json(name).dump();
    } else {
      if (!label.is_number() || !std::isfinite(label.get<double>())) {
        return Status::InvalidArgument(where + ".label: expected a number (the observed value)");
      }
      f.label = label.dump();
    }
    items.push_back(std::move(f));
  }
  return items;
}

}  // namespace vigil
