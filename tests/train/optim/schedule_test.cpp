// Schedules equal open_clip_train.scheduler (and StepLR's closed form) bit for bit over
// every step of several runs.
#include "train/optim/schedule.h"

#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/config.h"
#include "tests/reference/reference_cache.h"
#include "tests/reference/test_support.h"

namespace rsclip::train {
namespace {

TEST(ScheduleReference, EqualsOpenClipTrainBitForBit) {
  const auto cases = nlohmann::json::parse(std::ifstream(
      rsclip::testing::cached_reference({"scripts/reference/optim_reference.py"}, {"schedules"}, ".json")));
  std::size_t compared = 0;
  double max_chained_rel = 0;
  for (const auto& c : cases) {
    const auto kind = c["kind"].get<std::string>();
    const double base_lr = c["base_lr"];
    ScheduleConfig cfg;
    cfg.name = kind;
    if (kind == "step") {
      cfg.warmup = 0;
      cfg.step_epochs = c["step_epochs"];
      cfg.gamma = c["gamma"];
      const int64_t epochs = c["epochs"], steps_per_epoch = 3;
      const Schedule s(cfg, base_lr, epochs * steps_per_epoch, steps_per_epoch);
      for (int64_t step = 0; step < epochs * steps_per_epoch; ++step) {
        const double expected = c["closed_form"][step / steps_per_epoch];
        ASSERT_EQ(s.lr(step), expected) << kind << " step " << step;
        const double chained = c["chained"][step / steps_per_epoch];
        max_chained_rel = std::max(max_chained_rel, std::abs(s.lr(step) - chained) / chained);
        ++compared;
      }
      continue;
    }
    cfg.warmup = c["warmup"];
    const int64_t steps = c["steps"];
    const auto& lrs = c["lr"];
    ASSERT_EQ(static_cast<int64_t>(lrs.size()), steps);
    for (int64_t step = 0; step < steps; ++step) {
      double lr = 0;
      if (kind == "cosine") {
        lr = cosine_lr(base_lr, cfg.warmup, steps, step);
        ASSERT_EQ(Schedule(cfg, base_lr, steps, 1).lr(step), lr);
      } else if (kind == "const") {
        lr = const_lr(base_lr, cfg.warmup, step);
        ASSERT_EQ(Schedule(cfg, base_lr, steps, 1).lr(step), lr);
      } else {
        const int64_t cooldown = c["cooldown_steps"];
        lr = const_lr_cooldown(base_lr, cfg.warmup, steps, cooldown, c["cooldown_power"], c["cooldown_end_lr"], step);
        // Through Schedule: one step per epoch makes epochs_cooldown = cooldown steps.
        cfg.epochs_cooldown = cooldown;
        cfg.cooldown_power = c["cooldown_power"];
        cfg.cooldown_end_lr = c["cooldown_end_lr"];
        ASSERT_EQ(Schedule(cfg, base_lr, steps, 1).lr(step), lr);
      }
      ASSERT_EQ(lr, lrs[step].get<double>())
          << kind << " warmup " << cfg.warmup << " steps " << steps << " step " << step;
      ++compared;
    }
  }
  std::printf("  %zu learning rates equal bit for bit; StepLR chained form within %.2e relative\n", compared,
              max_chained_rel);
  EXPECT_GT(compared, 40000u);
  EXPECT_LT(max_chained_rel, 1e-14);
}

TEST(Schedule, PetlStepDecay) {
  ScheduleConfig cfg;
  cfg.name = "step";
  cfg.warmup = 0;
  const Schedule s(cfg, 2e-4, 30 * 100, 100);  // 30 epochs of 100 steps, x0.7 every 20
  EXPECT_EQ(s.lr(0), 2e-4);
  EXPECT_EQ(s.lr(1999), 2e-4);
  EXPECT_EQ(s.lr(2000), 2e-4 * 0.7);
  EXPECT_EQ(s.lr(2999), 2e-4 * 0.7);
}

TEST(Schedule, GroupsWithOtherPeakLrScaleTheCooldownEnd) {
  ScheduleConfig cfg;
  cfg.name = "const-cooldown";
  cfg.warmup = 2;
  cfg.epochs_cooldown = 2;
  cfg.cooldown_end_lr = 1e-5;
  const Schedule s(cfg, 1e-3, 100, 10);
  EXPECT_EQ(s.lr(0), 1e-3 * 1 / 2);
  EXPECT_EQ(s.lr(50), 1e-3);
  EXPECT_NEAR(s.lr(99), 1e-5 + (1e-3 - 1e-5) / 20, 1e-18);
  EXPECT_NEAR(s.lr_for(1e-4, 99), 1e-6 + (1e-4 - 1e-6) / 20, 1e-18);
  EXPECT_NEAR(s.lr_for(1e-4, 50), 1e-4, 0);
}

TEST(Schedule, ConfigValidation) {
  EXPECT_THROW(config::read<ScheduleConfig>(YAML::Load("name: cosin\n")), Error);
  EXPECT_THROW(config::read<ScheduleConfig>(YAML::Load("warmup: -1\n")), Error);
  EXPECT_THROW(config::read<ScheduleConfig>(YAML::Load("gamma: 0\n")), Error);
  EXPECT_THROW(config::read<ScheduleConfig>(YAML::Load("step_epochs: 0\n")), Error);
  const auto cfg = config::read<ScheduleConfig>(YAML::Load("name: const-cooldown\nepochs_cooldown: 5\n"));
  EXPECT_THROW(Schedule(cfg, 1e-3, 40, 10), Error);  // 50 cooldown steps > 40
  EXPECT_THROW(Schedule(ScheduleConfig{}, 1e-3, 40, 0), Error);
}

}  // namespace
}  // namespace rsclip::train
