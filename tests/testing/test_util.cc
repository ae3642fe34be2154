#include "tests/testing/test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/sqlite/connection.h"
#include "server/store/meta.h"

namespace outpost::testing {

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "outpost-test-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) std::abort();
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadFileOrDie(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFileOrDie(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

void SeedKnownVirtualAccounts(const std::filesystem::path& database,
                              const std::vector<std::string>& vas) {
  auto db = sqlite::Connection::Open(database, {});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  std::string text;
  for (const std::string& va : vas) text += va + "\n";
  const Status done = server::store::kSatelliteMeta.Set(*db, "virtual_accounts", text);
  ASSERT_TRUE(done.ok()) << done.ToString();
}

}  // namespace outpost::testing
