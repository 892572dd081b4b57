// HttpClient: one HTTP/1.1 request to a plain-http URL, with a deadline.
//
// For Vigil's outgoing notifications (webhooks, Alertmanager), which are
// rare and small: one connection per request, no pooling. Built on
// Boost.Beast like the server. https:// URLs are refused until TLS comes to
// the server (issue #6), and say so.
//
// Thread-safety: stateless; call from any thread.
#ifndef VIGIL_HTTP_HTTP_CLIENT_H_
#define VIGIL_HTTP_HTTP_CLIENT_H_

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vigil {

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";  // Path and query.
};
// Parses "http://host[:port][/path]". INVALID_ARGUMENT says what is wrong.
Result<HttpUrl> ParseHttpUrl(const std::string& url);

struct HttpReply {
  int status = 0;
  std::string body;
};

// Sends `method` to `url` with `body` (Content-Type `content_type`) and
// `headers`, and reads the reply; UNAVAILABLE when the peer cannot be
// reached or does not answer within `timeout` (connect, write and read
// together).
Result<HttpReply> SendHttpRequest(const std::string& method, const std::string& url, const std::string& body,
                              const std::string& content_type,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::chrono::milliseconds timeout);

}  // namespace vigil

#endif  // VIGIL_HTTP_HTTP_CLIENT_H_
