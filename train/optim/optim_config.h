// The `optim:` section of a training config (no torch here; train/optim/optimizer.h uses it).
#pragma once

#include <optional>
#include <string>

namespace rsclip::train {

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

}  // namespace rsclip::train
