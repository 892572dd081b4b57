#include "cli/key_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/rfc3339.h"
#include "security/access_control.h"
#include "store/sqlite_store.h"

namespace vigil {
namespace {

int Fail(const char* command, const Status& status) {
  std::fprintf(stderr, "vigil keys %s: %s\n", command, status.message().c_str());
  return 1;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Actor(const std::string& by) {
  if (!by.empty()) return by;
  if (const char* user = std::getenv("USER"); user && *user) return user;
  if (const char* login = getlogin(); login) return login;
  return "cli";
}

}  // namespace

KeyCommands::KeyCommands(CLI::App& app) {
  Flags& f = *flags_;
  keys_ = app.add_subcommand("keys", "Create, list and revoke the API keys a server checks (with --auth on, or "
                                     "whenever it binds to anything but loopback).");
  keys_->require_subcommand(1);
  auto store_option = [&f](CLI::App* cmd) {
    cmd->add_option("--store", f.store, "The server's store (its --store)")->capture_default_str();
  };
  create_ = keys_->add_subcommand("create", "Create a key and print it (once: only its salted hash is kept).");
  create_->add_option("--role", f.roles, "infer, feedback, metrics or admin (repeatable, or comma-separated)")
      ->required();
  create_->add_option("--name", f.name, "What the key is for, e.g. fraud-service")->required();
  create_->add_option("--by", f.by, "Who creates it, for the record (default: $USER)");
  store_option(create_);
  list_ = keys_->add_subcommand("list", "List the keys: id, name, roles, who created them and when, revoked or not.");
  list_->add_flag("--json", f.json, "Print JSON instead of a table");
  store_option(list_);
  revoke_ = keys_->add_subcommand("revoke", "Revoke a key by its id; a running server refuses it within a second.");
  revoke_->add_option("ID", f.id, "The key's id (the 16 hex digits after vigil_)")->required();
  store_option(revoke_);
}

int KeyCommands::Run() const {
  if (!*keys_) return -1;
  const Flags& f = *flags_;
  const char* command = *create_ ? "create" : *list_ ? "list" : "revoke";
  auto store = SqliteStore::Open(f.store);
  if (!store.ok()) return Fail(command, store.status());
  if (*create_) {
    auto roles = ParseRoles(f.roles);
    if (!roles.ok()) return Fail(command, roles.status());
    auto key = MintApiKey(*roles, f.name, Actor(f.by), NowMs());
    if (!key.ok()) return Fail(command, key.status());
    if (Status s = (*store)->AddApiKey(key->record); !s.ok()) return Fail(command, s);
    std::fprintf(stderr, "created key %s (%s) with the role(s) %s. It is shown once; keep it secret:\n",
                 key->record.id.c_str(), f.name.c_str(), key->record.roles.c_str());
    std::printf("%s\n", key->token.c_str());
    return 0;
  }
  if (*list_) {
    auto keys = (*store)->ApiKeys();
    if (!keys.ok()) return Fail(command, keys.status());
    if (f.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const ApiKeyRecord& k : *keys) {
        out.push_back({{"id", k.id}, {"name", k.name}, {"roles", k.roles}, {"created_by", k.created_by},
                       {"created", FormatRfc3339(k.created_ms)},
                       {"revoked", k.revoked_ms ? nlohmann::json(FormatRfc3339(k.revoked_ms)) : nlohmann::json()}});
      }
      std::printf("%s\n", out.dump(2).c_str());
      return 0;
    }
    std::printf("%-16s  %-20s %-24s %-10s %-24s %s\n", "id", "name", "roles", "by", "created", "revoked");
    for (const ApiKeyRecord& k : *keys) {
      std::printf("%-16s  %-20s %-24s %-10s %-24s %s\n", k.id.c_str(), k.name.c_str(), k.roles.c_str(),
                  k.created_by.c_str(), FormatRfc3339(k.created_ms).c_str(),
                  k.revoked_ms ? FormatRfc3339(k.revoked_ms).c_str() : "-");
    }
    return 0;
  }
  auto revoked = (*store)->RevokeApiKey(f.id, NowMs());
  if (!revoked.ok()) return Fail(command, revoked.status());
  if (!*revoked) return Fail(command, Status::NotFound("no key in force has the id " + f.id));
  std::printf("revoked key %s\n", f.id.c_str());
  return 0;
}

}  // namespace vigil
