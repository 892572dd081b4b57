// `vigil keys`: create, list and revoke the API keys a server checks
// (security/access_control.h). Works on the store file directly, like
// `vigil train --store`; a running server sees the change within a second.
// `vigil encrypt`: encrypts model artifacts at rest, or makes a model key
// (security/artifact_cipher.h).
#ifndef VIGIL_CLI_SECURITY_COMMANDS_H_
#define VIGIL_CLI_SECURITY_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

namespace vigil {

class SecurityCommands {
 public:
  explicit SecurityCommands(CLI::App& app);
  // The exit status of the subcommand that ran, or -1 if none of these did.
  int Run() const;

 private:
  struct Flags {
    std::string store = "vigil.db";
    std::vector<std::string> roles;
    std::string name;
    std::string by;
    std::string id;
    bool json = false;
    std::vector<std::string> files;
    std::string key_file;
    std::string new_key;
  };
  int Encrypt() const;
  std::shared_ptr<Flags> flags_ = std::make_shared<Flags>();
  CLI::App* keys_ = nullptr;
  CLI::App* create_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* revoke_ = nullptr;
  CLI::App* encrypt_ = nullptr;
};

}  // namespace vigil

#endif  // VIGIL_CLI_SECURITY_COMMANDS_H_
