#include "e2e/http_client.h"

#include <utility>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace vigil::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class HttpClient::Impl {
 public:
  explicit Impl(int port) : port_(port) {}
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  int port_;

  void Connect() {
    stream.emplace(ioc);
    stream->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)));
  }
};

HttpClient::HttpClient(int port) : impl_(std::make_unique<Impl>(port)) {}
HttpClient::~HttpClient() = default;

HttpResult HttpClient::Get(const std::string& path) { return Send("GET", path, ""); }
HttpResult HttpClient::Post(const std::string& path, const std::string& body) {
  return Send("POST", path, body);
}
HttpResult HttpClient::Delete(const std::string& path) { return Send("DELETE", path, ""); }

HttpResult HttpClient::Put(const std::string& path, const std::string& body) { return Send("PUT", path, body); }

HttpResult HttpClient::Request(const std::string& method, const std::string& path, const std::string& body) {
  return Send(method, path, body);
}

HttpResult HttpClient::Send(const std::string& method, const std::string& path,
                            const std::string& body) {
  HttpResult result;
  try {
    if (!impl_->stream) impl_->Connect();
    http::request<http::string_body> req(http::string_to_verb(method), path, 11);
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    if (!authorization_.empty()) req.set(http::field::authorization, authorization_);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    impl_->stream->expires_after(std::chrono::seconds(30));
    http::write(*impl_->stream, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 30);
    http::read(*impl_->stream, impl_->buffer, parser);
    auto res = parser.release();
    result.status = res.result_int();
    result.body = res.body();
    result.content_type = std::string(res[http::field::content_type]);
    if (!res.keep_alive()) impl_->stream.reset();
  } catch (const std::exception& e) {
    // No retry: a request lost in transit is a failure the tests must see.
    result.error = e.what();
    impl_->stream.reset();
    impl_->buffer.clear();
  }
  return result;
}

std::string HttpClient::TwoPart(const std::string& header, const std::string& body) {
  return Raw(header, &body);
}

std::string HttpClient::Raw(const std::string& bytes) { return Raw(bytes, nullptr); }

std::string HttpClient::Raw(const std::string& first, const std::string* second) {
  Impl raw(impl_->port_);
  raw.Connect();
  raw.stream->expires_after(std::chrono::seconds(10));
  std::string out;
  try {
    char buf[4096];
    asio::write(raw.stream->socket(), asio::buffer(first));
    if (second) {
      while (out.find("\r\n\r\n") == std::string::npos) {
        out.append(buf, raw.stream->read_some(asio::buffer(buf)));
      }
      asio::write(raw.stream->socket(), asio::buffer(*second));
    }
    for (;;) {
      beast::error_code ec;
      size_t n = raw.stream->read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
  } catch (const std::exception&) {
  }
  return out;
}

}  // namespace vigil::testing
