#pragma once

// Helpers shared by the SQLite tests.

#include <future>
#include <latch>
#include <memory>
#include <utility>

#include "common/sqlite/writer.h"
#include "common/status.h"
#include "tests/testing/test_util.h"

namespace outpost::sqlite::testing {

// Holds the writer thread inside a unit of work: the unit counts `entered` down, then waits for
// `release`. Work submitted after `entered` is known to queue behind it, so the next batch's
// contents are decided by the test, not by thread timing.
struct Gate {
  std::latch entered{1};
  std::latch release{1};

  Writer::Work Hold() {
    return [this](Connection&) {
      entered.count_down();
      release.wait();
      return Status::Ok();
    };
  }
};

// A Done that records its Status, and the future to read it from.
inline std::pair<Writer::Done, std::future<Status>> CaptureDone() {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> future = promise->get_future();
  return {[promise](const Status& status) { promise->set_value(status); }, std::move(future)};
}

}  // namespace outpost::sqlite::testing
