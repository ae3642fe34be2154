#include "server/audit/export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/proto_json.h"
#include "common/time.h"
#include "outpost/v1/audit.pb.h"
#include "server/audit/audit_proto.h"
#include "server/audit/record_row.h"
#include "tests/unit/server/audit/audit_test_util.h"

namespace outpost::server::audit {
namespace {

using std::chrono::hours;
using testing::AuditDbTest;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

class ExportTest : public AuditDbTest {
 protected:
  // Six records, one per hour after t0: seq n has time t0 + n hours.
  void AppendSample() {
    const AuditEvent events[] = {
        {{"user", "alice"}, "token.create", "token:t1", R"({"va":"default"})"},
        {{"device", "dev-1"}, "device.register", "device:dev-1", "{}"},
        {{"device", "dev-2"}, "authorization.update", "device:dev-2", R"({"tags":2})"},
        {Actor::System(), "sweep.release", "device:dev-1", "{}"},
        {{"apikey", "k1"}, "token.revoke", "token:t1", "{}"},
        {{"user", "bob"}, "login.failure", "user:bob", "{}"},
    };
    for (const AuditEvent& event : events) {
      clock_.Advance(hours(1));
      ASSERT_OK(Append(db(), event, clock_.Now()));
    }
  }

  Result<std::string> ExportText(const ExportFilter& filter, ExportFormat format) {
    std::string text;
    OUTPOST_RETURN_IF_ERROR(Export(db(), filter, format, [&](std::string_view chunk) {
      text.append(chunk);
      return Status::Ok();
    }));
    return text;
  }

  // The seqs a JSON-lines export with `filter` yields; every line must parse.
  std::vector<int64_t> ExportedSeqs(const ExportFilter& filter) {
    auto text = ExportText(filter, ExportFormat::kJsonLines);
    EXPECT_OK(text);
    std::vector<int64_t> seqs;
    if (!text.ok()) return seqs;
    for (const std::string& line : Lines(*text)) {
      auto record = ParseJsonLine(line);
      EXPECT_OK(record);
      if (record.ok()) seqs.push_back(record->seq());
    }
    return seqs;
  }

  const TimePoint t0_ = clock_.Now();
};

using Seqs = std::vector<int64_t>;

TEST_F(ExportTest, WithoutFilterExportsEverythingInSeqOrder) {
  AppendSample();
  EXPECT_EQ(ExportedSeqs({}), (Seqs{1, 2, 3, 4, 5, 6}));
}

TEST_F(ExportTest, SinceIsInclusiveAndUntilExclusive) {
  AppendSample();
  ExportFilter filter;
  filter.since = t0_ + hours(2);
  filter.until = t0_ + hours(4);
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{2, 3}));
  filter.until.reset();
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{2, 3, 4, 5, 6}));
  filter.since.reset();
  filter.until = t0_ + hours(2);
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1}));
}

TEST_F(ExportTest, ActorMatchesExactlyOrByPrefix) {
  AppendSample();
  ExportFilter filter;
  filter.actor = "user:alice";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1}));
  filter.actor = "user:ali";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{})) << "no prefix match without ':' or '*' at the end";
  filter.actor = "device:";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{2, 3}));
  filter.actor = "user:*";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1, 6}));
  filter.actor = "user:b*";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{6}));
  filter.actor = "system";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{4}));
}

