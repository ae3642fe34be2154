#include "common/csv.h"

#include <gtest/gtest.h>

namespace outpost::csv {
namespace {

TEST(CsvTest, PlainFieldsAsTheyAreAndOthersQuotedWithQuotesDoubled) {
  EXPECT_EQ(Row({"a", "", "b c"}), "a,,b c\r\n");
  EXPECT_EQ(Row({"x,y", "say \"hi\"", "two\nlines", "cr\r"}),
            "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\"\r\n");
  EXPECT_EQ(Row({}), "\r\n");
}

TEST(CsvTest, FormulasAreKeptOrNeutralisedAsAsked) {
  for (const std::string f : {"=1+1", "+1", "-1", "@SUM(A1)", "\tx"}) {
    EXPECT_EQ(Row({f}), f + "\r\n");
    EXPECT_EQ(Row({f}, Formulas::kNeutralise), "'" + f + "\r\n") << f;
  }
  // Inside quotes the apostrophe comes first, so the cell's text starts with it.
  EXPECT_EQ(Row({"=HYPERLINK(\"u\")"}, Formulas::kNeutralise), "\"'=HYPERLINK(\"\"u\"\")\"\r\n");
  EXPECT_EQ(Row({"\rx"}, Formulas::kNeutralise), "\"'\rx\"\r\n");
  // Only the first character counts.
  EXPECT_EQ(Row({"a=b", "1-2"}, Formulas::kNeutralise), "a=b,1-2\r\n");
}

}  // namespace
}  // namespace outpost::csv
