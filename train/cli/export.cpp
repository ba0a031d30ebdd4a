// rsclip export: a checkpoint (training checkpoint directory or weights file) to open_clip's
// format. Mergeable PEFT methods (LoRA, BitFit, linear probe, lock, full) are folded into
// the weights; the result loads with open_clip's load_checkpoint(model, path, strict=True).
// Methods that add computation open_clip lacks (CoOp, VPT, adapters) export the base
// weights plus an adapter file beside them (models/peft/adapter_io.h).
//
//   OUT.bin / OUT.pt     torch.save(state_dict), as open_clip_pytorch_model.bin
//   OUT.safetensors      the same tensors as safetensors
//   OUT's stem + .json   the open_clip model config (create_model(..., pretrained=OUT) with it)
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/checkpoint_reader.h"
#include "core/log.h"
#include "core/safetensors.h"
#include "models/load_state.h"
#include "models/peft/adapter_io.h"
#include "train/cli/command.h"
#include "train/model_io.h"

namespace rsclip::cli {
namespace fs = std::filesystem;
namespace {

struct ExportArgs {
  std::string checkpoint, model, out;
  bool ema = false;
};

void write_weights(const fs::path& out, const StateDict& sd) {
  const auto ext = out.extension().string();
  if (ext == ".safetensors") {
    save_safetensors(out, sd);
  } else if (ext == ".bin" || ext == ".pt" || ext == ".pth") {
    write_torch_state_dict(out, sd);
  } else {
    throw Error("unknown output format '" + ext + "'", out.string(), "name it .bin, .pt or .safetensors");
  }
}

void run(const ExportArgs& a) {
  const fs::path out(a.out);
  const bool dir = train::is_training_checkpoint(a.checkpoint);
  if (!dir && a.model.empty()) throw Error("--model is needed for a weights file", a.checkpoint);
  auto model = train::load_model(a.model.empty() ? fs::path(a.checkpoint).filename().string() : a.model, a.checkpoint,
                                 /*strict=*/true, torch::kCPU);
  if (a.ema) {
    const auto file = fs::path(a.checkpoint) / "ema.safetensors";
    if (!dir || !fs::exists(file)) throw Error("no EMA weights (ema.safetensors)", a.checkpoint, "train with model.ema.decay > 0");
    const auto ema = load_safetensors(file);
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      if (const auto* e = ema.find(p.key())) p.value().copy_(*e);
    }
  }
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path());
  const auto peft = dir ? train::checkpoint_peft_config(a.checkpoint) : models::peft::PeftConfig{};
  const std::string& method = peft.method;
  if (models::peft::find_method(method).mergeable()) {
    models::peft::merge(*model);
    write_weights(out, models::peft::export_state_dict(*model));
    log::info("wrote {} (open_clip state dict{})", out.string(), method == "full" ? "" : ", " + method + " merged");
  } else {
    StateDict base;
    for (const auto& item : models::model_state_dict(*model)) {
      if (!models::peft::is_adapter_parameter(item.key())) base.insert(item.key(), item.value());
    }
    write_weights(out, base);
    auto adapter = out;
    adapter.replace_extension(".adapter.safetensors");
    models::peft::save_adapter(adapter, *model, peft);
    log::info("wrote {} (base weights) and {} ({} cannot be merged into open_clip's CLIP; load the adapter with "
              "rsclip)", out.string(), adapter.string(), method);
  }
  auto cfg_path = out;
  cfg_path.replace_extension(".json");
  write_file_atomic(cfg_path, model->cfg.json.dump(2) + "\n");
  log::info("wrote {} (open_clip model config)", cfg_path.string());
}

const Command reg("export", [](CLI::App& cmd) {
  cmd.description("Export a checkpoint to open_clip's format (loads with strict=True), PEFT merged where possible");
  auto a = std::make_shared<ExportArgs>();
  cmd.add_option("--checkpoint", a->checkpoint, "training checkpoint directory (RUN/checkpoints/step_N) or weights file")
      ->required();
  cmd.add_option("--model", a->model, "model name or config .json (needed for a weights file)");
  cmd.add_option("--out", a->out, "output .bin / .pt / .safetensors")->required();
  cmd.add_flag("--ema", a->ema, "export the EMA weights of the checkpoint");
  cmd.callback([a] { run(*a); });
});

}  // namespace
}  // namespace rsclip::cli
