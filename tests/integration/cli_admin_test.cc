// The real `outpost` binary against a real `outpost serve`: users, API keys, roles and the audit
// trail through the CLI (whoami, user, apikey, audit export/verify), and `audit verify --db` on
// the stopped satellite's database.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/proto_json.h"
#include "outpost/v1/admin_auth.pb.h"
#include "outpost/v1/audit.pb.h"
#include "outpost/v1/satellite.pb.h"
#include "outpost/v1/tokens.pb.h"
#include "server/audit/export.h"
#include "server/data_dir.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/test_util.h"

namespace outpost {
namespace {

using testing::Contains;
using testing::RunResult;

// The binary with `args`, `stdin_text` on its standard input and `env` added to its environment.
RunResult RunOutpost(std::vector<std::string> args,
                     const std::map<std::string, std::string>& env = {},
                     const std::string& stdin_text = "") {
  return testing::RunBinary(OUTPOST_BINARY, std::move(args), env, stdin_text);
}

size_t CountOf(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// A satellite initialised in a temporary directory and served by `outpost serve` on a free
// port, stopped with SIGTERM at the end.
class CliAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = (tmp_.path() / "sat").string();
    RunResult init =
        RunOutpost({"--json", "init", "--data-dir", data_dir_, "--listen", "127.0.0.1:0"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    ASSERT_OK(FromJson(init.out, &init_report_));
    testing::SeedKnownVirtualAccounts(server::DataDir(data_dir_).database(),
                                      {"default", "branch-east", "branch-west"});
    StartServer();
  }

  void TearDown() override { StopServer(); }

  void StartServer() {
    const std::string log = (tmp_.path() / "serve.log").string();
    ASSERT_TRUE(serve_.Start(OUTPOST_BINARY, {"serve", "--data-dir", data_dir_}, log))
        << "serve did not print its URL; log: " << testing::ReadFileOrDie(log);
    server_url_ = serve_.url();
  }

  // SIGTERM and a bounded wait; serve must exit 0.
  void StopServer() {
    const std::optional<int> code = serve_.Stop();
    ASSERT_TRUE(code.has_value()) << "serve did not stop within 15 s of SIGTERM";
    EXPECT_EQ(*code, 0);
  }

  // `args` plus the connection flags: the data directory for the CA (and the admin key unless
  // `api_key` is given), the URL serve printed (the configuration says port 0).
  RunResult Cli(std::vector<std::string> args, const std::string& api_key = "",
                const std::string& stdin_text = "") {
    args.insert(args.end(), {"--data-dir", data_dir_, "--server", server_url_});
    if (!api_key.empty()) args.insert(args.end(), {"--api-key", api_key});
    return RunOutpost(args, {}, stdin_text);
  }

  // Creates a user with an API key and returns the key, taken from `apikey create --json`.
  // With a `password`, the user gets it through --password-stdin.
  std::string AddUserWithKey(const std::string& name, const std::string& role,
                             const std::string& password = "") {
    std::vector<std::string> args = {"user", "add", name, "--role", role};
    if (!password.empty()) args.push_back("--password-stdin");
    RunResult add = Cli(args, "", password.empty() ? "" : password + "\n");
    EXPECT_EQ(add.exit_code, 0) << add.err;
    RunResult create =
        Cli({"--json", "apikey", "create", "--user", name, "--description", "test key"});
    EXPECT_EQ(create.exit_code, 0) << create.err;
    v1::CreateApiKeyResponse created;
    EXPECT_OK(FromJson(create.out, &created));
    EXPECT_EQ(created.api_key().user(), name);
    EXPECT_TRUE(created.key().starts_with("opk_")) << create.out;
    return created.key();
  }

  std::string database() const { return server::DataDir(data_dir_).database().string(); }

  testing::TempDir tmp_;
  std::string data_dir_;
  std::string server_url_;
  v1::InitReport init_report_;
  testing::ServingProcess serve_;
};

TEST_F(CliAdminTest, InitShowsTheFirstAdminOnceAndTheKeyFileWorks) {
  EXPECT_EQ(init_report_.admin_user(), "admin");
  EXPECT_FALSE(init_report_.admin_password().empty());
  EXPECT_TRUE(init_report_.admin_api_key().starts_with("opk_"));
  EXPECT_EQ(
      testing::ReadFileOrDie(init_report_.admin_api_key_file()).find(init_report_.admin_api_key()),
      0u);

  // The table form says the credentials are shown once.
  testing::TempDir other;
  RunResult text = RunOutpost({"init", "--data-dir", (other.path() / "s").string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(Contains(text.out, "shown once; store it now")) << text.out;
  EXPECT_TRUE(Contains(text.out, "password")) << text.out;
  EXPECT_TRUE(Contains(text.out, "opk_")) << text.out;
}

TEST_F(CliAdminTest, WhoAmIAsTheAdminOfTheDataDirectory) {
  RunResult r = Cli({"whoami"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "admin")) << r.out;
  EXPECT_TRUE(Contains(r.out, "manage_users")) << r.out;

  RunResult json = Cli({"whoami", "--json"});  // global flag after the command
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::WhoAmIResponse me;
  ASSERT_OK(FromJson(json.out, &me));
  EXPECT_EQ(me.user(), "admin");
  EXPECT_EQ(me.role(), "admin");
}

TEST_F(CliAdminTest, EnvironmentSuppliesTheConnectionAndFlagsWin) {
  // Everything from the environment.
  RunResult env =
      RunOutpost({"whoami"}, {{"OUTPOST_DATA_DIR", data_dir_}, {"OUTPOST_SERVER", server_url_}});
  ASSERT_EQ(env.exit_code, 0) << env.err;
  EXPECT_TRUE(Contains(env.out, "admin")) << env.out;

  // A flag beats the environment: a wrong --server fails even though OUTPOST_SERVER is right.
  RunResult flag = RunOutpost({"whoami", "--server", "https://127.0.0.1:1"},
                              {{"OUTPOST_DATA_DIR", data_dir_}, {"OUTPOST_SERVER", server_url_}});
  EXPECT_EQ(flag.exit_code, 1);
  EXPECT_TRUE(Contains(flag.err, "127.0.0.1:1")) << flag.err;
  EXPECT_TRUE(Contains(flag.err, "--server")) << flag.err;

  // A refused key names where it came from.
  RunResult bad = RunOutpost({"whoami", "--server", server_url_},
                             {{"OUTPOST_DATA_DIR", data_dir_}, {"OUTPOST_API_KEY", "opk_0_0"}});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(Contains(bad.err, "OUTPOST_API_KEY")) << bad.err;

  // The key on standard input.
  RunResult in =
      RunOutpost({"whoami", "--data-dir", data_dir_, "--server", server_url_, "--api-key", "-"}, {},
                 init_report_.admin_api_key() + "\n");
  ASSERT_EQ(in.exit_code, 0) << in.err;
}

TEST_F(CliAdminTest, UsersAndKeysPerRoleAndTheAuditorIsRefusedUserAdd) {
  const std::string operator_key = AddUserWithKey("olivia", "operator");
  RunResult add_auditor = Cli({"user", "add", "aude", "--role", "auditor", "--password-stdin"}, "",
                              "a long enough password\n");
  ASSERT_EQ(add_auditor.exit_code, 0) << add_auditor.err;
  RunResult auditor_key_json = Cli({"--json", "apikey", "create", "--user", "aude"});
  ASSERT_EQ(auditor_key_json.exit_code, 0) << auditor_key_json.err;
  v1::CreateApiKeyResponse auditor_key;
  ASSERT_OK(FromJson(auditor_key_json.out, &auditor_key));
  RunResult shown = Cli({"apikey", "create", "--user", "aude"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_TRUE(Contains(shown.out, "shown once")) << shown.out;

  RunResult list = Cli({"--json", "user", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  v1::ListUsersResponse users;
  ASSERT_OK(FromJson(list.out, &users));
  std::map<std::string, v1::User> by_name;
  for (const auto& u : users.users()) by_name[u.name()] = u;
  ASSERT_EQ(by_name.count("olivia"), 1u) << list.out;
  ASSERT_EQ(by_name.count("aude"), 1u) << list.out;
  EXPECT_EQ(by_name["olivia"].role(), "operator");
  EXPECT_FALSE(by_name["olivia"].has_password());
  EXPECT_EQ(by_name["aude"].role(), "auditor");
  EXPECT_TRUE(by_name["aude"].has_password());
  RunResult table = Cli({"user", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(Contains(table.out, "NAME")) << table.out;
  EXPECT_TRUE(Contains(table.out, "olivia")) << table.out;

  RunResult me = Cli({"--json", "whoami"}, auditor_key.key());
  ASSERT_EQ(me.exit_code, 0) << me.err;
  EXPECT_TRUE(Contains(me.out, "\"auditor\"")) << me.out;

  // The auditor may not create users; the message says why, and no user appears.
  RunResult refused = Cli({"user", "add", "mallory", "--role", "admin"}, auditor_key.key());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.err, "auditor")) << refused.err;
  EXPECT_TRUE(refused.err.starts_with("outpost: ")) << refused.err;
  RunResult refused_operator = Cli({"user", "add", "mallory", "--role", "admin"}, operator_key);
  EXPECT_EQ(refused_operator.exit_code, 1);
  EXPECT_TRUE(Contains(refused_operator.err, "operator")) << refused_operator.err;
  RunResult after = Cli({"user", "list"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_FALSE(Contains(after.out, "mallory")) << after.out;

  // Keys list per user and for all; only ids, never secrets.
  RunResult keys = Cli({"apikey", "list", "--all"});
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_TRUE(Contains(keys.out, auditor_key.api_key().id())) << keys.out;
  EXPECT_FALSE(Contains(keys.out, auditor_key.key())) << keys.out;
  RunResult own = Cli({"--json", "apikey", "list", "--user", "aude"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  v1::ListApiKeysResponse aude_keys;
  ASSERT_OK(FromJson(own.out, &aude_keys));
  EXPECT_EQ(aude_keys.api_keys_size(), 2);
  for (const auto& k : aude_keys.api_keys()) EXPECT_EQ(k.user(), "aude");
}

TEST_F(CliAdminTest, DisableEnableAndRevokeTakeEffect) {
  const std::string key = AddUserWithKey("olivia", "operator");
  ASSERT_EQ(Cli({"whoami"}, key).exit_code, 0);

  RunResult disabled = Cli({"user", "disable", "olivia"});
  ASSERT_EQ(disabled.exit_code, 0) << disabled.err;
  EXPECT_TRUE(Contains(disabled.out, "disabled")) << disabled.out;
  EXPECT_EQ(Cli({"whoami"}, key).exit_code, 1);

  ASSERT_EQ(Cli({"user", "enable", "olivia"}).exit_code, 0);
  ASSERT_EQ(Cli({"whoami"}, key).exit_code, 0);

  RunResult passwd =
      Cli({"--json", "user", "passwd", "olivia", "--password-stdin"}, "", "another long one!\n");
  ASSERT_EQ(passwd.exit_code, 0) << passwd.err;
  v1::User olivia;
  ASSERT_OK(FromJson(passwd.out, &olivia));
  EXPECT_TRUE(olivia.has_password());

  const std::string id = key.substr(4, key.find('_', 4) - 4);
  RunResult revoke = Cli({"apikey", "revoke", id});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_TRUE(Contains(revoke.out, id)) << revoke.out;
  RunResult refused = Cli({"whoami"}, key);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.err, "--api-key")) << refused.err;
}

TEST_F(CliAdminTest, TokensCreateListRevokeAndTheAuditorMayNotList) {
  const std::string operator_key = AddUserWithKey("olivia", "operator");
  RunResult shown = Cli({"token", "create", "--va", "branch-east", "--max-uses", "3",
                         "--description", "rack 4", "--export-controlled"},
                        operator_key);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_TRUE(Contains(shown.out, "shown once")) << shown.out;
  EXPECT_TRUE(Contains(shown.out, "opt_")) << shown.out;

  RunResult json = Cli({"--json", "token", "create", "--va", "branch-west", "--expires-days", "7"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::CreateTokenResponse created;
  ASSERT_OK(FromJson(json.out, &created));
  EXPECT_TRUE(created.token().starts_with("opt_" + created.record().id() + "_")) << json.out;
  EXPECT_EQ(created.record().max_uses(), 0);
  EXPECT_EQ(created.record().expires_at() - created.record().created_at(), 7 * 86400);

  // Out-of-range expiry and max uses: a clear error and no token.
  RunResult too_long = Cli({"token", "create", "--va", "branch-west", "--expires-days", "366"});
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_TRUE(Contains(too_long.err, "1 to 365 days")) << too_long.err;
  RunResult zero_uses = Cli({"token", "create", "--va", "branch-west", "--max-uses", "0"});
  EXPECT_EQ(zero_uses.exit_code, 1);
  EXPECT_TRUE(Contains(zero_uses.err, "at least 1")) << zero_uses.err;

  RunResult list = Cli({"token", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Contains(list.out, "PREFIX")) << list.out;
  EXPECT_TRUE(Contains(list.out, "ACTIVE")) << list.out;
  EXPECT_TRUE(Contains(list.out, "0/3")) << list.out;
  EXPECT_FALSE(Contains(list.out, created.token())) << list.out;
  RunResult west = Cli({"--json", "token", "list", "--va", "branch-west"});
  ASSERT_EQ(west.exit_code, 0) << west.err;
  v1::ListTokensResponse listed;
  ASSERT_OK(FromJson(west.out, &listed));
  ASSERT_EQ(listed.tokens_size(), 1) << west.out;

  RunResult revoke = Cli({"token", "revoke", created.record().id()}, operator_key);
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_TRUE(Contains(revoke.out, "stay registered")) << revoke.out;
  RunResult again = Cli({"token", "revoke", created.record().id()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "already revoked")) << again.err;
  RunResult after = Cli({"--json", "token", "list", "--va", "branch-west"});
  ASSERT_OK(FromJson(after.out, &listed));
  ASSERT_EQ(listed.tokens_size(), 1);
  EXPECT_EQ(listed.tokens(0).state(), "REVOKED");

  RunResult add_auditor = Cli({"user", "add", "aude", "--role", "auditor"});
  ASSERT_EQ(add_auditor.exit_code, 0) << add_auditor.err;
  RunResult auditor_key_json = Cli({"--json", "apikey", "create", "--user", "aude"});
  v1::CreateApiKeyResponse auditor_key;
  ASSERT_OK(FromJson(auditor_key_json.out, &auditor_key));
  RunResult refused = Cli({"token", "list"}, auditor_key.key());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(Contains(refused.err, "auditor")) << refused.err;
}

TEST_F(CliAdminTest, AuditExportHasTheUserChangesAndNoSecrets) {
  const std::string key = AddUserWithKey("olivia", "operator");
  const std::string auditor_key = AddUserWithKey("aude", "auditor", "a long enough password");

  RunResult jsonl = Cli({"audit", "export"}, auditor_key);
  ASSERT_EQ(jsonl.exit_code, 0) << jsonl.err;
  std::istringstream lines(jsonl.out);
  std::string line;
  int user_creates = 0;
  int64_t expected_seq = 1;
  while (std::getline(lines, line)) {
    auto parsed = server::audit::ParseJsonLine(line);
    ASSERT_OK(parsed);
    const v1::AuditRecord& record = *parsed;
    EXPECT_EQ(record.seq(), expected_seq++);
    if (record.action() == "user.create" &&
        (record.object() == "user:olivia" || record.object() == "user:aude")) {
      ++user_creates;
    }
  }
  EXPECT_EQ(user_creates, 2) << jsonl.out;

  // Paged in twos, CSV still has one header row; the same records as one big page.
  RunResult csv = Cli({"audit", "export", "--format", "csv", "--page-size", "2"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_TRUE(csv.out.starts_with("seq,time,time_ms,actor,action,object,details,prev_hash,hash"))
      << csv.out;
  EXPECT_EQ(CountOf(csv.out, "seq,time,"), 1u) << csv.out;
  EXPECT_TRUE(Contains(csv.out, "user.create,user:olivia")) << csv.out;
  RunResult csv_whole = Cli({"audit", "export", "--format", "csv"});
  ASSERT_EQ(csv_whole.exit_code, 0) << csv_whole.err;
  // Records are only ever appended, so a later export starts with an earlier one.
  EXPECT_TRUE(csv_whole.out.starts_with(csv.out)) << "paged and unpaged exports differ";

  // Filters.
  RunResult filtered = Cli({"audit", "export", "--action", "user.create"});
  ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
  EXPECT_EQ(CountOf(filtered.out, "\n"), CountOf(filtered.out, "\"action\":\"user.create\""))
      << filtered.out;
  EXPECT_GE(CountOf(filtered.out, "\n"), 2u);
  // An empty filter (an unset shell variable) is refused, not read as "every record".
  for (const char* option : {"--device", "--actor", "--action"}) {
    RunResult empty = Cli({"audit", "export", option, ""});
    EXPECT_NE(empty.exit_code, 0) << option;
    EXPECT_TRUE(Contains(empty.err, option)) << empty.err;
    EXPECT_TRUE(Contains(empty.err, "empty value would match every record")) << empty.err;
    EXPECT_EQ(empty.out, "") << option;
  }
  RunResult bad_time = Cli({"audit", "export", "--since", "yesterday"});
  EXPECT_EQ(bad_time.exit_code, 1);
  EXPECT_TRUE(Contains(bad_time.err, "--since")) << bad_time.err;

  // -o FILE holds what stdout would have.
  const std::string file = (tmp_.path() / "audit.jsonl").string();
  RunResult to_file = Cli({"audit", "export", "-o", file}, auditor_key);
  ASSERT_EQ(to_file.exit_code, 0) << to_file.err;
  EXPECT_TRUE(testing::ReadFileOrDie(file).starts_with(jsonl.out));

  // Secrets never reach the audit trail: neither whole keys nor their secret parts.
  for (const std::string& key_text : {key, auditor_key, init_report_.admin_api_key()}) {
    const std::string secret = key_text.substr(key_text.find('_', 4) + 1);  // opk_<id>_<secret>
    ASSERT_GE(secret.size(), 16u) << key_text;
    EXPECT_FALSE(Contains(jsonl.out, secret)) << key_text;
    EXPECT_FALSE(Contains(csv_whole.out, secret)) << key_text;
  }
  EXPECT_FALSE(Contains(jsonl.out, init_report_.admin_password()));
  EXPECT_FALSE(Contains(jsonl.out, "a long enough password"));
}

TEST_F(CliAdminTest, VerifyOnlineThenOnTheStoppedDatabaseAndDetectTampering) {
  AddUserWithKey("olivia", "operator");
  const std::string auditor_key = AddUserWithKey("aude", "auditor");
  RunResult online = Cli({"audit", "verify"}, auditor_key);
  ASSERT_EQ(online.exit_code, 0) << online.err;
  EXPECT_TRUE(Contains(online.out, "records checked")) << online.out;
  RunResult head = Cli({"--json", "audit", "head"}, auditor_key);
  ASSERT_EQ(head.exit_code, 0) << head.err;
  v1::AuditHead audit_head;
  ASSERT_OK(FromJson(head.out, &audit_head));
  EXPECT_GE(audit_head.seq(), 5);

  StopServer();

  // With the data directory's signing key, and with the key the database records.
  RunResult offline = RunOutpost({"audit", "verify", "--db", database(), "--data-dir", data_dir_});
  ASSERT_EQ(offline.exit_code, 0) << offline.err << offline.out;
  EXPECT_TRUE(Contains(offline.out, init_report_.signing_key_id())) << offline.out;
  EXPECT_TRUE(Contains(offline.out, "signing.key")) << offline.out;
  RunResult self_keyed = RunOutpost({"--json", "audit", "verify", "--db", database()});
  ASSERT_EQ(self_keyed.exit_code, 0) << self_keyed.err;
  v1::AuditVerifyResponse report;
  ASSERT_OK(FromJson(self_keyed.out, &report));
  EXPECT_TRUE(report.ok());
  EXPECT_GE(report.records_checked(), audit_head.seq());
  EXPECT_GE(report.checkpoints_checked(), 1);  // serve signs one when it stops
  EXPECT_TRUE(Contains(self_keyed.err, init_report_.signing_key_id())) << self_keyed.err;

  // Change record 2 behind the satellite's back.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(database().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE audit_log SET details='{\"x\":1}' WHERE seq=2", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);

  RunResult tampered = RunOutpost({"audit", "verify", "--db", database(), "--data-dir", data_dir_});
  EXPECT_EQ(tampered.exit_code, 1);
  EXPECT_TRUE(Contains(tampered.err, "seq 2")) << tampered.err;
  EXPECT_TRUE(Contains(tampered.err, "changed")) << tampered.err;
  EXPECT_TRUE(Contains(tampered.out, "FAILED")) << tampered.out;
  RunResult tampered_json = RunOutpost({"--json", "audit", "verify", "--db", database()});
  EXPECT_EQ(tampered_json.exit_code, 1);
  v1::AuditVerifyResponse bad;
  ASSERT_OK(FromJson(tampered_json.out, &bad));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.first_bad_seq(), 2);
  EXPECT_EQ(bad.problem_kind(), "changed");
}

TEST_F(CliAdminTest, MissingConnectionInfoNamesWhatToProvide) {
  RunResult nothing = RunOutpost({"whoami"});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_TRUE(Contains(nothing.err, "--data-dir")) << nothing.err;
  EXPECT_TRUE(Contains(nothing.err, "--server")) << nothing.err;
  EXPECT_TRUE(Contains(nothing.err, "OUTPOST_SERVER")) << nothing.err;

  const std::string ca = server::DataDir(data_dir_).ca_certificate().string();
  RunResult no_key = RunOutpost({"user", "list", "--server", server_url_, "--ca", ca});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_TRUE(Contains(no_key.err, "--api-key")) << no_key.err;
  EXPECT_FALSE(Contains(no_key.err, "--ca FILE")) << no_key.err;

  RunResult no_ca = RunOutpost({"user", "list", "--server", server_url_},
                               {{"OUTPOST_API_KEY", init_report_.admin_api_key()}});
  EXPECT_EQ(no_ca.exit_code, 1);
  EXPECT_TRUE(Contains(no_ca.err, "--ca")) << no_ca.err;

  // The data directory listens on port 0: only --server can say where serve is.
  RunResult port_zero = RunOutpost({"whoami", "--data-dir", data_dir_});
  EXPECT_EQ(port_zero.exit_code, 1);
  EXPECT_TRUE(Contains(port_zero.err, "--server")) << port_zero.err;

  RunResult missing_dir = RunOutpost(
      {"whoami", "--data-dir", (tmp_.path() / "nope").string(), "--server", server_url_});
  EXPECT_EQ(missing_dir.exit_code, 1);
  EXPECT_TRUE(Contains(missing_dir.err, "--api-key")) << missing_dir.err;

  RunResult no_db = RunOutpost({"audit", "verify", "--db", (tmp_.path() / "none.db").string()});
  EXPECT_EQ(no_db.exit_code, 1);
  EXPECT_TRUE(Contains(no_db.err, "none.db")) << no_db.err;
}

TEST(CliAdminUsageTest, BadFlagsAreUsageErrors) {
  EXPECT_EQ(RunOutpost({"user", "add", "x", "--role", "root"}).exit_code, 2);
  EXPECT_EQ(RunOutpost({"user", "add", "x"}).exit_code, 2);  // --role is required
  EXPECT_EQ(RunOutpost({"user"}).exit_code, 2);
  EXPECT_EQ(RunOutpost({"user", "passwd", "x"}).exit_code, 2);  // --password-stdin required
  EXPECT_EQ(RunOutpost({"apikey", "list", "--all", "--user", "x"}).exit_code, 2);
  EXPECT_EQ(RunOutpost({"apikey", "revoke"}).exit_code, 2);
  EXPECT_EQ(RunOutpost({"audit", "export", "--format", "xml"}).exit_code, 2);
  EXPECT_EQ(RunOutpost({"audit", "verify", "--public-key", "k.pem"}).exit_code, 2);
  EXPECT_EQ(RunOutpost({"audit", "verify", "--db", "x.db", "--server", "https://h"}).exit_code, 2);
  RunResult both = RunOutpost({"user", "add", "x", "--role", "admin", "--password-stdin",
                               "--api-key", "-", "--server", "https://h", "--ca", "c"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_TRUE(Contains(both.err, "standard input")) << both.err;
}

// Issue 14, finding 8: one's own password needs the current one; keys may expire.
TEST_F(CliAdminTest, PasswdNeedsTheCurrentPasswordAndKeysShowTheirExpiry) {
  const std::string key = AddUserWithKey("pia", "operator", "first secret passphrase");
  const std::string current = (tmp_.path() / "current.txt").string();
  testing::WriteFileOrDie(current, "not what pia has\n");
  RunResult wrong = Cli({"passwd", "--current-password", "@" + current, "--password-stdin"}, key,
                        "a second passphrase\n");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(Contains(wrong.err, "the current password is wrong; nothing was changed"))
      << wrong.err;
  testing::WriteFileOrDie(current, "first secret passphrase\n");
  RunResult weak = Cli({"passwd", "--current-password", "@" + current, "--password-stdin"}, key,
                       "Password2025!\n");
  EXPECT_EQ(weak.exit_code, 1);
  EXPECT_TRUE(Contains(weak.err, "commonly used password")) << weak.err;
  RunResult changed = Cli({"passwd", "--current-password", "@" + current, "--password-stdin"}, key,
                          "a second passphrase\n");
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_TRUE(Contains(changed.out, "Changed your password")) << changed.out;
  // An admin sets other users' passwords, not their own, through `user passwd`.
  RunResult own = Cli({"user", "passwd", "admin", "--password-stdin"}, "", "a third passphrase\n");
  EXPECT_EQ(own.exit_code, 1);
  EXPECT_TRUE(Contains(own.err, "outpost passwd")) << own.err;

  RunResult create = Cli({"--json", "apikey", "create", "--expires-in", "90d"}, key);
  ASSERT_EQ(create.exit_code, 0) << create.err;
  v1::CreateApiKeyResponse created;
  ASSERT_OK(FromJson(create.out, &created));
  EXPECT_NE(created.api_key().expires_at(), 0);
  const int64_t in_90_days = ToUnixSeconds(SystemClock().Now()) + 90 * 86400;
  EXPECT_LE(std::abs(created.api_key().expires_at() - in_90_days), 60);
  RunResult list = Cli({"apikey", "list"}, key);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Contains(list.out, "EXPIRES")) << list.out;
  EXPECT_TRUE(Contains(list.out, created.api_key().expires_at_text())) << list.out;
  EXPECT_TRUE(Contains(list.out, "never")) << list.out;  // the key made without an expiry
  RunResult past = Cli({"apikey", "create", "--expires", "2001-01-01"}, key);
  EXPECT_EQ(past.exit_code, 1);
  EXPECT_TRUE(Contains(past.err, "is not in the future")) << past.err;
  EXPECT_EQ(Cli({"apikey", "create", "--expires-in", "soon"}, key).exit_code, 2);
}

TEST(CliAdminUsageTest, PasswdTakesSecretsOnlyFromStdinOrFiles) {
  RunResult literal =
      RunOutpost({"passwd", "--current-password", "hunter2hunter2", "--password-stdin"});
  EXPECT_EQ(literal.exit_code, 2);
  EXPECT_TRUE(Contains(literal.err, "never the password itself")) << literal.err;
  RunResult both = RunOutpost({"passwd", "--current-password", "-", "--password-stdin"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_TRUE(Contains(both.err, "standard input")) << both.err;
  EXPECT_EQ(RunOutpost({"passwd", "--current-password", "@f"}).exit_code, 2);  // no new password
}

}  // namespace
}  // namespace outpost
