#include "models/clip/load_state.h"

#include <cmath>

#include "core/base/error.h"
#include "core/base/log.h"

namespace rsclip::models {
namespace {

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// open_clip resize_pos_embed: [1 + g*g, w] -> [1 + G*G, w] with bicubic + antialias on the grid.
torch::Tensor resize_vision_pos_embed(const torch::Tensor& pos, int64_t grid) {
  const int64_t old_grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(pos.size(0) - 1))));
  TORCH_CHECK(old_grid * old_grid + 1 == pos.size(0), "positional embedding of ", pos.size(0),
              " rows is not 1 + a square");
  auto img = pos.slice(0, 1).reshape({1, old_grid, old_grid, -1}).permute({0, 3, 1, 2}).to(torch::kFloat);
  img = torch::nn::functional::interpolate(img, torch::nn::functional::InterpolateFuncOptions()
                                                    .size(std::vector<int64_t>{grid, grid})
                                                    .mode(torch::kBicubic)
                                                    .align_corners(false)
                                                    .antialias(true));
  img = img.permute({0, 2, 3, 1}).reshape({grid * grid, -1}).to(pos.scalar_type());
  return torch::cat({pos.slice(0, 0, 1), img}, 0);
}

// open_clip resize_text_pos_embed: [L, w] -> [L', w], linear, no antialias.
torch::Tensor resize_text_pos_embed(const torch::Tensor& pos, int64_t length) {
  auto x = pos.to(torch::kFloat).unsqueeze(0).permute({0, 2, 1});
  x = torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{length})
                                                .mode(torch::kLinear)
                                                .align_corners(false)
                                                .antialias(false));
  return x.permute({0, 2, 1})[0].to(pos.scalar_type());
}

}  // namespace

std::string LoadReport::describe() const {
  std::string out;
  auto list = [&](const char* title, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    out += fmt::format("\n\t{} ({}):", title, keys.size());
    for (const auto& k : keys) out += "\n\t  " + k;
  };
  list("Missing key(s) in state_dict", missing);
  list("Unexpected key(s) in state_dict", unexpected);
  list("Size mismatch", mismatched);
  return out;
}

StateDict to_open_clip_names(const StateDict& state) {
  StateDict out;
  const bool ddp = !state.is_empty() && starts_with(state.begin()->key(), "module.");  // open_clip checks the first key
  for (const auto& item : state) {
    std::string key = item.key();
    if (ddp && starts_with(key, "module.")) key = key.substr(7);
    if (starts_with(key, "image_backbone."))
      key = "visual." + key.substr(15);
    else if (starts_with(key, "text_backbone."))
      key = key.substr(14);
    if (out.contains(key)) throw Error("two checkpoint keys map to the same name '" + key + "'", "state dict");
    out.insert(key, item.value());
  }
  return out;
}

StateDict model_state_dict(CLIPImpl& model) {
  StateDict out;
  for (const auto& p : model.named_parameters()) out.insert(p.key(), p.value());
  for (const auto& b : model.named_buffers()) out.insert(b.key(), b.value());
  return out;
}

LoadReport load_state_dict(CLIPImpl& model, const StateDict& raw, bool strict, const std::string& source) {
  LoadReport report;
  StateDict state = to_open_clip_names(raw);
  if (raw.size() && raw.begin()->key() != state.begin()->key()) {
    report.adapted.push_back("renamed keys to open_clip names (" + raw.begin()->key() + " -> " + state.begin()->key() +
                             ")");
  }
  auto target = model_state_dict(model);
  const std::string text_prefix = model.cfg.custom_text ? "text." : "";

  // open_clip load_checkpoint adaptations, in its order.
  for (const char* key : {"logit_scale", "logit_bias"}) {
    if (state.contains(key) && target.contains(key) && state[key].dim() != target[key].dim()) {
      state[key] = state[key].reshape(target[key].sizes());
    }
  }
  if (target.contains("logit_bias") && !state.contains("logit_bias") && state.contains("logit_scale")) {
    state.insert("logit_bias", torch::zeros_like(state["logit_scale"]));
    report.adapted.push_back("logit_bias missing: zero-filled");
  }
  if (state.contains("visual.positional_embedding")) {
    auto& pos = state["visual.positional_embedding"];
    const int64_t want = target["visual.positional_embedding"].size(0);
    if (pos.dim() == 2 && pos.size(0) != want) {
      const int64_t grid = model.cfg.vision.grid();
      report.adapted.push_back(fmt::format("visual.positional_embedding resized {} -> {} tokens", pos.size(0), want));
      pos = resize_vision_pos_embed(pos, grid);
    }
  }
  const std::string text_pos = text_prefix + "positional_embedding";
  if (state.contains(text_pos) && target.contains(text_pos)) {
    auto& pos = state[text_pos];
    const int64_t want = target[text_pos].size(0);
    if (pos.dim() == 2 && pos.size(0) != want) {
      report.adapted.push_back(fmt::format("{} resized {} -> {} positions", text_pos, pos.size(0), want));
      pos = resize_text_pos_embed(pos, want);
    }
  }

  for (const auto& item : target) {
    if (!state.contains(item.key())) report.missing.push_back(item.key());
  }
  for (const auto& item : state) {
    const auto* dst = target.find(item.key());
    if (!dst) {
      report.unexpected.push_back(item.key());
    } else if (!item.value().sizes().equals(dst->sizes())) {
      report.mismatched.push_back(
          fmt::format("{}: checkpoint {} vs model {}", item.key(), shape_string(item.value()), shape_string(*dst)));
    }
  }
  if (strict && !report.clean()) {
    throw Error("checkpoint does not match the model" + report.describe(), source,
                "use the model config the checkpoint was trained with, or `strict: false` to load the matching keys");
  }

  torch::NoGradGuard no_grad;
  for (const auto& item : state) {
    auto* dst = target.find(item.key());
    if (!dst || !item.value().sizes().equals(dst->sizes())) continue;
    dst->copy_(item.value());
  }
  for (const auto& note : report.adapted) log::info("{}: {}", source, note);
  if (!report.clean()) log::warn("{}: loaded with strict=false{}", source, report.describe());
  return report;
}

}  // namespace rsclip::models
