#include "http/alert_api.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/rfc3339.h"
#include "http/error_mapping.h"
#include "repository/alert_rule.h"

namespace vigil {
namespace {

using nlohmann::json;

json SilenceJson(const Silence& s, int64_t now) {
  return {{"id", s.id},
          {"matchers", json::parse(s.matchers, nullptr, false)},
          {"startsAt", FormatRfc3339(s.starts_ms)},
          {"endsAt", FormatRfc3339(s.ends_ms)},
          {"createdBy", s.created_by},
          {"comment", s.comment},
          {"status", s.starts_ms > now ? "pending" : "active"}};
}

}  // namespace

bool ParsePositiveInt(const std::string& text, int64_t* v) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *v);
  return ec == std::errc() && ptr == text.data() + text.size() && *v > 0;
}

bool ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out) {
  auto decode = [](std::string_view in, std::string* s) {
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '+') {
        s->push_back(' ');
      } else if (in[i] == '%') {
        if (i + 2 >= in.size()) return false;
        int v = 0;
        const auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
        if (ec != std::errc() || p != in.data() + i + 3) return false;
        s->push_back(static_cast<char>(v));
        i += 2;
      } else {
        s->push_back(in[i]);
      }
    }
    return true;
  };
  if (query.empty()) return true;
  size_t i = 0;
  while (i <= query.size()) {
    size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    const std::string_view pair = query.substr(i, j - i);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      std::string key, value;
      if (!decode(pair.substr(0, eq), &key)) return false;
      if (eq != std::string_view::npos && !decode(pair.substr(eq + 1), &value)) return false;
      out->emplace_back(std::move(key), std::move(value));
    }
    i = j + 1;
  }
  return true;
}

HttpResponse AlertApi::Handle(const HttpRequest& request, const std::vector<std::string>& p, std::string_view& route) {
  const std::string& method = request.method;
  const bool get = method == "GET" || method == "HEAD";
  if (p.size() >= 2 && p[1] == "alerts") {
    if (p.size() == 2) {
      route = "/api/alerts";
      return get ? List(request.query) : MethodNotAllowed(method, "GET");
    }
    if (p.size() == 3) {
      route = "/api/alerts/{id}";
      return get ? Get(p[2]) : MethodNotAllowed(method, "GET");
    }
    if (p.size() == 4 && p[3] == "ack") {
      route = "/api/alerts/{id}/ack";
      return method == "POST" ? Acknowledge(p[2], request.body) : MethodNotAllowed(method, "POST");
    }
  }
  if (p.size() >= 2 && p[1] == "silences") {
    if (p.size() == 2) {
      route = "/api/silences";
      if (get) return ListSilences();
      return method == "POST" ? AddSilence(request.body) : MethodNotAllowed(method, "GET, POST");
    }
    if (p.size() == 3) {
      route = "/api/silences/{id}";
      return method == "DELETE" ? ExpireSilence(p[2]) : MethodNotAllowed(method, "DELETE");
    }
  }
  return ErrorResponse(404, "no endpoint at " + request.path +
                                " (alerting: /api/alerts, /api/alerts/{id}, /api/alerts/{id}/ack, /api/silences)");
}

HttpResponse AlertApi::List(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQuery(query, &params)) return ErrorResponse(400, "query: malformed percent-escape");
  AlertQuery q;
  for (const auto& [key, value] : params) {
    if (key == "state") {
      if (value != "active" && value != "pending" && value != "firing" && value != "resolved" && value != "inactive") {
        return ErrorResponse(400, "state: expected active, pending, firing, resolved or inactive, got '" + value + "'");
      }
      q.state = value;
    } else if (key == "model") {
      q.model = value;
    } else if (key == "limit") {
      int64_t limit = 0;
      if (!ParsePositiveInt(value, &limit) || limit > 10000) return ErrorResponse(400, "limit: expected 1 to 10000");
      q.limit = limit;
    } else {
      return ErrorResponse(400, "query: unknown parameter '" + key + "' (expected state, model, limit)");
    }
  }
  auto alerts = store_.Alerts(q);
  if (!alerts.ok()) return ErrorResponse(alerts.status());
  json list = json::array();
  for (const AlertRecord& a : *alerts) list.push_back(json::parse(AlertEngine::ToJson(a)));
  return JsonResponse(200, {{"alerts", list}});
}

