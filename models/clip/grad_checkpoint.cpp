#include "models/clip/grad_checkpoint.h"

#include <ATen/autocast_mode.h>

namespace rsclip::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CheckpointState : torch::CustomClassHolder {
  std::function<torch::Tensor(const torch::Tensor&)> fn;
  torch::Tensor cpu_rng, device_rng;
  c10::Device device{c10::kCPU};
  bool autocast_enabled = false;
  c10::ScalarType autocast_dtype = c10::kBFloat16;
};

at::Generator device_generator(const c10::Device& device) {
  at::Generator gen = at::globalContext().defaultGenerator(device);  // a handle to the global generator
  return gen;
}

at::Generator cpu_generator() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  return gen;
}

// Sets the saved autocast and RNG state for the recomputation and puts the current one
// back afterwards.
class ReplayGuard {
 public:
  explicit ReplayGuard(const CheckpointState& s) : s_(s) {
    const auto type = s.device.type();
    prev_enabled_ = at::autocast::is_autocast_enabled(type);
    prev_dtype_ = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_enabled(type, s.autocast_enabled);
    at::autocast::set_autocast_dtype(type, s.autocast_dtype);
    prev_cpu_rng_ = cpu_generator().get_state();
    cpu_generator().set_state(s.cpu_rng);
    if (s.device_rng.defined()) {
      prev_device_rng_ = device_generator(s.device).get_state();
      device_generator(s.device).set_state(s.device_rng);
    }
  }
  ~ReplayGuard() {
    const auto type = s_.device.type();
    at::autocast::set_autocast_enabled(type, prev_enabled_);
    at::autocast::set_autocast_dtype(type, prev_dtype_);
    cpu_generator().set_state(prev_cpu_rng_);
    if (prev_device_rng_.defined()) device_generator(s_.device).set_state(prev_device_rng_);
  }

 private:
  const CheckpointState& s_;
  bool prev_enabled_;
  c10::ScalarType prev_dtype_;
  torch::Tensor prev_cpu_rng_, prev_device_rng_;
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  // `anchor` requires grad so the output is part of the graph even when x does not
  // require grad (frozen embeddings, PEFT) but parameters inside fn do.
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, torch::Tensor anchor,
                               c10::intrusive_ptr<CheckpointState> state) {
    state->device = x.device();
    const auto type = x.device().type();
    state->autocast_enabled = at::autocast::is_autocast_enabled(type);
    state->autocast_dtype = at::autocast::get_autocast_dtype(type);
    state->cpu_rng = cpu_generator().get_state();
    if (!x.is_cpu()) state->device_rng = device_generator(x.device()).get_state();
    ctx->save_for_backward({x});
    ctx->saved_data["state"] = c10::IValue::make_capsule(state);
    return state->fn(x);  // grad mode is off inside Function::forward: nothing is stored
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto state = c10::static_intrusive_pointer_cast<CheckpointState>(ctx->saved_data["state"].toCapsule());
    const auto x = ctx->get_saved_variables()[0];
    auto input = x.detach().requires_grad_(true);
    {
      torch::AutoGradMode grad(true);
      ReplayGuard replay(*state);
      auto y = state->fn(input);
      torch::autograd::backward({y}, {grad_outputs[0]});
    }
    return {x.requires_grad() ? input.grad() : torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor checkpoint(std::function<torch::Tensor(const torch::Tensor&)> fn, const torch::Tensor& x) {
  static thread_local torch::Tensor anchor = torch::empty({0}, torch::requires_grad());
  auto state = c10::make_intrusive<CheckpointState>();
  state->fn = std::move(fn);
  return CheckpointFunction::apply(x, anchor, state);
}

}  // namespace rsclip::models
