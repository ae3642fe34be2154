// `outpost device authorize` and `device status` (cli/device_commands.cc) against a hostile
// fake satellite: what the satellite says reaches the terminal escaped and bounded (issue 17,
// item 10), and the real binary keeps its offline fallback after a padded answer (item 7).

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "client/device_client.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/test_util.h"
#include "tests/unit/client/fake_satellite.h"

namespace outpost::client {
namespace {

namespace fs = std::filesystem;
using outpost::testing::FakeSatellite;
using outpost::testing::Misbehaviour;
using outpost::testing::RunBinary;
using outpost::testing::RunResult;

class DeviceCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    satellite_ = FakeSatellite::StartOrDie(tmp_.path());
    RegisterOptions o;
    o.server_url = satellite_->url();
    o.ca_file = satellite_->ca_file();
    o.token = "opt_good";
    o.pid = "PID1";
    o.serial = "SN1";
    o.state_dir = state_dir_;
    ASSERT_OK(DeviceClient::Register(o));
  }

  RunResult Device(std::vector<std::string> args) {
    args.insert(args.begin(), "device");
    args.push_back("--state-dir");
    args.push_back(state_dir_.string());
    return RunBinary(OUTPOST_BINARY, args, {}, "", std::chrono::seconds(60));
  }

  outpost::testing::TempDir tmp_;
  fs::path state_dir_ = tmp_ / "device";
  std::unique_ptr<FakeSatellite> satellite_;
};

TEST_F(DeviceCliTest, SatelliteErrorReachesTheTerminalEscapedAndBounded) {
  satellite_->set_misbehaviour(Misbehaviour::kHostileError);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"authorize", "--tag", "regid.known.base"},
        std::vector<std::string>{"status"}}) {
    const RunResult r = Device(args);
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << args[0] << ": raw escape on the terminal";
    EXPECT_EQ(r.err.find('\x07'), std::string::npos) << args[0];
    EXPECT_NE(r.err.find("\\x1B[2J"), std::string::npos) << r.err.substr(0, 300);
    EXPECT_NE(r.err.find("YOUR LICENSES ARE REVOKED"), std::string::npos);
    EXPECT_LT(r.err.size(), 2000u) << args[0];
    EXPECT_EQ(r.out, "") << args[0];
  }
}

TEST_F(DeviceCliTest, PaddedAnswerKeepsTheOfflineFallback) {
  satellite_->set_misbehaviour(Misbehaviour::kPaddedCopy);
  RunResult r = Device({"authorize", "--tag", "regid.known.base:2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  satellite_->Shutdown();
  r = Device({"status", "--offline"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("regid.known.base"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace outpost::client
