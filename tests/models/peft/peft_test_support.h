// Shared set-up of the PEFT tests: a seeded base model whose biases and LayerNorm
// parameters are perturbed away from open_clip's 0/1 init (so bias-only training and
// identity checks are not trivially satisfied), a batch of images and CLIP-style token rows
// (one row filling the whole context), the base outputs, a contrastive loss and AdamW steps.
#pragma once

#include <string>

#include <torch/torch.h>

#include "models/clip/clip.h"
#include "models/peft/peft.h"

namespace rsclip::models::peft {

inline torch::Tensor random_token_rows(int64_t rows, int64_t context, int64_t vocab, int64_t seed) {
  torch::manual_seed(seed);
  auto tokens = torch::zeros({rows, context}, torch::kLong);
  for (int64_t i = 0; i < rows; ++i) {
    // Row 0 uses the whole context (exercises truncation when tokens are inserted).
    const int64_t eot = i == 0 ? context - 1 : torch::randint(2, 20, {1}).item<int64_t>();
    tokens[i][0] = vocab - 2;  // <start_of_text>
    tokens[i].slice(0, 1, eot).copy_(torch::randint(1, vocab - 2, {eot - 1}));
    tokens[i][eot] = vocab - 1;  // <end_of_text>, the largest id
  }
  return tokens;
}

struct TinyFixture {
  ModelConfig cfg;
  CLIP model{nullptr};
  StateDict base_state;  // the base weights (clones), before apply
  torch::Tensor pixels, tokens, base_image, base_text;
  PeftReport report;

  explicit TinyFixture(const PeftConfig& peft, const std::string& model_name = "ViT-tiny-test", int64_t batch = 4)
      : cfg(load_model_config(model_name)) {
    // Tiny tensors: intra-op threads only add synchronisation (30x slower on a loaded
    // 2-core machine, measured).
    torch::set_num_threads(1);
    torch::manual_seed(0);
    model = CLIP(cfg);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : model->named_parameters()) {
        if (p.value().dim() < 2 || p.key().ends_with("bias")) p.value().add_(0.05 * torch::randn_like(p.value()));
      }
    }
    for (const auto& p : model->named_parameters()) base_state.insert(p.key(), p.value().detach().clone());
    pixels = torch::randn({batch, 3, cfg.vision.image_size, cfg.vision.image_size});
    tokens = random_token_rows(batch, cfg.text.context_length, cfg.text.vocab_size, 1);
    model->eval();
    {
      torch::NoGradGuard no_grad;
      base_image = model->encode_image(pixels);
      base_text = model->encode_text(tokens);
    }
    torch::manual_seed(2);
    report = apply_method(*model, peft);
  }

  // CLIP's symmetric contrastive loss, in train mode.
  torch::Tensor loss() {
    model->train();
    namespace F = torch::nn::functional;
    const auto img = F::normalize(model->encode_image(pixels), F::NormalizeFuncOptions().dim(-1));
    const auto txt = F::normalize(model->encode_text(tokens), F::NormalizeFuncOptions().dim(-1));
    const auto logits = model->logit_scale.exp() * img.matmul(txt.t());
    const auto labels = torch::arange(logits.size(0));
    return (F::cross_entropy(logits, labels) + F::cross_entropy(logits.t(), labels)) / 2;
  }

  // Plain AdamW over ALL parameters (frozen ones have no gradient and must stay put).
  void train_steps(int steps) {
    torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      loss().backward();
      opt.step();
    }
  }
};

}  // namespace rsclip::models::peft
