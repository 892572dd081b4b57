#include "http/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace vigil {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind("https://", 0) == 0) {
    return Status::InvalidArgument("'" + url + "': https is not supported yet; use http:// (TLS comes with issue #6)");
  }
  if (url.rfind(kScheme, 0) != 0) return Status::InvalidArgument("'" + url + "' is not an http:// URL");
  const std::string rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpUrl out;
  if (slash != std::string::npos) out.target = rest.substr(slash);
  if (authority.find('@') != std::string::npos) {
    return Status::InvalidArgument("'" + url + "': credentials in the URL are not supported");
  }
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("'" + url + "': unclosed IPv6 address");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Status::InvalidArgument("'" + url + "': bad port");
      out.port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  if (out.host.empty()) return Status::InvalidArgument("'" + url + "' has no host");
  if (out.port.empty() || out.port.size() > 5 || out.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(out.port) == 0 || std::stoi(out.port) > 65535) {
    return Status::InvalidArgument("'" + url + "': bad port '" + out.port + "'");
  }
  return out;
}

Result<HttpReply> SendHttpRequest(const std::string& method, const std::string& url, const std::string& body,
                              const std::string& content_type,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::chrono::milliseconds timeout) {
  auto parsed = ParseHttpUrl(url);
  if (!parsed.ok()) return parsed.status();
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return Status::InvalidArgument("unknown HTTP method " + method);
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    // One deadline for the whole exchange: each operation gets what is left.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] { return std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration(1)); };
    const auto endpoints = resolver.resolve(parsed->host, parsed->port);
    stream.expires_after(left());
    stream.connect(endpoints);
    http::request<http::string_body> req{verb, parsed->target, 11};
    req.set(http::field::host, parsed->host + ":" + parsed->port);
    req.set(http::field::user_agent, "vigil");
    req.set(http::field::content_type, content_type);
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    stream.expires_after(left());
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    stream.expires_after(left());
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return HttpReply{static_cast<int>(res.result_int()), std::move(res.body())};
  } catch (const beast::system_error& e) {
    return Status::Unavailable(method + " " + url + ": " + e.code().message());
  } catch (const std::exception& e) {
    return Status::Unavailable(method + " " + url + ": " + e.what());
  }
}

}  // namespace vigil
