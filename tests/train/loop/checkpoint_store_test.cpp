// CheckpointStore: atomic step directories, pruning to the newest K plus the best, and
// what a killed or failed save leaves behind.
#include "train/loop/checkpoint_store.h"

#include <fstream>

#include <gtest/gtest.h>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "tests/reference/test_support.h"
#include "train/loop/checkpoint_manifest.h"

namespace rsclip::train {
namespace {
namespace fs = std::filesystem;

void touch(const fs::path& dir, const std::string& name) { std::ofstream(dir / name) << "x"; }

TEST(CheckpointStore, KeepsLastKPlusBestAndCleansLeftovers) {
  const auto dir = testing::scratch_dir() / "checkpoints";
  fs::create_directories(dir / ".tmp-step_00000009-123");  // a run killed mid-save
  CheckpointStore store(dir, 2);
  EXPECT_FALSE(fs::exists(dir / ".tmp-step_00000009-123"));
  EXPECT_FALSE(store.latest());
  store.set_best(store.save(10, [](const fs::path& d) { touch(d, "model.safetensors"); }), "mR", 42.0);
  for (int64_t step : {20, 30, 40}) store.save(step, [](const fs::path& d) { touch(d, "model.safetensors"); });
  std::vector<int64_t> steps;
  for (const auto& p : store.list()) steps.push_back(CheckpointStore::step_of(p));
  EXPECT_EQ(steps, (std::vector<int64_t>{10, 30, 40}));  // 20 pruned, 10 kept as best
  EXPECT_EQ(CheckpointStore::step_of(*store.latest()), 40);
  EXPECT_EQ(store.best()->filename(), "step_00000010");
  EXPECT_TRUE(fs::exists(*store.latest() / "model.safetensors"));
}

TEST(CheckpointStore, FailedSaveLeavesNothing) {
  const auto dir = testing::scratch_dir() / "checkpoints";
  CheckpointStore store(dir, 3);
  EXPECT_THROW(store.save(5,
                          [](const fs::path& d) {
                            touch(d, "half");
                            throw Error("disk full");
                          }),
               Error);
  EXPECT_TRUE(store.list().empty());
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 0u);
}

// Re-saving a step that exists (a run resumed at a save point) swaps the directories
// atomically: the new files are there, the old ones and the temporary are gone.
TEST(CheckpointStore, ResavingAStepReplacesItAtomically) {
  const auto dir = testing::scratch_dir() / "checkpoints";
  CheckpointStore store(dir, 0);
  store.save(5, [](const fs::path& d) { std::ofstream(d / "model.safetensors") << "old"; });
  const auto path = store.save(5, [](const fs::path& d) { std::ofstream(d / "model.safetensors") << "new"; });
  EXPECT_EQ(read_file(path / "model.safetensors"), "new");
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e.path().filename().string());
  EXPECT_EQ(entries, std::vector<std::string>{"step_00000005"});
}

// What verify_checkpoint reports for each kind of damage.
TEST(CheckpointManifest, VerifiesAndNamesWhatIsWrong) {
  const auto dir = testing::scratch_dir() / "checkpoints";
  CheckpointStore store(dir, 0);
  const auto fill = [](const fs::path& d) {
    for (const char* f :
         {"model.safetensors", "optimizer.safetensors", "rng.safetensors", "trainer.json", "config.yaml"}) {
      std::ofstream(d / f) << "contents of " << f;
    }
  };
  const auto ckpt = store.save(1, fill);
  EXPECT_TRUE(fs::exists(ckpt / kManifestFile));
  EXPECT_EQ(verify_checkpoint(ckpt).status, CheckpointCheck::Status::valid) << verify_checkpoint(ckpt).summary();
  EXPECT_EQ(file_xxh3_128(ckpt / "trainer.json").size(), 32u);

  std::ofstream(ckpt / "rng.safetensors", std::ios::app) << "x";  // grew
  EXPECT_NE(verify_checkpoint(ckpt).summary().find("rng.safetensors has 28 bytes, the manifest says 27"),
            std::string::npos)
      << verify_checkpoint(ckpt).summary();
  const auto two = store.save(2, fill);
  std::ofstream(two / "trainer.json") << "contents of trainer.jsoN";  // same size, other bytes
  EXPECT_NE(verify_checkpoint(two).summary().find("trainer.json does not match its checksum"), std::string::npos);
  const auto three = store.save(3, fill);
  fs::remove(three / "optimizer.safetensors");
  std::ofstream(three / "stray.bin") << "?";
  const auto check = verify_checkpoint(three);
  EXPECT_FALSE(check.usable());
  EXPECT_NE(check.summary().find("optimizer.safetensors is missing"), std::string::npos) << check.summary();
  EXPECT_NE(check.summary().find("stray.bin is not in the manifest"), std::string::npos) << check.summary();
  const auto four = store.save(4, fill);
  fs::remove(four / kManifestFile);  // as an rsclip without manifests wrote it
  EXPECT_EQ(verify_checkpoint(four).status, CheckpointCheck::Status::unverified);
  std::ofstream(four / "../step_00000004/" / kManifestFile) << "{not json";
  EXPECT_NE(verify_checkpoint(four).summary().find("manifest.json is malformed"), std::string::npos);
  // latest_usable: step 4 is damaged now; 3, 2 and 1 are damaged too.
  EXPECT_FALSE(store.latest_usable());
  store.save(5, fill);
  EXPECT_EQ(store.latest_usable()->filename(), "step_00000005");
}

}  // namespace
}  // namespace rsclip::train
