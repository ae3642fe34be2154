#pragma once

// Shared by the libFuzzer targets in tests/fuzz: fixed test keys (so signature checks are
// reached, and pass or fail deterministically) and a check that crashes loudly, which is how a
// fuzz target reports a broken property.

#include <google/protobuf/stubs/logging.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/crypto/keys.h"

namespace outpost::fuzz {

// Protobuf logs every string field that is not UTF-8 on parsing: millions of lines that slow the
// fuzzer and bury its own output. Silenced once per process (an inline variable is initialised
// once however many files include this header).
inline const bool kProtobufLogsSilenced = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();

// Aborts with `what` when `condition` is false: libFuzzer records the input as a crash.
inline void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

// An Ed25519 key from a fixed seed: the "trusted" key of the bundle and authorization targets.
// The same bytes every run, so a crash reproduces from its input alone.
inline const crypto::PrivateKey& TestKey() {
  static const crypto::PrivateKey* key = [] {
    auto k = crypto::PrivateKey::FromRawEd25519(std::string(32, '\x42'));
    Check(k.ok(), "test key");
    return new crypto::PrivateKey(std::move(*k));
  }();
  return *key;
}

// A second fixed key, trusted by nobody: bundles it signs must be refused.
inline const crypto::PrivateKey& OtherKey() {
  static const crypto::PrivateKey* key = [] {
    auto k = crypto::PrivateKey::FromRawEd25519(std::string(32, '\x17'));
    Check(k.ok(), "other key");
    return new crypto::PrivateKey(std::move(*k));
  }();
  return *key;
}

}  // namespace outpost::fuzz
