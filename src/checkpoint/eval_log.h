// The eval log of a model_dir, model_dir/train_eval_result_v2.txt, as
// upstream's train_eval appends to it: one JSON object per line,
// {"global_step": N, <metrics sorted by name>}. Written by training and eval,
// read by the best-checkpoint choice (checkpoint_choice.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tzrec::checkpoint {

inline constexpr char kEvalResultFile[] = "train_eval_result_v2.txt";

// Appends one line to `path` (creating it and its directory). Values are
// written as the float32 numbers upstream's metric tensors hold.
void AppendEvalResult(const std::string& path, int64_t global_step,
                      const std::map<std::string, double>& metrics);

// The line AppendEvalResult writes, without the newline.
std::string EvalResultLine(int64_t global_step, const std::map<std::string, double>& metrics);

// One line of the eval log: {"global_step": N, "<metric>": value, ...}.
struct EvalRecord {
  int64_t global_step = 0;
  int line = 0;                    // 1-based line in the file
  nlohmann::ordered_json metrics;  // the other keys, in file order
};

// The entries of an eval log's text; `where` names it in errors. Blank lines
// are skipped; a line that is not a JSON object with an integer global_step
// is an Error naming the log and line.
std::vector<EvalRecord> ParseEvalLog(const std::string& text, const std::string& where);

}  // namespace tzrec::checkpoint
