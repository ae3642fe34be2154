#pragma once

// Small helpers for putting untrusted or machine values into human messages. Internal to
// sync/bundle/.

#include <cstddef>
#include <string>
#include <string_view>

namespace outpost::sync {

// `text` with every byte outside printable ASCII replaced by '?' and cut to `max_chars`
// (marked with "..."), so that a garbled or hostile field cannot mangle a terminal or a log.
std::string Printable(std::string_view text, size_t max_chars = 80);

}  // namespace outpost::sync
