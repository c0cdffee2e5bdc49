// Item features by item id, the local stand-in for the Processor's
// FeatureStore: callers that send only item ids (PAI-REC does) get the
// features FG needs from here. Loaded once at start from CSV (with a header)
// or Parquet files: a file, a directory of part files, or a comma-separated
// list or glob, as predict's input. Only the columns FG reads are kept.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace tzrec::serve {

class ItemTable {
 public:
  // ConfigError naming the file when it lacks `id_field`, Error naming both
  // places when an id appears twice. Columns of `fg_inputs` the files lack
  // are simply absent (FG takes them from the request or its defaults).
  static std::unique_ptr<ItemTable> Load(const std::string& path, const std::string& id_field,
                                         const std::vector<std::string>& fg_inputs);

  // The row holding `item_id`, or -1.
  int64_t Find(const std::string& item_id) const;
  // The values of `column`, one per row; nullptr when the table lacks it.
  const std::vector<std::string>* Column(const std::string& column) const;
  int64_t size() const { return static_cast<int64_t>(origins_.size()); }

 private:
  // Where a row was read, for errors.
  struct Origin {
    uint32_t file = 0;  // index in files_
    int64_t line = 0;
  };
  std::string Describe(const Origin& origin) const;

  std::unordered_map<std::string, int64_t> rows_;
  std::unordered_map<std::string, std::vector<std::string>> columns_;
  std::vector<std::string> files_;
  std::vector<Origin> origins_;
};

}  // namespace tzrec::serve
