// TensorBoard event files, as torch.utils.tensorboard's SummaryWriter writes
// them (what TorchEasyRec's training writes): a file
// events.out.tfevents.<time>.<host>.<pid>.<n> in a directory, of TFRecord
// records (length, masked CRC-32C of the length, an Event protobuf, masked
// CRC-32C of it); the first record names the file version, each scalar is an
// Event holding one Summary value. TensorBoard reads every such file in the
// directory, so a run that continues adds a file beside the earlier ones.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace tzrec::train {

class EventFileWriter {
 public:
  // Creates `dir` when missing and a new event file in it.
  explicit EventFileWriter(const std::string& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  // Appends scalar `value` under `tag` ("loss/total") at `step`.
  void AddScalar(const std::string& tag, double value, int64_t step);
  // Hands what was written to the operating system (TensorBoard sees it).
  void Flush();

  const std::string& path() const { return path_; }

 private:
  void WriteRecord(const std::string& data);

  std::string path_;
  std::FILE* file_ = nullptr;
};

// TFRecord's masked CRC-32C of `size` bytes at `data` (exposed for tests).
uint32_t MaskedCrc32c(const void* data, size_t size);

}  // namespace tzrec::train
