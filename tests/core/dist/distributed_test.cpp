// Multi-process tests of the distributed runtime over Gloo on 127.0.0.1: each case starts
// core_dist_worker ranks (dist_worker.cpp), then compares what they wrote with a
// single-process computation of the same global batch. Failure handling and launchers are
// in distributed_failure_test.cpp.
#include "core/dist/distributed.h"

#include <cstdio>

#include <gtest/gtest.h>

#include "core/io/safetensors.h"
#include "tests/core/dist/dist_launch.h"
#include "tests/core/dist/dist_toy.h"
#include "tests/reference/test_support.h"

namespace rsclip::testing {
namespace {

namespace fs = std::filesystem;

StateDict load_rank(const fs::path& dir, int rank) {
  return load_safetensors(dir / ("rank" + std::to_string(rank) + ".safetensors"));
}

std::shared_ptr<Distributed> single_process() {
  return Distributed::create(DistributedConfig{}, LaunchEnv{}, torch::kCPU);
}

TEST(Distributed, AllGatherWithGradMatchesSingleProcess) {
  const auto dir = scratch_dir();
  const int world = 2;
  const int64_t rows = 4;
  auto ranks = run_workers("gather", world, dir);
  expect_all_succeeded(ranks);
  if (HasFailure()) return;

  auto local = single_process();
  auto global = toy::global_batch(0, 0, world, rows);
  auto img = torch::nn::functional::normalize(global.images.narrow(1, 0, 8)).requires_grad_();
  auto txt = torch::nn::functional::normalize(global.texts.narrow(1, 0, 8)).requires_grad_();
  auto ref_loss = toy::clip_loss(*local, img, txt, torch::full({}, 2.0), true, false);
  ref_loss.backward();

  torch::Tensor local_loss_sum = torch::zeros({1});
  for (int r = 0; r < world; ++r) {
    const auto got = load_rank(dir, r);
    const auto block = [&](const torch::Tensor& t) { return t.narrow(0, r * rows, rows); };
    const std::string tag = " rank " + std::to_string(r);
    // gather_with_grad: every rank's loss is the global one; the reduce-scatter sums the
    // world's gradients for this block, so world x the single-process gradient.
    expect_close("grad: img grad / world" + tag, got["grad.img_grad"] / world, block(img.grad()), 1e-6);
    expect_close("grad: txt grad / world" + tag, got["grad.txt_grad"] / world, block(txt.grad()), 1e-6);
    expect_close("grad: loss" + tag, got["grad.loss"], ref_loss.detach().reshape({1}), 1e-6);
    // Without gradient gathering only this rank's own slot carries gradient.
    expect_close("nograd: img grad" + tag, got["nograd.img_grad"], block(img.grad()), 1e-6);
    expect_close("nograd: txt grad" + tag, got["nograd.txt_grad"], block(txt.grad()), 1e-6);
    // local_loss: each rank's loss covers its rows; their mean is the global loss.
    expect_close("local: img grad / world" + tag, got["local.img_grad"] / world, block(img.grad()), 1e-6);
    expect_close("local: txt grad / world" + tag, got["local.txt_grad"] / world, block(txt.grad()), 1e-6);
    local_loss_sum += got["local.loss"];
  }
  expect_close("local: mean of rank losses", local_loss_sum / world, ref_loss.detach().reshape({1}), 1e-6);
}

TEST(Distributed, BucketedAllReduceAveragesGradientsAndSkipsFrozen) {
  const auto dir = scratch_dir();
  // Tiny buckets: several all-reduces, started from the hooks as buckets fill.
  auto ranks = run_workers("average", 2, dir, {"--bucket-mb", "0.0002"});
  expect_all_succeeded(ranks);
  if (HasFailure()) return;
  const auto r0 = load_rank(dir, 0), r1 = load_rank(dir, 1);
  int checked = 0;
  for (const auto& item : r0) {
    if (item.key().rfind("synced.", 0) != 0) continue;
    const std::string name = item.key().substr(7);
    const auto mean = (r0["local." + name] + r1["local." + name]) / 2;
    expect_close("rank 0 " + name, item.value(), mean, 1e-6, 1e-7);
    expect_close("rank 1 " + name, r1[item.key()], mean, 1e-6, 1e-7);
    ++checked;
  }
  EXPECT_EQ(checked, 5);  // image/text weight+bias and logit_scale; never the frozen layer
  for (const auto& item : r0) {
    if (item.key().rfind("param.", 0) == 0) {
      EXPECT_TRUE(torch::equal(item.value(), r1[item.key()])) << item.key() << " not broadcast from rank 0";
    }
  }
  const int64_t trainable = 16 * 8 + 8 + 12 * 8 + 8 + 1, frozen = 16 * 16 + 16;
  for (const auto* got : {&r0, &r1}) {
    EXPECT_EQ((*got)["stats.trainable_numel"].item<int64_t>(), trainable);
    EXPECT_EQ((*got)["stats.frozen_numel"].item<int64_t>(), frozen);
    // One synchronize: exactly the trainable fp32 gradients went over the wire.
    EXPECT_EQ((*got)["stats.bytes_reduced"].item<int64_t>(), trainable * 4);
    EXPECT_GT((*got)["stats.buckets"].item<int64_t>(), 1);
  }
  std::printf("  buckets: %lld, bytes reduced per sync: %lld (frozen %lld values excluded)\n",
              static_cast<long long>(r0["stats.buckets"].item<int64_t>()),
              static_cast<long long>(r0["stats.bytes_reduced"].item<int64_t>()), static_cast<long long>(frozen));
}

// 2 ranks x B rows against 1 process x 2B rows: same losses, same parameters after SGD.
void expect_training_matches(bool local_loss, int accum, const std::string& zero) {
  const auto dir = scratch_dir();
  const int world = 2, steps = 4;
  const int64_t rows = 4;
  auto ranks =
      run_workers("train", world, dir,
                  {"--steps", std::to_string(steps), "--accum", std::to_string(accum), "--rows", std::to_string(rows),
                   "--local-loss", local_loss ? "1" : "0", "--zero", zero, "--bucket-mb", "0.0005"});
  expect_all_succeeded(ranks);
  if (::testing::Test::HasFailure()) return;

  auto single = single_process();
  toy::ToyClip model(7);  // rank 0's seed: DataParallel broadcast rank 0's parameters
  std::vector<torch::Tensor> losses;
  for (int step = 0; step < steps; ++step) {
    torch::Tensor step_loss = torch::zeros({});
    for (int micro = 0; micro < accum; ++micro) {
      auto batch = toy::global_batch(step, micro, world, rows);
      auto [i, t] = model->forward(batch.images, batch.texts);
      auto loss = toy::clip_loss(*single, i, t, model->logit_scale, true, local_loss) / accum;
      loss.backward();
      step_loss += loss.detach();
    }
    toy::sgd_step(model);
    toy::zero_grad(model);
    losses.push_back(step_loss.reshape({1}));
  }
  const auto ref_losses = torch::cat(losses);
  for (int r = 0; r < world; ++r) {
    const auto got = load_rank(dir, r);
    const std::string tag = " rank " + std::to_string(r);
    expect_close("losses" + tag, got["losses"], ref_losses, 1e-6);
    for (const auto& item : model->named_parameters()) {
      expect_close(item.key() + tag, got["param." + item.key()], item.value().detach(), 1e-6);
    }
    const int64_t trainable = got["stats.trainable_numel"].item<int64_t>();
    EXPECT_EQ(got["stats.bytes_reduced"].item<int64_t>(), steps * trainable * 4)
        << "no_sync must skip the all-reduce of non-final micro-batches";
    EXPECT_EQ(got["stats.buckets_reduced"].item<int64_t>(), steps * got["stats.buckets"].item<int64_t>());
    EXPECT_EQ(got["stats.buckets_overlapped"].item<int64_t>(), steps * got["stats.buckets"].item<int64_t>())
        << "every bucket should start from a gradient hook, during backward";
  }
}

TEST(Distributed, TwoRanksEqualOneProcessGatherWithGrad) { expect_training_matches(false, 1, "none"); }

TEST(Distributed, TwoRanksEqualOneProcessLocalLossWithAccumulation) { expect_training_matches(true, 2, "zero"); }

TEST(Distributed, NeighbourExchangeSendsValuesAndGradientsBack) {
  const auto dir = scratch_dir();
  const int world = 3;  // left and right neighbours differ
  auto ranks = run_workers("neighbour", world, dir);
  expect_all_succeeded(ranks);
  if (HasFailure()) return;
  for (int r = 0; r < world; ++r) {
    const auto got = load_rank(dir, r);
    const int left = (r + world - 1) % world, right = (r + 1) % world;
    const std::string tag = " rank " + std::to_string(r);
    expect_close("uni received" + tag, got["uni.received"], torch::full({3}, left + 1.0), 0);
    expect_close("uni grad" + tag, got["uni.grad"], torch::full({3}, 10.0 * (right + 1)), 0);
    expect_close("bidir from_right" + tag, got["bidir.from_right"], torch::full({2}, 100.0 + right), 0);
    expect_close("bidir from_left" + tag, got["bidir.from_left"], torch::full({2}, 200.0 + left), 0);
    expect_close("bidir grad to_left" + tag, got["bidir.grad_to_left"], torch::full({2}, 3.0), 0);
    expect_close("bidir grad to_right" + tag, got["bidir.grad_to_right"], torch::full({2}, 5.0), 0);
  }
}

}  // namespace
}  // namespace rsclip::testing
