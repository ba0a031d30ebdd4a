// `rsclip synth`: writes the synthetic remote-sensing dataset of data/synth/synth_dataset.h
// (training shards in RS5M layout, a zero-shot ImageFolder set, a Karpathy-style caption
// set) and prints what it wrote.
#include <cstdio>

#include <string>

#include "data/synth/synth_dataset.h"
#include "train/cli/command.h"

namespace rsclip::cli::synth_command {

void print_summary(const data::SynthDatasetOptions& o, const data::SynthDatasetSummary& s) {
  std::printf("%-20s %8s %10s %13s\n", "class", "train", "zero-shot", "caption test");
  std::array<int, 3> totals{};
  for (data::SceneClass c : data::all_scene_classes()) {
    const auto i = static_cast<std::size_t>(c);
    std::printf("%-20s %8d %10d %13d\n", std::string(data::scene_class_name(c)).c_str(), s.train[i], s.zero_shot[i],
                s.caption_test[i]);
    totals[0] += s.train[i], totals[1] += s.zero_shot[i], totals[2] += s.caption_test[i];
  }
  std::printf("%-20s %8d %10d %13d\n", "total", totals[0], totals[1], totals[2]);
  const int images = totals[0] + totals[1] + totals[2];
  std::printf("\n%zu training shard(s), %.1f MB; test sets %.1f MB; %d images in %.1f s (%.0f images/s)\n",
              s.shards.size(), s.shard_bytes / 1e6, s.test_bytes / 1e6, images, s.seconds,
              s.seconds > 0 ? images / s.seconds : 0.0);
  const std::string out = o.out.string();
  if (totals[0] > 0)
    std::printf("  train shards:      %s/train/synth-train-{0000..%04zu}.tar\n", out.c_str(), s.shards.size() - 1);
  if (totals[1] > 0) {
    std::printf("  zero-shot (folder): %s/test/imagefolder\n", out.c_str());
    std::printf("  retrieval (JSON):   %s/test/captions.json\n", out.c_str());
  }
}

const Command reg("synth", [](CLI::App& cmd) {
  static data::SynthDatasetOptions options;
  static std::string out;
  cmd.description(
      "Generate a synthetic remote-sensing image-caption dataset (13 scene classes, captions from the drawn "
      "content), deterministic by seed: training shards in RS5M layout, a zero-shot ImageFolder test set and a "
      "Karpathy-style caption JSON test set, held out from training.");
  cmd.add_option("--out", out, "output directory (train/, test/, synth.json)")->required();
  cmd.add_option("--seed", options.seed, "generator seed")->capture_default_str();
  cmd.add_option("--train", options.train, "training images")->capture_default_str();
  cmd.add_option("--test", options.test, "images in each test set (zero-shot and retrieval), 0 or >= 13")
      ->capture_default_str();
  cmd.add_option("--shard-size", options.shard_size, "training samples per tar shard")->capture_default_str();
  cmd.add_option("--image-size", options.image_size, "side of the written JPEG images (drawn at 256)")
      ->capture_default_str();
  cmd.add_option("--jpeg-quality", options.jpeg_quality, "JPEG quality 1..100")->capture_default_str();
  cmd.add_flag("--overwrite", options.overwrite, "replace an existing dataset in --out");
  cmd.callback([] {
    options.out = out;
    const auto summary = data::write_synth_dataset(options);
    print_summary(options, summary);
  });
});

}  // namespace rsclip::cli::synth_command
