// AlertApi: the alerting endpoints.
//
//   GET    /api/alerts[?state=active|pending|firing|resolved&model=M&limit=N]
//   GET    /api/alerts/{id}                 one alert with its events
//   POST   /api/alerts/{id}/ack             {"by": "...", "note": "..."}
//   GET    /api/silences                    active and future silences
//   POST   /api/silences                    Alertmanager's silence form (matchers, startsAt, endsAt,
//                                           createdBy, comment), or "duration" instead of endsAt
//   DELETE /api/silences/{id}               ends a silence now
//
// Writes are committed before the answer. Errors are {"error": "..."}.
//
// Thread-safety: thread-safe; the engine and store must outlive it.
#ifndef VIGIL_HTTP_ALERT_API_H_
#define VIGIL_HTTP_ALERT_API_H_

#include <string>
#include <string_view>
#include <vector>

#include "http/http_message.h"
#include "monitor/alert_engine.h"
#include "store/store.h"

namespace vigil {

class AlertApi {
 public:
  AlertApi(AlertEngine& engine, Store& store) : engine_(engine), store_(store) {}

  // `parts`: the path split at '/', starting with "api". `route` receives
  // the route template for metrics.
  HttpResponse Handle(const HttpRequest& request, const std::vector<std::string>& parts, std::string_view& route);

 private:
  HttpResponse List(const std::string& query);
  HttpResponse Get(const std::string& id);
  HttpResponse Acknowledge(const std::string& id, const std::string& body);
  HttpResponse ListSilences();
  HttpResponse AddSilence(const std::string& body);
  HttpResponse ExpireSilence(const std::string& id);

  AlertEngine& engine_;
  Store& store_;
};

// Splits an URL query ("a=1&b=x%20y") into decoded pairs; false if an escape
// is malformed.
bool ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out);
// A positive decimal integer (an id, a version, a limit) and nothing else.
bool ParsePositiveInt(const std::string& text, int64_t* v);

}  // namespace vigil

#endif  // VIGIL_HTTP_ALERT_API_H_