TEST_F(ExportTest, ApiKeyActorNamesItsUserAndUserOrKeyFiltersFindIt) {
  const AuditEvent events[] = {
      {{"apikey", "98452c60e6fd", "alice"}, "token.create", "token:t1", "{}"},
      {{"user", "alice"}, "login.success", "user:alice", "{}"},
      {{"apikey", "0123456789ab", "malice"}, "token.revoke", "token:t1", "{}"},
      {{"apikey", "98452c60e6fd"}, "token.revoke", "token:t2", "{}"},  // a record from before
  };
  for (const AuditEvent& event : events) ASSERT_OK(Append(db(), event, clock_.Now()));
  auto text = ExportText({}, ExportFormat::kJsonLines);
  ASSERT_OK(text);
  EXPECT_NE(text->find("\"actor\":\"apikey:98452c60e6fd (alice)\""), std::string::npos) << *text;

  ExportFilter filter;
  filter.actor = "user:alice";  // by session and with her keys; not malice's
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1, 2}));
  filter.actor = "apikey:98452c60e6fd";  // the key, with or without the user's name
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1, 4}));
  filter.actor = "apikey:98452c60e6fd (alice)";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1}));
  filter.actor = "apikey:";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1, 3, 4}));
  filter.actor = "user:lice";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{}));
}

TEST_F(ExportTest, ActionMatchesExactlyOrByPrefix) {
  AppendSample();
  ExportFilter filter;
  filter.action = "token.create";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1}));
  filter.action = "token.";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{1, 5}));
  filter.action = "auth*";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{3}));
  filter.action = "token";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{}));
}

TEST_F(ExportTest, DeviceMatchesItsActorOrObject) {
  AppendSample();
  ExportFilter filter;
  filter.device = "dev-1";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{2, 4}));
  filter.device = "dev-2";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{3}));
}

// A compact renewal names its device only as the actor (no object, docs/security.md): the device
// filter finds it too, in seq order among the device's other records, oldest or newest first.
TEST_F(ExportTest, DeviceFilterFindsCompactRenewalsByTheirActor) {
  AppendSample();
  clock_.Advance(hours(1));
  ASSERT_OK(Append(db(), {{"device", "dev-1"}, "device.renew", "", R"({"d":"x"})"}, clock_.Now()));
  clock_.Advance(hours(1));
  ASSERT_OK(Append(db(), {{"device", "dev-2"}, "device.renew", "", R"({"d":"y"})"}, clock_.Now()));
  clock_.Advance(hours(1));
  // Another action by the device about something else is not the device's record.
  ASSERT_OK(Append(db(), {{"device", "dev-1"}, "note.add", "token:t1", "{}"}, clock_.Now()));
  ExportFilter filter;
  filter.device = "dev-1";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{2, 4, 7}));
  filter.device = "dev-2";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{3, 8}));
  filter.action = "device.renew";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{8}));
  // Newest first, a page at a time.
  filter = {};
  filter.device = "dev-1";
  auto newest = NewestRecords(db(), filter, 2);
  ASSERT_OK(newest);
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].seq(), 7);
  EXPECT_EQ((*newest)[1].seq(), 4);
  auto page = ExportPageNewestFirst(db(), filter, ExportFormat::kJsonLines, 4, 10);
  ASSERT_OK(page);
  EXPECT_EQ(page->records, 1);
  EXPECT_EQ(page->next_after_seq, 2);
  EXPECT_FALSE(page->more);
}

TEST_F(ExportTest, FiltersCombine) {
  AppendSample();
  ExportFilter filter;
  filter.device = "dev-1";
  filter.actor = "system";
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{4}));
  filter = {};
  filter.action = "token.";
  filter.since = t0_ + hours(3);
  EXPECT_EQ(ExportedSeqs(filter), (Seqs{5}));
}

TEST_F(ExportTest, EmptyResultIsNothingOrTheCsvHeader) {
  AppendSample();
  ExportFilter filter;
  filter.actor = "user:nobody";
  int calls = 0;
  ASSERT_OK(Export(db(), filter, ExportFormat::kJsonLines, [&](std::string_view) {
    ++calls;
    return Status::Ok();
  }));
  EXPECT_EQ(calls, 0);
  auto csv = ExportText(filter, ExportFormat::kCsv);
  ASSERT_OK(csv);
  EXPECT_EQ(*csv, "seq,time,time_ms,actor,action,object,details,prev_hash,hash\r\n");
}

