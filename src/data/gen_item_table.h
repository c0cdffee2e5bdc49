// The item table a negative sampler draws from, for `tzrec gen_data`: one row
// per distinct item of the generated rows, in upstream's local format
// (negative_sampler.h): "id:int64\tweight:float\tattrs:string", weight 1,
// attrs the item's attr_fields values joined by attr_delimiter.
#pragma once

#include <string>

#include "config/protos/pipeline.pb.h"
#include "data/csv_reader.h"

namespace tzrec::data {

// Writes the table of `config.data_config().negative_sampler` from the rows of
// the CSV file `rows_path` to `out_path` (replaced whole, never half-written).
// Returns the number of items.
int64_t WriteItemTable(const protos::EasyRecConfig& config, const std::string& rows_path,
                       const CsvOptions& csv, const std::string& out_path);

}  // namespace tzrec::data
