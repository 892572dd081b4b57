#include "cli/security_commands.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "cli/command_support.h"
#include "common/durable_file.h"
#include "common/rfc3339.h"
#include "security/access_control.h"
#include "security/artifact_cipher.h"
#include "store/sqlite_store.h"

namespace vigil {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SecurityCommands::SecurityCommands(CLI::App& app) {
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

  encrypt_ = app.add_subcommand(
      "encrypt", "Encrypt model artifacts in place (AES-256-GCM) so that they are stored encrypted; a server with the "
                 "key decrypts them in memory at load. Or make a new key with --new-key.");
  encrypt_->add_option("FILE", f.files, "Artifacts to encrypt (model.json, model.ubj); already encrypted ones are "
                                        "left as they are");
  encrypt_->add_option("--key-file", f.key_file, "The key: 64 hex digits in a file only its owner can read "
                                                 "(default: VIGIL_MODEL_KEY_FILE or VIGIL_MODEL_KEY)");
  encrypt_->add_option("--new-key", f.new_key, "Write a new random key to this file (mode 600) and exit");
}

int SecurityCommands::Encrypt() const {
  const Flags& f = *flags_;
  if (!f.new_key.empty()) {
    auto hex = GenerateModelKeyHex();
    if (!hex.ok()) return Fail("encrypt", hex.status());
    // Never over an existing key: the artifacts it sealed would be lost.
    if (Status written = WriteNewFile(f.new_key, *hex + "\n", 0600); !written.ok()) return Fail("encrypt", written);
    auto key = ParseModelKey(*hex);
    std::printf("wrote a new model key to %s (fingerprint %s); keep it apart from the models\n", f.new_key.c_str(),
                key->fingerprint.c_str());
    return 0;
  }
  std::optional<ModelKey> key;
  if (!f.key_file.empty()) {
    auto read = ReadModelKeyFile(f.key_file);
    if (!read.ok()) return Fail("encrypt", read.status());
    key = *read;
  } else {
    auto env = ModelKeyFromEnvironment();
    if (!env.ok()) return Fail("encrypt", env.status());
    key = *env;
  }
  if (!key) return Fail("encrypt", Status::InvalidArgument("no key: give --key-file, VIGIL_MODEL_KEY_FILE or VIGIL_MODEL_KEY"));
  if (f.files.empty()) return Fail("encrypt", Status::InvalidArgument("no FILE to encrypt"));
  for (const std::string& file : f.files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Fail("encrypt", Status::NotFound("cannot open " + file));
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string bytes = std::move(buffer).str();
    if (IsSealedArtifact(bytes)) {
      std::printf("%s: encrypted already\n", file.c_str());
      continue;
    }
    auto sealed = SealArtifact(bytes, *key);
    if (!sealed.ok()) return Fail("encrypt", sealed.status());
    // A reader, or the disk after a crash, sees the plain file or the
    // encrypted one, never neither. Mode 600, as the registry writes them.
    if (Status replaced = ReplaceFile(file, *sealed, 0600); !replaced.ok()) return Fail("encrypt", replaced);
    std::printf("%s: encrypted with key %s (%zu bytes)\n", file.c_str(), key->fingerprint.c_str(), sealed->size());
  }
  std::printf("A registered version's recorded SHA-256 is of the file as it was: encrypt before registering, or let "
              "the registry encrypt (a model key in the environment, or the server's --model-key-file).\n");
  return 0;
}

int SecurityCommands::Run() const {
  if (*encrypt_) return Encrypt();
  if (!*keys_) return -1;
  const Flags& f = *flags_;
  const char* command = *create_ ? "keys create" : *list_ ? "keys list" : "keys revoke";
  auto store = SqliteStore::Open(f.store);
  if (!store.ok()) return Fail(command, store.status());
  if (*create_) {
    auto roles = ParseRoles(f.roles);
    if (!roles.ok()) return Fail(command, roles.status());
    auto key = MintApiKey(*roles, f.name, ActingUser(f.by), NowMs());
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
