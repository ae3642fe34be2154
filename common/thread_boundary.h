#pragma once

// Exceptions stop at every thread boundary (STYLE.md): a pool's task, the writer's units and
// hooks, the background threads. CatchAtBoundary runs `f` and turns anything it throws into
// kInternal naming `what`, so that a bug costs one request or one round of background work,
// never the process (std::terminate).
//
// Thread-safety: pure.

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/status.h"

namespace outpost {

// `f` returns Status, or void (then Ok when it returns).
template <typename F>
Status CatchAtBoundary(std::string_view what, F&& f) noexcept {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      f();
      return Status::Ok();
    } else {
      return f();
    }
  } catch (const std::exception& e) {
    return Internal(std::string(what) + " threw an exception: " + e.what());
  } catch (...) {
    return Internal(std::string(what) + " threw an exception that is not a std::exception");
  }
}

}  // namespace outpost
