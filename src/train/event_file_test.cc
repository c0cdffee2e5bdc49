#include "train/event_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/test_support.h"
#include "train/protos/tensorboard_event.pb.h"

namespace tzrec::train {
namespace {

// CRC-32C's check value (of "123456789") is 0xE3069283; TFRecord stores it
// rotated right by 15 bits plus 0xa282ead8.
TEST(EventFileTest, MaskedCrc32cOfTheCheckString) {
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(MaskedCrc32c("123456789", 9), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(EventFileTest, RecordsAreFramedAndHoldTheScalars) {
  testing::ScratchDir dir;
  std::string path;
  {
    EventFileWriter writer((dir.path() / "run").string());
    writer.AddScalar("loss/total", 0.25, 7);
    writer.AddScalar("lr/g0", 0.01, 7);
    path = writer.path();
  }
  EXPECT_EQ(std::filesystem::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<tensorboard::Event> events;
  for (size_t at = 0; at < bytes.size();) {
    ASSERT_LE(at + 12, bytes.size());
    uint64_t length;
    uint32_t length_crc, data_crc;
    std::memcpy(&length, bytes.data() + at, 8);
    std::memcpy(&length_crc, bytes.data() + at + 8, 4);
    ASSERT_EQ(length_crc, MaskedCrc32c(bytes.data() + at, 8));
    ASSERT_LE(at + 12 + length + 4, bytes.size());
    const std::string data = bytes.substr(at + 12, length);
    std::memcpy(&data_crc, bytes.data() + at + 12 + length, 4);
    ASSERT_EQ(data_crc, MaskedCrc32c(data.data(), data.size()));
    ASSERT_TRUE(events.emplace_back().ParseFromString(data));
    at += 12 + length + 4;
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[1].step(), 7);
  EXPECT_EQ(events[1].summary().value(0).tag(), "loss/total");
  EXPECT_FLOAT_EQ(events[1].summary().value(0).simple_value(), 0.25f);
  EXPECT_EQ(events[2].summary().value(0).tag(), "lr/g0");
}

}  // namespace
}  // namespace tzrec::train
