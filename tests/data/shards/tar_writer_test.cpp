// TarWriter: deterministic ustar/pax bytes, read back by libarchive, atomic commit, name checks.
#include "data/shards/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "data/shards/utf8_ctype.h"
#include "tests/reference/test_support.h"

namespace rsclip::data {
namespace {
namespace fs = std::filesystem;

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct Member {
  std::string name, data, uname, gname;
  la_int64_t mtime, uid, gid;
  int mode, type;
};

std::vector<Member> read_tar(const fs::path& path) {
  const ScopedUtf8Ctype utf8;
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(a.get());
  EXPECT_EQ(archive_read_open_filename(a.get(), path.c_str(), 10240), ARCHIVE_OK) << archive_error_string(a.get());
  std::vector<Member> out;
  archive_entry* e = nullptr;
  int rc;
  // ARCHIVE_WARN: a UTF-8 name that this process's "C" locale cannot represent; the UTF-8
  // form is still there.
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    Member m;
    m.name = archive_entry_pathname_utf8(e);
    m.uname = archive_entry_uname(e) ? archive_entry_uname(e) : "";
    m.gname = archive_entry_gname(e) ? archive_entry_gname(e) : "";
    m.mtime = archive_entry_mtime(e);
    m.uid = archive_entry_uid(e);
    m.gid = archive_entry_gid(e);
    m.mode = archive_entry_perm(e);
    m.type = archive_entry_filetype(e);
    m.data.resize(static_cast<std::size_t>(archive_entry_size(e)));
    if (!m.data.empty()) {
      EXPECT_EQ(archive_read_data(a.get(), m.data.data(), m.data.size()), static_cast<la_ssize_t>(m.data.size()));
    }
    out.push_back(std::move(m));
  }
  EXPECT_EQ(rc, ARCHIVE_EOF) << archive_error_string(a.get());
  return out;
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  for (auto& c : s) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return s;
}

void write_sample(const fs::path& path) {
  TarWriter w(path);
  w.add("00000000.img_content", bytes(random_bytes(5000, 1)));
  w.add("00000000.img_name", bytes("farmland_00000000.jpg"));
  w.add("00000000.caption", bytes("an aerial image of farmland with green and yellow fields."));
  w.add("00000001.empty", {});
  w.add("dir/sub/00000002.txt", bytes("nested"));
  w.close();
}

TEST(TarWriter, RoundTripsThroughLibarchiveWithFixedMetadata) {
  const auto dir = testing::scratch_dir();
  write_sample(dir / "a.tar");
  const auto members = read_tar(dir / "a.tar");
  ASSERT_EQ(members.size(), 5u);
  EXPECT_EQ(members[0].name, "00000000.img_content");
  EXPECT_EQ(members[0].data, random_bytes(5000, 1));
  EXPECT_EQ(members[1].data, "farmland_00000000.jpg");
  EXPECT_EQ(members[3].name, "00000001.empty");
  EXPECT_TRUE(members[3].data.empty());
  EXPECT_EQ(members[4].name, "dir/sub/00000002.txt");
  for (const auto& m : members) {
    EXPECT_EQ(m.type, AE_IFREG) << m.name;
    EXPECT_EQ(m.mode, 0644) << m.name;
    EXPECT_EQ(m.mtime, 0) << m.name;
    EXPECT_EQ(m.uid, 0) << m.name;
    EXPECT_EQ(m.gid, 0) << m.name;
    EXPECT_EQ(m.uname, "") << m.name;
    EXPECT_EQ(m.gname, "") << m.name;
  }
}

TEST(TarWriter, SameMembersGiveIdenticalBytes) {
  const auto dir = testing::scratch_dir();
  write_sample(dir / "a.tar");
  write_sample(dir / "b.tar");
  const std::string a = read_file(dir / "a.tar"), b = read_file(dir / "b.tar");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size() % 10240, 0u) << "tar files are padded to whole 10240-byte records";
}

