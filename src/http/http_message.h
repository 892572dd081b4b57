// HttpRequest and HttpResponse: what handlers see of HTTP.
//
// The socket library (Boost.Beast) stays inside http_server.cc; handlers are
// plain functions from an HttpRequest to an HttpResponse, testable without a
// socket.
#ifndef VIGIL_HTTP_HTTP_MESSAGE_H_
#define VIGIL_HTTP_HTTP_MESSAGE_H_

#include <string>
#include <utility>
#include <vector>

namespace vigil {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // The target without the query string.
  std::string query;   // After '?', undecoded; empty if none.
  std::string body;
  std::string authorization;  // The Authorization header; empty if none.
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Extra headers, e.g. Allow.
};

}  // namespace vigil

#endif  // VIGIL_HTTP_HTTP_MESSAGE_H_
