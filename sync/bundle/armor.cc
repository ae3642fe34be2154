#include "sync/bundle/armor.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>

#include "common/crypto/encoding.h"
#include "sync/bundle/display.h"

namespace outpost::sync {
namespace {

constexpr std::string_view kBeginPrefix = "-----BEGIN ";
constexpr std::string_view kEndPrefix = "-----END ";
constexpr std::string_view kDashes = "-----";
constexpr std::string_view kOutpost = "OUTPOST ";
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kSpace = " \t\r\f\v";
constexpr size_t kLineLength = 64;

constexpr std::array<BundleKind, 4> kLabelledKinds = {
    v1::BUNDLE_KIND_ENROLLMENT, v1::BUNDLE_KIND_SYNC_REQUEST, v1::BUNDLE_KIND_SYNC_RESPONSE,
    v1::BUNDLE_KIND_UNSPECIFIED};

std::string_view Trim(std::string_view s) {
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// Windows editors may start a text file with a byte order mark.
std::string_view SkipBom(std::string_view s) {
  if (s.substr(0, kUtf8Bom.size()) == kUtf8Bom) s.remove_prefix(kUtf8Bom.size());
  return s;
}

// The kind named by the label of a BEGIN or END line ("SYNC REQUEST" in
// "-----BEGIN OUTPOST SYNC REQUEST-----"), or nullopt if the line is not of that form.
std::optional<BundleKind> KindOfLabel(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size() + kOutpost.size() + kDashes.size() ||
      line.substr(0, prefix.size()) != prefix ||
      line.substr(line.size() - kDashes.size()) != kDashes) {
    return std::nullopt;
  }
  std::string_view label = line.substr(prefix.size());
  label.remove_suffix(kDashes.size());
  if (label.substr(0, kOutpost.size()) != kOutpost) return std::nullopt;
  label.remove_prefix(kOutpost.size());
  for (const BundleKind kind : kLabelledKinds) {
    if (label == ArmorLabel(kind)) return kind;
  }
  return std::nullopt;
}

Status Garbled(std::string_view source, std::string_view detail) {
  return InvalidArgument(std::string(source) + " is not an Outpost bundle (truncated or garbled: " +
                         std::string(detail) + ")");
}

}  // namespace

std::string_view ArmorLabel(BundleKind kind) {
  switch (kind) {
    case v1::BUNDLE_KIND_ENROLLMENT:
      return "ENROLLMENT";
    case v1::BUNDLE_KIND_SYNC_REQUEST:
      return "SYNC REQUEST";
    case v1::BUNDLE_KIND_SYNC_RESPONSE:
      return "SYNC RESPONSE";
    default:
      return "BUNDLE";
  }
}

std::string Armor(const SignedBundle& bundle, BundleKind kind) {
  const std::string label = "OUTPOST " + std::string(ArmorLabel(kind));
  const std::string base64 = crypto::Base64Encode(SerializeBundle(bundle));
  std::string out;
  out.reserve(base64.size() + base64.size() / kLineLength + 2 * label.size() + 40);
  out.append(kBeginPrefix).append(label).append(kDashes).push_back('\n');
  for (size_t i = 0; i < base64.size(); i += kLineLength) {
    out.append(base64, i, kLineLength).push_back('\n');
  }
  out.append(kEndPrefix).append(label).append(kDashes).push_back('\n');
  return out;
}

bool LooksArmored(std::string_view data) {
  data = SkipBom(data);
  const size_t first = data.find_first_not_of(" \t\r\n\f\v");
  return first != std::string_view::npos && data.substr(first, kBeginPrefix.size()) == kBeginPrefix;
}

size_t ArmoredSizeLimit(size_t max_bytes) {
  constexpr size_t kSlack = size_t{64} << 10;
  if (max_bytes > (SIZE_MAX - kSlack) / 2) return SIZE_MAX;
  // Base64 is 4/3 of the bytes; the rest is line breaks (2 per 64 characters with CRLF) and
  // whitespace that copy and paste adds.
  return 2 * max_bytes + kSlack;
}

Result<SignedBundle> Dearmor(std::string_view text, std::string_view source, size_t max_bytes) {
  if (text.size() > ArmoredSizeLimit(max_bytes)) {
    return Status(Errc::kPayloadTooLarge,
                  std::string(source) + " is " + std::to_string(text.size()) +
                      " bytes of armored text, more than the limit of " +
                      std::to_string(ArmoredSizeLimit(max_bytes)) + " (for bundles of at most " +
                      std::to_string(max_bytes) + " bytes); is it the right file?");
  }
  text = SkipBom(text);
  enum class Stage { kBeforeBegin, kBody, kAfterEnd } stage = Stage::kBeforeBegin;
  BundleKind label_kind = v1::BUNDLE_KIND_UNSPECIFIED;
  std::string base64;
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = Trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;
    if (line.empty()) continue;
    const auto where = [&] { return "line " + std::to_string(line_number); };
    switch (stage) {
      case Stage::kBeforeBegin: {
        auto kind = KindOfLabel(line, kBeginPrefix);
        if (!kind) {
          return Garbled(source,
                         where() + " is not an OUTPOST BEGIN line: '" + Printable(line, 60) + "'");
        }
        label_kind = *kind;
        stage = Stage::kBody;
        break;
      }
      case Stage::kBody:
        if (line.substr(0, kDashes.size()) == kDashes) {
          auto kind = KindOfLabel(line, kEndPrefix);
          if (!kind) {
            return Garbled(source,
                           where() + " is not an OUTPOST END line: '" + Printable(line, 60) + "'");
          }
          if (*kind != label_kind) {
            return Garbled(source, "it begins as " + std::string(ArmorLabel(label_kind)) +
                                       " but ends as " + std::string(ArmorLabel(*kind)));
          }
          stage = Stage::kAfterEnd;
          break;
        }
        base64.append(line);
        break;
      case Stage::kAfterEnd:
        return Garbled(source, "text after the END line, at " + where());
    }
  }
  if (stage == Stage::kBeforeBegin) return Garbled(source, "no BEGIN line");
  if (stage == Stage::kBody) return Garbled(source, "no END line");
  // The decoded size follows from the length, so a bundle too large is refused undecoded.
  const size_t padding = base64.ends_with("==") ? 2 : base64.ends_with('=') ? 1 : 0;
  const size_t whole = base64.size() / 4 * 3;
  const size_t decoded_size = whole - std::min(padding, whole);
  if (decoded_size > max_bytes) {
    return Status(Errc::kPayloadTooLarge,
                  std::string(source) + " holds a bundle of " + std::to_string(decoded_size) +
                      " bytes, more than the limit of " + std::to_string(max_bytes) +
                      " bytes; is it the right file?");
  }
  auto bytes = crypto::Base64Decode(base64);
  if (!bytes.ok()) {
    return Garbled(source, "bad base64 between BEGIN and END: " + bytes.status().message());
  }
  OUTPOST_ASSIGN_OR_RETURN(SignedBundle bundle, ParseBundleBytes(*bytes, source, max_bytes));
  if (label_kind != v1::BUNDLE_KIND_UNSPECIFIED) {
    if (auto claimed = ParseUnverifiedPayload(bundle);
        claimed.ok() && claimed->kind() != label_kind && !DomainFor(claimed->kind()).empty()) {
      return Garbled(source, "it is armored as " + std::string(ArmorLabel(label_kind)) +
                                 " but holds a bundle of kind " +
                                 std::string(ArmorLabel(claimed->kind())));
    }
  }
  return bundle;
}

