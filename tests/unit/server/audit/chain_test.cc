#include "server/audit/chain.h"

#include <gtest/gtest.h>

#include <string>

#include "common/crypto/encoding.h"
#include "server/audit/audit_proto.h"
#include "server/audit/utf8.h"

namespace outpost::server::audit {
namespace {

// The records of the test vector below. The expected hashes were computed independently of
// this code, with Python's hashlib from the description in chain.h:
//   def lp(s): b = s.encode(); return len(b).to_bytes(4, "big") + b
//   sha256(b"outpost/audit/v1\x00" + seq.to_bytes(8, "big")
//          + time_ms.to_bytes(8, "big", signed=True) + lp(actor) + lp(action) + lp(object)
//          + lp(details) + prev_hash)
constexpr char kHash1[] = "8b4d8444046347bcf3beb1ef73b36318161867ad9e6c57b0aa8ad67b96d6390f";
constexpr char kHash2[] = "839d61fc6e444b46f4abae0757b7190442c167ad3588dfb40a959ec9e3dac57c";

Record VectorRecord1() {
  Record record;
  record.seq = 1;
  record.time_ms = 1'780'000'000'123;
  record.actor = "user:alice";
  record.action = "token.create";
  record.object = "token:7f3a";
  record.details = R"({"va":"default","max_uses":5})";
  record.prev_hash = GenesisHash();
  return record;
}

Record VectorRecord2(const std::string& prev_hash) {
  Record record;
  record.seq = 2;
  record.time_ms = -1;  // before the epoch: exercises the two's complement encoding
  record.actor = "device:3b9c";
  record.action = "device.register";
  record.object = "udi:C9300-24T:FOC1234X";
  record.details = "{\"hostname\":\"caf\xc3\xa9\"}";  // non-ASCII: lengths are in bytes
  record.prev_hash = prev_hash;
  return record;
}

TEST(ChainTest, RecordHashMatchesIndependentlyComputedVector) {
  const std::string hash1 = ComputeRecordHash(VectorRecord1());
  EXPECT_EQ(crypto::HexEncode(hash1), kHash1);
  EXPECT_EQ(crypto::HexEncode(ComputeRecordHash(VectorRecord2(hash1))), kHash2);
}

TEST(ChainTest, EncodingIsDomainSeqTimeLengthPrefixedFieldsAndPrevHash) {
  Record record;
  record.seq = 0x0102030405060708;
  record.time_ms = -2;
  record.actor = "a";
  record.action = "bc";
  record.object = "";
  record.details = "{}";
  record.prev_hash = std::string(32, '\x11');
  std::string encoding;
  AppendRecordEncoding(record, encoding);
  const std::string expected = std::string("outpost/audit/v1\0", 17) +
                               "\x01\x02\x03\x04\x05\x06\x07\x08" +
                               "\xff\xff\xff\xff\xff\xff\xff\xfe" + std::string("\0\0\0\1a", 5) +
                               std::string("\0\0\0\2bc", 6) + std::string("\0\0\0\0", 4) +
                               std::string("\0\0\0\2{}", 6) + std::string(32, '\x11');
  EXPECT_EQ(crypto::HexEncode(encoding), crypto::HexEncode(expected));
}

TEST(ChainTest, MovingBytesBetweenFieldsChangesTheHash) {
  Record a = VectorRecord1();
  a.actor = "user:ab";
  a.action = "c";
  Record b = VectorRecord1();
  b.actor = "user:a";
  b.action = "bc";
  EXPECT_NE(ComputeRecordHash(a), ComputeRecordHash(b));
}

TEST(ChainTest, EveryFieldIsCovered) {
  const Record base = VectorRecord1();
  const std::string base_hash = ComputeRecordHash(base);
  auto changed = [&](auto mutate) {
    Record copy = base;
    mutate(copy);
    return ComputeRecordHash(copy) != base_hash;
  };
  EXPECT_TRUE(changed([](Record& r) { r.seq = 2; }));
  EXPECT_TRUE(changed([](Record& r) { r.time_ms += 1; }));
  EXPECT_TRUE(changed([](Record& r) { r.actor += "x"; }));
  EXPECT_TRUE(changed([](Record& r) { r.action += "x"; }));
  EXPECT_TRUE(changed([](Record& r) { r.object += "x"; }));
  EXPECT_TRUE(changed([](Record& r) { r.details += " "; }));
  EXPECT_TRUE(changed([](Record& r) { r.prev_hash[31] = '\x01'; }));
  EXPECT_FALSE(changed([](Record& r) { r.hash = "ignored: not part of the encoding"; }));
}

TEST(ChainTest, CheckpointMessageIsSeqHashTime) {
  const std::string hash(32, '\xab');
  const std::string message = CheckpointMessage(258, hash, 1'000);
  EXPECT_EQ(message,
            std::string("\0\0\0\0\0\0\x01\x02", 8) + hash + std::string("\0\0\0\0\0\0\x03\xe8", 8));
  EXPECT_EQ(kCheckpointDomain, "outpost/audit-checkpoint/v1");
}

TEST(ChainTest, UnixMillisRoundDown) {
  EXPECT_EQ(ToUnixMillis(TimePoint(std::chrono::microseconds(1'999))), 1);
  EXPECT_EQ(ToUnixMillis(TimePoint(std::chrono::microseconds(-1))), -1);
}

TEST(Utf8Test, AcceptsWellFormedAndRejectsMalformedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xff"));
  const std::string replacement = "\xef\xbf\xbd";  // U+FFFD
  EXPECT_EQ(SanitizeUtf8(std::string("a\xff") + "b\xc3"), "a" + replacement + "b" + replacement);
}

}  // namespace
}  // namespace outpost::server::audit
