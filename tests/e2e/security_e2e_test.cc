// End-to-end security: the real `vigil` binary on loopback with API keys
// made by `vigil keys create`, TLS and mutual TLS with certificates the test
// makes (openssl), and hostile clients against the listener's limits while
// another client is served throughout.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "e2e/credit_request.h"
#include "e2e/http_client.h"
#include "e2e/server_process.h"
#include "testing/test_repository.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A raw TCP connection to the server, for clients that misbehave.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{0, 100 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  // False once the peer has closed (or reset) the connection.
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }
  // Reads until the peer closes or `timeout` passes; `closed` says which.
  std::string ReadAll(std::chrono::milliseconds timeout, bool* closed = nullptr) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    char buf[4096];
    while (Clock::now() < deadline) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        if (closed) *closed = true;
        return out;
      }
    }
    if (closed) *closed = false;
    return out;
  }
  // Reads one answer's header block (enough to see its status), waiting up to `timeout`.
  std::string ReadHead(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    char buf[4096];
    while (Clock::now() < deadline && out.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) out.append(buf, static_cast<size_t>(n));
      if (n == 0) break;
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string Post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Runs a command; its exit status, with stdout and stderr in `output`.
int Shell(const std::string& command, std::string* output = nullptr) {
  std::string ignored;
  return RunCommand(command, output ? output : &ignored);
}

class SecurityE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    trained_ = new TempDir();
    TrainCreditModel(trained_->path(), "credit", 1, /*seed=*/42);
  }
  static void TearDownTestSuite() { delete trained_; }

  void SetUp() override { fs::copy(trained_->path(), repo_.path(), fs::copy_options::recursive); }

  std::unique_ptr<ServerProcess> Start(std::vector<std::string> args) {
    std::vector<std::string> all = {"--repository", repo_.path().string(), "--store", db_.string()};
    all.insert(all.end(), args.begin(), args.end());
    auto server = std::make_unique<ServerProcess>(all);
    EXPECT_TRUE(server->Start()) << server->Output();
    return server;
  }

  // `vigil keys create`; the key it printed.
  std::string CreateKey(const std::string& role, const std::string& name) {
    std::string out;
    EXPECT_EQ(Shell(std::string(VIGIL_BINARY) + " keys create --store " + db_.string() + " --role " + role +
                        " --name " + name + " --by test",
                    &out),
              0)
        << out;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("vigil_", 0) == 0) return line;
    }
    ADD_FAILURE() << "no key in: " << out;
    return "";
  }

  static TempDir* trained_;
  TempDir repo_;
  TempDir data_;
  fs::path db_ = data_.path() / "vigil.db";
};
TempDir* SecurityE2eTest::trained_ = nullptr;

struct Endpoint {
  std::string method, path, body;
  std::string needs;  // health, metrics, infer, feedback, admin
};

