#include "export/remote/aws_uri.h"

#include <gtest/gtest.h>

namespace tzrec::exporting::remote {
namespace {

TEST(AwsUriTest, EncodesAllButUnreserved) {
  EXPECT_EQ(AwsUriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(AwsUriEncode("a b+c=d&e", false), "a%20b%2Bc%3Dd%26e");
  EXPECT_EQ(AwsUriEncode("user/fg.json", false), "user%2Ffg.json");
  EXPECT_EQ(AwsUriEncode("user/fg.json", true), "user/fg.json");
  // UTF-8 bytes one by one, uppercase hex.
  EXPECT_EQ(AwsUriEncode("\xc3\xa9", true), "%C3%A9");
  EXPECT_EQ(AwsUriEncode("*", true), "%2A");
}

TEST(AwsUriTest, CanonicalQuerySortsAndEncodes) {
  // As SigV4 canonicalizes: sorted by name, "uploads" -> "uploads=", '/' encoded.
  EXPECT_EQ(CanonicalQueryString({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(CanonicalQueryString({{"prefix", "c/"}, {"list-type", "2"}, {"delimiter", "/"}}),
            "delimiter=%2F&list-type=2&prefix=c%2F");
  EXPECT_EQ(CanonicalQueryString({{"uploadId", "x y"}, {"partNumber", "3"}}),
            "partNumber=3&uploadId=x%20y");
  // Continuation tokens carry '+', '=' and '/'.
  EXPECT_EQ(CanonicalQueryString({{"continuation-token", "a+b/c="}}),
            "continuation-token=a%2Bb%2Fc%3D");
  EXPECT_EQ(CanonicalQueryString({}), "");
}

TEST(AwsUriTest, SortsByEncodedNameThenValue) {
  EXPECT_EQ(CanonicalQueryString({{"b", "2"}, {"a", "2"}, {"a", "1"}}), "a=1&a=2&b=2");
  // Uppercase sorts before lowercase (byte order), as AWS specifies.
  EXPECT_EQ(CanonicalQueryString({{"max-keys", "1"}, {"Z", "1"}}), "Z=1&max-keys=1");
}

}  // namespace
}  // namespace tzrec::exporting::remote
