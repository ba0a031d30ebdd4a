// The `loss:` section of a training config: the loss expression and each loss's options
// (no torch here; train/losses/losses.h builds the losses).
#pragma once

#include <string>

namespace rsclip::train {

struct ClipLossConfig {
  bool local_loss = false;        // logits only for local rows against all ranks' columns
  bool gather_with_grad = false;  // all-gather keeps the graph (backward = reduce-scatter)
  bool cache_labels = true;       // reuse the arange labels (open_clip_train's create_loss sets it)
  template <class V>
  void visit(V& v) {
    v("local_loss", local_loss);
    v("gather_with_grad", gather_with_grad);
    v("cache_labels", cache_labels);
  }
};

struct SigLipLossConfig {
  std::string dist_impl = "bidir";  // bidir | shift | gather (open_clip's names)
  template <class V>
  void visit(V& v) {
    v("dist_impl", dist_impl);
  }
  void validate() const;
};

struct HmmcLossConfig {
  double margin = 0.2;         // alpha of the hinge, on cosine similarity
  double token_dropout = 0.2;  // dropout on input tokens in the trainer's second pass
  template <class V>
  void visit(V& v) {
    v("margin", margin);
    v("token_dropout", token_dropout);
  }
  void validate() const;
};

struct LossConfig {
  // A weighted sum of registered losses: "clip", "siglip", "clip + 0.5*hmmc", "2 * hmmc".
  std::string name = "clip";
  ClipLossConfig clip;
  SigLipLossConfig siglip;
  HmmcLossConfig hmmc;
  template <class V>
  void visit(V& v) {
    v("name", name);
    v("clip", clip);
    v("siglip", siglip);
    v("hmmc", hmmc);
  }
  void validate() const;  // syntax of `name`; names are checked against the registry by build_loss
};

}  // namespace rsclip::train
