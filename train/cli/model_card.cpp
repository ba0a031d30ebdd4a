#include "train/cli/model_card.h"

#include <algorithm>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "train/loop/train_config.h"

namespace rsclip::cli {
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// A YAML scalar: JSON's quoted string is valid YAML.
std::string q(const std::string& s) { return Json(s).dump(); }

std::string count(int64_t n) {
  if (n >= 1'000'000) return fmt::format("{:.2f} M", static_cast<double>(n) / 1e6);
  if (n >= 1'000) return fmt::format("{:.1f} k", static_cast<double>(n) / 1e3);
  return std::to_string(n);
}

// What a training checkpoint tells about its run; empty fields for a bare weights file.
struct RunFacts {
  std::string config_yaml, architecture, base, data;
  int64_t step = -1, samples = 0;
  Json results;  // the evaluation at or before the checkpoint's step
  int64_t eval_step = -1;
};

RunFacts read_run(const fs::path& ckpt) {
  RunFacts f;
  if (!fs::exists(ckpt / "trainer.json") || !fs::exists(ckpt / "config.yaml")) return f;
  const Json trainer = Json::parse(read_file(ckpt / "trainer.json"));
  f.step = trainer.value("step", int64_t{-1});
  f.samples = trainer.value("samples", int64_t{0});
  f.config_yaml = read_file(ckpt / "config.yaml");
  const auto cfg = train::load_train_config((ckpt / "config.yaml").string());
  f.architecture = cfg.model.name;
  f.base = cfg.init.checkpoint.empty() ? "random initialisation" : cfg.init.checkpoint;
  if (!cfg.init.pretrained.empty()) f.base = cfg.model.name + " pretrained " + cfg.init.pretrained;
  if (!cfg.data.shards.empty()) {
    f.data = cfg.data.shards;
  } else {
    for (const auto& s : cfg.data.sources) f.data += (f.data.empty() ? "" : ", ") + s.shards;
  }
  const fs::path eval_dir = ckpt.parent_path().parent_path() / "eval";
  if (fs::is_directory(eval_dir)) {
    for (const auto& e : fs::directory_iterator(eval_dir)) {
      const std::string n = e.path().filename().string();
      int64_t step = -1;
      if (std::sscanf(n.c_str(), "step_%ld.json", &step) != 1 || step > f.step || step <= f.eval_step) continue;
      f.eval_step = step;
      f.results = Json::parse(read_file(e.path()));
    }
  }
  return f;
}

struct Result {
  std::string task, dataset, metric, metric_name;
  double value;
};

std::vector<Result> results_of(const Json& r) {
  std::vector<Result> out;
  if (r.contains("zeroshot")) {
    for (const auto& [name, v] : r["zeroshot"].items()) {
      out.push_back(
          {"zero-shot-image-classification", name, "accuracy", "top-1 accuracy (%)", v["top1"].get<double>()});
    }
  }
  if (r.contains("retrieval")) {
    for (const auto& [name, v] : r["retrieval"].items()) {
      for (const auto& [k, label] : std::vector<std::pair<std::string, std::string>>{
               {"i2t_r1", "image-to-text R@1"}, {"t2i_r1", "text-to-image R@1"}, {"mR", "mean recall"}}) {
        out.push_back({"image-text-retrieval", name, "recall", label, v[k].get<double>()});
      }
    }
  }
  return out;
}

}  // namespace

std::string model_card(const ModelCardInputs& in) {
  const RunFacts run = read_run(in.checkpoint);
  const auto results = results_of(run.results);
  const std::string architecture = run.architecture.empty() ? in.architecture : run.architecture;
  std::string s =
      "---\nlibrary_name: open_clip\nlicense: " + q(in.license) + "\npipeline_tag: zero-shot-image-classification\n";
  s += "tags:\n- clip\n- open_clip\n- rsclip\n- remote-sensing\n";
  if (in.peft_method != "full") s += "- peft\n- " + q(in.peft_method) + "\n";
  if (!results.empty()) {
    s += "model-index:\n- name: " + q(in.name) + "\n  results:\n";
    for (const auto& r : results) {
      s += "  - task:\n      type: " + q(r.task) + "\n    dataset:\n      name: " + q(r.dataset) +
           "\n      type: " + q(r.dataset) + "\n    metrics:\n    - type: " + q(r.metric) +
           "\n      name: " + q(r.metric_name) + fmt::format("\n      value: {}\n", r.value);
    }
  }
  s += "---\n\n# " + in.name + "\n\n";
  s += fmt::format("A {} CLIP model fine-tuned with rsclip for remote-sensing image–text tasks.\n\n", architecture);
  s += "| | |\n|---|---|\n";
  s += "| architecture | `" + architecture + "` |\n";
  if (!run.base.empty()) s += "| base weights | `" + run.base + "` |\n";
  s += "| exported from | `" + in.checkpoint + "`" + (in.ema ? " (EMA weights)" : "") + " |\n";
  s += fmt::format("| PEFT method | {} |\n| trainable parameters | {} of {} |\n", in.peft_method,
                   count(in.trainable_params), count(in.total_params));
  if (!run.data.empty()) s += "| training data | `" + run.data + "` |\n";
  if (run.step >= 0) s += fmt::format("| training | {} steps, {} samples |\n", run.step, run.samples);
  s += "\n## Use\n\n```python\nimport open_clip\nmodel, _, preprocess = "
       "open_clip.create_model_and_transforms(\"hf-hub:ORG/" +
       in.name + "\")\ntokenizer = open_clip.get_tokenizer(\"hf-hub:ORG/" + in.name + "\")\n```\n\n";
  if (in.adapter) {
    s += "The weights are the base model's; the trained " + in.peft_method +
         " adapter is in `adapter.safetensors`, which rsclip applies (`rsclip encode --checkpoint DIR`).\n\n";
  }
  if (!results.empty()) {
    s += fmt::format("## Evaluation (step {})\n\n| task | dataset | metric | value |\n|---|---|---|---:|\n",
                     run.eval_step);
    for (const auto& r : results)
      s += fmt::format("| {} | {} | {} | {:.2f} |\n", r.task, r.dataset, r.metric_name, r.value);
    s += "\n";
  }
  if (!run.config_yaml.empty()) s += "## Training config\n\n```yaml\n" + run.config_yaml + "```\n";
  return s;
}

}  // namespace rsclip::cli
