// The distributed runtime inside one process: disabled (no launcher variables) and as a
// real one-rank Gloo group, plus the build invariant that makes the vendored gloo headers
// safe (third_party/gloo/README.md).
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "core/base/error.h"
#include "core/dist/collectives_autograd.h"
#include "core/dist/data_parallel.h"
#include "core/dist/distributed.h"
#include "tests/core/dist/dist_launch.h"
#include "tests/core/dist/dist_toy.h"
#include "tests/reference/test_support.h"

namespace rsclip::testing {
namespace {

TEST(DistributedLocal, WithoutLauncherEverythingIsANoOp) {
  auto dist = Distributed::create(DistributedConfig{}, LaunchEnv{}, torch::kCPU);
  EXPECT_FALSE(dist->enabled());
  EXPECT_EQ(dist->world_size(), 1);
  EXPECT_EQ(dist->rank(), 0);
  EXPECT_TRUE(dist->is_primary());
  EXPECT_EQ(dist->backend_name(), "none");
  auto t = torch::arange(4.0);
  dist->all_reduce(t, ReduceOp::mean);
  dist->broadcast(t);
  dist->barrier();
  EXPECT_TRUE(torch::equal(t, torch::arange(4.0)));
  EXPECT_TRUE(torch::equal(dist->all_gather(t), t));
  auto x = torch::randn({3, 2}, torch::requires_grad());
  EXPECT_TRUE(gather_features(*dist, x, true, false).is_same(x));

  toy::ToyClip model(1);
  DataParallel ddp(dist, model->named_parameters());
  auto batch = toy::shard(0, 0, 0, 4);
  auto [i, tt] = model->forward(batch.images, batch.texts);
  toy::clip_loss(*dist, i, tt, model->logit_scale, true, false).backward();
  const auto before = model->image->weight.grad().clone();
  ddp.synchronize();
  EXPECT_TRUE(torch::equal(model->image->weight.grad(), before));
  EXPECT_EQ(ddp.stats().bytes_reduced, 0);
  EXPECT_EQ(ddp.stats().bytes_broadcast, 0);
}

std::shared_ptr<Distributed> one_rank_group() {
  LaunchEnv env;
  env.launcher = LaunchEnv::Launcher::torchrun;
  env.master_addr = "127.0.0.1";
  env.master_port = free_port();
  DistributedConfig config;
  config.timeout_s = 20;
  return Distributed::create(config, env, torch::kCPU);
}

TEST(DistributedLocal, OneRankGlooGroup) {
  auto dist = one_rank_group();
  ASSERT_TRUE(dist->enabled());
  EXPECT_EQ(dist->backend_name(), "gloo");
  auto t = torch::arange(6.0);
  dist->all_reduce(t, ReduceOp::mean);
  EXPECT_TRUE(torch::equal(t, torch::arange(6.0)));
  dist->all_reduce(t, ReduceOp::max);
  dist->broadcast(t);
  dist->barrier();
  EXPECT_TRUE(torch::equal(dist->all_gather(t.view({3, 2})), t.view({3, 2})));
  EXPECT_TRUE(torch::equal(dist->reduce_scatter_sum(t.view({3, 2})), t.view({3, 2})));

  // Gradients through all_gather_with_grad with one rank are the plain ones.
  auto x = torch::randn({4, 3}, torch::requires_grad());
  (all_gather_with_grad(*dist, x) * 2).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), torch::full({4, 3}, 2.0)));
}

