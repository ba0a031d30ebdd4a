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

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/base/error.h"
#include "core/io/state_dict.h"
#include "train/optim/optim_config.h"

namespace rsclip::train {

class Schedule;

struct ParamGroup {
  std::string name;                // "no_decay", "decay", "visual.decay.layer3", ...
  std::vector<std::string> names;  // parameter names, in named_parameters() order
  std::vector<torch::Tensor> params;
  double base_lr = 0;  // peak lr of the group (tower lr x layer scale)
  double weight_decay = 0;
  double lr = 0;  // current lr; set_lr / apply_schedule change it
};

// open_clip_train's `exclude` predicate (true = no weight decay).
bool is_no_decay(const std::string& name, const torch::Tensor& param);

enum class Tower { visual, text, shared };
Tower tower_of(const std::string& name);

// The layer id described above; `num_layers` is the tower's resblock count.
int64_t layer_id(const std::string& name, int64_t num_layers);

std::vector<ParamGroup> build_param_groups(const StateDict& named_parameters, const OptimizerConfig& config);

// Adam / AdamW over parameter groups, equal to torch.optim.Adam(W) with the same impl:
// bitwise on CPU for fused and loop (see tests/train/optim/optimizer_test.cpp).
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
  // The tensors one Adam update works on, parallel lists (torch.optim's _init_group output).
  struct AdamTensors {
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
  };
  std::map<Impl, std::vector<std::size_t>> init_group(const ParamGroup& group, std::vector<State>& state) const;
  void step_group(ParamGroup& group, std::vector<State>& state, const torch::Tensor& grad_scale,
                  const torch::Tensor& found_inf);
  void step_single_tensor(AdamTensors& t, double lr, double wd) const;
  void step_fused(AdamTensors& b, double lr, double wd, const torch::Tensor& grad_scale,
                  const torch::Tensor& found_inf) const;
  void step_multi_tensor(AdamTensors& b, double lr, double wd) const;

  std::vector<ParamGroup> groups_;
  std::vector<std::vector<State>> state_;  // parallel to groups_[g].params
  bool decoupled_;                         // AdamW
  double beta1_, beta2_, eps_;
  std::optional<Impl> forced_;  // config.impl; nullopt = auto
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
