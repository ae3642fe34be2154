#pragma once

#include <gtest/gtest.h>

#include "common/status.h"

namespace outpost::testing {

// EXPECT_TRUE(IsOk(Foo())) prints the Status when it fails. Unlike ASSERT_OK/EXPECT_OK of
// test_util.h, which keep a reference to the status of their argument, it is safe with
// temporaries such as `Validate(c)`: the argument lives until the end of the assertion.
inline ::testing::AssertionResult IsOk(const Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.ToString();
}
template <typename T>
::testing::AssertionResult IsOk(const Result<T>& result) {
  return IsOk(result.status());
}

}  // namespace outpost::testing
