// rsclip eval: zero-shot classification and image-text retrieval of a model, with the
// GeoRSCLIP protocol (train/eval/evaluator.h). Sets come from flags or from a training config's
// `eval:` section (--config); results print as a table and go to --out as JSON.
#include <cstdio>

#include "core/base/atomic_file.h"
#include "core/base/log.h"
#include "models/io/model_io.h"
#include "train/cli/command.h"
#include "train/cli/model_options.h"
#include "train/eval/evaluator.h"
#include "train/loop/train_config.h"
#include "train/report/plot.h"

namespace rsclip::cli::eval_command {
using train::BarGroup;

struct EvalArgs {
  std::string model, checkpoint, config, out, device = "auto", precision = "fp32", baseline, chart;
  std::vector<std::string> zeroshot, retrieval, overrides;
  std::string templates, ensemble = "georsclip", encoding = "utf-8", split = "test";
  int64_t batch_size = 64;
  bool no_strict = false;
  PretrainedOptions pretrained;
};

void print_table(const nlohmann::json& results) {
  if (results.contains("zeroshot")) {
    std::printf("%-24s %8s %8s %10s %8s\n", "zero-shot", "top1", "top5", "mean/class", "images");
    for (const auto& [name, r] : results["zeroshot"].items()) {
      std::printf("%-24s %8.2f %8.2f %10.2f %8d\n", name.c_str(), r["top1"].get<double>(), r["top5"].get<double>(),
                  r["mean_per_class"].get<double>(), r["samples"].get<int>());
    }
  }
  if (results.contains("retrieval")) {
    std::printf("%-24s %7s %7s %7s %7s %7s %7s %7s\n", "retrieval", "i2t@1", "i2t@5", "i2t@10", "t2i@1", "t2i@5",
                "t2i@10", "mR");
    for (const auto& [name, r] : results["retrieval"].items()) {
      std::printf("%-24s %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f\n", name.c_str(), r["i2t_r1"].get<double>(),
                  r["i2t_r5"].get<double>(), r["i2t_r10"].get<double>(), r["t2i_r1"].get<double>(),
                  r["t2i_r5"].get<double>(), r["t2i_r10"].get<double>(), r["mR"].get<double>());
    }
  }
}

// Headline numbers: zero-shot top-1 per set, retrieval R@1/5/10 both ways and mR per set.
std::vector<std::pair<std::string, double>> headline(const nlohmann::json& results) {
  std::vector<std::pair<std::string, double>> out;
  if (results.contains("zeroshot")) {
    for (const auto& [name, r] : results["zeroshot"].items()) out.emplace_back(name + " top1", r["top1"].get<double>());
  }
  if (results.contains("retrieval")) {
    for (const auto& [name, r] : results["retrieval"].items()) {
      for (const char* k : {"i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10", "mR"}) {
        out.emplace_back(name + " " + k, r[k].get<double>());
      }
    }
  }
  return out;
}

// A short bar label: "zero-shot top1", "I2T R@1", "T2I R@1", "mR" (with the set name's start
// when several sets are charted).
std::string chart_label(const std::string& key, bool several_sets) {
  const auto space = key.rfind(' ');
  const std::string set = key.substr(0, space), metric = key.substr(space + 1);
  std::string label = metric == "top1"     ? "zero-shot top1"
                      : metric == "i2t_r1" ? "I2T R@1"
                      : metric == "t2i_r1" ? "T2I R@1"
                                           : metric;
  return several_sets ? set.substr(0, 8) + " " + label : label;
}

// Before/after table (and chart) against an earlier `rsclip eval --out` of the same sets.
void compare(const EvalArgs& a, const nlohmann::json& results) {
  const auto before_json = nlohmann::json::parse(read_file(a.baseline));
  const auto before = headline(before_json), after = headline(results);
  std::map<std::string, double> base(before.begin(), before.end());
  std::printf("\n%-34s %9s %9s %9s\n", "metric (%)", "before", "after", "change");
  std::vector<std::string> categories;
  BarGroup b{"before", {}}, c{"after", {}};
  for (const auto& [k, v] : after) {
    const auto it = base.find(k);
    if (it == base.end()) continue;
    std::printf("%-34s %9.2f %9.2f %+9.2f\n", k.c_str(), it->second, v, v - it->second);
    if (k.ends_with("top1") || k.ends_with("_r1") || k.ends_with("mR")) {
      categories.push_back(chart_label(k, before.size() > 8));
      b.values.push_back(it->second);
      c.values.push_back(v);
    }
  }
  if (!a.chart.empty() && !categories.empty()) {
    train::plot_bars(a.chart, categories, {b, c}, {"evaluation before and after", "", "%"});
    log::info("wrote {}", a.chart);
  }
}

void run(const EvalArgs& a) {
  train::EvalSection eval;
  data::PreprocessConfig preprocess;
  data::TokenizerConfig tokenizer;
  std::string model_name = a.model, checkpoint = a.checkpoint;
  bool strict = !a.no_strict;
  int64_t seed = 0;
  if (!a.config.empty()) {
    const auto cfg = train::load_train_config(a.config, a.overrides);
    if (a.model.empty()) model_name = cfg.model.name;
    if (a.checkpoint.empty()) checkpoint = cfg.init.checkpoint, strict = cfg.init.strict;
    seed = cfg.seed;
    eval = cfg.eval;
    preprocess = cfg.data.preprocess;
    tokenizer = cfg.data.tokenizer;
  }
  for (const auto& path : a.zeroshot) {
    train::EvalSetConfig set;
    set.path = path;
    eval.zeroshot.push_back(std::move(set));
  }
  for (const auto& path : a.retrieval) {
    train::EvalSetConfig set;
    set.path = path;
    set.split = a.split;
    set.encoding = a.encoding;
    eval.retrieval.push_back(std::move(set));
  }
  if (!a.templates.empty()) eval.templates = a.templates;
  eval.ensemble = a.ensemble;
  eval.batch_size = a.batch_size;
  eval.validate();
  if (eval.zeroshot.empty() && eval.retrieval.empty()) {
    throw Error("nothing to evaluate", "rsclip eval", "give --zeroshot DIR and/or --retrieval FILE, or --config");
  }
  if (a.precision != "fp32" && a.precision != "bf16") throw Error("precision must be fp32 or bf16", "--precision");
  if (!a.pretrained.tag.empty()) checkpoint.clear();  // --pretrained replaces --config's init.checkpoint
  resolve_model_options(model_name, checkpoint, a.pretrained);
  // A checkpoint that carries its architecture brings it; else --model, --config's, ViT-B-32.
  if (model_name.empty() && (checkpoint.empty() || !models::checkpoint_model_config(checkpoint, ""))) {
    model_name = "ViT-B-32";
  }
  const auto device = models::parse_device(a.device);
  // A random init is the one `rsclip train` starts from with the same seed.
  torch::manual_seed(static_cast<uint64_t>(seed));
  auto model = models::load_model(model_name, checkpoint, strict, device);
  preprocess.size = static_cast<int>(model->cfg.vision.image_size);
  tokenizer.context_length = static_cast<int>(model->cfg.text.context_length);
  train::Evaluator evaluator(eval, preprocess, tokenizer, torch::get_num_threads());
  const auto results = evaluator.evaluate(*model, device, a.precision == "bf16");
  print_table(results);
  if (!a.baseline.empty()) compare(a, results);
  std::fflush(stdout);
  if (!a.out.empty()) {
    write_file_atomic(a.out, results.dump(2) + "\n");
    log::info("wrote {}", a.out);
  }
}

const Command reg("eval", [](CLI::App& cmd) {
  cmd.description(
      "Zero-shot classification (ImageFolder) and image-text retrieval (Karpathy JSON, GeoRSCLIP CSV, *_caps.txt) "
      "with the GeoRSCLIP protocol");
  auto a = std::make_shared<EvalArgs>();
  cmd.add_option("--model", a->model,
                 "built-in model name, open_clip config .json or model directory (default: the checkpoint's own, "
                 "else --config's, else ViT-B-32)");
  cmd.add_option(
      "--checkpoint", a->checkpoint,
      "weights (.safetensors, .pt/.bin, OpenAI TorchScript), a training checkpoint directory or an open_clip "
      "model directory with its adapter, hf-hub:ORG/NAME from the Hugging Face cache (default: --config's "
      "init.checkpoint; none = random init)");
  add_pretrained_options(cmd, a->pretrained);
  cmd.add_option("--zeroshot", a->zeroshot, "ImageFolder test set: DIR/<class>/<image> (repeatable)");
  cmd.add_option("--retrieval", a->retrieval, "caption list: Karpathy .json, .csv (filename,title) or *_caps.txt");
  cmd.add_option("--split", a->split, "Karpathy split to evaluate")->capture_default_str();
  cmd.add_option("--encoding", a->encoding, "caption file encoding (RSICD's CSV: gb18030)")->capture_default_str();
  cmd.add_option("--config", a->config, "take the sets, preprocessing and tokenizer from a training config");
  cmd.add_option("--set", a->overrides, "override a key of --config (repeatable)");
  cmd.add_option("--templates", a->templates, "zero-shot templates, one '{}' line each (default: 105 RS templates)");
  cmd.add_option("--ensemble", a->ensemble,
                 "template ensemble: georsclip (mean of raw embeddings, normalised) | open_clip (normalise each, mean, "
                 "normalise)")
      ->capture_default_str();
  cmd.add_option("--batch-size", a->batch_size, "rows per forward pass")->capture_default_str();
  cmd.add_option("--device", a->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd.add_option("--precision", a->precision, "fp32 or bf16 (autocast)")->capture_default_str();
  cmd.add_option("--out", a->out, "write the results as JSON");
  cmd.add_option("--baseline", a->baseline, "an earlier --out of the same sets: print a before/after table");
  cmd.add_option("--chart", a->chart, "with --baseline: draw the before/after bar chart to this PNG");
  cmd.add_flag("--no-strict", a->no_strict, "load the checkpoint with strict=false (report, don't fail)");
  cmd.callback([a] { run(*a); });
});

}  // namespace rsclip::cli::eval_command
