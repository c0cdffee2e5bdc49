// vocab_file of an fg.json read from disk (an export's): only files beside it.
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/test_support.h"
#include "features/fg/fg_spec.h"

namespace tzrec::fg {
namespace {

namespace fs = std::filesystem;
using tzrec::testing::ErrorOf;
using tzrec::testing::ScratchDir;
using tzrec::testing::WriteTextFile;

// An fg.json in `dir` whose one id feature reads `vocab_file`.
std::string FgJsonWithVocab(const ScratchDir& dir, const std::string& vocab_file) {
  const std::string path = dir / "export/fg.json";
  WriteTextFile(path, R"({"features": [{"feature_type": "id_feature", "feature_name": "color",
    "expression": "item:color", "value_type": "string", "vocab_file": ")" + vocab_file + R"(",
    "default_bucketize_value": 0}]})");
  return path;
}

TEST(VocabFileTest, ReadsFilesBesideTheFgJsonAndRefusesAnyOther) {
  ScratchDir dir;
  WriteTextFile(dir / "export/color_abc.txt", "red\nblue\n");
  WriteTextFile(dir / "export/sub/color.txt", "red\n");
  WriteTextFile(dir / "secret.txt", "password\n");
  ASSERT_EQ(LoadFgJson(FgJsonWithVocab(dir, "color_abc.txt")).at(0).vocab_dict->size(), 2u);
  ASSERT_EQ(LoadFgJson(FgJsonWithVocab(dir, "sub/color.txt")).at(0).vocab_dict->size(), 1u);

  std::string fg_json = FgJsonWithVocab(dir, "../secret.txt");
  EXPECT_NE(ErrorOf([&] { LoadFgJson(fg_json); }).find("vocab_file '../secret.txt' leads out of "), std::string::npos)
      << ErrorOf([&] { LoadFgJson(fg_json); });
  fg_json = FgJsonWithVocab(dir, "sub/../../secret.txt");
  EXPECT_NE(ErrorOf([&] { LoadFgJson(fg_json); }).find("leads out of"), std::string::npos);
  fg_json = FgJsonWithVocab(dir, dir / "secret.txt");
  EXPECT_NE(ErrorOf([&] { LoadFgJson(fg_json); }).find("must name a file in"), std::string::npos)
      << ErrorOf([&] { LoadFgJson(fg_json); });

  // A symlink beside fg.json that leads out of its directory; one that stays inside reads.
  fs::create_symlink(dir / "secret.txt", dir.path() / "export/link.txt");
  fs::create_symlink("sub/color.txt", dir.path() / "export/inside.txt");
  fg_json = FgJsonWithVocab(dir, "link.txt");
  const std::string e = ErrorOf([&] { LoadFgJson(fg_json); });
  EXPECT_NE(e.find("vocab_file " + dir / "export/link.txt" + " is a link to " + (dir / "secret.txt") + ", outside"),
            std::string::npos)
      << e;
  EXPECT_EQ(LoadFgJson(FgJsonWithVocab(dir, "inside.txt")).at(0).vocab_dict->size(), 1u);
}

}  // namespace
}  // namespace tzrec::fg