TEST(DistributedLocal, OneRankDataParallel) {
  auto dist = one_rank_group();
  toy::ToyClip model(3), reference(3);
  DataParallel ddp(dist, model->named_parameters(), 0.0003);
  EXPECT_GT(ddp.buckets().size(), 1u);
  // Reverse registration order: the last parameter (libtorch lists a module's own before its
  // children's) leads the first bucket.
  EXPECT_EQ(ddp.buckets().front().front(), model->named_parameters().keys().back());
  EXPECT_EQ(ddp.buckets().back().back(), "logit_scale");
  auto batch = toy::shard(0, 0, 0, 4);
  for (auto* m : {&model, &reference}) {
    auto [i, t] = (*m)->forward(batch.images, batch.texts);
    toy::clip_loss(*dist, i, t, (*m)->logit_scale, true, false).backward();
  }
  ddp.synchronize();
  for (const auto& item : reference->named_parameters()) {
    if (!item.value().requires_grad()) {
      EXPECT_FALSE(model->named_parameters()[item.key()].grad().defined()) << item.key();
      continue;
    }
    expect_close(item.key(), model->named_parameters()[item.key()].grad(), item.value().grad(), 1e-6);
  }
  EXPECT_EQ(ddp.stats().bytes_reduced, ddp.trainable_numel() * 4);
  // Every parameter got its gradient in backward, so every bucket started there.
  EXPECT_EQ(ddp.stats().buckets_overlapped, static_cast<int64_t>(ddp.buckets().size()));

  // Gradients accumulated under no_sync() are reduced by the next synchronize(), which then
  // starts every bucket itself.
  toy::zero_grad(model);
  {
    auto guard = ddp.no_sync();
    auto [i, t] = model->forward(batch.images, batch.texts);
    toy::clip_loss(*dist, i, t, model->logit_scale, true, false).backward();
  }
  EXPECT_EQ(ddp.stats().buckets_reduced, static_cast<int64_t>(ddp.buckets().size()));
  ddp.synchronize();
  EXPECT_EQ(ddp.stats().buckets_reduced, 2 * static_cast<int64_t>(ddp.buckets().size()));
  EXPECT_EQ(ddp.stats().buckets_overlapped, static_cast<int64_t>(ddp.buckets().size()));
  for (const auto& item : reference->named_parameters()) {
    if (item.value().requires_grad()) {
      expect_close("no_sync " + item.key(), model->named_parameters()[item.key()].grad(), item.value().grad(), 1e-6);
    }
  }

  // A second backward without synchronize() or no_sync() is a usage error, not a silent
  // double count.
  auto [i, t] = model->forward(batch.images, batch.texts);
  toy::clip_loss(*dist, i, t, model->logit_scale, true, false).backward();
  auto [i2, t2] = model->forward(batch.images, batch.texts);
  try {
    toy::clip_loss(*dist, i2, t2, model->logit_scale, true, false).backward();
    ADD_FAILURE() << "second gradient accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("second gradient before synchronize()"), std::string::npos) << e.what();
  }
}

TEST(DistributedLocal, MissingRanksAtStartUpAreAClearError) {
  LaunchEnv env;
  env.launcher = LaunchEnv::Launcher::torchrun;
  env.world_size = 2;
  env.local_world_size = 2;
  env.master_addr = "127.0.0.1";
  env.master_port = free_port();
  DistributedConfig config;
  config.init_timeout_s = 1;
  try {
    Distributed::create(config, env, torch::kCPU);
    ADD_FAILURE() << "rank 0 of 2 started alone";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0 of 2 could not join"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("start all 2 processes"), std::string::npos) << e.what();
  }
}

TEST(DistributedLocal, ConfigValidation) {
  DistributedConfig config;
  config.backend = "mpi";
  EXPECT_THROW(config.validate(), Error);
  config = DistributedConfig{};
  config.timeout_s = 0;
  EXPECT_THROW(config.validate(), Error);
  if (!torch::cuda::is_available()) {
    LaunchEnv env;
    env.launcher = LaunchEnv::Launcher::torchrun;
    env.master_addr = "127.0.0.1";
    env.master_port = free_port();
    DistributedConfig nccl;
    nccl.backend = "nccl";
    EXPECT_THROW(Distributed::create(nccl, env, torch::kCPU), Error);
  }
}

// rsclip compiles against gloo headers vendored from a commit near, not equal to, torch's
// (third_party/gloo/README.md). That is safe only while rsclip's code never defines or
// calls anything of gloo's own - all gloo code that runs is libtorch's. Any gloo:: symbol
// in our objects beyond holding shared_ptr<gloo::transport::Device> breaks that.
TEST(DistributedLocal, NoGlooCodeInRsclipObjects) {
  const std::filesystem::path lib = RSCLIP_CORE_DIST_LIBRARY;
  ASSERT_TRUE(std::filesystem::exists(lib)) << lib;
  const auto result = run_command("nm -C " + shell_quote(lib.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::istringstream lines(result.output);
  std::string line;
  int offending = 0, held = 0;
  const std::regex allowed(R"(std::shared_ptr<gloo::transport::Device>)");
  while (std::getline(lines, line)) {
    if (line.find("gloo::") == std::string::npos) continue;
    if (std::regex_replace(line, allowed, "").find("gloo::") == std::string::npos) {
      ++held;
      continue;
    }
    ++offending;
    ADD_FAILURE() << "gloo symbol in librsclip_core_dist.a: " << line;
  }
  EXPECT_EQ(offending, 0);
  EXPECT_GT(held, 0) << "process_group.cpp no longer builds gloo devices? update this test";
}

}  // namespace
}  // namespace rsclip::testing
