#include "cli/command_support.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace vigil {

std::string ActingUser(const std::string& by) {
  if (!by.empty()) return by;
  if (const char* user = std::getenv("USER"); user && *user) return user;
  if (const char* login = getlogin(); login) return login;
  return "cli";
}

int Fail(const char* command, const Status& status) {
  std::fprintf(stderr, "vigil %s: %s\n", command, status.message().c_str());
  return 1;
}

}  // namespace vigil
