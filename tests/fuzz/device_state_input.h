#pragma once

// fuzz_device_state's input layout, shared with make_seeds: a mode byte, then parts separated by
// kPartSeparator.
//   'n' (network): RegisterResponse, SignedAuthorization (binary protobuf, as a satellite answers)
//   's' (state directory): the files of kStateFiles, in that order (a missing part: no file)

#include <string>
#include <string_view>
#include <vector>

#include "client/device_state.h"

namespace outpost::fuzz {

inline constexpr std::string_view kPartSeparator = "\n#--part--#\n";
inline constexpr const char* kStateFiles[] = {client::kRegistrationFile,  client::kKeyFile,
                                              client::kCertificateFile,   client::kCaChainFile,
                                              client::kServerCaFile,      client::kServerUrlFile,
                                              client::kAuthorizationFile, client::kReleasedFile};
// The time every check runs at (2027-01-15), so that an input means the same on every run.
inline constexpr int64_t kDeviceFuzzNow = 1'800'000'000;

inline std::vector<std::string> SplitParts(std::string_view input) {
  std::vector<std::string> parts;
  while (true) {
    const size_t at = input.find(kPartSeparator);
    parts.emplace_back(input.substr(0, at));
    if (at == std::string_view::npos) return parts;
    input.remove_prefix(at + kPartSeparator.size());
  }
}

inline std::string JoinParts(char mode, const std::vector<std::string>& parts) {
  std::string out(1, mode);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += kPartSeparator;
    out += parts[i];
  }
  return out;
}

}  // namespace outpost::fuzz