// Every endpoint the server has (api_router.h, alert_api.h, registry_api.h).
std::vector<Endpoint> Endpoints() {
  const std::string feedback = R"([{"id":"nobody","label":1}])";
  return {
      {"GET", "/v2/health/live", "", "health"},
      {"GET", "/v2/health/ready", "", "health"},
      {"GET", "/metrics", "", "metrics"},
      {"GET", "/v2", "", "infer"},
      {"GET", "/v2/models/credit", "", "infer"},
      {"GET", "/v2/models/credit/versions/1", "", "infer"},
      {"GET", "/v2/models/credit/ready", "", "infer"},
      {"GET", "/v2/models/credit/versions/1/ready", "", "infer"},
      {"POST", "/v2/models/credit/infer", kCreditRow, "infer"},
      {"POST", "/v2/models/credit/versions/1/infer", kCreditRow, "infer"},
      {"POST", "/v2/models/credit/explain", kCreditRow, "infer"},
      {"GET", "/v2/nowhere", "", "admin"},
      {"GET", "/elsewhere", "", "admin"},
      {"POST", "/v2/models/credit/feedback", feedback, "feedback"},
      {"GET", "/v2/models/credit/monitor", "", "admin"},
      {"POST", "/v2/repository/index", "{}", "admin"},
      {"POST", "/v2/repository/models/credit/load", "{}", "admin"},
      {"GET", "/api/alerts", "", "admin"},
      {"GET", "/api/alerts/1", "", "admin"},
      {"POST", "/api/alerts/1/ack", R"({"by":"x"})", "admin"},
      {"GET", "/api/silences", "", "admin"},
      {"POST", "/api/silences", "{}", "admin"},
      {"DELETE", "/api/silences/1", "", "admin"},
      {"GET", "/api/models/credit/versions", "", "admin"},
      {"POST", "/api/models/credit/versions", "{}", "admin"},
      {"GET", "/api/models/credit/versions/1", "", "admin"},
      {"GET", "/api/models/credit/aliases", "", "admin"},
      {"PUT", "/api/models/credit/aliases/staging", R"({"version":1})", "admin"},
      {"DELETE", "/api/models/credit/aliases/staging", "", "admin"},
      {"POST", "/api/models/credit/rollback", "{}", "admin"},
      {"GET", "/api/models/credit/history", "", "admin"},
      {"GET", "/api/events", "", "admin"},
      {"POST", "/api/models/credit/jobs", R"({"source":"nowhere"})", "admin"},
      {"GET", "/api/jobs", "", "admin"},
      {"GET", "/api/jobs/1", "", "admin"},
      {"POST", "/api/jobs/1/cancel", "", "admin"},
      {"POST", "/api/models/credit/rollout", R"({"version":99})", "admin"},
      {"GET", "/api/models/credit/rollout", "", "admin"},
      {"POST", "/api/models/credit/rollout/promote", "", "admin"},
      {"POST", "/api/models/credit/rollout/abort", "", "admin"},
      {"GET", "/api/models/credit/rollouts", "", "admin"},
  };
}

