#include "train/loop/checkpoint_store.h"

#include <stdio.h>  // renameat2

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "train/loop/checkpoint_manifest.h"

namespace rsclip::train {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPrefix = "step_";

bool is_checkpoint_name(const std::string& name) {
  return name.size() == 13 && name.rfind(kPrefix, 0) == 0 &&
         std::all_of(name.begin() + 5, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Moves the finished `tmp` into place as `final_dir`. Re-saving an existing step (a resume
// at a save point) swaps the two directories in one atomic renameat2(RENAME_EXCHANGE), so a
// reader sees the old or the new checkpoint, never neither; the old one then goes.
void commit_directory(const fs::path& tmp, const fs::path& final_dir) {
  if (!fs::exists(final_dir)) {
    fs::rename(tmp, final_dir);
    return;
  }
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) != 0) {
    throw Error(std::string("cannot replace the checkpoint directory: ") + std::strerror(errno), final_dir.string(),
                "the file system must support renameat2(RENAME_EXCHANGE) (ext4, xfs, btrfs, tmpfs, NFS 4.2 do)");
  }
  fs::remove_all(tmp);  // now holds the replaced checkpoint
}

}  // namespace

void fsync_path(const fs::path& path) {
  const bool dir = fs::is_directory(path);
  int fd = ::open(path.c_str(), dir ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw Error(std::string("cannot open for fsync: ") + std::strerror(errno), path.string());
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error(std::string("fsync failed: ") + std::strerror(errno), path.string());
}

CheckpointStore::CheckpointStore(fs::path dir, int keep_last) : dir_(std::move(dir)), keep_last_(keep_last) {
  fs::create_directories(dir_);
  for (const auto& e : fs::directory_iterator(dir_)) {  // leftovers of a run killed mid-save
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) fs::remove_all(e.path());
  }
}

int64_t CheckpointStore::step_of(const fs::path& checkpoint) {
  const auto name = checkpoint.filename().string();
  TORCH_CHECK(is_checkpoint_name(name), "not a checkpoint directory: ", checkpoint.string());
  return std::stoll(name.substr(5));
}

fs::path CheckpointStore::save(int64_t step, const std::function<void(const fs::path&)>& fill) {
  const fs::path final_dir = dir_ / fmt::format("{}{:08d}", kPrefix, step);
  const fs::path tmp = dir_ / fmt::format(".tmp-{}{:08d}-{}", kPrefix, step, ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    fill(tmp);
    for (const auto& e : fs::directory_iterator(tmp)) fsync_path(e.path());
    write_checkpoint_manifest(tmp);  // last: a directory with a manifest is complete
    fsync_path(tmp);
    commit_directory(tmp, final_dir);
    fsync_path(dir_);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  prune();
  return final_dir;
}

std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && is_checkpoint_name(e.path().filename().string())) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> CheckpointStore::list() const { return list_checkpoints(dir_); }

std::optional<fs::path> CheckpointStore::latest() const {
  auto all = list();
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<fs::path> CheckpointStore::latest_usable() const {
  const auto all = list();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const auto check = verify_checkpoint(*it);
    if (check.usable()) {
      if (check.status == CheckpointCheck::Status::unverified) log::warn("{}: {}", it->string(), check.summary());
      return *it;
    }
    log::warn("{} is {}; trying the one before it", it->string(), check.summary());
  }
  return std::nullopt;
}

void CheckpointStore::set_best(const fs::path& checkpoint, const std::string& metric, double value) {
  nlohmann::json j = {{"checkpoint", checkpoint.filename().string()}, {"metric", metric}, {"value", value}};
  write_file_atomic(dir_ / "best.json", j.dump(2) + "\n");
  prune();
}

std::optional<fs::path> CheckpointStore::best() const {
  const fs::path file = dir_ / "best.json";
  if (!fs::exists(file)) return std::nullopt;
  try {
    const auto j = nlohmann::json::parse(read_file(file));
    const fs::path p = dir_ / j.at("checkpoint").get<std::string>();
    if (!fs::exists(p)) return std::nullopt;
    return p;
  } catch (const nlohmann::json::exception& e) {
    log::warn("{}: unreadable ({}); no checkpoint is kept as the best until the next improvement", file.string(),
              e.what());
    return std::nullopt;
  }
}

void CheckpointStore::prune() const {
  if (keep_last_ <= 0) return;
  auto all = list();
  const auto protect = best();
  const std::size_t keep = static_cast<std::size_t>(keep_last_);
  if (all.size() <= keep) return;
  for (std::size_t i = 0; i + keep < all.size(); ++i) {
    if (protect && fs::equivalent(*protect, all[i])) continue;
    log::debug("removing old checkpoint {}", all[i].string());
    fs::remove_all(all[i]);
  }
}

}  // namespace rsclip::train
