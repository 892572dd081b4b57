// ServerProcess: runs the real `vigil serve` binary for end-to-end tests.
//
// Starts it on 127.0.0.1 with --port 0, reads the port from the line it
// prints once it listens, and stops it with a signal. The destructor kills a
// server that is still running, so a failing test leaves nothing behind.
#ifndef VIGIL_TESTS_E2E_SERVER_PROCESS_H_
#define VIGIL_TESTS_E2E_SERVER_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace vigil::testing {

class ServerProcess {
 public:
  // `args` follow "vigil serve"; --host/--port are added, and --store none
  // unless `args` name a store.
  explicit ServerProcess(std::vector<std::string> args);
  ~ServerProcess();

  // False if the server exited or printed no port within 30 s.
  bool Start();
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends `signal` and waits (up to 30 s); returns the exit status, or -1.
  int Stop(int signal);
  // Everything the server printed to stdout and stderr so far.
  std::string Output() const;

 private:
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

// A helper program run by a test (Prometheus, Alertmanager): its stdout and
// stderr go to `log_path`; Stop (or the destructor) sends SIGTERM and waits.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string log_path);
  ~ChildProcess();
  bool Start();
  void Stop();
  std::string Output() const;

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// A loopback TCP port that was free a moment ago.
int FreePort();

// Runs a command, returns its exit status and captures stdout+stderr.
int RunCommand(const std::string& command, std::string* output);

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_E2E_SERVER_PROCESS_H_
