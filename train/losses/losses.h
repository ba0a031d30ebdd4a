// Training losses: open_clip's ClipLoss and SigLipLoss, the PETL paper's HMMC, a registry
// by name and weighted sums of them configured as one expression ("clip + 0.5*hmmc").
//
// A loss sees what open_clip's model forward returns: L2-normalised image and text
// features of the whole (accumulated) local batch, logit_scale already exp()'d, an optional
// logit_bias, and for HMMC the features of the trainer's second, token-dropout pass.
//
// Distributed runs plug in through LossCollectives: the runtime (core/) supplies callables
// that move features between ranks, and the losses use them exactly where open_clip calls
// torch.distributed (gather_features, neighbour_exchange*). With world_size 1 no callable is
// needed and none is called.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/base/error.h"
#include "train/losses/loss_config.h"

namespace rsclip::train {

// ----- config (the `loss:` section) ----------------------------------------------------
// ----- inputs, outputs, collectives ----------------------------------------------------
struct LossInputs {
  LossInputs() = default;
  LossInputs(torch::Tensor image, torch::Tensor text, torch::Tensor scale, torch::Tensor bias = {})
      : image_features(std::move(image)),
        text_features(std::move(text)),
        logit_scale(std::move(scale)),
        logit_bias(std::move(bias)) {}

  torch::Tensor image_features;      // [B, D]
  torch::Tensor text_features;       // [B, D]
  torch::Tensor logit_scale;         // scalar, exp()'d (open_clip's model output)
  torch::Tensor logit_bias;          // scalar; undefined unless the model has one
  torch::Tensor image_features_aug;  // [B, D] second pass; only losses that ask for it
  torch::Tensor text_features_aug;   // [B, D]
};

struct LossOutput {
  torch::Tensor total;                                       // sum of the weighted terms
  std::vector<std::pair<std::string, torch::Tensor>> terms;  // "<name>_loss" -> weighted term
};

// What a distributed runtime provides. Every callable is collective: all ranks call it in
// the same order with tensors of equal shape.
struct LossCollectives {
  int rank = 0;
  int world_size = 1;
  // [B, D] -> [world_size * B, D], rank order. ClipLoss calls it under NoGradGuard unless
  // gather_with_grad, in which case it must be differentiable with open_clip's
  // torch.distributed.nn.all_gather backward (each rank gets the sum over ranks of the
  // gradient for its own rows, i.e. a reduce-scatter). SigLipLoss "gather" needs the same.
  std::function<torch::Tensor(const torch::Tensor&)> all_gather;
  // Sends `tensor` to `to_rank` and returns what `from_rank` sent to this rank;
  // differentiable, backward sends the gradient the other way (open_clip NeighbourExchange).
  std::function<torch::Tensor(int from_rank, int to_rank, const torch::Tensor& tensor)> exchange;
  // Both directions at once; returns {from_right, from_left} (open_clip NeighbourExchangeBidir).
  std::function<std::pair<torch::Tensor, torch::Tensor>(int left_rank, int right_rank, const torch::Tensor& to_left,
                                                        const torch::Tensor& to_right)>
      exchange_bidir;
};

// ----- the loss interface and registry -------------------------------------------------
class Loss {
 public:
  virtual ~Loss() = default;
  // One scalar term for the local batch (what open_clip returns as "contrastive_loss").
  virtual torch::Tensor forward(const LossInputs& inputs) = 0;
  // True when the trainer must fill image/text_features_aug (HMMC's token-dropout pass).
  virtual bool needs_augmented_features() const { return false; }
  // True when the loss reads the model's logit_bias (SigLIP).
  virtual bool needs_logit_bias() const { return false; }
};

using LossFactory = std::function<std::unique_ptr<Loss>(const LossConfig&, const LossCollectives&)>;

// Adds a loss by lower-case name (PEFT methods add theirs). Re-registering a name is an error.
void register_loss(const std::string& name, LossFactory factory);
std::vector<std::string> registered_losses();  // sorted

// One term of a loss expression.
struct LossTerm {
  std::string name;
  double weight = 1.0;
};
// Parses "clip + 0.5*hmmc" (terms joined by '+', each NAME, W*NAME or NAME*W). rsclip::Error
// with the position for anything else, and for a name used twice.
std::vector<LossTerm> parse_loss_expression(const std::string& expression);

// The weighted sum the trainer calls once per (accumulated) batch.
class TrainingLoss {
 public:
  struct Part {
    LossTerm term;
    std::unique_ptr<Loss> loss;
  };
  explicit TrainingLoss(std::vector<Part> parts);

