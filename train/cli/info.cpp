// rsclip info --model NAME: parameter counts per tower and FLOPs per sample.
#include <cstdio>

#include "models/clip/flops.h"
#include "models/clip/model_config.h"
#include "models/io/pretrained.h"
#include "train/cli/command.h"

namespace rsclip::cli::info_command {

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

void print_info(const std::string& name) {
  const auto cfg = models::load_model_config(models::resolve_model_name(name));
  const auto params = models::count_config_parameters(cfg);
  const auto flops = models::count_flops(cfg);
  const auto& v = cfg.vision;
  const auto& t = cfg.text;
  std::printf("model %s: embed_dim %d, %s\n", cfg.name.c_str(), cfg.embed_dim, cfg.quick_gelu ? "QuickGELU" : "GELU");
  std::printf("  image tower  ViT width %d, %d layers, %d heads, patch %d, %d px (%d tokens)\n", v.width, v.layers,
              v.heads(), v.patch_size, v.image_size, v.tokens());
  std::printf("               %15s parameters  %8.2f GFLOPs per image\n", with_commas(params.visual).c_str(),
              flops.image / 1e9);
  std::printf("  text tower   width %d, %d layers, %d heads, context %d, vocab %d\n", t.width, t.layers, t.heads,
              t.context_length, t.vocab_size);
  std::printf("               %15s parameters  %8.2f GFLOPs per text\n", with_commas(params.text).c_str(),
              flops.text / 1e9);
  std::printf("  total        %15s parameters  %8.2f GFLOPs forward per pair, %.2f per training step\n",
              with_commas(params.total).c_str(), flops.forward() / 1e9, flops.train_step() / 1e9);
  std::printf("  (FLOPs = 2 x multiply-accumulates of matmuls and the patch convolution; see models/clip/flops.h)\n");
}

const Command reg("info", [](CLI::App& cmd) {
  cmd.description("Parameter counts per tower and FLOPs per sample of a model config");
  auto model = std::make_shared<std::string>();
  auto list = std::make_shared<bool>(false);
  cmd.add_option(
      "--model", *model,
      "built-in model name (e.g. ViT-B-32), an open_clip config .json, a model directory or hf-hub:ORG/NAME");
  cmd.add_flag("--list", *list, "list the built-in model configs and their open_clip pretrained tags");
  cmd.callback([model, list] {
    if (*list) {
      for (const auto& n : models::builtin_model_names()) {
        const auto tags = models::pretrained_tags(n);
        std::string line = n;
        for (std::size_t i = 0; i < tags.size(); ++i) line += (i ? ", " : "  pretrained: ") + tags[i];
        std::printf("%s\n", line.c_str());
      }
      return;
    }
    if (model->empty()) throw CLI::RequiredError("--model");
    print_info(*model);
  });
});

}  // namespace rsclip::cli::info_command
