// Adam / AdamW steps and gradient clipping, mirroring torch/optim/adam.py (_fused_adam,
// _multi_tensor_adam, _single_tensor_adam) and torch/nn/utils/clip_grad.py op for op:
// the same kernels with the same scalars in the same order give the same bits.
#include "train/optim/optimizer.h"

#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>

#include "train/optim/schedule.h"

namespace rsclip::train {
namespace {

bool fused_kernel_exists(const torch::Tensor& p) {
  // torch.optim: _get_fused_kernels_supported_devices() and torch.is_floating_point(p); of
  // those devices LibTorch builds here carry CPU and CUDA.
  return p.is_floating_point() && (p.is_cpu() || p.is_cuda());
}

// Indices of `tensors` split by (device, dtype), in order of first appearance, as
// torch's _group_tensors_by_device_and_dtype.
std::vector<std::vector<std::size_t>> by_device_and_dtype(const std::vector<torch::Tensor>& tensors) {
  std::vector<std::vector<std::size_t>> buckets;
  std::vector<std::pair<torch::Device, torch::ScalarType>> keys;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::pair key{tensors[i].device(), tensors[i].scalar_type()};
    std::size_t b = 0;
    while (b < keys.size() && keys[b] != key) ++b;
    if (b == keys.size()) {
      keys.push_back(key);
      buckets.emplace_back();
    }
    buckets[b].push_back(i);
  }
  return buckets;
}

// Python hands a float argument of Tensor.mul_ over as a wrapped 0-dim double tensor (the
// Tensor overload), and the kernel multiplies by it in float; LibTorch's mul_(Scalar)
// first rounds the factor to a bf16/half tensor's own dtype. Passing the wrapped tensor
// keeps reduced-precision parameters bitwise equal to torch.optim.
torch::Tensor python_number(double value) {
  auto t = c10::scalar_to_tensor(value);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

}  // namespace

Optimizer::Optimizer(std::vector<ParamGroup> groups, const OptimizerConfig& config)
    : groups_(std::move(groups)),
      decoupled_(config.name == "adamw"),
      beta1_(config.beta1),
      beta2_(config.beta2),
      eps_(config.eps) {
  config.validate();
  if (config.impl == "fused")
    forced_ = Impl::fused;
  else if (config.impl == "foreach")
    forced_ = Impl::foreach;
  else if (config.impl == "loop")
    forced_ = Impl::loop;
  for (const auto& g : groups_) {
    TORCH_CHECK(g.names.size() == g.params.size(), "param group '", g.name, "': names and params differ in length");
    for (std::size_t i = 0; i < g.params.size(); ++i) {
      if (forced_ == Impl::fused && !fused_kernel_exists(g.params[i])) {
        throw Error("no fused Adam kernel for parameter '" + g.names[i] + "' (" +
                        std::string(c10::toString(g.params[i].scalar_type())) + " on " + g.params[i].device().str() +
                        ")",
                    "optim.impl", "use impl: auto to fall back to the foreach/loop implementation");
      }
    }
  }
  state_.resize(groups_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) state_[g].resize(groups_[g].params.size());
}

Optimizer::Impl Optimizer::impl_for(const torch::Tensor& param) const {
  if (forced_) return *forced_;
  if (fused_kernel_exists(param)) return Impl::fused;
  // torch.optim's default (_default_to_fused_or_foreach): foreach on CUDA, else one by one.
  return param.is_cuda() ? Impl::foreach : Impl::loop;
}

Optimizer build_optimizer(const StateDict& named_parameters, const OptimizerConfig& config) {
  return Optimizer(build_param_groups(named_parameters, config), config);
}

bool Optimizer::supports_amp_scaling() const {
  for (const auto& g : groups_) {
    for (const auto& p : g.params) {
      if (impl_for(p) != Impl::fused) return false;
    }
  }
  return true;
}

std::vector<torch::Tensor> Optimizer::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
  return out;
}

void Optimizer::zero_grad() {
  for (auto& g : groups_) {
    for (auto& p : g.params) p.mutable_grad().reset();
  }
}

void Optimizer::apply_schedule(const Schedule& schedule, int64_t step) {
  for (auto& g : groups_) g.lr = schedule.lr_for(g.base_lr, step);
}

void Optimizer::step(const torch::Tensor& grad_scale, const torch::Tensor& found_inf) {
  TORCH_CHECK((!grad_scale.defined() && !found_inf.defined()) || supports_amp_scaling(),
              "grad_scale/found_inf need the fused implementation for every parameter; unscale the gradients "
              "and skip the step yourself otherwise (torch's GradScaler does the same)");
  torch::NoGradGuard no_grad;
  for (std::size_t g = 0; g < groups_.size(); ++g) step_group(groups_[g], state_[g], grad_scale, found_inf);
}

