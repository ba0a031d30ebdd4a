// rsclip encode: CLIP features of images/texts, raw files or already-preprocessed inputs.
//   --images DIR|LIST  image files -> `image_features` [N, embed] fp32. DIR: every image file
//                      under DIR (.jpg .jpeg .png .bmp .tif .tiff .webp, recursive),
//                      in sorted path order; LIST: a text file with one image path per line
//                      (blank lines skipped, relative paths taken from the list's folder).
//                      Decoded as PIL does and put through open_clip's eval transform at the
//                      model's image size (train/eval/evaluator.h load_images).
//   --texts FILE       one text per line (a trailing '\r' dropped; a final newline does not
//                      start another text) -> `text_features` [N, embed] fp32, tokenized with
//                      the CLIP BPE tokenizer at the model config's context length.
//   --tokens FILE.safetensors  (`tokens` [N, context] int64)  -> `text_features`
//   --pixels FILE.safetensors  (`pixels` [N, 3, H, W] float32) -> `image_features`
// Features are un-normalised (open_clip encode_* with normalize=False), row i = input i.
// The row order is stored in the safetensors metadata (`__metadata__`) as JSON arrays of
// strings: `names` = the image paths as opened (--images) or the texts (--texts) when only
// one of the two is given; `image_names` and `text_names` when both are. --tokens/--pixels
// inputs carry no names. Other metadata keys: `model`, `checkpoint`, `precision`.
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/log.h"
#include "core/io/safetensors.h"
#include "data/eval/eval_datasets.h"
#include "models/io/model_io.h"
#include "train/cli/command.h"
#include "train/cli/model_options.h"
#include "train/eval/evaluator.h"

