// HttpClient: a blocking HTTP/1.1 client with one keep-alive connection, for
// end-to-end tests and the load generator in them. Loopback only.
#ifndef VIGIL_TESTS_E2E_HTTP_CLIENT_H_
#define VIGIL_TESTS_E2E_HTTP_CLIENT_H_

#include <memory>
#include <string>

namespace vigil::testing {

struct HttpResult {
  int status = 0;        // 0 when the connection failed.
  std::string body;
  std::string content_type;
  std::string error;     // Transport error, if any.
};

class HttpClient {
 public:
  explicit HttpClient(int port);
  ~HttpClient();
  HttpResult Get(const std::string& path);
  HttpResult Post(const std::string& path, const std::string& body);
  HttpResult Delete(const std::string& path);
  HttpResult Put(const std::string& path, const std::string& body);
  // Sends `method` with `body`.
  HttpResult Request(const std::string& method, const std::string& path, const std::string& body = "");
  // Every request from now on carries "Authorization: <value>" (empty: none).
  void SetAuthorization(std::string value) { authorization_ = std::move(value); }
  // Sends raw bytes on a fresh connection and returns what came back until
  // the server closed it (or 10 s passed).
  std::string Raw(const std::string& bytes);
  // Sends `header` (ending in a blank line) on a fresh connection, reads the
  // server's interim answer, then sends `body` and returns everything read
  // until the connection closed (or 10 s passed).
  std::string TwoPart(const std::string& header, const std::string& body);

 private:
  HttpResult Send(const std::string& method, const std::string& path, const std::string& body);
  // Sends `first`; with `second`, waits for an interim answer and sends it.
  std::string Raw(const std::string& first, const std::string* second);
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::string authorization_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_E2E_HTTP_CLIENT_H_