// Per implementation, the parameters that have gradients (Adam._init_group), with lazily
// created state: zeros like the parameter; the step counter a float32 scalar, on the
// parameter's device for fused, on the CPU otherwise (torch's "special device hosting").
std::map<Optimizer::Impl, std::vector<std::size_t>> Optimizer::init_group(const ParamGroup& group,
                                                                          std::vector<State>& state) const {
  std::map<Impl, std::vector<std::size_t>> active;
  for (std::size_t i = 0; i < group.params.size(); ++i) {
    const auto& p = group.params[i];
    if (!p.grad().defined()) continue;
    TORCH_CHECK(!p.grad().is_sparse(), "Adam does not support sparse gradients (parameter '", group.names[i], "')");
    const Impl impl = impl_for(p);
    auto& s = state[i];
    if (!s.step.defined()) {
      const auto step_device = impl == Impl::fused ? p.device() : torch::Device(torch::kCPU);
      s.step = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(step_device));
      s.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
      s.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    }
    active[impl].push_back(i);
  }
  return active;
}

void Optimizer::step_group(ParamGroup& group, std::vector<State>& state, const torch::Tensor& grad_scale,
                           const torch::Tensor& found_inf) {
  for (const auto& [impl, indices] : init_group(group, state)) {
    AdamTensors t;
    for (std::size_t i : indices) {
      t.params.push_back(group.params[i]);
      t.grads.push_back(group.params[i].grad());
      t.exp_avgs.push_back(state[i].exp_avg);
      t.exp_avg_sqs.push_back(state[i].exp_avg_sq);
      t.steps.push_back(state[i].step);
    }
    if (impl == Impl::loop) {
      step_single_tensor(t, group.lr, group.weight_decay);
      continue;
    }
    for (const auto& bucket : by_device_and_dtype(t.params)) {
      auto pick = [&](const std::vector<torch::Tensor>& v) {
        std::vector<torch::Tensor> out;
        out.reserve(bucket.size());
        for (std::size_t i : bucket) out.push_back(v[i]);
        return out;
      };
      AdamTensors b{pick(t.params), pick(t.grads), pick(t.exp_avgs), pick(t.exp_avg_sqs), pick(t.steps)};
      if (impl == Impl::fused) {
        step_fused(b, group.lr, group.weight_decay, grad_scale, found_inf);
      } else {
        step_multi_tensor(b, group.lr, group.weight_decay);
      }
    }
  }
}

// _single_tensor_adam, non-capturable.
void Optimizer::step_single_tensor(AdamTensors& t, double lr, double wd) const {
  for (std::size_t k = 0; k < t.params.size(); ++k) {
    auto& param = t.params[k];
    torch::Tensor grad = t.grads[k];
    t.steps[k].add_(1);
    if (wd != 0) {
      if (decoupled_)
        param.mul_(python_number(1 - lr * wd));
      else
        grad = grad.add(param, wd);
    }
    t.exp_avgs[k].lerp_(grad, 1 - beta1_);
    t.exp_avg_sqs[k].mul_(python_number(beta2_)).addcmul_(grad, grad, 1 - beta2_);
    const double step = t.steps[k].item<double>();
    const double bias_correction1 = 1 - std::pow(beta1_, step);
    const double bias_correction2 = 1 - std::pow(beta2_, step);
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);
    auto denom = (t.exp_avg_sqs[k].sqrt() / bias_correction2_sqrt).add_(eps_);
    param.addcdiv_(t.exp_avgs[k], denom, -step_size);
  }
}

// _fused_adam on one device/dtype bucket: the caller counts the step, the kernel does the
// rest; a step skipped for inf/nan (found_inf = 1) is counted back.
void Optimizer::step_fused(AdamTensors& b, double lr, double wd, const torch::Tensor& grad_scale,
                           const torch::Tensor& found_inf) const {
  const auto device = b.params.front().device();
  std::optional<torch::Tensor> scale, inf;
  if (grad_scale.defined()) scale = grad_scale.to(device, /*non_blocking=*/true);
  if (found_inf.defined()) inf = found_inf.to(device, /*non_blocking=*/true);
  at::_foreach_add_(b.steps, 1);
  if (decoupled_) {
    at::_fused_adamw_(b.params, b.grads, b.exp_avgs, b.exp_avg_sqs, {}, b.steps, lr, beta1_, beta2_, wd, eps_,
                      /*amsgrad=*/false, /*maximize=*/false, scale, inf);
  } else {
    at::_fused_adam_(b.params, b.grads, b.exp_avgs, b.exp_avg_sqs, {}, b.steps, lr, beta1_, beta2_, wd, eps_,
                     /*amsgrad=*/false, /*maximize=*/false, scale, inf);
  }
  if (inf) at::_foreach_sub_(b.steps, std::vector<torch::Tensor>(b.steps.size(), *inf));
}