HttpResponse AlertApi::Get(const std::string& id_text) {
  int64_t id = 0;
  if (!ParsePositiveInt(id_text, &id)) return ErrorResponse(400, "alert id: expected a positive integer, got '" + id_text + "'");
  auto alert = store_.GetAlert(id);
  if (!alert.ok()) return ErrorResponse(alert.status());
  if (!alert->has_value()) return ErrorResponse(404, "no alert " + id_text);
  auto events = store_.AlertEvents(id);
  if (!events.ok()) return ErrorResponse(events.status());
  json body = json::parse(AlertEngine::ToJson(**alert));
  json list = json::array();
  for (const AlertEvent& e : *events) {
    list.push_back({{"time", FormatRfc3339(e.time_ms)},
                    {"kind", e.kind},
                    {"value", e.value},
                    {"detail", json::parse(e.detail, nullptr, false)}});
  }
  body["events"] = list;
  return JsonResponse(200, body);
}

HttpResponse AlertApi::Acknowledge(const std::string& id_text, const std::string& body) {
  int64_t id = 0;
  if (!ParsePositiveInt(id_text, &id)) return ErrorResponse(400, "alert id: expected a positive integer, got '" + id_text + "'");
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return ErrorResponse(400, "request body: expected {\"by\": \"who\", \"note\": \"...\"}");
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "by" && key != "note") return ErrorResponse(400, key + ": unknown key (expected by, note)");
    if (!value.is_string()) return ErrorResponse(400, key + ": expected a string");
  }
  const std::string by = doc.value("by", "");
  if (by.empty()) return ErrorResponse(400, "by: who acknowledges is required");
  if (by.size() > 200 || doc.value("note", "").size() > 10000) return ErrorResponse(400, "by or note: too long");
  auto acked = engine_.Acknowledge(id, by, doc.value("note", ""));
  if (!acked.ok()) {
    const StatusCode code = acked.status().code();
    return ErrorResponse(code == StatusCode::kFailedPrecondition ? 409 : code == StatusCode::kNotFound ? 404 : 503,
                         acked.status().message());
  }
  return JsonResponse(200, json::parse(AlertEngine::ToJson(*acked)));
}

HttpResponse AlertApi::ListSilences() {
  const int64_t now = engine_.Now();
  json list = json::array();
  for (const Silence& s : engine_.ActiveSilences()) list.push_back(SilenceJson(s, now));
  return JsonResponse(200, {{"silences", list}});
}

HttpResponse AlertApi::AddSilence(const std::string& body) {
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return ErrorResponse(400, "request body: expected {\"matchers\": [...], \"endsAt\" or \"duration\", "
                              "\"createdBy\", \"comment\"}");
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "matchers" && key != "startsAt" && key != "endsAt" && key != "duration" && key != "createdBy" &&
        key != "comment") {
      return ErrorResponse(400, key + ": unknown key (expected matchers, startsAt, endsAt, duration, createdBy, comment)");
    }
    if (key != "matchers" && !value.is_string()) return ErrorResponse(400, key + ": expected a string");
  }
  if (!doc.contains("matchers")) return ErrorResponse(400, "matchers: is required");
  Silence s;
  s.matchers = SafeDump(doc["matchers"]);
  s.created_by = doc.value("createdBy", "");
  s.comment = doc.value("comment", "");
  if (s.created_by.empty()) return ErrorResponse(400, "createdBy: who silences is required");
  if (doc.contains("startsAt") && !ParseRfc3339(doc["startsAt"].get<std::string>(), &s.starts_ms)) {
    return ErrorResponse(400, "startsAt: expected an RFC 3339 time such as 2026-11-28T12:00:00Z");
  }
  if (doc.contains("endsAt") == doc.contains("duration")) {
    return ErrorResponse(400, "endsAt or duration: give exactly one");
  }
  if (doc.contains("endsAt")) {
    if (!ParseRfc3339(doc["endsAt"].get<std::string>(), &s.ends_ms)) {
      return ErrorResponse(400, "endsAt: expected an RFC 3339 time such as 2026-11-28T12:00:00Z");
    }
  } else {
    auto seconds = ParseDurationSeconds(doc["duration"].get<std::string>());
    if (!seconds.ok()) return ErrorResponse(400, "duration: " + seconds.status().message());
    s.ends_ms = (s.starts_ms ? s.starts_ms : engine_.Now()) + *seconds * 1000;
  }
  auto id = engine_.AddSilence(s);
  if (!id.ok()) return ErrorResponse(id.status());
  return JsonResponse(200, {{"silenceID", *id}});
}

HttpResponse AlertApi::ExpireSilence(const std::string& id_text) {
  int64_t id = 0;
  if (!ParsePositiveInt(id_text, &id)) return ErrorResponse(400, "silence id: expected a positive integer, got '" + id_text + "'");
  auto expired = engine_.ExpireSilence(id);
  if (!expired.ok()) return ErrorResponse(expired.status());
  if (!*expired) return ErrorResponse(404, "no active silence " + id_text);
  return JsonResponse(200, {{"silenceID", id}, {"status", "expired"}});
}

}  // namespace vigil
