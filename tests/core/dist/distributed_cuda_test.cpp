// The NCCL path as a one-rank group (torchrun --nproc-per-node 1 on a GPU): needs a GPU and
// is skipped, saying so, without one.
#include <gtest/gtest.h>

#include "core/dist/collectives_autograd.h"
#include "core/dist/data_parallel.h"
#include "core/dist/distributed.h"
#include "tests/core/dist/dist_launch.h"
#include "tests/core/dist/dist_toy.h"
#include "tests/reference/test_support.h"

namespace rsclip::testing {
namespace {

#define RSCLIP_REQUIRE_CUDA()                                                      \
  if (!torch::cuda::is_available()) {                                              \
    GTEST_SKIP() << "skipped: torch::cuda::is_available() is false (no GPU here)"; \
  }

std::shared_ptr<Distributed> one_rank_nccl() {
  LaunchEnv env;
  env.launcher = LaunchEnv::Launcher::torchrun;
  env.master_addr = "127.0.0.1";
  env.master_port = free_port();
  DistributedConfig config;
  config.timeout_s = 60;
  return Distributed::create(config, env, torch::kCUDA);
}

TEST(DistributedCuda, OneRankNcclCollectives) {
  RSCLIP_REQUIRE_CUDA();
  auto dist = one_rank_nccl();
  ASSERT_EQ(dist->backend_name(), "nccl");
  ASSERT_EQ(dist->device(), torch::Device(torch::kCUDA, 0));
  auto t = torch::arange(8.0, torch::TensorOptions().device(dist->device()));
  dist->all_reduce(t, ReduceOp::mean);
  dist->broadcast(t);
  dist->barrier();
  EXPECT_TRUE(torch::equal(t.cpu(), torch::arange(8.0)));
  EXPECT_TRUE(torch::equal(dist->all_gather(t.view({4, 2})).cpu(), torch::arange(8.0).view({4, 2})));
  EXPECT_TRUE(torch::equal(dist->reduce_scatter_sum(t.view({4, 2})).cpu(), torch::arange(8.0).view({4, 2})));
  auto x = torch::randn({4, 3}, torch::TensorOptions().device(dist->device()).requires_grad(true));
  (all_gather_with_grad(*dist, x) * 3).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad().cpu(), torch::full({4, 3}, 3.0)));
}

TEST(DistributedCuda, OneRankNcclDataParallel) {
  RSCLIP_REQUIRE_CUDA();
  auto dist = one_rank_nccl();
  toy::ToyClip model(5), reference(5);
  model->to(dist->device());
  reference->to(dist->device());
  DataParallel ddp(dist, model->named_parameters(), 0.0003);
  auto batch = toy::shard(0, 0, 0, 8);
  for (auto* m : {&model, &reference}) {
    auto [i, t] = (*m)->forward(batch.images.to(dist->device()), batch.texts.to(dist->device()));
    toy::clip_loss(*dist, i, t, (*m)->logit_scale, true, false).backward();
  }
  ddp.synchronize();
  for (const auto& item : reference->named_parameters()) {
    if (item.value().requires_grad()) {
      expect_close(item.key(), model->named_parameters()[item.key()].grad(), item.value().grad(), 1e-6);
    }
  }
  EXPECT_EQ(ddp.stats().bytes_reduced, ddp.trainable_numel() * 4);
}

}  // namespace
}  // namespace rsclip::testing
