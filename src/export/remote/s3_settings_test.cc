#include "export/remote/s3_settings.h"

#include <gtest/gtest.h>

#include <map>

#include "common/error.h"

namespace tzrec::exporting::remote {
namespace {

exporting::EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

const std::map<std::string, std::string> kKeys = {{"AWS_ACCESS_KEY_ID", "AKID"},
                                                  {"AWS_SECRET_ACCESS_KEY", "secret/+key"}};

std::map<std::string, std::string> With(std::map<std::string, std::string> extra) {
  extra.insert(kKeys.begin(), kKeys.end());
  return extra;
}

TEST(S3SettingsTest, AwsDefaultsAreVirtualHosted) {
  const S3Settings s = ReadS3Settings(Env(With({{"AWS_REGION", "eu-west-1"}})), "s3");
  EXPECT_EQ(s.region, "eu-west-1");
  EXPECT_EQ(s.endpoint, "https://s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(RequestUrl(s, "bkt", "a b/c.pt"), "https://bkt.s3.eu-west-1.amazonaws.com/a%20b/c.pt");
  EXPECT_EQ(ReadS3Settings(Env(kKeys), "s3").region, "us-east-1");
}

TEST(S3SettingsTest, CustomEndpointIsPathStyle) {
  const S3Settings s =
      ReadS3Settings(Env(With({{"AWS_ENDPOINT_URL", "http://127.0.0.1:7480/"}})), "s3");
  EXPECT_EQ(s.endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(s.addressing, AddressingStyle::kPath);
  EXPECT_EQ(RequestUrl(s, "bkt", "exp/user/fg.json"), "http://127.0.0.1:7480/bkt/exp/user/fg.json");
  EXPECT_EQ(RequestUrl(s, "bkt", "", {{"prefix", "exp/"}, {"list-type", "2"}}),
            "http://127.0.0.1:7480/bkt/?list-type=2&prefix=exp%2F");
  // The service-specific variable wins.
  const S3Settings specific = ReadS3Settings(
      Env(With({{"AWS_ENDPOINT_URL", "http://a:1"}, {"AWS_ENDPOINT_URL_S3", "http://b:2"}})), "s3");
  EXPECT_EQ(specific.endpoint, "http://b:2");
}

TEST(S3SettingsTest, OssEndpointFromRegion) {
  const S3Settings s = ReadS3Settings(Env(With({{"AWS_REGION", "cn-hangzhou"}})), "oss");
  EXPECT_EQ(s.endpoint, "https://oss-cn-hangzhou.aliyuncs.com");
  EXPECT_EQ(RequestUrl(s, "bkt", "m"), "https://bkt.oss-cn-hangzhou.aliyuncs.com/m");
  EXPECT_THROW(ReadS3Settings(Env(kKeys), "oss"), ConfigError);
}

TEST(S3SettingsTest, AddressingStyleOverride) {
  const S3Settings s = ReadS3Settings(
      Env(With({{"AWS_ENDPOINT_URL", "https://minio.local"}, {"TZREC_S3_ADDRESSING_STYLE", "virtual"}})),
      "s3");
  EXPECT_EQ(RequestUrl(s, "bkt", "k"), "https://bkt.minio.local/k");
  EXPECT_THROW(ReadS3Settings(Env(With({{"TZREC_S3_ADDRESSING_STYLE", "dns"}})), "s3"), ConfigError);
}

TEST(S3SettingsTest, MissingCredentialsNameTheVariables) {
  try {
    ReadS3Settings(Env({{"AWS_ACCESS_KEY_ID", "AKID"}}), "s3");
    FAIL() << "accepted without a secret";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("AKID"), std::string::npos);
  }
}

TEST(S3SettingsTest, TransferKnobs) {
  const S3Settings s = ReadS3Settings(Env(With({{"TZREC_S3_LOW_SPEED_TIME", "3"},
                                                {"AWS_MAX_ATTEMPTS", "2"},
                                                {"TZREC_S3_PART_SIZE", "5242880"},
                                                {"TZREC_S3_MULTIPART_THRESHOLD", "100"},
                                                {"TZREC_S3_PARALLEL", "8"},
                                                {"TZREC_S3_RETRY_DELAY", "0.25"}})),
                                      "s3");
  EXPECT_EQ(s.low_speed_time_s, 3);
  EXPECT_EQ(s.max_attempts, 2);
  EXPECT_EQ(s.part_size, 5242880u);
  EXPECT_EQ(s.multipart_threshold, 100u);
  EXPECT_EQ(s.parallel, 8);
  EXPECT_DOUBLE_EQ(s.retry_delay_s, 0.25);
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"TZREC_S3_LOW_SPEED_TIME", "0"},
                                          {"TZREC_S3_LOW_SPEED_TIME", "fast"},
                                          {"TZREC_S3_PART_SIZE", "1024"},
                                          {"AWS_MAX_ATTEMPTS", "-1"},
                                          {"TZREC_S3_RETRY_DELAY", "-2"},
                                          {"AWS_ENDPOINT_URL", "127.0.0.1:7480"},
                                          {"AWS_ENDPOINT_URL", "http://host/path"},
                                          {"AWS_REGION", "us east"}}) {
    try {
      ReadS3Settings(Env(With({{name, value}})), "s3");
      FAIL() << name << "=" << value << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tzrec::exporting::remote
