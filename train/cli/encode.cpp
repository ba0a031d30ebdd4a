// rsclip encode: features of already-preprocessed inputs.
//   --tokens FILE.safetensors  (`tokens` [N, context] int64)  -> `text_features`  [N, embed] fp32
//   --pixels FILE.safetensors  (`pixels` [N, 3, H, W] float32) -> `image_features` [N, embed] fp32
// Features are un-normalised (open_clip encode_* with normalize=False).
#include "core/error.h"
#include "core/log.h"
#include "core/safetensors.h"
#include "train/cli/command.h"
#include "train/model_io.h"

namespace rsclip::cli {
namespace {

struct EncodeArgs {
  std::string model, checkpoint, tokens, pixels, out, device = "auto", precision = "fp32";
  int64_t batch_size = 64;
  bool no_strict = false;
};

torch::Tensor input_tensor(const std::string& path, const char* name, torch::ScalarType dtype, int64_t dims) {
  auto tensors = load_safetensors(path);
  if (!tensors.contains(name)) {
    throw Error(std::string("no tensor named '") + name + "'", path, std::string("the file must hold `") + name + "`");
  }
  auto t = tensors[name];
  if (t.scalar_type() != dtype || t.dim() != dims) {
    throw Error(fmt::format("`{}` must be {}-d {}, got {}-d {}", name, dims, c10::toString(dtype), t.dim(),
                            c10::toString(t.scalar_type())),
                path);
  }
  return t;
}

void run(const EncodeArgs& a) {
  if (a.tokens.empty() && a.pixels.empty()) throw Error("nothing to encode", "rsclip encode", "give --tokens and/or --pixels");
  if (a.precision != "fp32" && a.precision != "bf16") throw Error("precision must be fp32 or bf16", "--precision");
  const auto device = train::parse_device(a.device);
  auto model = train::load_model(a.model, a.checkpoint, !a.no_strict, device);
  const bool bf16 = a.precision == "bf16";
  StateDict out;
  if (!a.pixels.empty()) {
    auto pixels = input_tensor(a.pixels, "pixels", torch::kFloat, 4);
    const int64_t size = model->cfg.vision.image_size;
    if (pixels.size(1) != 3 || pixels.size(2) != size || pixels.size(3) != size) {
      throw Error(fmt::format("pixels must be [N, 3, {0}, {0}] for {1}", size, model->cfg.name), a.pixels);
    }
    out.insert("image_features", train::encode_batched([&](const torch::Tensor& x) { return model->encode_image(x); },
                                                       pixels, a.batch_size, device, bf16));
  }
  if (!a.tokens.empty()) {
    auto tokens = input_tensor(a.tokens, "tokens", torch::kLong, 2);
    const int64_t vocab = model->cfg.text.vocab_size;
    if (tokens.numel() && (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= vocab)) {
      throw Error(fmt::format("token ids must be in [0, {})", vocab), a.tokens, "tokenize with the model's tokenizer");
    }
    out.insert("text_features", train::encode_batched([&](const torch::Tensor& x) { return model->encode_text(x); },
                                                      tokens, a.batch_size, device, bf16));
  }
  save_safetensors(a.out, out, {{"model", model->cfg.name}, {"checkpoint", a.checkpoint}, {"precision", a.precision}});
  log::info("wrote {}", a.out);
}

const Command reg("encode", [](CLI::App& cmd) {
  cmd.description("Encode preprocessed pixels and/or token ids into CLIP features (un-normalised, fp32)");
  auto a = std::make_shared<EncodeArgs>();
  cmd.add_option("--model", a->model, "built-in model name or open_clip config .json")->required();
  cmd.add_option("--checkpoint", a->checkpoint, "weights: .safetensors, torch .pt/.bin, OpenAI TorchScript")->required();
  cmd.add_option("--tokens", a->tokens, "safetensors file with `tokens` [N, context] int64");
  cmd.add_option("--pixels", a->pixels, "safetensors file with `pixels` [N, 3, H, W] float32");
  cmd.add_option("--out", a->out, "output .safetensors (image_features / text_features)")->required();
  cmd.add_option("--batch-size", a->batch_size, "rows per forward pass")->capture_default_str();
  cmd.add_option("--device", a->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd.add_option("--precision", a->precision, "fp32 or bf16 (autocast)")->capture_default_str();
  cmd.add_flag("--no-strict", a->no_strict, "load the checkpoint with strict=false (report, don't fail)");
  cmd.callback([a] { run(*a); });
});

}  // namespace
}  // namespace rsclip::cli
