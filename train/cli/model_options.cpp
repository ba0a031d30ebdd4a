#include "train/cli/model_options.h"

#include "core/base/error.h"
#include "core/base/log.h"
#include "models/io/pretrained.h"

namespace rsclip::cli {

void add_pretrained_options(CLI::App& cmd, PretrainedOptions& p) {
  cmd.add_option("--pretrained", p.tag,
                 "open_clip pretrained tag of --model (e.g. laion2b_s34b_b79k, openai; georsclip for "
                 "RS5M_<model>.pt): its weights from --pretrained-dir or the Hugging Face cache, offline");
  cmd.add_option("--pretrained-dir", p.dir,
                 "folder holding pretrained weight files (as downloaded: open_clip_model.safetensors in "
                 "<repo name>/, ViT-B-32.pt, RS5M_ViT-B-32.pt)");
}

void resolve_model_options(std::string& model, std::string& checkpoint, const PretrainedOptions& p) {
  if (p.tag.empty() && !p.dir.empty()) {
    throw Error("--pretrained-dir without --pretrained", "--pretrained-dir", "name a tag with --pretrained");
  }
  if (!p.tag.empty() && checkpoint.empty() && model.empty()) {
    throw Error("--pretrained needs --model", "--pretrained", "e.g. --model ViT-B-32 --pretrained openai");
  }
  const auto s = models::resolve_model_source(model, checkpoint, p.tag, p.dir, "--pretrained", "--checkpoint");
  if (!s.description.empty()) log::info("weights: {}", s.description);
  model = s.model;
  checkpoint = s.weights;
}

}  // namespace rsclip::cli
