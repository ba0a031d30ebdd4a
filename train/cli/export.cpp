// rsclip export: a checkpoint (training checkpoint directory or weights file) to an open_clip
// model directory. Mergeable PEFT methods (LoRA, BitFit, linear probe, lock, full) are folded
// into the weights first.
//
//   DIR/open_clip_model.safetensors     the open_clip state dict
//   DIR/open_clip_pytorch_model.bin     the same, torch.save'd (torch.load(weights_only=True))
//   DIR/open_clip_config.json           {"model_cfg": ..., "preprocess_cfg": ...}
//   DIR/README.md                       the model card (train/cli/model_card.h)
//   DIR/adapter.safetensors             only for methods open_clip's CLIP cannot express (CoOp,
//                                       VPT, adapters): the trained adapter; the weights are
//                                       then the base model's (models/peft/adapter_io.h)
//
// open_clip loads it with create_model_and_transforms("local-dir:DIR") (strict=True), or
// load_checkpoint(model, DIR/open_clip_pytorch_model.bin, strict=True).
#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "core/io/checkpoint_reader.h"
#include "core/io/safetensors.h"
#include "data/image/transforms.h"
#include "models/clip/load_state.h"
#include "models/io/model_io.h"
#include "models/peft/adapter_io.h"
#include "train/cli/command.h"
#include "train/cli/model_card.h"
#include "train/cli/model_options.h"

namespace rsclip::cli::export_command {
namespace fs = std::filesystem;

struct ExportArgs {
  std::string checkpoint, model, out, license = "other";
  bool ema = false;
  PretrainedOptions pretrained;
};

void write_weights(const fs::path& dir, const StateDict& sd) {
  save_safetensors(dir / "open_clip_model.safetensors", sd);
  write_torch_state_dict(dir / "open_clip_pytorch_model.bin", sd);
}

// open_clip's hub config: the model config and its PreprocessCfg.
nlohmann::json open_clip_config(const models::ModelConfig& cfg) {
  const data::PreprocessConfig p;  // open_clip's defaults (OpenAI mean/std, bicubic, shortest)
  return {{"model_cfg", cfg.json},
          {"preprocess_cfg",
           {{"size", cfg.vision.image_size},
            {"mode", "RGB"},
            {"mean", p.mean},
            {"std", p.std},
            {"interpolation", p.interpolation},
            {"resize_mode", p.resize_mode},
            {"fill_color", p.fill_color}}}};
}

void run(const ExportArgs& a) {
  const fs::path out(a.out);
  if (fs::exists(out) && !fs::is_directory(out)) throw Error("--out must be a directory", out.string());
  std::string model_name = a.model, checkpoint = a.checkpoint;
  resolve_model_options(model_name, checkpoint, a.pretrained);
  if (checkpoint.empty()) throw CLI::RequiredError("--checkpoint (or --model with --pretrained)");
  const bool dir = models::is_training_checkpoint(checkpoint);
  auto model = models::load_model(model_name, checkpoint, /*strict=*/true, torch::kCPU);
  if (a.ema) {
    const auto file = fs::path(checkpoint) / "ema.safetensors";
    if (!dir || !fs::exists(file))
      throw Error("no EMA weights (ema.safetensors)", checkpoint, "train with model.ema.decay > 0");
    const auto ema = load_safetensors(file);
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      if (const auto* e = ema.find(p.key())) p.value().copy_(*e);
    }
  }
  fs::create_directories(out);
  const auto peft = models::checkpoint_peft_config(checkpoint);
  const std::string& method = peft.method;
  const bool mergeable = models::peft::find_method(method).mergeable();
  // The card counts what the method trained, before merging.
  const auto counts = models::peft::report(*model, method);
  if (mergeable) {
    models::peft::merge(*model);
    write_weights(out, models::peft::export_state_dict(*model));
    log::info("wrote {} (open_clip weights{})", out.string(), method == "full" ? "" : ", " + method + " merged");
  } else {
    StateDict base;
    for (const auto& item : models::model_state_dict(*model)) {
      if (!models::peft::is_adapter_parameter(item.key())) base.insert(item.key(), item.value());
    }
    write_weights(out, base);
    const auto adapter = out / "adapter.safetensors";
    models::peft::save_adapter(adapter, *model, peft);
    log::info(
        "wrote {} (base weights) and {} ({} cannot be merged into open_clip's CLIP; load the adapter with "
        "rsclip)",
        out.string(), adapter.string(), method);
  }
  write_file_atomic(out / "open_clip_config.json", open_clip_config(model->cfg).dump(2) + "\n");
  ModelCardInputs card;
  card.name = fs::absolute(out).lexically_normal().filename().string();
  if (card.name.empty()) card.name = fs::absolute(out).lexically_normal().parent_path().filename().string();
  card.architecture = model->cfg.name;
  card.checkpoint = checkpoint;
  card.peft_method = method;
  card.trainable_params = method == "full" ? counts.total() : counts.trainable();
  card.total_params = counts.total();
  card.ema = a.ema;
  card.adapter = !mergeable;
  card.license = a.license;
  write_file_atomic(out / "README.md", model_card(card));
  log::info("open_clip: create_model_and_transforms(\"local-dir:{}\")", out.string());
}

const Command reg("export", [](CLI::App& cmd) {
  cmd.description(
      "Export a checkpoint to an open_clip model directory (open_clip_model.safetensors, open_clip_pytorch_model.bin, "
      "open_clip_config.json; loads with strict=True), PEFT merged where possible");
  auto a = std::make_shared<ExportArgs>();
  cmd.add_option("--checkpoint", a->checkpoint,
                 "training checkpoint directory (RUN/checkpoints/step_N), weights file, model directory or "
                 "hf-hub:ORG/NAME");
  cmd.add_option("--model", a->model, "model name, config .json or model directory (needed for a bare weights file)");
  add_pretrained_options(cmd, a->pretrained);
  cmd.add_option("--license", a->license, "licence of the model card (a Hugging Face licence id, e.g. mit, apache-2.0)")
      ->capture_default_str();
  cmd.add_option("--out", a->out, "output directory")->required();
  cmd.add_flag("--ema", a->ema, "export the EMA weights of the checkpoint");
  cmd.callback([a] { run(*a); });
});

}  // namespace rsclip::cli::export_command
