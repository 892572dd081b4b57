#include "http/http_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/error_mapping.h"

namespace vigil {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class Session;

class HttpServer::Impl {
 public:
  Impl(Options options, Handler handler, std::function<void()> on_shutdown)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        on_shutdown_(std::move(on_shutdown)),
        acceptor_(ioc_),
        signals_(ioc_),
        deadline_(ioc_) {}

  Status Start();
  void Run();
  void Shutdown();
  void DoAccept();
  void Register(Session* s, std::weak_ptr<Session> weak);
  void Unregister(Session* s);
  // Polls until every connection has closed or `hard_deadline` passes.
  void WatchDrain(std::chrono::steady_clock::time_point hard_deadline);

  Options options_;
  Handler handler_;
  std::function<void()> on_shutdown_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer deadline_;
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;

  std::mutex sessions_mu_;
  // Guarded by sessions_mu_.
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

// One connection. Every handler runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;

  Session(asio::basic_stream_socket<tcp, Strand> socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {}
  ~Session() { server_.Unregister(this); }

  void Start() {
    server_.Register(this, weak_from_this());
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Called at shutdown: an idle connection closes now; a busy one closes after
  // its answer (keep-alive is off once the server is stopping).
  void CloseIfIdle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_ && self->buffer_.size() == 0) {
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
        self->stream_.close();
      }
    });
  }

 private:
  const HttpServer::Options& options() const { return server_.options_; }

  void ReadHeader() {
    if (server_.stopping_ && buffer_.size() == 0) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    idle_ = true;
    stream_.expires_after(std::chrono::milliseconds(options().header_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    if (ec) return OnReadError(ec);
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
      stream_.expires_after(std::chrono::milliseconds(options().write_timeout_ms));
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec2, size_t) {
        if (ec2) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(std::chrono::milliseconds(options().body_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
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
        ec == asio::error::eof || ec == http::error::partial_message) {
      return Close();
    }
    return WriteError(400, "malformed HTTP request: " + ec.message());
  }

  void WriteError(int status, const std::string& message) {
    HttpResponse r = ErrorResponse(status, message);
    Write(std::move(r), /*keep_alive=*/false, /*head=*/false, 11);
  }

  void Process() {
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    std::string_view target(req.target().data(), req.target().size());
    size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    request.body = std::move(req.body());
    HttpResponse response;
    try {
      response = server_.handler_(request);
    } catch (const std::exception& e) {
      spdlog::error("handler failed for {} {}: {}", request.method, request.path, e.what());
      response = ErrorResponse(500, std::string("internal error: ") + e.what());
    }
    const bool keep_alive = req.keep_alive() && !server_.stopping_;
    Write(std::move(response), keep_alive, request.method == "HEAD", req.version());
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
    stream_.expires_after(std::chrono::milliseconds(options().write_timeout_ms));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) return self->Close();
      self->ReadHeader();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  // A concrete strand type instead of Beast's type-erased default executor:
  // the type erasure showed as several percent of a batch-1 profile.
  beast::basic_stream<tcp, Strand> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl& server_;
  bool idle_ = true;  // Waiting for a request; only touched on the strand.
};

void HttpServer::Impl::Register(Session* s, std::weak_ptr<Session> weak) {
  std::lock_guard lock(sessions_mu_);
  sessions_[s] = std::move(weak);
}

void HttpServer::Impl::Unregister(Session* s) {
  std::lock_guard lock(sessions_mu_);
  sessions_.erase(s);
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
                         [this](beast::error_code ec, asio::basic_stream_socket<tcp, Session::Strand> socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) return;
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), *this)->Start();
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
    signals_.cancel(ec);
    std::vector<std::shared_ptr<Session>> live;
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

HttpServer::HttpServer(Options options, Handler handler, std::function<void()> on_shutdown)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(on_shutdown))) {}
HttpServer::~HttpServer() = default;
Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port_; }
void HttpServer::Run() { impl_->Run(); }
void HttpServer::Shutdown() { impl_->Shutdown(); }

}  // namespace vigil
