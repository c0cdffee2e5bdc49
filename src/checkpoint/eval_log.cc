#include "checkpoint/eval_log.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tzrec::checkpoint {

std::string EvalResultLine(int64_t global_step, const std::map<std::string, double>& metrics) {
  // Written like Python's json.dumps: ", " and ": " separators, NaN/Infinity
  // spelled as Python does, floats in shortest round-trip form.
  std::string out = "{\"global_step\": " + std::to_string(global_step);
  for (const auto& [name, value] : metrics) {
    const double v = static_cast<double>(static_cast<float>(value));
    std::string number;
    if (std::isnan(v)) {
      number = "NaN";
    } else if (std::isinf(v)) {
      number = v > 0 ? "Infinity" : "-Infinity";
    } else {
      number = nlohmann::json(v).dump();
    }
    out += ", " + nlohmann::json(name).dump() + ": " + number;
  }
  return out + "}";
}

void AppendEvalResult(const std::string& path, int64_t global_step,
                      const std::map<std::string, double>& metrics) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::ofstream out(path, std::ios::app);
  if (!out) Fail("cannot open eval log {} for appending", path);
  out << EvalResultLine(global_step, metrics) << "\n";
  if (!out) Fail("cannot write eval log {}", path);
}

std::vector<EvalRecord> ParseEvalLog(const std::string& text, const std::string& where) {
  std::vector<EvalRecord> records;
  std::istringstream in(text);
  std::string line_text;
  int line = 0;
  while (std::getline(in, line_text)) {
    ++line;
    if (line_text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::ordered_json parsed;
    try {
      parsed = nlohmann::ordered_json::parse(line_text);
    } catch (const nlohmann::json::parse_error&) {
      Fail("{}:{}: not a JSON line of the eval log: {}", where, line, line_text);
    }
    if (!parsed.is_object()) Fail("{}:{}: expected a JSON object, got: {}", where, line, line_text);
    auto step = parsed.find("global_step");
    if (step == parsed.end() || !step->is_number_integer()) {
      Fail("{}:{}: the entry has no integer \"global_step\": {}", where, line, line_text);
    }
    EvalRecord record;
    record.global_step = step->get<int64_t>();
    record.line = line;
    parsed.erase("global_step");
    record.metrics = std::move(parsed);
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace tzrec::checkpoint