TEST_F(ExportTest, SinceNotBeforeUntilIsRefused) {
  AppendSample();
  ExportFilter filter;
  filter.since = t0_ + hours(3);
  filter.until = t0_ + hours(3);
  bool called = false;
  Status status = Export(db(), filter, ExportFormat::kCsv, [&](std::string_view) {
    called = true;
    return Status::Ok();
  });
  EXPECT_EQ(status.code(), Errc::kInvalidArgument);
  EXPECT_NE(status.message().find("must be before"), std::string::npos) << status.message();
  EXPECT_FALSE(called);
  EXPECT_EQ(ExportPage(db(), filter, ExportFormat::kCsv, 0, 10).status().code(),
            Errc::kInvalidArgument);
}

TEST_F(ExportTest, JsonLinesParseBackIntoTheStoredRecords) {
  AppendSample();
  auto text = ExportText({}, ExportFormat::kJsonLines);
  ASSERT_OK(text);
  ASSERT_EQ(text->back(), '\n');
  const std::vector<std::string> lines = Lines(*text);
  ASSERT_EQ(lines.size(), 6u);
  auto rows = db().Query(
      "SELECT seq, time_ms, actor, action, object, details, prev_hash, hash FROM audit_log "
      "ORDER BY seq");
  ASSERT_OK(rows);
  for (const std::string& line : lines) {
    ASSERT_TRUE(*(*rows)->Step());
    const Record stored = ReadRecord(**rows);
    auto parsed = ParseJsonLine(line);
    ASSERT_OK(parsed);
    const v1::AuditRecord& exported = *parsed;
    EXPECT_EQ(exported.seq(), stored.seq);
    EXPECT_EQ(exported.time_ms(), stored.time_ms);
    EXPECT_EQ(exported.time(), FormatRfc3339Millis(stored.time_ms));
    EXPECT_EQ(exported.actor(), stored.actor);
    EXPECT_EQ(exported.action(), stored.action);
    EXPECT_EQ(exported.object(), stored.object);
    EXPECT_EQ(exported.details(), stored.details);
    EXPECT_EQ(exported.prev_hash(), crypto::HexEncode(stored.prev_hash));
    EXPECT_EQ(exported.hash(), crypto::HexEncode(stored.hash));
  }
  EXPECT_NE(lines[0].find(R"("time":"2026-05-28T21:26:40.000Z")"), std::string::npos) << lines[0];
}

TEST_F(ExportTest, JsonLineDetailsAreAnObjectNotAStringInAString) {
  ASSERT_OK(Append(db(),
                   {{"user", "alice"},
                    "token.create",
                    "token:t1",
                    R"({"va":"lab","max_uses":3,"nested":{"a":[1,2]}})"},
                   clock_.Now()));
  auto text = ExportText({}, ExportFormat::kJsonLines);
  ASSERT_OK(text);
  EXPECT_NE(text->find(R"("details":{"va":"lab","max_uses":3,"nested":{"a":[1,2]}},"prev_hash":)"),
            std::string::npos)
      << *text;
  EXPECT_EQ(text->find(R"(\")"), std::string::npos) << "no escaped quotes left: " << *text;

  // Details edited into something that is not an object stay a string, and the line parses.
  Sql("UPDATE audit_log SET details = 'not json' WHERE seq = 1");
  text = ExportText({}, ExportFormat::kJsonLines);
  ASSERT_OK(text);
  EXPECT_NE(text->find(R"("details":"not json")"), std::string::npos) << *text;
  auto back = ParseJsonLine(Lines(*text)[0]);
  ASSERT_OK(back);
  EXPECT_EQ(back->details(), "not json");
  EXPECT_EQ(ParseJsonLine("{oops").status().code(), Errc::kInvalidArgument);
}

