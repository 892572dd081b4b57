#include "http/http_server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/token_bucket.h"
#include "http/error_mapping.h"

namespace vigil {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using Strand = asio::strand<asio::io_context::executor_type>;
// A concrete strand type instead of Beast's type-erased default executor:
// the type erasure showed as several percent of a batch-1 profile.
using TcpStream = beast::basic_stream<tcp, Strand>;
using TlsStream = beast::ssl_stream<TcpStream>;

// What the server needs of a connection of either kind.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void CloseIfIdle() = 0;
};

class HttpServer::Impl {
 public:
  Impl(Options options, Handler handler, std::function<void()> on_shutdown, Admission admission)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        on_shutdown_(std::move(on_shutdown)),
        admission_(std::move(admission)),
        acceptor_(ioc_),
        signals_(ioc_),
        deadline_(ioc_),
        accept_retry_(ioc_) {}

  Status Start();
  Status SetUpTls();
  void Run();
  void Shutdown();
  void DoAccept();
  void Register(SessionBase* s, std::weak_ptr<SessionBase> weak);
  void Unregister(SessionBase* s);
  size_t Connections();
  // Polls until every connection has closed or `hard_deadline` passes.
  void WatchDrain(std::chrono::steady_clock::time_point hard_deadline);

  Options options_;
  Handler handler_;
  std::function<void()> on_shutdown_;
  Admission admission_;
  asio::io_context ioc_;
  std::optional<asio::ssl::context> tls_;  // Set when serving TLS.
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer deadline_;
  asio::steady_timer accept_retry_;  // Backs off when out of file descriptors.
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> inflight_{0};
  uint16_t port_ = 0;

  std::mutex sessions_mu_;
  // Guarded by sessions_mu_.
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;
};

