#include "export/remote/retry_policy.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

namespace tzrec::exporting::remote {
namespace {

TEST(RetryPolicyTest, TransientFailures) {
  EXPECT_TRUE(IsTransientFailure(CURLE_COULDNT_CONNECT, 0));
  EXPECT_TRUE(IsTransientFailure(CURLE_OPERATION_TIMEDOUT, 0));  // low-speed limit
  EXPECT_TRUE(IsTransientFailure(CURLE_SEND_ERROR, 0));
  EXPECT_TRUE(IsTransientFailure(CURLE_RECV_ERROR, 0));
  EXPECT_TRUE(IsTransientFailure(CURLE_GOT_NOTHING, 0));
  EXPECT_TRUE(IsTransientFailure(CURLE_OK, 500));
  EXPECT_TRUE(IsTransientFailure(CURLE_OK, 503));
  EXPECT_TRUE(IsTransientFailure(CURLE_OK, 429));
}

TEST(RetryPolicyTest, FinalAnswers) {
  EXPECT_FALSE(IsTransientFailure(CURLE_OK, 403));  // bad signature, wrong key
  EXPECT_FALSE(IsTransientFailure(CURLE_OK, 404));  // no such bucket
  EXPECT_FALSE(IsTransientFailure(CURLE_OK, 400));
  EXPECT_FALSE(IsTransientFailure(CURLE_URL_MALFORMAT, 0));
  EXPECT_FALSE(IsTransientFailure(CURLE_ABORTED_BY_CALLBACK, 0));
  EXPECT_FALSE(IsTransientFailure(CURLE_READ_ERROR, 0));  // our local file
}

TEST(RetryPolicyTest, BackoffDoublesThenCaps) {
  EXPECT_DOUBLE_EQ(BackoffSeconds(2, 1.0, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(BackoffSeconds(3, 1.0, 1.0), 2.0);
  EXPECT_DOUBLE_EQ(BackoffSeconds(4, 1.0, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(BackoffSeconds(6, 1.0, 1.0), 16.0);
  EXPECT_DOUBLE_EQ(BackoffSeconds(20, 1.0, 1.0), 16.0);
  EXPECT_DOUBLE_EQ(BackoffSeconds(3, 0.5, 1.0), 1.0);
}

TEST(RetryPolicyTest, JitterKeepsAtLeastHalf) {
  EXPECT_DOUBLE_EQ(BackoffSeconds(3, 1.0, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(BackoffSeconds(3, 1.0, 0.5), 1.5);
  EXPECT_DOUBLE_EQ(BackoffSeconds(3, 0.0, 0.7), 0.0);
}

}  // namespace
}  // namespace tzrec::exporting::remote