TEST_F(ExportTest, CsvQuotesCommasQuotesAndLineBreaks) {
  clock_.Set(TimePoint(std::chrono::milliseconds(1'780'000'000'123)));
  ASSERT_OK(Append(db(),
                   {{"user", "a,b"}, "note.add", "say \"hi\"\r\nbye\nnow", R"({"k":"v","n":1})"},
                   clock_.Now()));
  ASSERT_OK(Append(db(), {{"user", "plain"}, "note.add", "simple", "{}"}, clock_.Now()));
  auto head = CurrentHead(db());
  ASSERT_OK(head);
  auto csv = ExportText({}, ExportFormat::kCsv);
  ASSERT_OK(csv);

  std::string prev_of_2;
  {
    auto row = db().Query("SELECT hash FROM audit_log WHERE seq = 1");
    ASSERT_OK(row);
    ASSERT_TRUE(*(*row)->Step());
    prev_of_2 = crypto::HexEncode((*row)->ColumnBlob(0));
  }
  const std::string expected =
      "seq,time,time_ms,actor,action,object,details,prev_hash,hash\r\n"
      "1,2026-05-28T20:26:40.123Z,1780000000123,\"user:a,b\",note.add,"
      "\"say \"\"hi\"\"\r\nbye\nnow\",\"{\"\"k\"\":\"\"v\"\",\"\"n\"\":1}\"," +
      std::string(64, '0') + "," + prev_of_2 + "\r\n" +
      "2,2026-05-28T20:26:40.123Z,1780000000123,user:plain,note.add,simple,{}," + prev_of_2 + "," +
      crypto::HexEncode(head->hash) + "\r\n";
  EXPECT_EQ(*csv, expected);
}

TEST_F(ExportTest, StreamingExportOfManyRecordsUsesBoundedChunks) {
  // CSV keeps this test quick under the sanitizers; both formats share the streaming code, and
  // ConcatenatedPagesEqualTheStreamingExport covers JSON lines.
  constexpr int kRecords = 100'000;
  AppendMany(kRecords);
  size_t calls = 0;
  size_t total = 0;
  size_t max_chunk = 0;
  size_t lines = 0;
  std::string first_line;
  std::string last_line;
  ASSERT_OK(Export(db(), {}, ExportFormat::kCsv, [&](std::string_view chunk) {
    ++calls;
    total += chunk.size();
    max_chunk = std::max(max_chunk, chunk.size());
    lines += static_cast<size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    EXPECT_TRUE(chunk.ends_with("\r\n")) << "chunks hold whole lines";
    if (first_line.empty()) first_line = std::string(chunk.substr(0, chunk.find('\n')));
    const std::string_view without_newline = chunk.substr(0, chunk.size() - 2);
    last_line = std::string(without_newline.substr(without_newline.rfind('\n') + 1));
    return Status::Ok();
  }));
  EXPECT_EQ(lines, static_cast<size_t>(kRecords) + 1) << "the header and one line per record";
  EXPECT_LE(max_chunk, kExportChunkBytes);
  EXPECT_GE(calls, total / kExportChunkBytes) << "every chunk is nearly full";
  EXPECT_GT(calls, 100u);
  EXPECT_EQ(first_line, "seq,time,time_ms,actor,action,object,details,prev_hash,hash\r");
  EXPECT_TRUE(last_line.starts_with("100000,")) << last_line;
}

TEST_F(ExportTest, SinkErrorStopsTheExport) {
  AppendMany(5'000);
  int calls = 0;
  Status status = Export(db(), {}, ExportFormat::kCsv, [&](std::string_view) {
    return ++calls == 2 ? Unavailable("client went away") : Status::Ok();
  });
  EXPECT_EQ(status.code(), Errc::kUnavailable);
  EXPECT_EQ(status.message(), "client went away");
  EXPECT_EQ(calls, 2);
}

TEST_F(ExportTest, PagedExportReturnsEveryRecordExactlyOnce) {
  constexpr int kRecords = 2'345;
  AppendMany(kRecords);
  std::multiset<int64_t> seen;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    auto page = ExportPage(db(), {}, ExportFormat::kJsonLines, after, 100);
    ASSERT_OK(page);
    ++pages;
    ASSERT_LE(page->records, 100);
    for (const std::string& line : Lines(page->text)) {
      auto record = ParseJsonLine(line);
      ASSERT_OK(record);
      seen.insert(record->seq());
    }
    EXPECT_EQ(static_cast<int64_t>(Lines(page->text).size()), page->records);
    if (!page->more) break;
    ASSERT_GT(page->next_after_seq, after);
    after = page->next_after_seq;
  }
  EXPECT_EQ(pages, 24);
  ASSERT_EQ(seen.size(), static_cast<size_t>(kRecords));
  int64_t expected = 1;
  for (int64_t seq : seen) EXPECT_EQ(seq, expected++);
}