  // Terms are weighted (a weight of exactly 1 multiplies nothing, so a lone "clip" is
  // open_clip's value bit for bit) and summed in expression order.
  LossOutput operator()(const LossInputs& inputs) const;
  bool needs_augmented_features() const;
  const std::vector<Part>& parts() const { return parts_; }

 private:
  std::vector<Part> parts_;
};

// Builds the configured loss; unknown names are rsclip::Error with a did-you-mean.
TrainingLoss build_loss(const LossConfig& config, const LossCollectives& collectives = {});

// True when a term of the configured loss reads the model's logit_bias: the model must then
// have one (open_clip_train --siglip gives a CLIP model init_logit_scale ln 10 and
// init_logit_bias -10; the trainer does the same).
bool needs_logit_bias(const LossConfig& config);

// ----- the built-in losses (also reachable through the registry) -----------------------
// open_clip.loss.ClipLoss.
class ClipLoss : public Loss {
 public:
  ClipLoss(ClipLossConfig config, LossCollectives collectives);
  torch::Tensor forward(const LossInputs& inputs) override;
  // logits_per_image, logits_per_text as ClipLoss.get_logits.
  std::pair<torch::Tensor, torch::Tensor> logits(const LossInputs& inputs) const;

 private:
  std::pair<torch::Tensor, torch::Tensor> gather(const torch::Tensor& image, const torch::Tensor& text) const;
  torch::Tensor labels(const torch::Device& device, int64_t num_logits);

  ClipLossConfig config_;
  LossCollectives coll_;
  torch::Tensor cached_labels_;
};

// open_clip.loss.SigLipLoss (logit_bias required).
class SigLipLoss : public Loss {
 public:
  SigLipLoss(SigLipLossConfig config, LossCollectives collectives);
  torch::Tensor forward(const LossInputs& inputs) override;
  bool needs_logit_bias() const override { return true; }
  // SigLipLoss._loss: -sum(logsigmoid(labels * logits)) / B for one image-text block.
  static torch::Tensor block_loss(const torch::Tensor& image, const torch::Tensor& text,
                                  const torch::Tensor& logit_scale, const torch::Tensor& logit_bias,
                                  bool negative_only);

 private:
  SigLipLossConfig config_;
  LossCollectives coll_;
};

// Hardest-negative hinge with margin on cosine similarity (VSE++ style), summed over the
// batch: L(a,b) = sum_i max_{j!=i}[m + s(a_i,b_j) - s(a_i,b_i)]_+ + sum_j max_{i!=j}[m + s(a_i,b_j) - s(a_j,b_j)]_+.
// Ties pick the first index, as torch.max(dim) (VSE++'s `.max(1)[0]`).
torch::Tensor hardest_negative_hinge(const torch::Tensor& a, const torch::Tensor& b, double margin);

// PETL's HMMC: L(v,t) + L(v,v~) + L(t,t~), on the local batch.
class HmmcLoss : public Loss {
 public:
  explicit HmmcLoss(HmmcLossConfig config) : config_(config) {}
  torch::Tensor forward(const LossInputs& inputs) override;
  bool needs_augmented_features() const override { return true; }

 private:
  HmmcLossConfig config_;
};

}  // namespace rsclip::train