// _multi_tensor_adam on one device/dtype bucket, non-capturable (steps live on the CPU).
void Optimizer::step_multi_tensor(AdamTensors& b, double lr, double wd) const {
  at::_foreach_add_(b.steps, torch::tensor(1.0), 1.0);
  if (wd != 0) {
    if (decoupled_)
      at::_foreach_mul_(b.params, 1 - lr * wd);
    else
      b.grads = at::_foreach_add(b.grads, b.params, wd);
  }
  at::_foreach_lerp_(b.exp_avgs, b.grads, 1 - beta1_);
  at::_foreach_mul_(b.exp_avg_sqs, beta2_);
  at::_foreach_addcmul_(b.exp_avg_sqs, b.grads, b.grads, 1 - beta2_);
  std::vector<at::Scalar> step_size, bias_correction2_sqrt;
  for (const auto& s : b.steps) {
    const double step = s.item<double>();
    step_size.emplace_back((lr / (1 - std::pow(beta1_, step))) * -1);
    bias_correction2_sqrt.emplace_back(std::pow(1 - std::pow(beta2_, step), 0.5));
  }
  auto denom = at::_foreach_sqrt(b.exp_avg_sqs);
  at::_foreach_div_(denom, bias_correction2_sqrt);
  at::_foreach_add_(denom, eps_);
  at::_foreach_addcdiv_(b.params, b.exp_avgs, denom, step_size);
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    for (std::size_t i = 0; i < groups_[g].params.size(); ++i) {
      const auto& s = state_[g][i];
      if (!s.step.defined()) continue;
      const auto& name = groups_[g].names[i];
      out.insert(name + ".exp_avg", s.exp_avg);
      out.insert(name + ".exp_avg_sq", s.exp_avg_sq);
      out.insert(name + ".step", s.step);
    }
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& saved) {
  std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> where;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    for (std::size_t i = 0; i < groups_[g].names.size(); ++i) where[groups_[g].names[i]] = {g, i};
  }
  static const char* const fields[] = {".exp_avg_sq", ".exp_avg", ".step"};
  std::vector<std::vector<State>> fresh(groups_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) fresh[g].resize(groups_[g].params.size());
  for (const auto& item : saved) {
    const std::string& key = item.key();
    const char* field = nullptr;
    for (const char* f : fields) {
      const std::size_t n = std::strlen(f);
      if (key.size() > n && key.compare(key.size() - n, n, f) == 0) {
        field = f;
        break;
      }
    }
    const std::string name = field ? key.substr(0, key.size() - std::strlen(field)) : key;
    auto it = field ? where.find(name) : where.end();
    if (it == where.end()) {
      throw Error("optimizer state '" + key + "' belongs to no trainable parameter", key,
                  "the checkpoint was written for another model or PEFT/freeze setting");
    }
    const auto [g, i] = it->second;
    const auto& p = groups_[g].params[i];
    const auto& value = item.value();
    State& s = fresh[g][i];
    if (std::strcmp(field, ".step") == 0) {
      if (value.numel() != 1) throw Error("step must be a scalar", key);
      const auto device = impl_for(p) == Impl::fused ? p.device() : torch::Device(torch::kCPU);
      s.step = value.reshape({}).to(device, torch::kFloat, /*non_blocking=*/false, /*copy=*/true);
    } else {
      if (value.sizes() != p.sizes()) {
        throw Error("shape " + c10::str(value.sizes()) + " does not match parameter shape " + c10::str(p.sizes()), key,
                    "the checkpoint was written for another model");
      }
      auto copy = torch::empty_like(p, torch::MemoryFormat::Preserve);
      copy.copy_(value);
      (std::strcmp(field, ".exp_avg") == 0 ? s.exp_avg : s.exp_avg_sq) = copy;
    }
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    for (std::size_t i = 0; i < fresh[g].size(); ++i) {
      const auto& s = fresh[g][i];
      const int present = s.step.defined() + s.exp_avg.defined() + s.exp_avg_sq.defined();
      if (present != 0 && present != 3) {
        throw Error("optimizer state of '" + groups_[g].names[i] + "' is incomplete (needs exp_avg, exp_avg_sq, step)",
                    groups_[g].names[i], "the checkpoint is damaged");
      }
    }
  }
  state_ = std::move(fresh);
}

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm, double norm_type) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return torch::tensor(0.0);
  const auto first_device = grads.front().device();
  const auto buckets = by_device_and_dtype(grads);
  std::vector<torch::Tensor> norms;
  for (const auto& bucket : buckets) {
    std::vector<torch::Tensor> tensors;
    for (std::size_t i : bucket) tensors.push_back(grads[i]);
    for (auto& n : at::_foreach_norm(tensors, norm_type)) norms.push_back(n.to(first_device));
  }
  auto total_norm = at::linalg_vector_norm(at::stack(norms), norm_type);
  // Python's `max_norm / (total_norm + 1e-6)` is Tensor.__rtruediv__ = reciprocal() * max_norm.
  const auto clip_coef = (total_norm + 1e-6).reciprocal() * max_norm;
  const auto clip_coef_clamped = at::clamp(clip_coef, std::nullopt, 1.0);
  for (const auto& bucket : buckets) {
    std::vector<torch::Tensor> tensors;
    for (std::size_t i : bucket) tensors.push_back(grads[i]);
    at::_foreach_mul_(tensors, clip_coef_clamped.to(tensors.front().device()));
  }
  return total_norm;
}

}  // namespace rsclip::train
