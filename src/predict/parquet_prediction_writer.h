// Predictions as Parquet, as upstream's ParquetWriter writes them:
// <output dir>/part-0.parquet, one row group per batch; columns are the
// model's outputs (scalar outputs as float32/float64/int64/bool columns,
// vector outputs such as tower embeddings as list<float32>), then the
// reserved input columns with their input types (strings when the input was
// CSV).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "predict/prediction_writer.h"

namespace tzrec::predict {

inline constexpr char kParquetPartFile[] = "part-0.parquet";

std::unique_ptr<PredictionWriter> NewParquetPredictionWriter(const std::string& output_dir,
                                                             std::vector<std::string> output_columns,
                                                             std::vector<std::string> reserved_columns);

}  // namespace tzrec::predict
