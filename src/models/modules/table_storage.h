// How an embedding table is stored: FP32 for training; the rest are export
// forms (QUANT_EMB / QUANT_EC_EMB): FP16 halves rows and widens the looked-up
// rows to float; INT8/INT4/INT2 are PyTorch's row-wise quantized
// embedding-bag formats. All of them run on stock PyTorch operators.
// Light on purpose (no libtorch): the export's environment parsing uses it.
#pragma once

#include <optional>
#include <string_view>

namespace tzrec::models {

enum class TableStorage { kFp32, kFp16, kInt8, kInt4, kInt2 };

inline constexpr TableStorage kAllTableStorages[] = {TableStorage::kFp32, TableStorage::kFp16,
                                                     TableStorage::kInt8, TableStorage::kInt4,
                                                     TableStorage::kInt2};

// "FP32", "FP16", "INT8", "INT4", "INT2".
inline const char* TableStorageName(TableStorage storage) {
  switch (storage) {
    case TableStorage::kFp32: return "FP32";
    case TableStorage::kFp16: return "FP16";
    case TableStorage::kInt8: return "INT8";
    case TableStorage::kInt4: return "INT4";
    case TableStorage::kInt2: return "INT2";
  }
  return "?";
}

// The storage a name ("INT8", ...) names; nullopt for anything else.
inline std::optional<TableStorage> TableStorageFromName(std::string_view name) {
  for (TableStorage storage : kAllTableStorages) {
    if (name == TableStorageName(storage)) return storage;
  }
  return std::nullopt;
}

}  // namespace tzrec::models