// One connection, plain or TLS. Every handler runs on the connection's strand.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  template <class... StreamArgs>
  Session(HttpServer::Impl& server, StreamArgs&&... args)
      : stream_(std::forward<StreamArgs>(args)...),
        server_(server),
        bucket_(server.options_.connection_rate,
                server.options_.connection_burst > 0 ? server.options_.connection_burst
                                                      : server.options_.connection_rate,
                std::chrono::steady_clock::now()) {}
  ~Session() override {
    Release();
    server_.Unregister(this);
  }

  void Start() {
    server_.Register(this, this->weak_from_this());
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->ReadHeader();
      }
    });
  }

  // Called at shutdown: an idle connection closes now; a busy one closes after
  // its answer (keep-alive is off once the server is stopping).
  void CloseIfIdle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_ && self->buffer_.size() == 0) {
        beast::error_code ec;
        self->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
        self->tcp().close();
      }
    });
  }

 private:
  const HttpServer::Options& options() const { return server_.options_; }
  TcpStream& tcp() { return beast::get_lowest_layer(stream_); }

  void Handshake() {
    tcp().expires_after(std::chrono::milliseconds(options().header_timeout_ms));
    stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) {
        spdlog::debug("TLS handshake failed: {}", ec.message());
        return self->tcp().close();
      }
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    if (server_.stopping_ && buffer_.size() == 0) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    idle_ = true;
    tcp().expires_after(std::chrono::milliseconds(options().header_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    if (ec) return OnReadError(ec);
    if (server_.admission_) {
      const auto& req = parser_->get();
      std::string_view target(req.target().data(), req.target().size());
      target = target.substr(0, target.find('?'));
      const auto authorization = req[http::field::authorization];
      if (auto refused = server_.admission_(std::string_view(req.method_string().data(), req.method_string().size()),
                                            target, std::string_view(authorization.data(), authorization.size()))) {
        return Write(std::move(*refused), /*keep_alive=*/false, /*head=*/false, req.version());
      }
    }
    // Work in progress is bounded before the body is read.
    const size_t limit = options().max_inflight;
    if (limit > 0 && server_.inflight_.fetch_add(1, std::memory_order_relaxed) >= limit) {
      server_.inflight_.fetch_sub(1, std::memory_order_relaxed);
      return WriteError(503, "the server is at its limit of " + std::to_string(limit) +
                                 " requests in progress; try again shortly", 1);
    }
    counted_ = limit > 0;
    int retry_after = 0;
    if (!bucket_.Take(std::chrono::steady_clock::now(), &retry_after)) {
      // Answered once the body is read, so that the connection stays usable.
      rejection_.emplace(ErrorResponse(429, "this connection is over its rate of " +
                                                std::to_string(options().connection_rate) + " requests per second"));
      rejection_->headers.emplace_back("Retry-After", std::to_string(retry_after));
    }
    // Most requests arrive whole with their header: parse the body from the
    // buffer and answer without another read (and its timer) when it is all there.
    while (!parser_->is_done() && buffer_.size() > 0) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return OnReadError(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return Process();
    const auto& req = parser_->get();
    if (req[http::field::expect] == "100-continue") {
      // Answer at once so that clients (curl) do not wait before sending the body.
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      tcp().expires_after(std::chrono::milliseconds(options().write_timeout_ms));
      http::async_write(stream_, *cont, [self = this->shared_from_this(), cont](beast::error_code ec2, size_t) {
        if (ec2) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    tcp().expires_after(std::chrono::milliseconds(options().body_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Process();
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return WriteError(413, "request body exceeds the limit of " +
                                 std::to_string(options().max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return WriteError(431, "request header exceeds the limit of " +
                                 std::to_string(options().max_header_bytes) + " bytes");
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == http::error::partial_message || ec == asio::ssl::error::stream_truncated) {
      return Close();
    }
    return WriteError(400, "malformed HTTP request: " + ec.message());
  }

  // Answers and closes the connection.
  void WriteError(int status, const std::string& message, int retry_after_s = 0) {
    HttpResponse r = ErrorResponse(status, message);
    if (retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
    Write(std::move(r), /*keep_alive=*/false, /*head=*/false, 11);
  }

  void Process() {
    auto& req = parser_->get();
    const bool keep_alive = req.keep_alive() && !server_.stopping_;
    const bool head = req.method() == http::verb::head;
    if (rejection_) {
      HttpResponse r = std::move(*rejection_);
      rejection_.reset();
      return Write(std::move(r), keep_alive, head, req.version());
    }
    HttpRequest request;
    request.method = std::string(req.method_string());
    std::string_view target(req.target().data(), req.target().size());
    size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      request.authorization = std::string(it->value());
    }
    request.body = std::move(req.body());
    HttpResponse response;
    try {
      response = server_.handler_(request);
    } catch (const std::exception& e) {
      spdlog::error("handler failed for {} {}: {}", request.method, request.path, e.what());
      response = ErrorResponse(500, std::string("internal error: ") + e.what());
    }
    Write(std::move(response), keep_alive, head, req.version());
  }

  void Write(HttpResponse r, bool keep_alive, bool head, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version);
    res->set(http::field::server, "vigil");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive);
    if (head) {
      res->content_length(r.body.size());
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    tcp().expires_after(std::chrono::milliseconds(options().write_timeout_ms));
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, size_t) {
      self->Release();
      if (ec || !res->keep_alive()) return self->Close();
      self->ReadHeader();
    });
  }

  // The request in progress no longer counts against max_inflight.
  void Release() {
    if (counted_) server_.inflight_.fetch_sub(1, std::memory_order_relaxed);
    counted_ = false;
  }

  void Close() {
    Release();
    if constexpr (kTls) {
      // close_notify, bounded in time; then the socket closes.
      tcp().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->tcp().close(); });
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.close();
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl& server_;
  TokenBucket bucket_;                    // Requests per second on this connection.
  std::optional<HttpResponse> rejection_;  // Answer instead of the handler (rate limit).
  bool idle_ = true;     // Waiting for a request; only touched on the strand.
  bool counted_ = false;  // This request counts in server_.inflight_.
};

void HttpServer::Impl::Register(SessionBase* s, std::weak_ptr<SessionBase> weak) {
  std::lock_guard lock(sessions_mu_);
  sessions_[s] = std::move(weak);
}

void HttpServer::Impl::Unregister(SessionBase* s) {
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(s);
}

size_t HttpServer::Impl::Connections() {
  std::lock_guard lock(sessions_mu_);
  return sessions_.size();
}

Status HttpServer::Impl::SetUpTls() {
  if (options_.tls_cert_file.empty() && options_.tls_key_file.empty()) {
    if (!options_.tls_client_ca_file.empty()) {
      return Status::InvalidArgument("--tls-client-ca needs --tls-cert and --tls-key");
    }
    return Status::Ok();
  }
  if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
    return Status::InvalidArgument("TLS needs both --tls-cert and --tls-key");
  }
  tls_.emplace(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
  tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                    asio::ssl::context::single_dh_use);
  beast::error_code ec;
  tls_->use_certificate_chain_file(options_.tls_cert_file, ec);
  if (ec) return Status::InvalidArgument("--tls-cert " + options_.tls_cert_file + ": " + ec.message());
  tls_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, ec);
  if (ec && ec.message().find("mismatch") == std::string::npos) {
    return Status::InvalidArgument("--tls-key " + options_.tls_key_file + ": " + ec.message());
  }
  if (ec || SSL_CTX_check_private_key(tls_->native_handle()) != 1) {
    return Status::InvalidArgument("--tls-key " + options_.tls_key_file + " does not match the certificate in " +
                                   options_.tls_cert_file);
  }
  if (!options_.tls_client_ca_file.empty()) {
    tls_->load_verify_file(options_.tls_client_ca_file, ec);
    if (ec) return Status::InvalidArgument("--tls-client-ca " + options_.tls_client_ca_file + ": " + ec.message());
    tls_->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    // Without a session id context OpenSSL fails every resumed session of a
    // verified client instead of treating it as a cache miss.
    static constexpr unsigned char kContext[] = "vigil";
    SSL_CTX_set_session_id_context(tls_->native_handle(), kContext, sizeof(kContext) - 1);
  }
  return Status::Ok();
}

void HttpServer::Impl::WatchDrain(std::chrono::steady_clock::time_point hard_deadline) {
  {
    std::lock_guard lock(sessions_mu_);
    if (sessions_.empty()) return;  // Nothing keeps the io_context busy now.
  }
  if (std::chrono::steady_clock::now() >= hard_deadline) {
    spdlog::warn("shutdown deadline passed; closing remaining connections");
    ioc_.stop();
    return;
  }
  deadline_.expires_after(std::chrono::milliseconds(20));
  deadline_.async_wait([this, hard_deadline](beast::error_code e) {
    if (!e) WatchDrain(hard_deadline);
  });
}

Status HttpServer::Impl::Start() {
  VIGIL_RETURN_IF_ERROR(SetUpTls());
  // Connections need file descriptors: raise the soft limit to the hard one,
  // and keep the connection limit below it (the store, the log's segment
  // files and artifact reads need some too).
  if (rlimit fds{}; getrlimit(RLIMIT_NOFILE, &fds) == 0) {
    if (fds.rlim_cur < fds.rlim_max) {
      fds.rlim_cur = fds.rlim_max;
      setrlimit(RLIMIT_NOFILE, &fds);
      getrlimit(RLIMIT_NOFILE, &fds);
    }
    const size_t reserve = 64;
    if (fds.rlim_cur != RLIM_INFINITY && options_.max_connections + reserve > fds.rlim_cur) {
      const size_t fit = fds.rlim_cur > 2 * reserve ? fds.rlim_cur - reserve : fds.rlim_cur / 2;
      if (options_.max_connections == 0 || options_.max_connections > fit) {
        spdlog::warn("--max-connections lowered to {}: the process may open {} files", fit,
                     static_cast<uint64_t>(fds.rlim_cur));
        options_.max_connections = fit;
      }
    }
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return Status::InvalidArgument("--host: '" + options_.host + "' is not an IP address");
  tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + options_.host + ":" +
                               std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  if (options_.handle_signals) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](beast::error_code e, int signal) {
      if (e) return;
      spdlog::info("received signal {}; finishing in-flight requests", signal);
      Shutdown();
    });
  }
  DoAccept();
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_.get_executor()),
                         [this](beast::error_code ec, asio::basic_stream_socket<tcp, Strand> socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) return;
      spdlog::warn("accept failed: {}", ec.message());
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
        // Out of file descriptors: the connection stays queued, so accepting
        // again at once would spin. Wait a little.
        accept_retry_.expires_after(std::chrono::milliseconds(100));
        accept_retry_.async_wait([this](beast::error_code e) {
          if (!e && !stopping_) DoAccept();
        });
        return;
      }
    } else if (options_.max_connections > 0 && Connections() >= options_.max_connections) {
      // Over the limit: a plain connection is told so (best effort, without
      // blocking the acceptor); either kind is closed.
      if (!tls_) {
        static constexpr std::string_view kBusy =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
            "Connection: close\r\nContent-Length: 54\r\n\r\n{\"error\":\"the server is at its limit of connections\"}\n";
        socket.non_blocking(true, ec);
        socket.write_some(asio::buffer(kBusy.data(), kBusy.size()), ec);
      }
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      if (tls_) {
        std::make_shared<Session<TlsStream>>(*this, std::move(socket), *tls_)->Start();
      } else {
        std::make_shared<Session<TcpStream>>(*this, std::move(socket))->Start();
      }
    }
    if (!stopping_) DoAccept();
  });
}

void HttpServer::Impl::Run() {
  int n = options_.threads > 0 ? options_.threads
                               : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> workers;
  for (int i = 1; i < n; ++i) workers.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : workers) t.join();
}

void HttpServer::Impl::Shutdown() {
  asio::post(ioc_, [this] {
    if (stopping_.exchange(true)) return;
    if (on_shutdown_) on_shutdown_();
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    signals_.cancel(ec);
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard lock(sessions_mu_);
      for (auto& [p, weak] : sessions_) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->CloseIfIdle();
    live.clear();
    WatchDrain(std::chrono::steady_clock::now() +
               std::chrono::milliseconds(options_.shutdown_timeout_ms));
  });
}

HttpServer::HttpServer(Options options, Handler handler, std::function<void()> on_shutdown, Admission admission)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(on_shutdown),
                                   std::move(admission))) {}
HttpServer::~HttpServer() = default;
Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port_; }
void HttpServer::Run() { impl_->Run(); }
void HttpServer::Shutdown() { impl_->Shutdown(); }

}  // namespace vigil
