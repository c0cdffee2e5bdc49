#include "serve/item_table.h"

#include <fmt/format.h>

#include "common/error.h"
#include "data/batch_iterator.h"
#include "data/csv_reader.h"
#include "data/parquet_reader.h"
#include "data/row_reader.h"

namespace tzrec::serve {

std::unique_ptr<ItemTable> ItemTable::Load(const std::string& path, const std::string& id_field,
                                           const std::vector<std::string>& fg_inputs) {
  auto table = std::make_unique<ItemTable>();
  data::CsvOptions csv;
  csv.with_header = true;
  data::ParquetOptions parquet;
  parquet.columns = fg_inputs;
  parquet.columns.push_back(id_field);
  for (const std::string& file : data::ExpandInputPath(path)) {
    table->files_.push_back(file);
    std::unique_ptr<data::RowReader> reader = data::OpenRowReader(file, false, csv, parquet);
    data::RowBatch batch;
    int id_column = -1;
    std::vector<std::pair<size_t, std::vector<std::string>*>> kept;
    while (reader->ReadRows(8192, &batch) > 0) {
      if (id_column < 0) {
        id_column = batch.ColumnIndex(id_field);
        if (id_column < 0) {
          FailConfig("--item_feature_path: {} has no column '{}' (--item_id_field)", file, id_field);
        }
        for (const std::string& name : fg_inputs) {
          const int index = batch.ColumnIndex(name);
          if (index < 0) continue;
          std::vector<std::string>& values = table->columns_[name];
          // A column earlier files lacked: "" for their rows.
          values.resize(table->origins_.size());
          kept.emplace_back(static_cast<size_t>(index), &values);
        }
      }
      for (int64_t r = 0; r < batch.num_rows; ++r) {
        const Origin origin{static_cast<uint32_t>(table->files_.size() - 1), batch.line_numbers[r]};
        std::string id(batch.Field(r, static_cast<size_t>(id_column)));
        auto [it, inserted] = table->rows_.emplace(std::move(id), table->size());
        if (!inserted) {
          Fail("--item_feature_path: item id '{}' appears twice, at {} and {}", it->first,
               table->Describe(table->origins_[static_cast<size_t>(it->second)]),
               table->Describe(origin));
        }
        table->origins_.push_back(origin);
        for (auto& [index, values] : kept) values->emplace_back(batch.Field(r, index));
      }
    }
  }
  // A column only some files have: pad the rows of the others with "".
  for (auto& [name, values] : table->columns_) values.resize(table->origins_.size());
  return table;
}

std::string ItemTable::Describe(const Origin& origin) const {
  return fmt::format("{}:{}", files_[origin.file], origin.line);
}

int64_t ItemTable::Find(const std::string& item_id) const {
  auto it = rows_.find(item_id);
  return it == rows_.end() ? -1 : it->second;
}

const std::vector<std::string>* ItemTable::Column(const std::string& column) const {
  auto it = columns_.find(column);
  return it == columns_.end() ? nullptr : &it->second;
}

}  // namespace tzrec::serve
