#include "features/python_json.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec {
namespace {

// Expected strings are what CPython 3.11's repr / json.dumps print.
TEST(PythonFloatReprTest, Float32ValuesWidenedToDouble) {
  EXPECT_EQ(PythonFloatRepr(static_cast<double>(1.1f)), "1.100000023841858");
  EXPECT_EQ(PythonFloatRepr(static_cast<double>(0.1f)), "0.10000000149011612");
  EXPECT_EQ(PythonFloatRepr(static_cast<double>(7.39f)), "7.389999866485596");
  EXPECT_EQ(PythonFloatRepr(static_cast<double>(-3.6f)), "-3.5999999046325684");
  EXPECT_EQ(PythonFloatRepr(static_cast<double>(1e-10f)), "1.000000013351432e-10");
}

TEST(PythonFloatReprTest, IntegralValuesKeepPointZero) {
  EXPECT_EQ(PythonFloatRepr(15.0), "15.0");
  EXPECT_EQ(PythonFloatRepr(0.0), "0.0");
  EXPECT_EQ(PythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PythonFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PythonFloatRepr(9999999999999998.0), "9999999999999998.0");
}

TEST(PythonFloatReprTest, ExponentFormOutsideFixedRange) {
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(1e-5), "1e-05");
  EXPECT_EQ(PythonFloatRepr(1.5e-7), "1.5e-07");
  EXPECT_EQ(PythonFloatRepr(1e100), "1e+100");
  EXPECT_EQ(PythonFloatRepr(5e-324), "5e-324");
  EXPECT_EQ(PythonFloatRepr(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(PythonFloatRepr(123456789012345678.0), "1.2345678901234568e+17");
}

TEST(PythonFloatReprTest, FixedFormInsideRange) {
  EXPECT_EQ(PythonFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PythonFloatRepr(0.00012345), "0.00012345");
  EXPECT_EQ(PythonFloatRepr(0.5), "0.5");
}

TEST(PythonFloatReprTest, NonFiniteAsJsonDump) {
  EXPECT_EQ(PythonFloatRepr(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(PythonFloatRepr(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(PythonFloatRepr(-std::numeric_limits<double>::infinity()), "-Infinity");
}

TEST(PythonJsonStringTest, EnsureAsciiEscapes) {
  EXPECT_EQ(PythonJsonString("a\"b\\c\n\t\x01\x7f/\xc3\xa9\xf0\x9f\x98\x80\r\b\f\x1d"),
            R"("a\"b\\c\n\t\u0001\u007f/\u00e9\ud83d\ude00\r\b\f\u001d")");
}

TEST(PythonJsonStringTest, InvalidUtf8IsAnError) {
  EXPECT_THROW(PythonJsonString("\xff"), Error);
  EXPECT_THROW(PythonJsonString("\xc3"), Error);          // truncated
  EXPECT_THROW(PythonJsonString("\xc0\xaf"), Error);      // overlong
  EXPECT_THROW(PythonJsonString("\xed\xa0\x80"), Error);  // surrogate
}

TEST(DumpPythonJsonTest, IndentFourLayout) {
  nlohmann::ordered_json doc;
  doc["a"] = nlohmann::ordered_json::array();
  doc["b"] = nlohmann::ordered_json::object();
  doc["c"] = nlohmann::ordered_json::array({1, {{"d", true}, {"e", nullptr}}});
  doc["f"] = 9223372036854775807ULL;
  EXPECT_EQ(DumpPythonJson(doc),
            "{\n"
            "    \"a\": [],\n"
            "    \"b\": {},\n"
            "    \"c\": [\n"
            "        1,\n"
            "        {\n"
            "            \"d\": true,\n"
            "            \"e\": null\n"
            "        }\n"
            "    ],\n"
            "    \"f\": 9223372036854775807\n"
            "}");
}

TEST(DumpPythonJsonTest, KeysKeepInsertionOrderAndNegativeInts) {
  nlohmann::ordered_json doc;
  doc["z"] = -3;
  doc["a"] = 2.5;
  doc["m"] = "x";
  EXPECT_EQ(DumpPythonJson(doc), "{\n    \"z\": -3,\n    \"a\": 2.5,\n    \"m\": \"x\"\n}");
}

}  // namespace
}  // namespace tzrec
