#include "tests/testing/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

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

namespace {

// The kernel's range for port-0 binds and outgoing connections ("32768 60999" by default).
std::pair<int, int> EphemeralPortRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  if (!(in >> low >> high)) return {32768, 60999};
  return {low, high};
}

bool CanBindLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

uint16_t FreeLoopbackPort() {
  // Below the ephemeral range: a port the kernel hands to another test's port-0 server or
  // outgoing connection can never be this one, so a server that binds it later (after a
  // restart, or once the test has recorded its URL) does not find it taken. Only another
  // FreeLoopbackPort caller could pick the same, and the random start makes that unlikely.
  const auto [low, high] = EphemeralPortRange();
  const int top = low - 1;
  const int bottom = top > 20000 ? top - 12000 : 1024;
  if (top > bottom) {
    std::random_device seed;
    std::mt19937 rng(seed());
    std::uniform_int_distribution<int> pick(bottom, top);
    for (int attempt = 0; attempt < 200; ++attempt) {
      const auto port = static_cast<uint16_t>(pick(rng));
      if (CanBindLoopback(port)) return port;
    }
  }
  // No room below the range: fall back to a port the kernel picks (free a moment ago).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
