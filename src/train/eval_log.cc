#include "train/eval_log.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tzrec::train {

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

}  // namespace tzrec::train
