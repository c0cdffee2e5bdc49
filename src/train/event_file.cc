#include "train/event_file.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <isa-l/crc.h>

#include "common/error.h"
#include "train/protos/tensorboard_event.pb.h"

namespace tzrec::train {
namespace {

double WallTime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace

uint32_t MaskedCrc32c(const void* data, size_t size) {
  // ISA-L's iSCSI CRC is CRC-32C without the final inversion.
  const uint32_t crc = ~crc32_iscsi(static_cast<unsigned char*>(const_cast<void*>(data)),
                                    static_cast<int>(size), 0xFFFFFFFFu);
  // TFRecord masks stored CRCs so that a CRC of data holding CRCs stays strong.
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

EventFileWriter::EventFileWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) Fail("cannot create TensorBoard directory {}: {}", dir, ec.message());
  // Several writers in one process (training and evaluation) get apart names
  // even within one second, as SummaryWriter's counter does.
  static std::atomic<int> counter{0};
  const auto seconds = static_cast<int64_t>(WallTime());
  path_ = (std::filesystem::path(dir) /
           fmt::format("events.out.tfevents.{:010d}.{}.{}.{}", seconds, HostName(), ::getpid(), counter++))
              .string();
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) Fail("cannot create TensorBoard event file {}", path_);
  tensorboard::Event event;
  event.set_wall_time(WallTime());
  event.set_file_version("brain.Event:2");
  WriteRecord(event.SerializeAsString());
  Flush();
}

EventFileWriter::~EventFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void EventFileWriter::AddScalar(const std::string& tag, double value, int64_t step) {
  tensorboard::Event event;
  event.set_wall_time(WallTime());
  event.set_step(step);
  tensorboard::Summary::Value* entry = event.mutable_summary()->add_value();
  entry->set_tag(tag);
  entry->set_simple_value(static_cast<float>(value));
  WriteRecord(event.SerializeAsString());
}

void EventFileWriter::Flush() {
  if (std::fflush(file_) != 0) Fail("cannot write TensorBoard event file {}", path_);
}

void EventFileWriter::WriteRecord(const std::string& data) {
  // Little-endian, as TFRecord stores them (this is an x86-64/aarch64 build).
  const uint64_t length = data.size();
  const uint32_t length_crc = MaskedCrc32c(&length, sizeof(length));
  const uint32_t data_crc = MaskedCrc32c(data.data(), data.size());
  const bool ok = std::fwrite(&length, sizeof(length), 1, file_) == 1 &&
                  std::fwrite(&length_crc, sizeof(length_crc), 1, file_) == 1 &&
                  std::fwrite(data.data(), 1, data.size(), file_) == data.size() &&
                  std::fwrite(&data_crc, sizeof(data_crc), 1, file_) == 1;
  if (!ok) Fail("cannot write TensorBoard event file {}", path_);
}

}  // namespace tzrec::train
