#include "models/clip/flops.h"

namespace rsclip::models {
namespace {

double transformer_macs(double tokens, double width, double mlp_width, double layers) {
  const double per_block = tokens * width * 3 * width + 2 * tokens * tokens * width + tokens * width * width +
                           2 * tokens * width * mlp_width;
  return layers * per_block;
}

}  // namespace

Flops count_flops(const ModelConfig& cfg) {
  const auto& v = cfg.vision;
  const double grid2 = static_cast<double>(v.grid()) * v.grid();
  double image = grid2 * 3.0 * v.patch_size * v.patch_size * v.width;
  image += transformer_macs(grid2 + 1, v.width, v.mlp_width(), v.layers);
  image += static_cast<double>(v.width) * cfg.embed_dim;

  const auto& t = cfg.text;
  double text = transformer_macs(t.context_length, t.width, t.mlp_width(), t.layers);
  if (t.proj_type != "none") text += static_cast<double>(t.width) * cfg.embed_dim;
  return {2 * image, 2 * text};
}

ConfigParameterCounts count_config_parameters(const ModelConfig& cfg) {
  auto blocks = [](int64_t w, int64_t mlp, int64_t layers, bool layer_scale) {
    const int64_t per = 2 * w                // ln_1
                        + 3 * w * w + 3 * w  // in_proj
                        + w * w + w          // out_proj
                        + 2 * w              // ln_2
                        + w * mlp + mlp      // c_fc
                        + mlp * w + w        // c_proj
                        + (layer_scale ? 2 * w : 0);
    return layers * per;
  };
  const auto& v = cfg.vision;
  const int64_t vw = v.width;
  ConfigParameterCounts c;
  c.visual = vw * 3 * v.patch_size * v.patch_size + vw + static_cast<int64_t>(v.tokens()) * vw +
             (v.no_ln_pre ? 0 : 2 * vw) + blocks(vw, v.mlp_width(), v.layers, v.ls_init_value.has_value()) + 2 * vw +
             vw * cfg.embed_dim;
  const auto& t = cfg.text;
  const int64_t tw = t.width;
  const int64_t proj = t.proj_type == "none" ? 0 : tw * cfg.embed_dim + (t.proj_bias ? cfg.embed_dim : 0);
  c.text = static_cast<int64_t>(t.vocab_size) * tw + static_cast<int64_t>(t.context_length) * tw +
           blocks(tw, t.mlp_width(), t.layers, t.ls_init_value.has_value()) + 2 * tw + proj;
  c.total = c.visual + c.text + 1 + (cfg.init_logit_bias ? 1 : 0);
  return c;
}

}  // namespace rsclip::models
