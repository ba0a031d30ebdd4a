#include "data/shards/tar_reader.h"

#include <zlib.h>

#include <chrono>

#include <gtest/gtest.h>

#include "tests/data/shards/tar_fixture.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {

namespace fs = std::filesystem;
using testing::make_tar;
using testing::TarMember;

struct Read {
  std::vector<std::pair<std::string, std::string>> members;
  std::optional<TarError::Kind> error;
};

Read read_all(TarReader& r) {
  Read out;
  std::vector<std::uint8_t> buf;
  try {
    while (r.next()) {
      r.read(buf);
      out.members.emplace_back(r.name(), std::string(buf.begin(), buf.end()));
    }
  } catch (const TarError& e) {
    out.error = e.kind();
  }
  return out;
}

Read read_bytes(const std::string& bytes) {
  auto r = TarReader::from_memory({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, "mem");
  return read_all(*r);
}

Read read_url(const std::string& url) {
  TarReader r(ShardInput::open(url));
  return read_all(r);
}

const std::string kLongName = std::string(150, 'n') + ".txt";
const std::vector<TarMember> kMembers = {
    {"dir", "", '5'},
    {"a.jpg", "image bytes"},
    {"a.txt", "caption"},
    {"__meta__", "metadata, skipped"},
    {"__x__/y.txt", "metadata dir, skipped"},
    {"link", "", '2'},
    {kLongName, "long name"},
    {"empty.txt", ""},
};

TEST(TarReader, RegularMembersInOrderWithLongNames) {
  const auto r = read_bytes(make_tar(kMembers));
  EXPECT_FALSE(r.error.has_value());
  ASSERT_EQ(r.members.size(), 4u);
  EXPECT_EQ(r.members[0].first, "a.jpg");
  EXPECT_EQ(r.members[0].second, "image bytes");
  EXPECT_EQ(r.members[1].first, "a.txt");
  EXPECT_EQ(r.members[2].first, kLongName);
  EXPECT_EQ(r.members[2].second, "long name");
  EXPECT_EQ(r.members[3].first, "empty.txt");
  EXPECT_EQ(r.members[3].second, "");
}

TEST(TarReader, MetadataNamesAsWebdataset) {
  EXPECT_TRUE(is_webdataset_meta_name("__key__"));
  EXPECT_TRUE(is_webdataset_meta_name("__a.b__"));
  EXPECT_TRUE(is_webdataset_meta_name("__dir__/file.jpg"));
  EXPECT_FALSE(is_webdataset_meta_name("dir/__x__"));
  EXPECT_FALSE(is_webdataset_meta_name("__x__.jpg"));
  EXPECT_FALSE(is_webdataset_meta_name("_x_"));
  EXPECT_FALSE(is_webdataset_meta_name("__a/b__"));
}

TEST(TarReader, TruncatedCorruptEmptyAndGarbage) {
  const auto good = make_tar(kMembers);
  // Cut inside the data of the long-name member: the members before it survive.
  const auto cut = good.substr(0, good.find("long name") + 4);
  auto r = read_bytes(cut);
  EXPECT_EQ(r.error, TarError::Kind::truncated);
  EXPECT_EQ(r.members.size(), 2u);
  // Cut exactly after a member, without end-of-archive blocks: a valid (if informal) end.
  r = read_bytes(make_tar({{"a.jpg", "x"}}, false));
  EXPECT_FALSE(r.error.has_value());
  EXPECT_EQ(r.members.size(), 1u);
  // Cut inside a header.
  r = read_bytes(good.substr(0, 512 * 3 + 100));
  EXPECT_EQ(r.error, TarError::Kind::truncated);
  // Damaged header checksum of the second file member.
  auto damaged = good;
  damaged[512 * 3 + 148] ^= 0x11;
  r = read_bytes(damaged);
  EXPECT_EQ(r.error, TarError::Kind::corrupt);
  EXPECT_EQ(r.members.size(), 1u);
  // A zero-byte shard is a truncated one.
  r = read_bytes("");
  EXPECT_EQ(r.error, TarError::Kind::truncated);
  // Not a tar at all.
  r = read_bytes(std::string(4000, '\x5a'));
  EXPECT_EQ(r.error, TarError::Kind::corrupt);
  // A header claiming a huge member over a few bytes of data: truncated, and not allocated.
  std::string lie = make_tar({{"big.jpg", "tiny"}});
  std::snprintf(lie.data() + 124, 12, "%011llo", 1ULL << 32);  // 4 GiB
  lie[148] = ' ';
  std::memset(lie.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(lie[i]);
  std::snprintf(lie.data() + 148, 8, "%06o", sum);
  r = read_bytes(lie);
  EXPECT_EQ(r.error, TarError::Kind::truncated);
}

void write_gzip(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(TarReader, GzipAndPipes) {
  const auto dir = testing::scratch_dir();
  const auto tar = make_tar(kMembers);
  testing::write_file(dir / "s.tar", tar);
  write_gzip(dir / "s.tar.gz", tar);
  const auto plain = read_url((dir / "s.tar").string());
  EXPECT_EQ(plain.members.size(), 4u);
  EXPECT_EQ(read_url((dir / "s.tar.gz").string()).members, plain.members);
  EXPECT_EQ(read_url("file:" + (dir / "s.tar").string()).members, plain.members);
  EXPECT_EQ(read_url("pipe:cat " + (dir / "s.tar.gz").string()).members, plain.members);

  // Truncated gzip stream.
  const auto gz = testing::read_file(dir / "s.tar.gz");
  testing::write_file(dir / "cut.tar.gz", gz.substr(0, gz.size() / 2));
  const auto cut = read_url((dir / "cut.tar.gz").string());
  EXPECT_EQ(cut.error, TarError::Kind::truncated);

  // A failing command: the members it produced count, finish() reports the status.
  TarReader failing(ShardInput::open("pipe:cat " + (dir / "s.tar").string() + "; exit 3"));
  EXPECT_EQ(read_all(failing).members.size(), 4u);
  EXPECT_EQ(failing.finish(), "the command exited with status 3");

  // Stopping early ends the command without waiting for it to finish its output.
  const auto start = std::chrono::steady_clock::now();
  TarReader early(ShardInput::open("pipe:cat " + (dir / "s.tar").string() + "; sleep 30"));
  ASSERT_TRUE(early.next());
  EXPECT_EQ(early.finish(), "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));

  EXPECT_THROW(ShardInput::open((dir / "missing.tar").string()), Error);
  EXPECT_THROW(ShardInput::open(dir.string()), Error);
  EXPECT_THROW(ShardInput::open("s3://bucket/x.tar"), Error);
}

}  // namespace
}  // namespace rsclip::data