Result<SignedBundle> DecodeBundle(std::string_view data, std::string_view source,
                                  size_t max_bytes) {
  if (LooksArmored(data)) return Dearmor(data, source, max_bytes);
  return ParseBundleBytes(data, source, max_bytes);
}

Result<SignedBundle> ReadBundleFile(const std::filesystem::path& path, size_t max_bytes) {
  const size_t file_limit = ArmoredSizeLimit(max_bytes);
  // Refused before reading: a wrong file (a disk image, a log) must not be loaded into memory.
  // A file that cannot be stat'ed is left to ReadSmallFile, whose errors say why.
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > file_limit) {
    return Status(Errc::kPayloadTooLarge, path.string() + " is " + std::to_string(size) +
                                              " bytes, more than a bundle can be (at most " +
                                              std::to_string(max_bytes) + " bytes, or " +
                                              std::to_string(file_limit) +
                                              " bytes of armored text); is it the right file?");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string data, crypto::ReadSmallFile(path, file_limit));
  return DecodeBundle(data, path.string(), max_bytes);
}

Status WriteBundleFile(const std::filesystem::path& path, const SignedBundle& bundle,
                       BundleKind kind, bool armor, crypto::IfExists if_exists) {
  using std::filesystem::perms;
  const perms mode =
      kind == v1::BUNDLE_KIND_ENROLLMENT
          ? perms::owner_read | perms::owner_write
          : perms::owner_read | perms::owner_write | perms::group_read | perms::others_read;
  return crypto::WriteFileAtomically(path, armor ? Armor(bundle, kind) : SerializeBundle(bundle),
                                     mode, if_exists);
}

}  // namespace outpost::sync
