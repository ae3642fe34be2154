#include "common/csv.h"

namespace outpost::csv {

void AppendField(std::string_view field, std::string& out, Formulas formulas) {
  const bool formula = formulas == Formulas::kNeutralise && !field.empty() &&
                       std::string_view("=+-@\t\r").find(field.front()) != std::string_view::npos;
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    if (formula) out.push_back('\'');
    out.append(field);
    return;
  }
  out.push_back('"');
  if (formula) out.push_back('\'');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string Row(const std::vector<std::string>& fields, Formulas formulas) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendField(fields[i], out, formulas);
  }
  out.append("\r\n");
  return out;
}

}  // namespace outpost::csv