TEST(TarWriter, HeaderIsPosixUstar) {
  const auto dir = testing::scratch_dir();
  write_sample(dir / "a.tar");
  const std::string t = read_file(dir / "a.tar");
  ASSERT_GE(t.size(), 512u);
  const auto field = [&](std::size_t off, std::size_t len) {
    return std::string(t.c_str() + off, strnlen(t.c_str() + off, len));
  };
  EXPECT_EQ(field(0, 100), "00000000.img_content");
  EXPECT_EQ(std::memcmp(t.data() + 257,
                        "ustar\0"
                        "00",
                        8),
            0)
      << "POSIX ustar magic and version";
  EXPECT_EQ(std::stoul(field(100, 8), nullptr, 8), 0644u);
  EXPECT_EQ(std::stoul(field(124, 12), nullptr, 8), 5000u);
  EXPECT_EQ(std::stoul(field(136, 12), nullptr, 8), 0u) << "mtime";
  EXPECT_EQ(t[156], '0') << "regular file";
  EXPECT_EQ(field(265, 32), "");
  EXPECT_EQ(field(297, 32), "");
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(t[i]);
  EXPECT_EQ(std::stoul(field(148, 8), nullptr, 8), sum) << "header checksum";
}

TEST(TarWriter, LongAndNonAsciiNamesSurvive) {
  const auto dir = testing::scratch_dir();
  const std::string long_name = std::string(150, 'k') + "/" + std::string(120, 'n') + ".caption";
  const std::string utf8 = "b\xc3\xa4ume/\xe6\xa3\xae\xe6\x9e\x97.txt";  // "bäume/森林.txt"
  {
    TarWriter w(dir / "names.tar");
    w.add(long_name, bytes("long"));
    w.add(utf8, bytes("utf8"));
    w.close();
  }
  const auto members = read_tar(dir / "names.tar");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].name, long_name);
  EXPECT_EQ(members[0].data, "long");
  EXPECT_EQ(members[1].name, utf8);
  EXPECT_EQ(members[1].data, "utf8");
}

TEST(TarWriter, CommitsOnCloseOnly) {
  const auto dir = testing::scratch_dir();
  const fs::path path = dir / "shard.tar";
  {
    TarWriter w(path);
    w.add("x.txt", bytes("partial"));
    EXPECT_FALSE(fs::exists(path)) << "the final name must not appear before close()";
    EXPECT_GT(w.bytes_written(), 0u);
  }
  EXPECT_FALSE(fs::exists(path)) << "an abandoned writer leaves nothing under the final name";
  EXPECT_TRUE(fs::is_empty(dir)) << "an abandoned writer removes its temporary file";

  TarWriter w(path);
  w.add("x.txt", bytes(random_bytes(70000, 9)));
  w.close();
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(w.bytes_written(), fs::file_size(path));
  EXPECT_THROW(w.add("y.txt", bytes("late")), Error);
  EXPECT_THROW(w.close(), Error);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1) << "no temporary left behind";
}

TEST(TarWriter, RejectsBadMemberNames) {
  const auto dir = testing::scratch_dir();
  TarWriter w(dir / "bad.tar");
  const std::vector<std::string> names{"",         "/etc/passwd", "../up.txt", "a/../b.txt",
                                       "a//b.txt", "./a.txt",     "dir/",      std::string("nul\0byte.txt", 12)};
  for (const auto& name : names) {
    EXPECT_THROW(w.add(name, bytes("x")), Error) << "accepted \"" << name << "\"";
  }
  w.add("fine.txt", bytes("x"));
  w.close();
  EXPECT_EQ(read_tar(dir / "bad.tar").size(), 1u);
}

TEST(TarWriter, UncreatableDirectoryIsAnError) {
  const auto dir = testing::scratch_dir();
  write_file_atomic(dir / "plain-file", std::string_view("not a directory"));
  EXPECT_THROW(TarWriter(dir / "plain-file" / "x.tar"), Error);
}

}  // namespace
}  // namespace rsclip::data
