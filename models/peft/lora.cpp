// LoRA (Hu et al. 2021) with peft's conventions (peft/tuners/lora/layer.py): delta
// W = (alpha / rank) * B @ A, A [rank, in] kaiming-uniform(a = sqrt 5), B [out, rank] zero,
// dropout on the input of A, merge checks the merged weights are finite before writing
// (safe_merge), unmerge subtracts the same delta.
//
// Targets and names:
//   a Linear (`…attn.out_proj`, `…mlp.c_fc`, `…mlp.c_proj`) is swapped for LoraLinear, a
//   LinearImpl subclass that adopts the base `weight`/`bias` tensors and adds
//   `<linear>.lora_A.weight`, `<linear>.lora_B.weight`;
//   the packed attention input projection (`<attn>.in_proj`, open_clip's in_proj_weight
//   rows [q; k; v]) gets one pair per chosen slice, keyed like peft's per-adapter dicts:
//   `<attn>.in_proj.lora_A.q.weight` [rank, width], `<attn>.in_proj.lora_B.q.weight`
//   [width, rank], merged into rows [s*width, (s+1)*width) of in_proj_weight.
#include <map>

#include <torch/torch.h>

#include "core/base/error.h"
#include "models/peft/methods.h"
#include "models/peft/peft_module.h"
#include "models/peft/targets.h"

namespace rsclip::models::peft {
namespace {

// One LoRA pair: A [rank, in], B [out, rank] as `.weight` of bias-free Linear-shaped modules.
struct LoraPair {
  Linear a{nullptr}, b{nullptr};
  LoraPair(int64_t in, int64_t out, int64_t rank) : a(Linear(in, rank, false)), b(Linear(rank, out, false)) {
    kaiming_uniform_default(a->weight);
    torch::NoGradGuard no_grad;
    b->weight.zero_();
  }
  torch::Tensor delta(const torch::Tensor& x, double scaling) const {
    return at::linear(at::linear(x, a->weight), b->weight) * scaling;
  }
  // scaling * B @ A in fp32, cast to `like`'s dtype.
  torch::Tensor weight_delta(double scaling, const torch::Tensor& like) const {
    return (torch::matmul(b->weight.to(torch::kFloat), a->weight.to(torch::kFloat)) * scaling).to(like.scalar_type());
  }
};

void check_finite(const torch::Tensor& merged, const std::string& where) {
  if (!torch::isfinite(merged).all().item<bool>()) {
    throw Error("merging LoRA would put non-finite values into the weights", where,
                "the adapter is broken (diverged training?); nothing was merged");
  }
}

class LoraLinearImpl : public LinearImpl, public PeftModule {
 public:
  LoraLinearImpl(const LinearImpl& base, const LoraConfig& cfg)
      : LinearImpl(base.weight, base.bias),
        pair_(base.in_features, base.out_features, cfg.rank),
        scaling_(cfg.alpha / static_cast<double>(cfg.rank)),
        dropout_(cfg.dropout) {
    register_module("lora_A", pair_.a);
    register_module("lora_B", pair_.b);
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    auto y = at::linear(x, weight, bias);
    if (merged_) return y;
    const auto h = dropout_ > 0 ? torch::dropout(x, dropout_, is_training()) : x;
    return y + pair_.delta(h, scaling_);
  }

  std::string method() const override { return "lora"; }
  bool mergeable() const override { return true; }
  bool merged() const override { return merged_; }
  void check_merge(const std::string& where) const override {
    torch::NoGradGuard no_grad;
    check_finite(weight + pair_.weight_delta(scaling_, weight), where);
  }
  void merge() override {
    TORCH_CHECK(!merged_, "LoRA layer merged twice");
    torch::NoGradGuard no_grad;
    weight.add_(pair_.weight_delta(scaling_, weight));
    merged_ = true;
  }
  void unmerge() override {
    TORCH_CHECK(merged_, "LoRA layer unmerged while not merged");
    torch::NoGradGuard no_grad;
    weight.sub_(pair_.weight_delta(scaling_, weight));
    merged_ = false;
  }
  void export_merged(const std::string& prefix, StateDict& state) const override {
    torch::NoGradGuard no_grad;
    state.insert(prefix + ".weight", merged_ ? weight.detach().clone() : weight + pair_.weight_delta(scaling_, weight));
  }

 private:
  LoraPair pair_;
  double scaling_, dropout_;
  bool merged_ = false;
};

class LoraInProjImpl : public InProjHook, public PeftModule {
 public:
  LoraInProjImpl(AttentionImpl& attn, const LoraConfig& cfg)
      : in_proj_weight_(attn.in_proj_weight),
        width_(attn.dim),
        scaling_(cfg.alpha / static_cast<double>(cfg.rank)),
        dropout_(cfg.dropout) {
    // Plain containers keyed by slice, like peft's per-adapter ModuleDicts.
    auto a = std::make_shared<torch::nn::Module>(), b = std::make_shared<torch::nn::Module>();
    for (char s : std::string("qkv")) {
      if (cfg.qkv.find(s) == std::string::npos) continue;
      LoraPair pair(width_, width_, cfg.rank);
      a->register_module(std::string(1, s), pair.a);
      b->register_module(std::string(1, s), pair.b);
      slices_.emplace_back(s == 'q' ? 0 : s == 'k' ? 1 : 2, std::move(pair));
    }
    register_module("lora_A", a);
    register_module("lora_B", b);
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& qkv) override {
    if (merged_) return qkv;
    const auto h = dropout_ > 0 ? torch::dropout(x, dropout_, is_training()) : x;
    auto parts = qkv.chunk(3, -1);
    for (const auto& [slice, pair] : slices_) parts[slice] = parts[slice] + pair.delta(h, scaling_);
    return torch::cat(parts, -1);
  }

