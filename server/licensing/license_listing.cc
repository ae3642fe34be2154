#include "server/licensing/license_listing.h"

#include "common/crypto/encoding.h"
#include "common/names.h"

namespace outpost::server::licensing {

Status CheckLicenseSearch(std::string_view search) {
  if (search.empty()) return Status::Ok();
  // The characters of VA names and tags: anything else cannot match, so it is a mistake.
  return CheckName(search, "query parameter 'q' (part of a virtual account name or license tag)",
                   kMaxLicenseSearchLength, "._:-",
                   "letters, digits, '.', '_', ':' and '-'; leave it out to list every license");
}

std::string EncodeLicenseCursor(std::string_view va, std::string_view tag) {
  std::string body(va);
  body += '\0';
  body += tag;
  return crypto::Base64UrlEncode(body);
}

Result<std::pair<std::string, std::string>> DecodeLicenseCursor(std::string_view cursor) {
  const Status refused = InvalidArgument(
      "query parameter 'after' is not the next_after of a licenses page; pass it unchanged, or "
      "leave it out to start again");
  auto decoded = crypto::Base64UrlDecode(cursor);
  if (!decoded.ok()) return refused;
  const size_t nul = decoded->find('\0');
  if (nul == std::string::npos) return refused;
  std::pair<std::string, std::string> position(decoded->substr(0, nul), decoded->substr(nul + 1));
  if (!ValidateVaName(position.first).ok() || !ValidateTag(position.second).ok()) return refused;
  return position;
}

}  // namespace outpost::server::licensing
