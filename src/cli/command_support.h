// What the `vigil` subcommands share: who is acting and how a failure is told.
#ifndef VIGIL_CLI_COMMAND_SUPPORT_H_
#define VIGIL_CLI_COMMAND_SUPPORT_H_

#include <string>

#include "common/status.h"

namespace vigil {

// Who is acting, recorded with registry changes and keys: `by` when given,
// else the login name ($USER, then getlogin()), else "cli".
std::string ActingUser(const std::string& by = "");

// Prints "vigil COMMAND: message" to stderr and returns 1, the exit code.
int Fail(const char* command, const Status& status);

}  // namespace vigil

#endif  // VIGIL_CLI_COMMAND_SUPPORT_H_
