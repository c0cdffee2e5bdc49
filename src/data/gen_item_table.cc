#include "data/gen_item_table.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "common/error.h"

namespace tzrec::data {

int64_t WriteItemTable(const protos::EasyRecConfig& config, const std::string& rows_path,
                       const CsvOptions& csv, const std::string& out_path) {
  const protos::NegativeSampler& sampler = config.data_config().negative_sampler();
  CsvReader reader(rows_path, csv);
  const std::vector<std::string>& names = reader.column_names();
  auto column = [&](const std::string& name, const char* field) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      FailConfig("data_config.negative_sampler.{} '{}' is not a column gen_data writes", field, name);
    }
    return static_cast<size_t>(it - names.begin());
  };
  const size_t id_column = column(sampler.item_id_field(), "item_id_field");
  std::vector<size_t> attr_columns;
  for (const std::string& attr : sampler.attr_fields()) attr_columns.push_back(column(attr, "attr_fields"));
  const std::string temp_path = out_path + ".tmp";
  std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
  if (!out) Fail("cannot write {}", temp_path);
  out << "id:int64\tweight:float\tattrs:string\n";
  std::unordered_set<std::string> seen;
  RowBatch rows;
  while (reader.ReadRows(4096, &rows) > 0) {
    for (int64_t r = 0; r < rows.num_rows; ++r) {
      std::string id(rows.Field(r, id_column));
      if (!seen.insert(id).second) continue;
      out << id << "\t1\t";
      for (size_t a = 0; a < attr_columns.size(); ++a) {
        if (a > 0) out << sampler.attr_delimiter();
        out << rows.Field(r, attr_columns[a]);
      }
      out << '\n';
    }
  }
  out.close();
  if (!out) Fail("cannot write {}", temp_path);
  std::error_code ec;
  std::filesystem::rename(temp_path, out_path, ec);
  if (ec) Fail("cannot move {} to {}: {}", temp_path, out_path, ec.message());
  return static_cast<int64_t>(seen.size());
}

}  // namespace tzrec::data
