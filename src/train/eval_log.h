// The eval log upstream's train_eval appends to: model_dir/train_eval_result_v2.txt,
// one JSON object per line, {"global_step": N, <metrics sorted by name>}.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace tzrec::train {

inline constexpr char kEvalResultFile[] = "train_eval_result_v2.txt";

// Appends one line to `path` (creating it and its directory). Values are
// written as the float32 numbers upstream's metric tensors hold.
void AppendEvalResult(const std::string& path, int64_t global_step,
                      const std::map<std::string, double>& metrics);

// The line AppendEvalResult writes, without the newline.
std::string EvalResultLine(int64_t global_step, const std::map<std::string, double>& metrics);

}  // namespace tzrec::train
