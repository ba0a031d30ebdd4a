// Adam / AdamW steps vs torch.optim (fused, default and foreach, float32 and bf16, AMP
// scaling with a skipped step), state save/restore, clip_grad_norm_ vs torch.
#include "train/optim/optimizer.h"

#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "tests/reference/reference_cache.h"
#include "tests/reference/test_support.h"
#include "train/optim/schedule.h"

namespace rsclip::train {
namespace {

using rsclip::testing::expect_close;

struct AdamDump {
  StateDict t;
  Metadata meta;
  std::vector<std::string> names;
  int steps = 0, skip_step = 0;
  std::string skip_param;
  double scale = 1;
};

const AdamDump& adam_dump() {
  static AdamDump d = [] {
    AdamDump d;
    const auto path =
        rsclip::testing::cached_reference({"scripts/reference/optim_reference.py"}, {"adam"}, ".safetensors");
    d.t = load_safetensors(path, &d.meta);
    d.names = nlohmann::json::parse(d.meta.at("names")).get<std::vector<std::string>>();
    d.steps = std::stoi(d.meta.at("steps"));
    d.skip_step = std::stoi(d.meta.at("skip_step"));
    d.skip_param = d.meta.at("skip_param");
    d.scale = std::stod(d.meta.at("scale"));
    return d;
  }();
  return d;
}

struct Run {
  StateDict params;
  std::unique_ptr<Optimizer> opt;
};

Run make_run(const AdamDump& d, const std::string& name, const std::string& impl, torch::ScalarType dtype) {
  Run r;
  for (const auto& n : d.names) r.params.insert(n, d.t["init." + n].to(dtype).clone().requires_grad_(true));
  OptimizerConfig cfg;
  cfg.name = name;
  cfg.impl = impl;
  cfg.lr = d.t["lrs"][0].item<double>();
  cfg.weight_decay = 0.1;
  cfg.beta1 = 0.9;
  cfg.beta2 = 0.98;
  cfg.eps = 1e-6;
  r.opt = std::make_unique<Optimizer>(build_optimizer(r.params, cfg));
  return r;
}

// Steps [begin, end) of the reference run on `r`.
void run_steps(const AdamDump& d, Run& r, int begin, int end, torch::ScalarType dtype, bool scaled) {
  for (int k = begin; k < end; ++k) {
    for (const auto& n : d.names) {
      auto& p = r.params[n];
      if (k == d.skip_step && n == d.skip_param) {
        p.mutable_grad() = torch::Tensor();
      } else {
        auto g = d.t["grad" + std::to_string(k) + "." + n];
        p.mutable_grad() = (scaled ? g * d.scale : g).to(dtype);
      }
    }
    for (auto& g : r.opt->groups()) g.lr = d.t["lrs"][k].item<double>();
    if (scaled) {
      r.opt->step(torch::full({}, d.scale), torch::full({}, k == 2 ? 1.0 : 0.0));
    } else {
      r.opt->step();
    }
  }
}

void expect_run_matches(const AdamDump& d, Run& r, const std::string& ref_run, bool bitwise, double tol) {
  const auto state = r.opt->state_dict();
  for (const auto& n : d.names) {
    const auto final_param = r.params[n].detach().to(torch::kFloat);
    const auto& expected = d.t[ref_run + ".final." + n];
    if (bitwise) {
      EXPECT_TRUE(torch::equal(final_param, expected))
          << ref_run << " " << n << ": max diff " << (final_param - expected).abs().max().item<double>();
    }
    expect_close(ref_run + " " + n, final_param, expected, tol);
    EXPECT_TRUE(torch::equal(state[n + ".step"].to(torch::kCPU, torch::kFloat), d.t[ref_run + ".step." + n])) << n;
    expect_close(ref_run + " exp_avg " + n, state[n + ".exp_avg"].to(torch::kFloat), d.t[ref_run + ".exp_avg." + n],
                 tol);
    expect_close(ref_run + " exp_avg_sq " + n, state[n + ".exp_avg_sq"].to(torch::kFloat),
                 d.t[ref_run + ".exp_avg_sq." + n], tol);
  }
}

struct AdamCase {
  std::string optimizer, impl, ref_run;
  torch::ScalarType dtype;
  bool scaled, bitwise;
  double tol;
};

void PrintTo(const AdamCase& c, std::ostream* os) { *os << c.optimizer << " " << c.impl << " vs " << c.ref_run; }

class AdamReference : public ::testing::TestWithParam<AdamCase> {};

TEST_P(AdamReference, MatchesTorchOptim) {
  const auto& c = GetParam();
  const auto& d = adam_dump();
  auto r = make_run(d, c.optimizer, c.impl, c.dtype);
  run_steps(d, r, 0, d.steps, c.dtype, c.scaled);
  expect_run_matches(d, r, c.ref_run, c.bitwise, c.tol);
}

INSTANTIATE_TEST_SUITE_P(Runs, AdamReference,
                         ::testing::Values(
                             // torch.optim.AdamW(fused=True) on CPU: bitwise.
                             AdamCase{"adamw", "fused", "adamw_fused", torch::kFloat, false, true, 0},
                             AdamCase{"adamw", "auto", "adamw_fused", torch::kFloat, false, true, 0},
                             // torch.optim.AdamW() default on CPU is the single-tensor loop: bitwise too, and the
                             // fused kernel within 1e-6 of it.
                             AdamCase{"adamw", "loop", "adamw_default", torch::kFloat, false, true, 0},
                             AdamCase{"adamw", "fused", "adamw_default", torch::kFloat, false, false, 1e-6},
                             AdamCase{"adamw", "foreach", "adamw_foreach", torch::kFloat, false, true, 0},
                             AdamCase{"adam", "fused", "adam_fused", torch::kFloat, false, true, 0},
                             AdamCase{"adam", "loop", "adam_default", torch::kFloat, false, true, 0},
                             AdamCase{"adam", "foreach", "adam_foreach", torch::kFloat, false, true, 0},
                             AdamCase{"adamw", "fused", "adamw_fused_bf16", torch::kBFloat16, false, true, 0},
                             AdamCase{"adamw", "loop", "adamw_default_bf16", torch::kBFloat16, false, true, 0},
                             AdamCase{"adamw", "foreach", "adamw_foreach_bf16", torch::kBFloat16, false, true, 0},
                             AdamCase{"adamw", "fused", "adamw_fused_scaled", torch::kFloat, true, true, 0}),
                         [](const auto& info) { return info.param.impl + "_vs_" + info.param.ref_run; });

TEST(AdamState, SaveRestoreContinuesBitwise) {
  const auto& d = adam_dump();
  for (const std::string impl : {"fused", "loop", "foreach"}) {
    auto straight = make_run(d, "adamw", impl, torch::kFloat);
    run_steps(d, straight, 0, d.steps, torch::kFloat, false);

    auto first = make_run(d, "adamw", impl, torch::kFloat);
    run_steps(d, first, 0, 4, torch::kFloat, false);
    // Through a safetensors file, as a checkpoint would.
    const auto path = rsclip::testing::scratch_dir() / "optim.safetensors";
    save_safetensors(path, first.opt->state_dict());
    auto resumed = make_run(d, "adamw", impl, torch::kFloat);
    for (const auto& n : d.names) resumed.params[n].detach().copy_(first.params[n].detach());
    resumed.opt->load_state_dict(load_safetensors(path));
    run_steps(d, resumed, 4, d.steps, torch::kFloat, false);
    for (const auto& n : d.names) {
      EXPECT_TRUE(torch::equal(resumed.params[n], straight.params[n])) << impl << " " << n;
    }
  }
}

TEST(AdamState, RejectsForeignState) {
  const auto& d = adam_dump();
  auto r = make_run(d, "adamw", "fused", torch::kFloat);
  run_steps(d, r, 0, 1, torch::kFloat, false);
  auto state = r.opt->state_dict();
  StateDict unknown = state;
  unknown.insert("visual.nope.exp_avg", torch::zeros({1}));
  EXPECT_THROW(r.opt->load_state_dict(unknown), Error);
  StateDict bad_shape;
  for (const auto& item : state) {
    bad_shape.insert(item.key(), item.key() == "visual.proj.exp_avg" ? torch::zeros({2, 2}) : item.value());
  }
  EXPECT_THROW(r.opt->load_state_dict(bad_shape), Error);
  StateDict partial;
  for (const auto& item : state) {
    if (item.key() != "visual.proj.step") partial.insert(item.key(), item.value());
  }
  EXPECT_THROW(r.opt->load_state_dict(partial), Error);
  EXPECT_NO_THROW(r.opt->load_state_dict(state));
  EXPECT_NO_THROW(r.opt->load_state_dict(StateDict{}));  // a fresh optimiser
}

TEST(Adam, ScheduleAndZeroGrad) {
  const auto& d = adam_dump();
  auto r = make_run(d, "adamw", "auto", torch::kFloat);
  ScheduleConfig sc;
  sc.warmup = 2;
  const Schedule s(sc, r.opt->groups()[0].base_lr, 10, 5);
  r.opt->apply_schedule(s, 0);
  for (const auto& g : r.opt->groups()) EXPECT_EQ(g.lr, g.base_lr / 2);
  EXPECT_TRUE(r.opt->supports_amp_scaling());
  for (auto& p : r.opt->parameters()) p.mutable_grad() = torch::ones_like(p);
  r.opt->zero_grad();
  for (const auto& p : r.opt->parameters()) EXPECT_FALSE(p.grad().defined());
  OptimizerConfig loop;
  loop.impl = "loop";
  Optimizer o(build_param_groups(r.params, loop), loop);
  EXPECT_FALSE(o.supports_amp_scaling());
  EXPECT_ANY_THROW(o.step(torch::full({}, 2.0), torch::full({}, 0.0)));
}

TEST(ClipGradNormReference, EqualsTorch) {
  const auto path =
      rsclip::testing::cached_reference({"scripts/reference/optim_reference.py"}, {"clip"}, ".safetensors");
  auto t = load_safetensors(path);
  const int n = 6;
  for (const auto& [name, max_norm, norm_type] :
       {std::tuple{"clip", 1.0, 2.0}, std::tuple{"noclip", 1e6, 2.0},
        std::tuple{"inf", 0.5, std::numeric_limits<double>::infinity()}, std::tuple{"p1", 10.0, 1.0}}) {
    std::vector<torch::Tensor> params;
    for (int i = 0; i < n; ++i) {
      auto g = t["grad." + std::to_string(i)];
      params.push_back(torch::zeros_like(g).requires_grad_(true));
      params.back().mutable_grad() = g.clone();
    }
    params.insert(params.begin() + 2, torch::zeros({3}).requires_grad_(true));  // no gradient
    const auto total = clip_grad_norm(params, max_norm, norm_type);
    const std::string c = name;
    EXPECT_TRUE(torch::equal(total, t[c + ".total"]))
        << c << " total " << total.item<double>() << " vs " << t[c + ".total"].item<double>();
    int k = 0;
    for (const auto& p : params) {
      if (!p.grad().defined()) continue;
      EXPECT_TRUE(torch::equal(p.grad(), t[c + ".grad." + std::to_string(k)])) << c << " grad " << k;
      ++k;
    }
    EXPECT_EQ(k, n);
    std::printf("  clip_grad_norm %-6s total %.9g (bitwise equal to torch)\n", c.c_str(), total.item<double>());
  }
  EXPECT_EQ(clip_grad_norm({torch::zeros({2}).requires_grad_(true)}, 1.0).item<double>(), 0.0);
}

}  // namespace
}  // namespace rsclip::train