TEST_F(ExportTest, ConcatenatedPagesEqualTheStreamingExport) {
  AppendMany(1'000);
  for (ExportFormat format : {ExportFormat::kCsv, ExportFormat::kJsonLines}) {
    ExportFilter filter;
    filter.actor = "device:";
    auto streamed = ExportText(filter, format);
    ASSERT_OK(streamed);
    std::string paged;
    int64_t after = 0;
    bool more = true;
    while (more) {
      auto page = ExportPage(db(), filter, format, after, 37);
      ASSERT_OK(page);
      paged += page->text;
      after = page->next_after_seq;
      more = page->more;
    }
    EXPECT_EQ(paged, *streamed);
  }
}

TEST_F(ExportTest, LastPageIsEmptyAndSaysNoMore) {
  AppendMany(10);
  auto page = ExportPage(db(), {}, ExportFormat::kJsonLines, 10, 5);
  ASSERT_OK(page);
  EXPECT_EQ(page->records, 0);
  EXPECT_TRUE(page->text.empty());
  EXPECT_FALSE(page->more);
  EXPECT_EQ(page->next_after_seq, 10);
  page = ExportPage(db(), {}, ExportFormat::kJsonLines, 5, 5);
  ASSERT_OK(page);
  EXPECT_EQ(page->records, 5);
  EXPECT_FALSE(page->more) << "exactly the remaining records";
}

TEST_F(ExportTest, BadPageArgumentsAreRefused) {
  for (auto [after, max] :
       {std::pair<int64_t, int64_t>{-1, 10}, {0, 0}, {0, kMaxPageRecords + 1}}) {
    auto page = ExportPage(db(), {}, ExportFormat::kCsv, after, max);
    EXPECT_EQ(page.status().code(), Errc::kInvalidArgument) << after << " " << max;
  }
}

TEST_F(ExportTest, FormatNamesParse) {
  auto jsonl = ParseExportFormat("jsonl");
  ASSERT_OK(jsonl);
  EXPECT_EQ(*jsonl, ExportFormat::kJsonLines);
  auto csv = ParseExportFormat("csv");
  ASSERT_OK(csv);
  EXPECT_EQ(*csv, ExportFormat::kCsv);
  auto xml = ParseExportFormat("xml");
  EXPECT_EQ(xml.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(xml.status().message().find("jsonl or csv"), std::string::npos);
}

TEST_F(ExportTest, TamperedNonUtf8TextIsStillExported) {
  AppendSample();
  Sql("UPDATE audit_log SET object = CAST(x'ff41' AS TEXT) WHERE seq = 2");
  auto text = ExportText({}, ExportFormat::kJsonLines);
  ASSERT_OK(text);
  const std::vector<std::string> lines = Lines(*text);
  ASSERT_EQ(lines.size(), 6u) << "no record is dropped";
  auto record = ParseJsonLine(lines[1]);
  ASSERT_OK(record);
  EXPECT_EQ(record->object(), std::string("\xef\xbf\xbd") + "A") << "U+FFFD replaces the bad byte";
  auto csv = ExportText({}, ExportFormat::kCsv);
  ASSERT_OK(csv);
  EXPECT_NE(csv->find(std::string(",\xff") + "A,"), std::string::npos)
      << "CSV keeps the stored bytes";
}

}  // namespace
}  // namespace outpost::server::audit