  std::string method() const override { return "lora"; }
  bool mergeable() const override { return true; }
  bool merged() const override { return merged_; }
  void check_merge(const std::string& where) const override {
    torch::NoGradGuard no_grad;
    check_finite(merged_weight(), where);
  }
  void merge() override {
    TORCH_CHECK(!merged_, "LoRA in_proj merged twice");
    torch::NoGradGuard no_grad;
    for (const auto& [slice, pair] : slices_) rows(slice).add_(pair.weight_delta(scaling_, in_proj_weight_));
    merged_ = true;
  }
  void unmerge() override {
    TORCH_CHECK(merged_, "LoRA in_proj unmerged while not merged");
    torch::NoGradGuard no_grad;
    for (const auto& [slice, pair] : slices_) rows(slice).sub_(pair.weight_delta(scaling_, in_proj_weight_));
    merged_ = false;
  }
  void export_merged(const std::string& prefix, StateDict& state) const override {
    // prefix is `<attn>.in_proj`; the base parameter is `<attn>.in_proj_weight`.
    torch::NoGradGuard no_grad;
    state.insert(prefix + "_weight", merged_ ? in_proj_weight_.detach().clone() : merged_weight());
  }

 private:
  torch::Tensor rows(int64_t slice) const { return in_proj_weight_.narrow(0, slice * width_, width_); }
  torch::Tensor merged_weight() const {
    auto w = in_proj_weight_.detach().clone();
    for (const auto& [slice, pair] : slices_) {
      w.narrow(0, slice * width_, width_).add_(pair.weight_delta(scaling_, in_proj_weight_));
    }
    return w;
  }

  torch::Tensor in_proj_weight_;  // the attention's parameter (same tensor), for merging
  int64_t width_;
  double scaling_, dropout_;
  std::vector<std::pair<int64_t, LoraPair>> slices_;
  bool merged_ = false;
};

// Puts `lora` where `parent` keeps its Linear `child`: in the module tree (same name, same
// position) and in the parent's typed member that forward() calls.
void swap_linear(torch::nn::Module& parent, const std::string& child, const std::shared_ptr<LoraLinearImpl>& lora,
                 const std::string& full_name) {
  if (auto* mlp = dynamic_cast<MlpImpl*>(&parent)) {
    (child == "c_fc" ? mlp->c_fc : mlp->c_proj) = Linear(std::static_pointer_cast<LinearImpl>(lora));
  } else if (auto* attn = dynamic_cast<AttentionImpl*>(&parent)) {
    attn->out_proj = Linear(std::static_pointer_cast<LinearImpl>(lora));
  } else {
    throw Error("LoRA cannot replace '" + full_name + "': its parent is not an attention or MLP module",
                "peft.lora.targets", "target attn.in_proj, attn.out_proj, mlp.c_fc or mlp.c_proj");
  }
  parent.replace_module(child, std::static_pointer_cast<LinearImpl>(lora));
}

class Lora final : public Method {
 public:
  std::string name() const override { return "lora"; }
  std::string prefix() const override { return "lora_"; }
  bool identity_at_init() const override { return true; }
  bool mergeable() const override { return true; }

  void attach(CLIPImpl& model, const PeftConfig& cfg) const override {
    check_section(cfg.lora, "peft.lora");
    // Candidates: every Linear module, and `<attn>.in_proj` for every attention.
    std::vector<std::string> candidates;
    std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
    for (const auto& item : model.named_modules()) {
      if (dynamic_cast<LinearImpl*>(item.value().get())) {
        candidates.push_back(item.key());
      } else if (dynamic_cast<AttentionImpl*>(item.value().get())) {
        candidates.push_back(item.key() + ".in_proj");
      }
      modules[item.key()] = item.value();
    }
    for (const auto& target :
         match_targets(cfg.lora.targets, candidates, "peft.lora.targets", "Linear layers or <attn>.in_proj")) {
      const auto dot = target.rfind('.');
      const std::string parent_name = target.substr(0, dot), child = target.substr(dot + 1);
      auto& parent = *modules.at(parent_name);
      if (child == "in_proj" && dynamic_cast<AttentionImpl*>(&parent)) {
        auto& attn = dynamic_cast<AttentionImpl&>(parent);
        auto hook = std::make_shared<LoraInProjImpl>(attn, cfg.lora);
        attn.register_module("in_proj", hook);
        attn.in_proj_hook = hook;
      } else {
        const auto& base = dynamic_cast<const LinearImpl&>(*modules.at(target));
        swap_linear(parent, child, std::make_shared<LoraLinearImpl>(base, cfg.lora), target);
      }
    }
  }
};

}  // namespace

void LoraConfig::validate() const {
  if (rank < 1) throw Error("rank must be at least 1, got " + std::to_string(rank), "rank");
  if (!(alpha > 0)) throw Error("alpha must be positive", "alpha");
  if (!(dropout >= 0 && dropout < 1)) throw Error("dropout must be in [0, 1)", "dropout");
  if (qkv.empty()) throw Error("qkv names no slice", "qkv", "any of q, k, v, e.g. qv");
  for (std::size_t i = 0; i < qkv.size(); ++i) {
    if (qkv[i] != 'q' && qkv[i] != 'k' && qkv[i] != 'v')
      throw Error("qkv may only contain q, k, v: '" + qkv + "'", "qkv");
    if (qkv.find(qkv[i]) != i) throw Error("qkv names a slice twice: '" + qkv + "'", "qkv");
  }
}

std::unique_ptr<Method> make_lora() { return std::make_unique<Lora>(); }

}  // namespace rsclip::models::peft
