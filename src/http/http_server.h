// HttpServer: the HTTP/1.1 listener (Boost.Asio/Beast).
//
// A fixed pool of worker threads runs one io_context; each connection is a
// session on its own strand that reads a request (header, then body, each
// under its own timeout and size limit), hands it to the handler on the same
// thread, writes the answer and, with keep-alive, waits for the next one.
// There is no thread per request.
//
// Limits the server enforces itself, before any handler runs:
//   - header size (431) and body size (413, checked against Content-Length
//     before the body is read);
//   - header, body and write timeouts (the connection is closed), which is
//     also what ends a slow-loris client;
//   - connections at once (beyond it a new connection gets 503 and is closed);
//   - requests in progress at once, across connections, counted from a
//     complete header to the end of the answer (beyond it 503 with
//     Retry-After at once, without reading the body): this bounds the work
//     and the memory (requests times the body limit) waiting for a worker;
//   - requests per second per connection (token bucket; 429 with
//     Retry-After, the connection stays open).
//
// TLS (OpenSSL through Asio): with a certificate and key every connection is
// TLS 1.2 or newer; with a client CA, clients must present a certificate it
// signed (mutual TLS), or the handshake fails.
//
// Shutdown (SIGINT/SIGTERM, or Shutdown()): the listener closes, idle
// keep-alive connections close, in-flight requests finish and are answered
// with "Connection: close", then Run() returns. A hard deadline bounds it.
//
// Thread-safety: Start() and Run() from one thread; Shutdown() from any.
#ifndef VIGIL_HTTP_HTTP_SERVER_H_
#define VIGIL_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <string>

#include "common/status.h"
#include "http/http_message.h"

namespace vigil {

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;                    // 0 picks a free port; see port().
    int threads = 0;                         // Worker threads; 0 = number of cores.
    size_t max_body_bytes = 64 << 20;        // Larger bodies get 413.
    size_t max_header_bytes = 16 << 10;      // Larger headers get 431.
    int header_timeout_ms = 30000;           // Idle keep-alive plus header read.
    int body_timeout_ms = 60000;             // Reading the body once the header is in.
    int write_timeout_ms = 60000;            // Writing a response.
    int shutdown_timeout_ms = 30000;         // Hard bound on draining at shutdown.
    bool handle_signals = true;              // Shut down on SIGINT and SIGTERM.
    size_t max_connections = 4096;           // Open connections at most; 0: no limit.
    size_t max_inflight = 256;               // Requests in progress at most; 0: no limit.
    double connection_rate = 0;              // Requests/s per connection; 0: no limit.
    double connection_burst = 0;             // Burst per connection; 0: one second's worth.
    std::string tls_cert_file;               // PEM certificate chain; empty: plain HTTP.
    std::string tls_key_file;                // PEM private key.
    std::string tls_client_ca_file;          // PEM CAs; set: clients must present a certificate.
  };
  using Handler = std::function<HttpResponse(HttpRequest&)>;
  // Runs when a request's header is in, before its body is read or it counts
  // as in progress: an answer (e.g. 401) is sent at once and the connection
  // closed, so that a client without a key cannot hold request slots or
  // make the server buffer bodies. Called on worker threads; thread-safe.
  using Admission = std::function<std::optional<HttpResponse>(std::string_view method, std::string_view path,
                                                              std::string_view authorization)>;

  // `handler` answers every complete request; `on_shutdown` runs once when
  // shutdown begins (e.g. to turn readiness off). Both are called on worker
  // threads and must be thread-safe.
  HttpServer(Options options, Handler handler, std::function<void()> on_shutdown = {}, Admission admission = {});
  ~HttpServer();

  // Binds and listens. INVALID_ARGUMENT for a bad host or TLS files that do
  // not load (naming the file); UNAVAILABLE when the address is in use.
  Status Start();
  // The bound port (useful after binding port 0).
  uint16_t port() const;
  // Serves until shutdown completes.
  void Run();
  void Shutdown();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil

#endif  // VIGIL_HTTP_HTTP_SERVER_H_
