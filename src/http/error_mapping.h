// Error mapping: from a Status to the HTTP answer a client gets.
//
//   INVALID_ARGUMENT, FAILED_PRECONDITION -> 400    NOT_FOUND -> 404
//   PERMISSION_DENIED -> 403                        RESOURCE_EXHAUSTED -> 429
//   UNAVAILABLE -> 503                              INTERNAL -> 500
//
// The body is always {"error": "<message>"}, as the Open Inference Protocol
// specifies.
#ifndef VIGIL_HTTP_ERROR_MAPPING_H_
#define VIGIL_HTTP_ERROR_MAPPING_H_

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/http_message.h"

namespace vigil {

int HttpStatusFor(StatusCode code);
// {"error": message} with the mapped status.
HttpResponse ErrorResponse(const Status& status);
// {"error": message} with an explicit status (for errors found by the server
// itself, such as 413 or 405).
HttpResponse ErrorResponse(int http_status, std::string_view message);
// 405 naming the allowed methods, with an Allow header.
HttpResponse MethodNotAllowed(const std::string& method, const std::string& allowed);
// `body` as JSON with `status` (invalid UTF-8 in it is replaced, never thrown).
HttpResponse JsonResponse(int status, const nlohmann::json& body);

}  // namespace vigil

#endif  // VIGIL_HTTP_ERROR_MAPPING_H_
