// The tzrec command line as a whole (src/cli/main.cc, in both binaries):
// what an unknown or missing subcommand gets, that every subcommand's --help
// describes each flag and shows defaults, and what --version names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "common/test_support.h"

namespace tzrec {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::RunTzrec;

// The subcommands the binary says it knows, from its refusal of none.
std::vector<std::string> KnownSubcommands() {
  const std::string output = RunTzrec("").output;
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(R"(\(known: ([a-z_, ]+)\))"))) return {};
  std::vector<std::string> names;
  std::stringstream list(match[1].str());
  for (std::string name; std::getline(list, name, ',');) names.push_back(name.substr(name.find_first_not_of(' ')));
  return names;
}

TEST(CommandLineTest, UnknownOrMissingSubcommandExits2WithOneLineNamingTheKnownOnes) {
  for (const std::string args : {"", "bogus", "bogus --help", "exprot --pipeline_config_path x"}) {
    const auto result = RunTzrec(args);
    EXPECT_EQ(result.exit_code, 2) << args;
    EXPECT_THAT(result.output, MatchesRegex("tzrec: error: [^\n]*\\(known: [^\n]*export[^\n]*\\)\n"))
        << args;
  }
  EXPECT_THAT(RunTzrec("bogus").output, HasSubstr("unknown subcommand 'bogus'"));
  EXPECT_THAT(RunTzrec("").output, HasSubstr("a subcommand is required"));
}

TEST(CommandLineTest, EverySubcommandHelpDescribesEachFlagAndShowsDefaults) {
  const std::vector<std::string> names = KnownSubcommands();
  ASSERT_GE(names.size(), 10u);
  // A flag line: "  --name TYPE[=default] [description]"; a description that
  // does not fit goes on the next line, indented past the flag column.
  const std::regex flag_line(R"(^  (-h,)?--([a-z_]+)( [A-Z]+(:\{[^}]*\})?(=\S+)?)?( .*)?$)");
  for (const auto& name : names) {
    const auto result = RunTzrec(name + " --help");
    EXPECT_EQ(result.exit_code, 0) << name;
    std::stringstream lines(result.output);
    std::vector<std::string> all;
    for (std::string line; std::getline(lines, line);) all.push_back(line);
    int flags = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      std::smatch match;
      if (!std::regex_match(all[i], match, flag_line)) continue;
      ++flags;
      const bool described_here = match[6].matched && match[6].str().find_first_not_of(' ') != std::string::npos;
      const bool described_below = i + 1 < all.size() && all[i + 1].rfind("      ", 0) == 0;
      EXPECT_TRUE(described_here || described_below) << name << ": --" << match[2] << " has no description";
    }
    EXPECT_GE(flags, 2) << name << " --help lists no flags:\n" << result.output;
  }
  EXPECT_THAT(RunTzrec("serve --help").output, HasSubstr("--port INT=8080"));
  const std::string gen_data = RunTzrec("gen_data --help").output;
  EXPECT_THAT(gen_data, HasSubstr("--seed UINT=2024"));
  EXPECT_THAT(gen_data, HasSubstr("--num_rows INT REQUIRED"));  // a required flag shows no default
}

TEST(CommandLineTest, VersionNamesTheLibtorch) {
  const auto result = RunTzrec("--version");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.output, MatchesRegex("tzrec [0-9.]+ \\(libtorch [0-9.]+[^)]*\\)\n"));
}

}  // namespace
}  // namespace tzrec
