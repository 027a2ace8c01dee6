#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/input/input_file.h"
#include "common/input/json_check.h"
#include "common/input/utf8.h"
#include "common/units/units.h"
#include "loadgen/payload/data_file.h"

namespace aurigraph {
namespace {

TEST(Utf8, AcceptsWellFormedTextOnly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
  EXPECT_EQ(FirstInvalidUtf8("ab\xff"), 2u);
  EXPECT_EQ(FirstInvalidUtf8("a\xc3"), 1u);             // truncated
  EXPECT_EQ(FirstInvalidUtf8("a\xc0\xaf"), 1u);         // overlong '/'
  EXPECT_EQ(FirstInvalidUtf8("\xe0\x80\xaf"), 0u);      // overlong, 3 bytes
  EXPECT_EQ(FirstInvalidUtf8("\xed\xa0\x80"), 0u);      // a surrogate
  EXPECT_EQ(FirstInvalidUtf8("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("\xe2\x82x"), 0u);         // bad continuation
  EXPECT_EQ(FirstInvalidUtf8("ok\x80"), 2u);            // a lone continuation
  EXPECT_EQ(FirstInvalidUtf8(std::string("a\0b", 3)), 3u);
}

TEST(UntrustedJson, DepthAndNumbersAreBounded) {
  const auto check = [](const std::string& text) {
    return std::string(CheckUntrustedJson(nlohmann::json::parse(text)).message());
  };
  EXPECT_EQ(check(R"({"a": [1, 2.5, -9.2e18, {"b": "c"}], "d": 18446744073709551615})"), "");
  EXPECT_EQ(check(R"({"a": [1, 1.8e80]})"), "number 1.8e+80 out of range");
  EXPECT_EQ(check("[-9.3e18]"), "number -9.3e+18 out of range");
  EXPECT_EQ(check("[9223372036854775808.0]"), "number 9.22337e+18 out of range");
  EXPECT_EQ(check(std::string(128, '[') + std::string(128, ']')), "");
  EXPECT_EQ(check(std::string(129, '[') + std::string(129, ']')), "nested deeper than 128 levels");
  // A million levels: the check itself does not recurse.
  EXPECT_EQ(check(std::string(1'000'000, '[') + std::string(1'000'000, ']')),
            "nested deeper than 128 levels");
}

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

class InputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("input-file-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(InputFileTest, ReadsWithinTheLimits) {
  auto text = ReadInputFile(Write("a.txt", "one\ntwo\n"), "a.txt");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "one\ntwo\n");
  EXPECT_EQ(ReadInputFile((dir_ / "absent").string(), "the file absent").status(),
            absl::NotFoundError("the file absent: cannot read"));
  EXPECT_EQ(ReadInputFile(dir_.string(), "a directory").status(),
            absl::NotFoundError("a directory: cannot read"));
}

TEST_F(InputFileTest, AFileOverTheSizeLimitIsRefusedFromItsSize) {
  // A sparse file of 4 GiB: refused before a byte of it is read.
  const std::string path = (dir_ / "sparse").string();
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, int64_t{4} << 30), 0);
  ::close(fd);
  EXPECT_EQ(ReadInputFile(path, "f").status(),
            absl::InvalidArgumentError("f: larger than 1 GiB, the input size limit "
                                       "(AURIGRAPH_MAX_INPUT_SIZE raises it)"));
  ScopedEnv limit(kMaxInputSizeVariable, "10B");
  EXPECT_EQ(ReadInputFile(Write("b", "0123456789\n"), "b").status(),
            absl::InvalidArgumentError(
                "b: larger than 10 B, the input size limit (AURIGRAPH_MAX_INPUT_SIZE raises it)"));
  EXPECT_TRUE(ReadInputFile(Write("c", "012345678\n"), "c").ok());
}

TEST_F(InputFileTest, DevZeroStopsAtTheLineLimit) {
  ScopedEnv limit(kMaxLineLengthVariable, "1MiB");
  EXPECT_EQ(ReadInputFile("/dev/zero", "zeros").status(),
            absl::InvalidArgumentError("zeros:1: a line longer than 1 MiB, the line length "
                                       "limit (AURIGRAPH_MAX_LINE_LENGTH raises it)"));
  auto lines = LineReader::Open("/dev/zero", "zeros");
  ASSERT_TRUE(lines.ok());
  std::string line;
  EXPECT_FALSE(lines->Next(&line).ok());
}

TEST_F(InputFileTest, DevZeroStopsAtTheSizeLimitEvenWithLongLinesAllowed) {
  ScopedEnv size(kMaxInputSizeVariable, "3MiB");
  ScopedEnv line(kMaxLineLengthVariable, "1GiB");
  EXPECT_EQ(ReadInputFile("/dev/zero", "zeros").status().message(),
            "zeros: larger than 3 MiB, the input size limit (AURIGRAPH_MAX_INPUT_SIZE raises it)");
}

TEST_F(InputFileTest, LongLinesAreNamedByNumber) {
  ScopedEnv limit(kMaxLineLengthVariable, "8");
  const std::string path = Write("lines", "12345678\nshort\n123456789\n");
  EXPECT_EQ(ReadInputFile(path, "l").status().message(),
            "l:3: a line longer than 8 B, the line length limit (AURIGRAPH_MAX_LINE_LENGTH "
            "raises it)");
  // Lines are metered as they are read, a chunk at a time: here, all at once.
  auto lines = LineReader::Open(path, "l");
  ASSERT_TRUE(lines.ok());
  std::string line;
  EXPECT_EQ(lines->Next(&line).status().message(),
            "l:3: a line longer than 8 B, the line length limit (AURIGRAPH_MAX_LINE_LENGTH "
            "raises it)");
}

TEST_F(InputFileTest, LineReaderTellsACutOffLastLine) {
  std::string big(200'000, 'x');  // lines across read chunks
  auto lines = LineReader::Open(Write("cut", "a\n\n" + big + "\nlast"), "cut");
  ASSERT_TRUE(lines.ok());
  std::string line;
  for (const std::string& want : {std::string("a"), std::string(), big}) {
    ASSERT_TRUE(*lines->Next(&line));
    EXPECT_EQ(line, want);
    EXPECT_TRUE(lines->complete());
  }
  ASSERT_TRUE(*lines->Next(&line));
  EXPECT_EQ(line, "last");
  EXPECT_FALSE(lines->complete());
  EXPECT_FALSE(*lines->Next(&line));
}

TEST_F(InputFileTest, LimitsFromTheEnvironmentMustBeSizes) {
  ScopedEnv limit(kMaxInputSizeVariable, "lots");
  EXPECT_EQ(ReadInputFile(Write("a", "x"), "a").status().message(),
            "AURIGRAPH_MAX_INPUT_SIZE='lots': expected a size such as 4GiB");
  ScopedEnv zero(kMaxInputSizeVariable, "0");
  EXPECT_FALSE(InputLimitsFromEnvironment().ok());
  // Beyond int64_t: the conversion was undefined (a gate in an interval log reaches it too).
  ScopedEnv huge(kMaxInputSizeVariable, "1e300GiB");
  EXPECT_EQ(InputLimitsFromEnvironment().status().message(),
            "AURIGRAPH_MAX_INPUT_SIZE='1e300GiB': expected a size such as 4GiB");
  EXPECT_EQ(ParseBytes("1e300GiB").status().message(), "invalid size '1e300GiB': too large");
  EXPECT_EQ(ParseBytes("9.3e18").status().message(), "invalid size '9.3e18': too large");
  EXPECT_EQ(*ParseBytes("4GiB"), int64_t{4} << 30);
}

TEST_F(InputFileTest, DataFilesAreReadWithinTheLimits) {
  using loadgen::DataFile;
  ScopedEnv limit(kMaxLineLengthVariable, "1MiB");
  EXPECT_EQ(DataFile::Load("/dev/zero", DataFile::Order::kSequential).status().message(),
            "data file /dev/zero:1: a line longer than 1 MiB, the line length limit "
            "(AURIGRAPH_MAX_LINE_LENGTH raises it)");
  auto data = DataFile::Load(Write("users.jsonl", "{\"u\": \"a\"}\n\n{\"u\": \"b\"}"),
                             DataFile::Order::kSequential);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ((*data)->records(), 2u);
  // Nesting that would overflow the stack when a value is rendered is refused by line.
  const std::string deep = "{\"u\": " + std::string(200'000, '[') + std::string(200'000, ']') + "}";
  EXPECT_EQ(DataFile::Load(Write("deep.jsonl", "{\"u\": 1}\n" + deep + "\n"),
                           DataFile::Order::kSequential)
                .status()
                .message(),
            "data file " + (dir_ / "deep.jsonl").string() + ":2: nested deeper than 128 levels");
  // Every field is a column over every record: a new field per line grew quadratically.
  std::string fields;
  for (int i = 0; i < 1001; ++i) fields += "{\"f" + std::to_string(i) + "\": 1}\n";
  EXPECT_EQ(DataFile::Parse(fields, "f.jsonl", DataFile::Order::kSequential).status().message(),
            "data file f.jsonl:1001: more than 1000 distinct fields");
  auto broken = DataFile::Load(Write("broken.jsonl", "{\"u\": \"a\"}\n\n{\"u\": "),
                               DataFile::Order::kSequential);
  EXPECT_EQ(broken.status().message(),
            "data file " + (dir_ / "broken.jsonl").string() + ":3: not a JSON object");
}

}  // namespace
}  // namespace aurigraph
