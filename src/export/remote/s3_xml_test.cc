#include "export/remote/s3_xml.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "export/remote/s3_client.h"
#include "export/remote/remote_transfer.h"

namespace tzrec::exporting::remote {
namespace {

TEST(S3XmlTest, ListPageWithNamespaceAndPrefixes) {
  const ListPage page = ParseListPage(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Prefix>m/</Prefix><IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=</NextContinuationToken>
<Contents><Key>m/a&amp;b.txt</Key><Size>12</Size></Contents>
<Contents><Key>m/big</Key><Size>6000000000</Size></Contents>
<CommonPrefixes><Prefix>m/model.ckpt-5/</Prefix></CommonPrefixes></ListBucketResult>)");
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key, "m/a&b.txt");
  EXPECT_EQ(page.objects[0].size, 12u);
  EXPECT_EQ(page.objects[1].size, 6000000000u);
  ASSERT_EQ(page.common_prefixes.size(), 1u);
  EXPECT_EQ(page.common_prefixes[0], "m/model.ckpt-5/");
  EXPECT_EQ(page.next_continuation_token, "tok+/=");
}

TEST(S3XmlTest, LastPageHasNoToken) {
  const ListPage page =
      ParseListPage("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  EXPECT_TRUE(page.objects.empty());
  EXPECT_EQ(page.next_continuation_token, "");
  EXPECT_THROW(ParseListPage("<Error><Code>NoSuchBucket</Code></Error>"), Error);
  EXPECT_THROW(ParseListPage("not xml"), Error);
}

TEST(S3XmlTest, ErrorAndUploadId) {
  const auto error = ParseS3Error(
      "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error>");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, "SignatureDoesNotMatch");
  EXPECT_EQ(error->message, "m");
  EXPECT_FALSE(ParseS3Error("<ListBucketResult/>").has_value());
  EXPECT_FALSE(ParseS3Error("").has_value());
  EXPECT_EQ(ParseUploadId("<InitiateMultipartUploadResult><UploadId>2~x</UploadId>"
                          "</InitiateMultipartUploadResult>"),
            "2~x");
  EXPECT_THROW(ParseUploadId("<InitiateMultipartUploadResult/>"), Error);
}

TEST(S3XmlTest, CompleteBodyNumbersPartsAndEscapes) {
  EXPECT_EQ(CompleteMultipartBody({"\"e1\"", "\"e2\""}),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag>"
            "</Part><Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"
            "</CompleteMultipartUpload>");
}

TEST(RemoteTransferTest, SplitIntoParts) {
  using Parts = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(SplitIntoParts(10, 4), (Parts{{0, 4}, {4, 4}, {8, 2}}));
  EXPECT_EQ(SplitIntoParts(8, 4), (Parts{{0, 4}, {4, 4}}));
  EXPECT_EQ(SplitIntoParts(0, 4), (Parts{{0, 0}}));
}

}  // namespace
}  // namespace tzrec::exporting::remote
