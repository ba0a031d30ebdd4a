// rsclip checkpoint verify PATH...: checks training checkpoints against their integrity
// manifests (train/loop/checkpoint_manifest.h). PATH is a checkpoint directory
// (RUN/checkpoints/step_N), a run's checkpoints/ folder, or a run directory. Prints one line
// per checkpoint; exit status 1 when any is damaged.
#include <cstdio>

#include "core/base/error.h"
#include "train/cli/command.h"
#include "train/loop/checkpoint_manifest.h"
#include "train/loop/checkpoint_store.h"

namespace rsclip::cli::checkpoint_command {
namespace fs = std::filesystem;

std::vector<fs::path> checkpoints_under(const fs::path& path) {
  if (fs::exists(path / "trainer.json") || fs::exists(path / train::kManifestFile)) return {path};
  for (const auto& dir : {path, path / "checkpoints"}) {
    if (!fs::is_directory(dir)) continue;
    auto found = train::list_checkpoints(dir);
    if (!found.empty()) return found;
  }
  throw Error("no checkpoints here", path.string(), "give RUN/checkpoints/step_N, RUN/checkpoints or RUN");
}

void verify(const std::vector<std::string>& paths) {
  int damaged = 0;
  for (const auto& p : paths) {
    for (const auto& dir : checkpoints_under(p)) {
      const auto check = train::verify_checkpoint(dir);
      std::printf("%s: %s\n", dir.string().c_str(), check.summary().c_str());
      damaged += check.usable() ? 0 : 1;
    }
  }
  std::fflush(stdout);
  if (damaged > 0) {
    std::fprintf(stderr,
                 "error: %d damaged checkpoint(s); `rsclip train --resume auto` resumes from the newest valid "
                 "one\n",
                 damaged);
    throw ExitCode{kExitError};
  }
}

const Command reg("checkpoint", [](CLI::App& cmd) {
  cmd.description("Inspect training checkpoints");
  cmd.require_subcommand(1);
  auto paths = std::make_shared<std::vector<std::string>>();
  auto* v = cmd.add_subcommand("verify",
                               "Check checkpoints against their manifests (every file's size and XXH3-128 checksum); "
                               "exit status 1 if any is damaged");
  v->add_option("path", *paths, "a checkpoint directory, a run's checkpoints/ folder or a run directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  v->callback([paths] { verify(*paths); });
});

}  // namespace rsclip::cli::checkpoint_command
