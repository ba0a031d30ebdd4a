// Checkpoint directories, written atomically: the files of step N go into
// checkpoints/.tmp-step_N-PID/, are fsynced, get their integrity manifest
// (checkpoint_manifest.h) last, and the directory is renamed to checkpoints/step_0000000N/
// (rename is atomic; an existing step is swapped out atomically), so a reader or a resumed
// run sees a complete checkpoint or none, and can tell a damaged one by its checksums. Only the newest `keep_last` are
// kept, plus a protected one (the best so far, named in checkpoints/best.json).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

namespace rsclip::train {

class CheckpointStore {
 public:
  CheckpointStore(std::filesystem::path dir, int keep_last);

  // Writes checkpoint `step` with fill(tmp_dir) and commits it; returns its final path.
  std::filesystem::path save(int64_t step, const std::function<void(const std::filesystem::path& dir)>& fill);

  // Complete checkpoints, oldest first.
  std::vector<std::filesystem::path> list() const;
  std::optional<std::filesystem::path> latest() const;
  // The newest checkpoint that verifies (or has no manifest to verify against), saying which
  // newer ones were damaged; nullopt when none is usable.
  std::optional<std::filesystem::path> latest_usable() const;
  static int64_t step_of(const std::filesystem::path& checkpoint);

  // Marks `checkpoint` as the best (never pruned) and records metric/value in best.json.
  void set_best(const std::filesystem::path& checkpoint, const std::string& metric, double value);
  std::optional<std::filesystem::path> best() const;

 private:
  void prune() const;
  std::filesystem::path dir_;
  int keep_last_;
};

// The complete checkpoints (step_N directories) in `dir`, oldest first; changes nothing
// (unlike CheckpointStore, which cleans up after a killed save when it is made).
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& dir);

// fsync a file or a directory (rsclip::Error on failure).
void fsync_path(const std::filesystem::path& path);

}  // namespace rsclip::train
