#pragma once

// CSV (RFC 4180) fields and rows, one way for every CSV Outpost writes: the audit export and the
// CLI's `--csv` reports (licenses, devices, reservations).
//
// Thread-safety: pure functions.

#include <string>
#include <string_view>
#include <vector>

namespace outpost::csv {

enum class Formulas {
  // The field as it is: for files whose every byte matters (the audit export, which a reader
  // may check against the hash chain).
  kKeep,
  // A field that a spreadsheet would run as a formula (it starts with '=', '+', '-', '@', a tab
  // or a carriage return) gets a leading apostrophe, so that text a device chose (a hostname,
  // a UDI) cannot become a formula in the operator's spreadsheet (OWASP "CSV injection"). For
  // reports meant to be opened in one.
  kNeutralise,
};

// Appends `field` to `out`, quoted when it holds a comma, a quote, CR or LF (quotes doubled).
void AppendField(std::string_view field, std::string& out, Formulas formulas = Formulas::kKeep);

// The fields joined by commas, ending in CRLF (RFC 4180's line break).
std::string Row(const std::vector<std::string>& fields, Formulas formulas = Formulas::kKeep);

}  // namespace outpost::csv
