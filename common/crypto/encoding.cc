#include "common/crypto/encoding.h"

#include <array>
#include <cstdint>

namespace outpost::crypto {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reverse lookup table: 0..63 for alphabet characters, -1 for everything else.
std::array<int8_t, 256> ReverseTable(const char* alphabet) {
  std::array<int8_t, 256> table;
  table.fill(-1);
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(alphabet[i])] = int8_t(i);
  return table;
}

std::string Base64EncodeWith(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                       uint32_t(uint8_t(bytes[i + 2]));
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
  if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
  out += alphabet[(v >> 18) & 63];
  out += alphabet[(v >> 12) & 63];
  if (rest == 2) out += alphabet[(v >> 6) & 63];
  if (pad) out.append(rest == 1 ? "==" : "=");
  return out;
}

// Decodes unpadded text (padding is stripped and checked by the callers).
Result<std::string> Base64DecodeWith(std::string_view text, const std::array<int8_t, 256>& table,
                                     std::string_view name) {
  if (text.size() % 4 == 1) {
    return InvalidArgument("invalid " + std::string(name) + ": length " +
                           std::to_string(text.size()) + " is not a possible encoded length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int8_t v = table[static_cast<unsigned char>(text[i])];
    if (v < 0) {
      return InvalidArgument("invalid " + std::string(name) + ": unexpected character at offset " +
                             std::to_string(i));
    }
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  // The bits left over after the last whole byte must be zero, or two different texts would
  // decode to the same bytes.
  if ((acc & ((1u << bits) - 1)) != 0) {
    return InvalidArgument("invalid " + std::string(name) +
                           ": non-zero padding bits in the last character (not canonical)");
  }
  return out;
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHexDigits[c >> 4];
    out += kHexDigits[c & 0xf];
  }
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return InvalidArgument("invalid hex: odd length " + std::to_string(hex.size()));
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgument("invalid hex: non-hex character at offset " +
                             std::to_string(hi < 0 ? i : i + 1));
    }
    out += char(hi << 4 | lo);
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  return Base64EncodeWith(bytes, kBase64Std, /*pad=*/true);
}

Result<std::string> Base64Decode(std::string_view text) {
  static const std::array<int8_t, 256> kTable = ReverseTable(kBase64Std);
  if (text.size() % 4 != 0) {
    return InvalidArgument("invalid base64: length " + std::to_string(text.size()) +
                           " is not a multiple of 4");
  }
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  // A third '=' (or one elsewhere) is caught below as an unexpected character.
  return Base64DecodeWith(text.substr(0, text.size() - padding), kTable, "base64");
}

std::string Base64UrlEncode(std::string_view bytes) {
  return Base64EncodeWith(bytes, kBase64Url, /*pad=*/false);
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  static const std::array<int8_t, 256> kTable = ReverseTable(kBase64Url);
  return Base64DecodeWith(text, kTable, "base64url");
}

}  // namespace outpost::crypto
