// Optimisation: parameter groups (open_clip's no-decay rule, per-tower lr / weight decay,
// layer-wise lr decay), Adam/AdamW equal to torch.optim, gradient clipping equal to
// torch.nn.utils.clip_grad_norm_, and optimiser state as a StateDict for checkpoints.
//
// Everything works on named parameters (model->named_parameters()), so the model code and
// PEFT methods need to know nothing about optimisation.
//
// Parameter groups
//   no decay  = open_clip_train/main.py's `exclude`: ndim < 2, or the name contains "bn",
//               "ln", "bias" or "logit_scale" (weight decay 0); the rest gets weight_decay.
//   towers    = "visual.*" is the image tower; "text.*", "token_embedding*",
//               "positional_embedding*", "transformer.*", "ln_final.*", "text_projection*"
//               the text tower; anything else (logit_scale, logit_bias, parameters shared by
//               both towers) uses the base lr / weight decay. `visual:` / `text:` override lr
//               and weight decay per tower.
//   layer-wise lr decay (BEiT / timm style, per tower): with L = number of resblocks of the
//               tower, a parameter's layer id is 0 for the embeddings (class/positional/token
//               embedding, conv1 / patch embedding, ln_pre), N + 1 inside
//               "(res)blocks.N.", and L + 1 for everything after the blocks (ln_post,
//               ln_final, proj, text_projection, heads). Its lr is tower_lr *
//               layer_decay^(L + 1 - id): heads keep the full lr, the embeddings get the
//               smallest. Parameters outside both towers keep the full lr.
//   Frozen parameters (requires_grad false) are left out, as open_clip does.
//   With no tower overrides and layer_decay 1 the groups are exactly open_clip's two,
//   [no decay, decay], each in named_parameters() order.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/state_dict.h"

namespace rsclip::train {

class Schedule;

struct TowerOptimConfig {
  std::optional<double> lr;            // default: optim.lr
  std::optional<double> weight_decay;  // default: optim.weight_decay
  template <class V>
  void visit(V& v) {
    v("lr", lr);
    v("weight_decay", weight_decay);
  }
};

// The `optim:` config section. Defaults are open_clip_train's for ViT models.
struct OptimizerConfig {
  std::string name = "adamw";  // adamw | adam (L2 weight decay added to the gradient, as torch.optim.Adam)
  double lr = 5e-4;
  double weight_decay = 0.2;
  double beta1 = 0.9;
  double beta2 = 0.98;
  double eps = 1e-6;
  // fused: at::_fused_adam(w)_ (torch.optim.Adam(W)(fused=True)); foreach: the multi-tensor
  // path (torch's default on CUDA); loop: the single-tensor path (torch's default on CPU);
  // auto: fused where the kernel exists for the device and dtype, else torch's default.
  std::string impl = "auto";
  double layer_decay = 1.0;  // layer-wise lr decay factor; 1 = off
  TowerOptimConfig visual;
  TowerOptimConfig text;
  std::optional<double> grad_clip_norm;  // clip the total gradient norm to this

  template <class V>
  void visit(V& v) {
    v("name", name);
    v("lr", lr);
    v("weight_decay", weight_decay);
    v("beta1", beta1);
    v("beta2", beta2);
    v("eps", eps);
    v("impl", impl);
    v("layer_decay", layer_decay);
    v("visual", visual);
    v("text", text);
    v("grad_clip_norm", grad_clip_norm);
  }
  void validate() const;
};

struct ParamGroup {
  std::string name;                 // "no_decay", "decay", "visual.decay.layer3", ...
  std::vector<std::string> names;   // parameter names, in named_parameters() order
  std::vector<torch::Tensor> params;
  double base_lr = 0;               // peak lr of the group (tower lr x layer scale)
  double weight_decay = 0;
  double lr = 0;                    // current lr; set_lr / apply_schedule change it
};

// open_clip_train's `exclude` predicate (true = no weight decay).
bool is_no_decay(const std::string& name, const torch::Tensor& param);

enum class Tower { visual, text, shared };
Tower tower_of(const std::string& name);

// The layer id described above; `num_layers` is the tower's resblock count.
int64_t layer_id(const std::string& name, int64_t num_layers);

std::vector<ParamGroup> build_param_groups(const StateDict& named_parameters, const OptimizerConfig& config);

// Adam / AdamW over parameter groups, equal to torch.optim.Adam(W) with the same impl:
// bitwise on CPU for fused and loop (see tests/train/optimizer_test.cpp).
class Optimizer {
 public:
  enum class Impl { fused, foreach, loop };

  Optimizer(std::vector<ParamGroup> groups, const OptimizerConfig& config);

  // One update of every parameter that has a gradient (others are skipped and get no state,
  // as torch). grad_scale / found_inf: the AMP scaler's tensors, fused only
  // (supports_amp_scaling()); a step with found_inf != 0 changes nothing.
  void step(const torch::Tensor& grad_scale = {}, const torch::Tensor& found_inf = {});
  void zero_grad();  // sets gradients to undefined (torch's set_to_none=True)

  // group.lr = schedule.lr_for(group.base_lr, step) for every group (groups start at base_lr).
  void apply_schedule(const Schedule& schedule, int64_t step);

  // exp_avg, exp_avg_sq and step of every parameter that has state, keyed
  // "<param name>.exp_avg" etc. (step is a float32 scalar, as torch keeps it). The tensors
  // are the live state, not copies: a checkpoint writer copies them out.
  StateDict state_dict() const;
  // Restores state saved by state_dict(); unknown or mis-shaped entries are rsclip::Error.
  void load_state_dict(const StateDict& state);

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  std::vector<torch::Tensor> parameters() const;
  bool supports_amp_scaling() const;  // true when every group steps fused
  Impl impl_for(const torch::Tensor& param) const;

 private:
  struct State {
    torch::Tensor exp_avg, exp_avg_sq, step;
  };
  void step_group(ParamGroup& group, std::vector<State>& state, const torch::Tensor& grad_scale,
                  const torch::Tensor& found_inf);

  std::vector<ParamGroup> groups_;
  std::vector<std::vector<State>> state_;  // parallel to groups_[g].params
  bool decoupled_;                         // AdamW
  double beta1_, beta2_, eps_;
  std::optional<Impl> forced_;             // config.impl; nullopt = auto
};

// The optimiser the trainer builds from model->named_parameters() and the `optim:` section.
Optimizer build_optimizer(const StateDict& named_parameters, const OptimizerConfig& config);

// torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type) with its default foreach
// path: per-tensor norms (_foreach_norm per device/dtype), their norm, then every gradient
// times min(max_norm / (total + 1e-6), 1). Parameters without a gradient are skipped.
// Returns the total norm before clipping. Pass the model's parameters in model order: the
// order decides the last bits of the total, as in Python.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm, double norm_type = 2.0);

}  // namespace rsclip::train