namespace rsclip::cli::encode_command {
namespace fs = std::filesystem;

struct EncodeArgs {
  std::string model, checkpoint, tokens, pixels, images, texts, out, device = "auto", precision = "fp32";
  int64_t batch_size = 64;
  bool no_strict = false;
  PretrainedOptions pretrained;
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

// Lines split on '\n' with one trailing '\r' dropped (CRLF files), as `rsclip tokenize`.
std::vector<std::string> read_lines(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string("cannot open the ") + what + " file", path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw Error("read error", path);
  return lines;
}

std::vector<fs::path> image_inputs(const std::string& dir_or_list) {
  if (fs::is_directory(dir_or_list)) return data::list_image_files(dir_or_list);
  const fs::path base = fs::path(dir_or_list).parent_path();
  std::vector<fs::path> files;
  for (const auto& line : read_lines(dir_or_list, "image list")) {
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const fs::path p(line);
    files.push_back(p.is_absolute() ? p : base / p);
  }
  if (files.empty()) throw Error("no image paths", dir_or_list, "one image path per line, or pass a directory");
  return files;
}

void run(const EncodeArgs& a) {
  if (a.tokens.empty() && a.pixels.empty() && a.images.empty() && a.texts.empty()) {
    throw Error("nothing to encode", "rsclip encode", "give --images/--texts or --pixels/--tokens");
  }
  if (!a.images.empty() && !a.pixels.empty())
    throw Error("--images and --pixels both give image inputs", "rsclip encode");
  if (!a.texts.empty() && !a.tokens.empty()) throw Error("--texts and --tokens both give text inputs", "rsclip encode");
  if (a.precision != "fp32" && a.precision != "bf16") throw Error("precision must be fp32 or bf16", "--precision");
  const auto device = models::parse_device(a.device);
  std::string model_name = a.model, checkpoint = a.checkpoint;
  resolve_model_options(model_name, checkpoint, a.pretrained);
  if (checkpoint.empty()) throw CLI::RequiredError("--checkpoint (or --model with --pretrained)");
  auto model = models::load_model(model_name, checkpoint, !a.no_strict, device);
  if (!a.texts.empty() && !model->cfg.text.hf_tokenizer_name.empty()) {
    throw Error("--texts tokenizes with CLIP BPE; " + model->cfg.name + " uses " + model->cfg.text.hf_tokenizer_name,
                a.texts, "tokenize with `rsclip tokenize --tokenizer sentencepiece` and pass --tokens");
  }
  const bool bf16 = a.precision == "bf16";
  data::PreprocessConfig preprocess;
  preprocess.size = static_cast<int>(model->cfg.vision.image_size);
  data::TokenizerConfig tokenizer;
  tokenizer.context_length = static_cast<int>(model->cfg.text.context_length);
  const train::Evaluator inputs(train::EvalSection{}, preprocess, tokenizer, torch::get_num_threads());
  auto image_fn = [&](const torch::Tensor& x) { return model->encode_image(x); };
  auto text_fn = [&](const torch::Tensor& x) { return model->encode_text(x); };

  StateDict out;
  nlohmann::json image_names = nlohmann::json::array(), text_names = nlohmann::json::array();
  if (!a.images.empty()) {
    const auto files = image_inputs(a.images);
    for (const auto& f : files) image_names.push_back(f.string());
    out.insert("image_features",
               models::encode_batched(image_fn, inputs.load_images(files), a.batch_size, device, bf16));
    log::info("encoded {} images", files.size());
  }
  if (!a.pixels.empty()) {
    auto pixels = input_tensor(a.pixels, "pixels", torch::kFloat, 4);
    const int64_t size = model->cfg.vision.image_size;
    if (pixels.size(1) != 3 || pixels.size(2) != size || pixels.size(3) != size) {
      throw Error(fmt::format("pixels must be [N, 3, {0}, {0}] for {1}", size, model->cfg.name), a.pixels);
    }
    out.insert("image_features", models::encode_batched(image_fn, pixels, a.batch_size, device, bf16));
  }
  if (!a.texts.empty()) {
    const auto texts = read_lines(a.texts, "texts");
    if (texts.empty()) throw Error("no texts", a.texts, "one text per line");
    for (const auto& t : texts) text_names.push_back(t);
    out.insert("text_features", models::encode_batched(text_fn, inputs.tokenize(texts), a.batch_size, device, bf16));
    log::info("encoded {} texts", texts.size());
  }
  if (!a.tokens.empty()) {
    auto tokens = input_tensor(a.tokens, "tokens", torch::kLong, 2);
    const int64_t vocab = model->cfg.text.vocab_size;
    if (tokens.numel() && (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= vocab)) {
      throw Error(fmt::format("token ids must be in [0, {})", vocab), a.tokens, "tokenize with the model's tokenizer");
    }
    out.insert("text_features", models::encode_batched(text_fn, tokens, a.batch_size, device, bf16));
  }
  Metadata meta{{"model", model->cfg.name}, {"checkpoint", checkpoint}, {"precision", a.precision}};
  // Invalid UTF-8 in a text or path becomes U+FFFD rather than failing the dump.
  auto dump = [](const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
  if (!a.images.empty() && !a.texts.empty()) {
    meta["image_names"] = dump(image_names);
    meta["text_names"] = dump(text_names);
  } else if (!a.images.empty()) {
    meta["names"] = dump(image_names);
  } else if (!a.texts.empty()) {
    meta["names"] = dump(text_names);
  }
  save_safetensors(a.out, out, meta);
  log::info("wrote {}", a.out);
}

const Command reg("encode", [](CLI::App& cmd) {
  cmd.description(
      "Encode images/texts (or preprocessed pixels/token ids) into CLIP features (un-normalised, fp32). The output "
      "metadata records the row order as a JSON array: `names` (image paths or texts), or `image_names` and "
      "`text_names` when both --images and --texts are given.");
  auto a = std::make_shared<EncodeArgs>();
  cmd.add_option("--model", a->model,
                 "built-in model name, open_clip config .json or model directory (not needed when --checkpoint is a "
                 "training checkpoint or an open_clip model directory with open_clip_config.json)");
  cmd.add_option(
      "--checkpoint", a->checkpoint,
      "weights (.safetensors, torch .pt/.bin, OpenAI TorchScript), a training checkpoint directory or an "
      "open_clip model directory (rsclip export: its adapter.safetensors is applied); hf-hub:ORG/NAME from the "
      "Hugging Face cache");
  add_pretrained_options(cmd, a->pretrained);
  cmd.add_option("--images", a->images,
                 "DIR (image files, recursive, sorted by path) or LIST (one image path per line, relative to the "
                 "list's folder); eval transform at the model's image size");
  cmd.add_option("--texts", a->texts, "text file, one text per line (CLIP BPE, the model's context length)");
  cmd.add_option("--tokens", a->tokens, "safetensors file with `tokens` [N, context] int64");
  cmd.add_option("--pixels", a->pixels, "safetensors file with `pixels` [N, 3, H, W] float32");
  cmd.add_option("--out", a->out, "output .safetensors (image_features / text_features; names in the metadata)")
      ->required();
  cmd.add_option("--batch-size", a->batch_size, "rows per forward pass")->capture_default_str();
  cmd.add_option("--device", a->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd.add_option("--precision", a->precision, "fp32 or bf16 (autocast)")->capture_default_str();
  cmd.add_flag("--no-strict", a->no_strict, "load the checkpoint with strict=false (report, don't fail)");
  cmd.callback([a] { run(*a); });
});

}  // namespace rsclip::cli::encode_command
