#include "http/error_mapping.h"

#include <nlohmann/json.hpp>

#include "common/json_text.h"

namespace vigil {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kFailedPrecondition: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kInternal: return 500;
    case StatusCode::kCancelled: return 409;
  }
  return 500;
}

HttpResponse ErrorResponse(int http_status, std::string_view message) {
  HttpResponse r;
  r.status = http_status;
  r.body = "{\"error\":";
  AppendJsonString(r.body, message);
  r.body += "}";
  return r;
}

HttpResponse ErrorResponse(const Status& status) {
  return ErrorResponse(HttpStatusFor(status.code()), status.message());
}

HttpResponse MethodNotAllowed(const std::string& method, const std::string& allowed) {
  HttpResponse r = ErrorResponse(405, "method " + method + " is not allowed here; use " + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace vigil
