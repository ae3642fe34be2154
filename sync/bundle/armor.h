#pragma once

// Bundles as files and as text for copy and paste (DESIGN.md section 6, "Files").
//
// A bundle file holds either the serialized SignedBundle (binary) or its armored form:
//
//   -----BEGIN OUTPOST SYNC REQUEST-----
//   <base64 (RFC 4648, with padding) of the serialized SignedBundle, 64 characters a line>
//   -----END OUTPOST SYNC REQUEST-----
//
// with the label ENROLLMENT, SYNC REQUEST or SYNC RESPONSE (BUNDLE when the kind is not
// known). Readers tell the two apart by the BEGIN line and accept what copy and paste does to
// text: CRLF line endings, whitespace around lines, blank lines, lines of any length. They are
// strict about the rest: a known label, the same on BEGIN and END, nothing but whitespace
// before BEGIN or after END, canonical base64, and a label that agrees with the payload's kind.
// The label is a convenience for people; only OpenBundle decides what a bundle is.
//
// Thread-safety: the functions may be called concurrently (on different paths).
// Errors: as in codec.h (kPayloadTooLarge, kInvalidArgument "... is not an Outpost bundle
// (truncated or garbled: ...)"), plus the file errors of common/crypto/secure_file.h. Every
// message names its source: the file or the `source` argument.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/crypto/secure_file.h"
#include "common/status.h"
#include "sync/bundle/codec.h"

namespace outpost::sync {

// "ENROLLMENT", "SYNC REQUEST", "SYNC RESPONSE"; "BUNDLE" for any other kind.
std::string_view ArmorLabel(BundleKind kind);

// The armored text of `bundle`, labelled for `kind`, with "\n" line endings and a final newline.
std::string Armor(const SignedBundle& bundle, BundleKind kind);

// True if `data` starts, after whitespace, with "-----BEGIN " (a binary bundle never does).
bool LooksArmored(std::string_view data);

// Parses armored text. Text longer than ArmoredSizeLimit(max_bytes), or whose base64 would
// decode to more than `max_bytes`, is kPayloadTooLarge before anything is decoded.
Result<SignedBundle> Dearmor(std::string_view text, std::string_view source = "input",
                             size_t max_bytes = kMaxBundleBytes);

// Binary or armored, whichever `data` is (see LooksArmored).
Result<SignedBundle> DecodeBundle(std::string_view data, std::string_view source = "input",
                                  size_t max_bytes = kMaxBundleBytes);

// The largest armored text accepted for bundles of at most `max_bytes`: room for base64, line
// breaks and the whitespace that copy and paste adds.
size_t ArmoredSizeLimit(size_t max_bytes);

// Reads a bundle file, binary or armored. The file's size is checked before it is read.
Result<SignedBundle> ReadBundleFile(const std::filesystem::path& path,
                                    size_t max_bytes = kMaxBundleBytes);

// Writes `bundle` to `path` (armored, labelled for `kind`, if `armor`), atomically, with mode
// 0600 for enrollment bundles (they carry the one-time enrollment secret) and 0644 otherwise.
// By default an existing file is left untouched (kAlreadyExists).
Status WriteBundleFile(const std::filesystem::path& path, const SignedBundle& bundle,
                       BundleKind kind, bool armor,
                       crypto::IfExists if_exists = crypto::IfExists::kFail);

}  // namespace outpost::sync