TEST_F(SecurityE2eTest, EveryEndpointChecksTheKeyAndItsRole) {
  const std::map<std::string, std::string> keys = {{"infer", CreateKey("infer", "scorer")},
                                                   {"feedback", CreateKey("feedback", "labeller")},
                                                   {"metrics", CreateKey("metrics", "prometheus")},
                                                   {"admin", CreateKey("admin", "ops")}};
  auto server = Start({"--auth", "on"});
  HttpClient c(server->port());
  std::string wrong = keys.at("admin");
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  int checked = 0;
  for (const Endpoint& e : Endpoints()) {
    SCOPED_TRACE(e.method + " " + e.path);
    c.SetAuthorization("");
    auto none = c.Request(e.method, e.path, e.body);
    if (e.needs == "health") {
      EXPECT_NE(none.status, 401) << none.body;
    } else {
      EXPECT_EQ(none.status, 401) << none.body;
      EXPECT_NE(json::parse(none.body, nullptr, false).value("error", "").find("Bearer"), std::string::npos);
    }
    c.SetAuthorization("Bearer " + wrong);
    EXPECT_EQ(c.Request(e.method, e.path, e.body).status, e.needs == "health" ? none.status : 401);
    for (const auto& [role, key] : keys) {
      c.SetAuthorization("Bearer " + key);
      auto r = c.Request(e.method, e.path, e.body);
      const bool granted = e.needs == "health" || role == "admin" || role == e.needs;
      if (granted) {
        // (Some endpoints answer 403 for their own reasons, e.g. model
        // control off; never for the key.)
        EXPECT_NE(r.status, 401) << role << ": " << r.body;
        EXPECT_EQ(r.body.find("API key"), std::string::npos) << role << ": " << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << role << ": " << r.body;
        EXPECT_NE(r.body.find("needs " + e.needs), std::string::npos) << r.body;
      }
      ++checked;
    }
  }
  std::printf("access: %zu endpoints, %d role checks, each also without a key and with a wrong key\n",
              Endpoints().size(), checked);
  // A request without a key is refused when its header is in: its body is
  // never read, and it holds no request slot.
  {
    RawConnection raw(server->port());
    const auto start = Clock::now();
    raw.Send("POST /v2/models/credit/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 67108864\r\n\r\n{");
    bool closed = false;
    const std::string answer = raw.ReadAll(std::chrono::seconds(5), &closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << answer;
    EXPECT_TRUE(closed);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  }
  // An inference with the right key is an inference.
  c.SetAuthorization("Bearer " + keys.at("infer"));
  EXPECT_EQ(c.Post("/v2/models/credit/infer", kCreditRow).status, 200);

  // Revoked with the CLI, refused within a second or so without a restart.
  const std::string id = keys.at("infer").substr(6, 16);
  std::string out;
  ASSERT_EQ(Shell(std::string(VIGIL_BINARY) + " keys revoke " + id + " --store " + db_.string(), &out), 0) << out;
  const auto revoked_at = Clock::now();
  int status = 200;
  while (Clock::now() - revoked_at < std::chrono::seconds(5)) {
    status = c.Post("/v2/models/credit/infer", kCreditRow).status;
    if (status == 401) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 401);
  EXPECT_LT(Clock::now() - revoked_at, std::chrono::milliseconds(2500));
  // A new key works without a restart too.
  c.SetAuthorization("Bearer " + CreateKey("infer", "scorer-2"));
  EXPECT_TRUE(WaitFor([&] { return c.Post("/v2/models/credit/infer", kCreditRow).status == 200; }, 5,
                      std::chrono::milliseconds(100)));
  ASSERT_EQ(Shell(std::string(VIGIL_BINARY) + " keys list --store " + db_.string(), &out), 0);
  EXPECT_NE(out.find("scorer-2"), std::string::npos) << out;
  EXPECT_EQ(out.find(keys.at("admin").substr(23)), std::string::npos) << "a secret was printed";
  // Denials are counted.
  c.SetAuthorization("Bearer " + keys.at("metrics"));
  auto metrics = c.Get("/metrics");
  EXPECT_NE(metrics.body.find("vigil_http_requests_total{route=\"denied\",code=\"401\"}"), std::string::npos);
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(SecurityE2eTest, OpenEndpointsAndTheDefaultOffLoopback) {
  {
    auto server = Start({"--auth", "on", "--open", "none"});
    HttpClient c(server->port());
    EXPECT_EQ(c.Get("/v2/health/live").status, 401);
    EXPECT_EQ(c.Get("/metrics").status, 401);
  }
  {
    auto server = Start({"--auth", "on", "--open", "metrics"});  // Health stays open.
    HttpClient c(server->port());
    EXPECT_EQ(c.Get("/v2/health/live").status, 200);
    EXPECT_EQ(c.Get("/metrics").status, 200);
    EXPECT_EQ(c.Get("/v2").status, 401);
  }
  {
    auto server = Start({});  // Loopback: off unless asked.
    HttpClient c(server->port());
    EXPECT_EQ(c.Post("/v2/models/credit/infer", kCreditRow).status, 200);
  }
  // Anything but loopback turns authentication on, which needs the store:
  // refused before listening (so the test never exposes a port).
  std::string out;
  const int rc = Shell("timeout 20 " + std::string(VIGIL_BINARY) + " serve --repository " + repo_.path().string() +
                           " --host 0.0.0.0 --port 0 --store none",
                       &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("because --host is not loopback"), std::string::npos) << out;
}

TEST_F(SecurityE2eTest, TlsAndMutualTls) {
  const fs::path d = data_.path();
  auto p = [&](const char* name) { return (d / name).string(); };
  // A CA, a server certificate for 127.0.0.1 that it signs, a client
  // certificate it signs, and a client certificate nobody trusts.
  const std::string openssl = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 ";
  std::string out;
  ASSERT_EQ(Shell(openssl + "-keyout " + p("ca.key") + " -out " + p("ca.pem") + " -subj /CN=vigil-test-ca", &out), 0)
      << out;
  for (const std::string who : {"server", "client"}) {
    ASSERT_EQ(Shell("openssl req -newkey rsa:2048 -nodes -keyout " + p((who + ".key").c_str()) + " -out " +
                        p((who + ".csr").c_str()) + " -subj /CN=" + who,
                    &out),
              0)
        << out;
    WriteFile(d / (who + ".ext"), who == "server" ? "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                                                  : "extendedKeyUsage=clientAuth\n");
    ASSERT_EQ(Shell("openssl x509 -req -days 1 -in " + p((who + ".csr").c_str()) + " -CA " + p("ca.pem") +
                        " -CAkey " + p("ca.key") + " -CAcreateserial -extfile " + p((who + ".ext").c_str()) +
                        " -out " + p((who + ".pem").c_str()),
                    &out),
              0)
        << out;
  }
  ASSERT_EQ(Shell(openssl + "-keyout " + p("rogue.key") + " -out " + p("rogue.pem") + " -subj /CN=rogue", &out), 0);

  auto curl = [&](int port, const std::string& options) {
    std::string body;
    const int rc = Shell("curl -sS --max-time 10 " + options + " https://127.0.0.1:" + std::to_string(port) +
                             "/v2/models/credit/infer -H 'Content-Type: application/json' -d '" + kCreditRow + "'",
                         &body);
    return std::make_pair(rc, body);
  };
  {
    auto server = Start({"--tls-cert", p("server.pem"), "--tls-key", p("server.key")});
    ASSERT_NE(server->Output().find("listening on https://"), std::string::npos);
    auto [rc, body] = curl(server->port(), "--cacert " + p("ca.pem"));
    EXPECT_EQ(rc, 0) << body;
    EXPECT_NE(body.find("\"outputs\""), std::string::npos) << body;
    // The client checks the server against its CA: a client trusting another CA refuses.
    auto [rc2, body2] = curl(server->port(), "--cacert " + p("rogue.pem"));
    EXPECT_NE(rc2, 0) << body2;
    // Plain HTTP to the TLS port gets no answer, and TLS keeps working.
    RawConnection plain(server->port());
    ASSERT_TRUE(plain.connected());
    plain.Send(Post("/v2/models/credit/infer", kCreditRow));
    EXPECT_EQ(plain.ReadAll(std::chrono::seconds(3)).find("\"outputs\""), std::string::npos);
    EXPECT_EQ(curl(server->port(), "--cacert " + p("ca.pem")).first, 0);
    // Old protocol versions are refused.
    EXPECT_NE(curl(server->port(), "--cacert " + p("ca.pem") + " --tlsv1.1 --tls-max 1.1").first, 0);
    EXPECT_EQ(server->Stop(SIGTERM), 0);
  }
  {
    auto server = Start({"--tls-cert", p("server.pem"), "--tls-key", p("server.key"), "--tls-client-ca", p("ca.pem")});
    const std::string trust = "--cacert " + p("ca.pem");
    auto [rc, body] = curl(server->port(), trust);
    EXPECT_NE(rc, 0) << "no client certificate: " << body;
    auto [rc2, body2] = curl(server->port(), trust + " --cert " + p("rogue.pem") + " --key " + p("rogue.key"));
    EXPECT_NE(rc2, 0) << "a certificate the CA did not sign: " << body2;
    auto [rc3, body3] = curl(server->port(), trust + " --cert " + p("client.pem") + " --key " + p("client.key"));
    EXPECT_EQ(rc3, 0) << body3;
    EXPECT_NE(body3.find("\"outputs\""), std::string::npos) << body3;
    // A client that resumes its session (Java, nginx upstreams, pooled
    // clients do) is not refused.
    const std::string s_client = "echo | openssl s_client -connect 127.0.0.1:" + std::to_string(server->port()) +
                                 " -tls1_2 -CAfile " + p("ca.pem") + " -cert " + p("client.pem") + " -key " +
                                 p("client.key") + " ";
    std::string first, second;
    EXPECT_EQ(Shell(s_client + "-sess_out " + p("session.pem"), &first), 0) << first;
    EXPECT_EQ(Shell(s_client + "-sess_in " + p("session.pem"), &second), 0) << second;
    EXPECT_NE(second.find("Reused, TLSv1.2"), std::string::npos) << second;
    EXPECT_EQ(server->Stop(SIGTERM), 0);
  }
  // Files that do not load are named at start.
  std::string start_out;
  EXPECT_EQ(Shell(std::string(VIGIL_BINARY) + " serve --repository " + repo_.path().string() +
                      " --port 0 --store none --tls-cert " + p("server.pem") + " --tls-key " + p("rogue.key"),
                  &start_out),
            2);
  EXPECT_NE(start_out.find("does not match the certificate"), std::string::npos) << start_out;
}

TEST_F(SecurityE2eTest, HostileClientsGetTheirAnswerAndOthersAreServed) {
  auto server = Start({"--header-timeout-ms", "1000", "--body-timeout-ms", "1000", "--max-body-bytes", "1048576"});
  const int port = server->port();
  // A well-behaved client, served throughout.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, failed{0};
  std::thread good([&] {
    HttpClient c(port);
    while (!stop) {
      auto r = c.Post("/v2/models/credit/infer", kCreditRow);
      (r.status == 200 ? served : failed)++;
      if (r.status != 200) std::fprintf(stderr, "good client: %d %s %s\n", r.status, r.body.c_str(), r.error.c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  // Slow loris: 50 connections trickling a header a byte at a time are cut
  // off by the header timeout (a deadline for the whole header, which
  // trickling does not extend).
  {
    std::vector<std::unique_ptr<RawConnection>> loris;
    for (int i = 0; i < 50; ++i) loris.push_back(std::make_unique<RawConnection>(port));
    const std::string header = "POST /v2/models/credit/infer HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    const auto start = Clock::now();
    size_t open = loris.size();
    for (size_t i = 0; open > 0 && Clock::now() - start < std::chrono::seconds(10); ++i) {
      open = 0;
      for (auto& c : loris) open += c->Send(i < header.size() ? header.substr(i, 1) : "a") ? 1 : 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_EQ(open, 0u) << "slow connections still open after " << seconds << " s";
    EXPECT_LT(seconds, 4.0);
    std::printf("slow loris: 50 trickling connections closed after %.1f s (header timeout 1 s)\n", seconds);
  }
  // A header over the limit: 431.
  {
    RawConnection c(port);
    c.Send("GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 << 10, 'a') + "\r\n\r\n");
    EXPECT_EQ(c.ReadAll(std::chrono::seconds(5)).rfind("HTTP/1.1 431", 0), 0u);
  }
  // A body over the limit: 413 from the Content-Length, before it is read.
  {
    RawConnection c(port);
    c.Send("POST /v2/models/credit/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n");
    EXPECT_EQ(c.ReadAll(std::chrono::seconds(5)).rfind("HTTP/1.1 413", 0), 0u);
  }
  // A truncated body (the client stops and closes its side): closed, no answer.
  {
    RawConnection c(port);
    c.Send(Post("/v2/models/credit/infer", kCreditRow).substr(0, 150));
    c.ShutdownWrite();
    bool closed = false;
    EXPECT_EQ(c.ReadAll(std::chrono::seconds(5), &closed), "");
    EXPECT_TRUE(closed);
  }
  // A body that stops arriving: cut off by the body timeout.
  {
    RawConnection c(port);
    c.Send(Post("/v2/models/credit/infer", kCreditRow).substr(0, 150));
    bool closed = false;
    const auto start = Clock::now();
    EXPECT_EQ(c.ReadAll(std::chrono::seconds(5), &closed), "");
    EXPECT_TRUE(closed);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(4));
  }
  // Bodies no decoder should accept: each a 400 naming the problem.
  HttpClient c(port);
  const std::string nested_array = std::string(100000, '[') + std::string(100000, ']');
  const std::string nested_object = [] {
    std::string s;
    for (int i = 0; i < 50000; ++i) s += "{\"a\":";
    s += "1";
    s += std::string(50000, '}');
    return s;
  }();
  struct Case {
    std::string path, body;
  };
  const std::vector<Case> cases = {
      {"/v2/models/credit/infer", "{\"inputs\":[{\"name\":\"in\xff\xfeput\",\"datatype\":\"FP32\",\"shape\":[1,13],"
                                  "\"data\":[9,5,60,30,1,0,1,73,129,0,0,800,846]}]}"},
      {"/v2/models/credit/infer", "{\"id\":\"\xc3\x28\",\"inputs\":[]}"},
      {"/v2/models/credit/feedback", "[{\"id\":\"a\xed\xa0\x80\",\"label\":1}]"},
      {"/v2/models/credit/infer", nested_array},
      {"/v2/models/credit/infer", nested_object},
      {"/v2/models/credit/feedback", nested_array},
      {"/v2/models/credit/feedback", nested_object},
      {"/api/silences", nested_array},
      {"/api/models/credit/rollout", nested_object},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"FP32","shape":[4294967296,4294967296],"data":[1]}]})"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"FP32","shape":[9223372036854775807,13],"data":[1]}]})"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"FP32","shape":[18446744073709551615,2],"data":[1]}]})"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"FP32","shape":[-1,13],"data":[1]}]})"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1e300,13],"data":[1]}]})"},
      {"/v2/models/credit/infer", R"({"inputs":[{"name":"input","datatype":"BYTES","shape":[3037000500,3037000500],"data":["a"]}]})"},
  };
  for (const Case& k : cases) {
    auto r = c.Post(k.path, k.body);
    EXPECT_GE(r.status, 400) << k.path << " " << k.body.substr(0, 80) << ": " << r.body.substr(0, 300);
    EXPECT_LT(r.status, 500) << k.path << " " << k.body.substr(0, 80) << ": " << r.body.substr(0, 300);
    auto doc = json::parse(r.body, nullptr, false);
    EXPECT_TRUE(doc.is_object() && doc.contains("error")) << r.body.substr(0, 300);
  }
  stop = true;
  good.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(served, 50);
  std::printf("a well-behaved client meanwhile: %d requests answered, %d failed\n", served.load(), failed.load());
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(SecurityE2eTest, LimitsOnConnectionsAndRate) {
  // (A long header timeout keeps the idle connections of the second part
  // open however slowly a loaded machine runs the test; bodies time out fast.)
  auto server = Start({"--header-timeout-ms", "20000", "--body-timeout-ms", "1500", "--max-connections", "8",
                       "--max-inflight", "3", "--connection-rate", "20", "--connection-burst", "5"});
  const int port = server->port();
  // Connections: eight idle ones fill the server; the ninth is told 503 and closed.
  {
    std::vector<std::unique_ptr<RawConnection>> idle;
    for (int i = 0; i < 8; ++i) idle.push_back(std::make_unique<RawConnection>(port));
    // (The server may take a moment to accept all eight: try a few times.)
    std::string answer;
    bool closed = false;
    for (int attempt = 0; attempt < 5 && answer.rfind("HTTP/1.1 503", 0) != 0; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      RawConnection ninth(port);
      answer = ninth.ReadAll(std::chrono::milliseconds(500), &closed);
    }
    EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer << server->Output();
    EXPECT_TRUE(closed);
    idle.clear();  // Closing them frees their places.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    HttpClient c(port);
    EXPECT_EQ(c.Post("/v2/models/credit/infer", kCreditRow).status, 200);
  }
  // Rate per connection: a burst of 5, then 20/s; beyond it 429 with
  // Retry-After, and the connection stays usable.
  {
    // Twenty requests pipelined in one write, so that they arrive at once.
    RawConnection c(port);
    std::string twenty;
    for (int i = 0; i < 20; ++i) twenty += Post("/v2/models/credit/infer", kCreditRow);
    c.Send(twenty);
    std::string answers;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    auto count = [&answers](const std::string& what) {
      int n = 0;
      for (size_t at = answers.find(what); at != std::string::npos; at = answers.find(what, at + 1)) ++n;
      return n;
    };
    while (Clock::now() < deadline && count("HTTP/1.1 ") < 20) answers += c.ReadAll(std::chrono::milliseconds(100));
    const int ok = count("HTTP/1.1 200"), limited = count("HTTP/1.1 429");
    EXPECT_EQ(ok + limited, 20) << answers.substr(0, 2000);
    EXPECT_GE(ok, 5);
    EXPECT_LE(ok, 8);
    EXPECT_EQ(count("Retry-After: 1"), limited);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    c.Send(Post("/v2/models/credit/infer", kCreditRow));
    EXPECT_EQ(c.ReadHead(std::chrono::seconds(3)).rfind("HTTP/1.1 200", 0), 0u);
    std::printf("rate 20/s, burst 5: of 20 back-to-back requests %d answered, %d refused with 429\n", ok, limited);
  }
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

// On a server of its own: after the connection limit's part on the same
// server, this part saw the fourth request answered (see the session note of
// 2026-11-29: under investigation).
TEST_F(SecurityE2eTest, RequestsInProgressAreBounded) {
  auto server = Start({"--header-timeout-ms", "20000", "--body-timeout-ms", "1500", "--max-inflight", "3"});
  const int port = server->port();
  // Requests in progress: three bodies that never come hold every slot; the
  // fourth request is answered 503 at once, without its body being read.
  {
    std::vector<std::unique_ptr<RawConnection>> holders;
    for (int i = 0; i < 3; ++i) {
      holders.push_back(std::make_unique<RawConnection>(port));
      holders.back()->Send("POST /v2/models/credit/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{");
    }
    // (A loaded machine may take a moment to read the three headers: try a few times.)
    std::string answer;
    auto took = std::chrono::milliseconds(0);
    for (int attempt = 0; attempt < 5 && answer.rfind("HTTP/1.1 503", 0) != 0; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      RawConnection fourth(port);
      const auto start = Clock::now();
      fourth.Send(Post("/v2/models/credit/infer", kCreditRow));
      answer = fourth.ReadHead(std::chrono::seconds(2));
      took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    }
    EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
    EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
    EXPECT_LT(took, std::chrono::milliseconds(1000));
    // Once the holders time out, requests are served again.
    std::this_thread::sleep_for(std::chrono::milliseconds(1800));
    HttpClient c(port);
    EXPECT_EQ(c.Post("/v2/models/credit/infer", kCreditRow).status, 200);
  }
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

TEST_F(SecurityE2eTest, EncryptedArtifactsLoadOnlyWithTheirKeyAndTamperingIsRefused) {
  const std::string vigil = VIGIL_BINARY;
  const fs::path key = data_.path() / "model.key", other = data_.path() / "other.key";
  std::string out;
  ASSERT_EQ(Shell(vigil + " encrypt --new-key " + key.string(), &out), 0) << out;
  ASSERT_EQ(Shell(vigil + " encrypt --new-key " + other.string(), &out), 0) << out;
  EXPECT_EQ(fs::status(key).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  // Version 1 encrypted in place with `vigil encrypt`.
  const fs::path v1 = repo_.path() / "credit/1/model.json";
  ASSERT_EQ(Shell(vigil + " encrypt --key-file " + key.string() + " " + v1.string(), &out), 0) << out;
  auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(v1).rfind("VIGILAES", 0), 0u);
  EXPECT_EQ(read(v1).find("learner"), std::string::npos) << "plaintext left in the file";

  // Without the key, or with another, the model does not load, and says why.
  for (const auto& [args, reason] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--store", "none"}, "is encrypted and this process has no model key"},
           {{"--store", "none", "--model-key-file", other.string()}, "was encrypted with another key"}}) {
    std::vector<std::string> server_args = {"--repository", repo_.path().string()};
    server_args.insert(server_args.end(), args.begin(), args.end());
    ServerProcess server(server_args);
    ASSERT_TRUE(server.Start()) << server.Output();
    HttpClient c(server.port());
    auto r = c.Post("/v2/models/credit/infer", kCreditRow);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find(reason), std::string::npos) << r.body;
  }
  // With the key it serves, and the registry encrypts what it registers.
  auto server = Start({"--model-key-file", key.string(), "--poll-interval-ms", "100"});
  HttpClient c(server->port());
  auto r = c.Post("/v2/models/credit/infer", kCreditRow);
  EXPECT_EQ(r.status, 200) << r.body;
  const fs::path plain = trained_->path() / "credit/1/model.json";
  ASSERT_EQ(Shell("VIGIL_MODEL_KEY_FILE=" + key.string() + " " + vigil + " register credit " + plain.string() +
                      " --repository " + repo_.path().string() + " --store " + db_.string(),
                  &out),
            0)
      << out;
  const fs::path v2 = repo_.path() / "credit/2/model.json";
  EXPECT_EQ(read(v2).rfind("VIGILAES", 0), 0u);
  EXPECT_EQ(fs::status(v2).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto answer = json::parse(c.Post("/v2/models/credit/infer", kCreditRow).body, nullptr, false);
        return answer.is_object() && answer.value("model_version", "") == "2";
      },
      10, std::chrono::milliseconds(100)));
  // A modified ciphertext fails authentication; version 2 keeps serving.
  std::string tampered = read(v2);
  tampered[tampered.size() / 2] = static_cast<char>(tampered[tampered.size() / 2] ^ 0x20);
  fs::create_directories(repo_.path() / "credit/.incoming");
  WriteFile(repo_.path() / "credit/.incoming/model.json", tampered);
  fs::rename(repo_.path() / "credit/.incoming", repo_.path() / "credit/3");
  EXPECT_TRUE(WaitFor([&] { return server->Output().find("fails authentication") != std::string::npos; }, 10,
                      std::chrono::milliseconds(100)))
      << server->Output();
  for (int i = 0; i < 20; ++i) {
    auto answer = json::parse(c.Post("/v2/models/credit/infer", kCreditRow).body, nullptr, false);
    ASSERT_TRUE(answer.is_object());
    EXPECT_EQ(answer.value("model_version", ""), "2");
  }
  EXPECT_EQ(server->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace vigil::testing
