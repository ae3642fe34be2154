#pragma once

// What every bundle target does with a SignedBundle it managed to parse: everything a satellite,
// central or `outpost bundle inspect` does with one before trusting it, with the fixed test key
// as the trusted key (so the signature check runs and, for fuzzed bytes, fails).

#include "sync/bundle/armor.h"
#include "sync/bundle/codec.h"
#include "sync/bundle/inspect.h"
#include "tests/fuzz/fuzz_util.h"

namespace outpost::fuzz {

inline void ExerciseParsedBundle(const sync::SignedBundle& bundle) {
  const crypto::PublicKey& trusted = TestKey().public_key();
  for (auto kind : {v1::BUNDLE_KIND_ENROLLMENT, v1::BUNDLE_KIND_SYNC_REQUEST,
                    v1::BUNDLE_KIND_SYNC_RESPONSE, v1::BUNDLE_KIND_UNSPECIFIED}) {
    auto opened = sync::OpenBundle(bundle, kind, trusted);
    if (opened.ok()) Check(opened->kind() == kind, "OpenBundle returned another kind");
  }
  (void)sync::OpenEnrollmentBundle(bundle);
  auto payload = sync::ParseUnverifiedPayload(bundle);
  (void)sync::InspectBundle(bundle, &trusted);
  (void)sync::InspectBundle(bundle, nullptr);
  (void)sync::DescribeBundle(bundle, &trusted);
  (void)sync::BundleToJson(bundle, nullptr, /*pretty=*/false);

  // What was parsed survives its own serialization and armor (operators re-export files).
  const std::string bytes = sync::SerializeBundle(bundle);
  auto again = sync::ParseBundleBytes(bytes);
  Check(again.ok(), "a parsed bundle does not parse after SerializeBundle");
  const auto kind = payload.ok() ? payload->kind() : v1::BUNDLE_KIND_UNSPECIFIED;
  const std::string armored = sync::Armor(bundle, kind);
  auto dearmored = sync::Dearmor(armored);
  if (!dearmored.ok()) {
    std::fprintf(stderr, "%s\n", dearmored.status().message().c_str());
  }
  Check(dearmored.ok(), "Armor output is not read back by Dearmor");
  Check(sync::SerializeBundle(*dearmored) == bytes, "Armor round trip changed the bundle");
}

}  // namespace outpost::fuzz
