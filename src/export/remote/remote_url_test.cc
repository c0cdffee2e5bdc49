#include "export/remote/remote_url.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec::exporting::remote {
namespace {

TEST(RemoteUrlTest, ParsesBucketAndKey) {
  const RemoteUrl url = ParseRemoteUrl("s3://my-bucket/exports/v1/", "--export_dir");
  EXPECT_EQ(url.scheme, "s3");
  EXPECT_EQ(url.bucket, "my-bucket");
  EXPECT_EQ(url.key, "exports/v1");
  EXPECT_EQ(url.ToString(), "s3://my-bucket/exports/v1");
  EXPECT_EQ(url.DirectoryPrefix(), "exports/v1/");
  EXPECT_EQ(url.Child("user/fg.json").key, "exports/v1/user/fg.json");
}

TEST(RemoteUrlTest, BucketRootAndOss) {
  const RemoteUrl url = ParseRemoteUrl("oss://bucket.with.dots", "model_dir");
  EXPECT_EQ(url.scheme, "oss");
  EXPECT_EQ(url.key, "");
  EXPECT_EQ(url.DirectoryPrefix(), "");
  EXPECT_EQ(url.Child("a").key, "a");
}

TEST(RemoteUrlTest, RejectsWithFlagAndValue) {
  try {
    ParseRemoteUrl("hdfs://nn/path", "--export_dir");
    FAIL() << "hdfs accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--export_dir hdfs://nn/path"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("hdfs"), std::string::npos);
  }
  EXPECT_THROW(ParseRemoteUrl("s3://Upper/x", "f"), ConfigError);
  EXPECT_THROW(ParseRemoteUrl("s3://ab/x", "f"), ConfigError);
  EXPECT_THROW(ParseRemoteUrl("s3:///x", "f"), ConfigError);
  EXPECT_THROW(ParseRemoteUrl("s3://bucket/a//b", "f"), ConfigError);
  EXPECT_THROW(ParseRemoteUrl("s3://bucket/a/../b", "f"), ConfigError);
  EXPECT_THROW(ParseRemoteUrl("s3://-bucket/a", "f"), ConfigError);
}

TEST(RemoteUrlTest, RecognizesUrlsButNotLocalPaths) {
  EXPECT_TRUE(IsRemoteUrl("s3://b/k"));
  EXPECT_TRUE(IsRemoteUrl("oss://b/k"));
  EXPECT_TRUE(IsRemoteUrl("hdfs://x"));  // parsed later, to name the scheme in the error
  EXPECT_FALSE(IsRemoteUrl("/tmp/export"));
  EXPECT_FALSE(IsRemoteUrl("relative/dir"));
  EXPECT_FALSE(IsRemoteUrl("a b://x"));
  EXPECT_FALSE(IsRemoteUrl("://x"));
  EXPECT_FALSE(IsRemoteUrl(""));
}

}  // namespace
}  // namespace tzrec::exporting::remote
