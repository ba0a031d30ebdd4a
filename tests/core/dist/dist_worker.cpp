// One rank of a multi-process test (started by distributed_test.cpp with torchrun-style or
// SLURM variables, or by torchrun itself). Usage:
//
//   core_dist_worker SCENARIO OUT_DIR [--key value]...
//
// Scenarios write rank<R>.safetensors into OUT_DIR for the test to compare:
//   gather     all_gather_with_grad / gather_features: local feature gradients
//   average    per-rank gradients (no_sync) and the bucketed all-reduced ones
//   train      toy CLIP, SGD steps with gradient accumulation; losses and final parameters
//   neighbour  SigLIP neighbour exchange values and gradients
//   fail       a few all-reduces, then --fail-rank throws (--mode throw) or dies (exit)
//   check      one all-reduce; prints the launch variables (torchrun/SLURM launch test)
//   bench      all-reduce bandwidth over sizes (prints a table; writes nothing)
//   overlap    step time of an MLP with buckets started in vs after backward (prints)
// Exit status 0 on success, 1 with "dist_worker: error: ..." on stderr otherwise.
#include <cstdio>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "core/base/error.h"
#include "core/dist/collectives_autograd.h"
#include "core/dist/data_parallel.h"
#include "core/dist/distributed.h"
#include "core/io/safetensors.h"
#include "tests/core/dist/dist_toy.h"

namespace {

namespace toy = rsclip::testing::toy;
using rsclip::Distributed;

// CLOCK_MONOTONIC is shared by all processes of the machine: the test compares ranks' times.
double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Args {
  std::string scenario;
  std::filesystem::path out;
  std::map<std::string, std::string> options;

  double number(const std::string& key, double fallback) const {
    auto it = options.find(key);
    return it == options.end() ? fallback : std::stod(it->second);
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
};

Args parse(int argc, char** argv) {
  if (argc < 3) throw rsclip::Error("usage: core_dist_worker SCENARIO OUT_DIR [--key value]...");
  Args args{argv[1], argv[2], {}};
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) throw rsclip::Error("expected --key, got " + key);
    args.options[key.substr(2)] = argv[i + 1];
  }
  return args;
}

void write_result(const Args& args, const Distributed& dist, const rsclip::StateDict& tensors) {
  rsclip::save_safetensors(args.out / ("rank" + std::to_string(dist.rank()) + ".safetensors"), tensors);
}

// Each rank's features are its rows of one global [world * rows, dim] tensor.
void run_gather(const Args& args, Distributed& dist) {
  const int64_t rows = 4;
  const int world = dist.world_size();
  rsclip::StateDict out;
  for (const auto& [name, with_grad, local] :
       {std::tuple{"grad", true, false}, std::tuple{"nograd", false, false}, std::tuple{"local", true, true}}) {
    auto global = toy::global_batch(0, 0, world, rows);
    auto img = torch::nn::functional::normalize(global.images.narrow(1, 0, 8).narrow(0, dist.rank() * rows, rows))
                   .requires_grad_();
    auto txt = torch::nn::functional::normalize(global.texts.narrow(1, 0, 8).narrow(0, dist.rank() * rows, rows))
                   .requires_grad_();
    auto scale = torch::full({}, 2.0);
    auto loss = toy::clip_loss(dist, img, txt, scale, with_grad, local);
    loss.backward();
    out.insert(std::string(name) + ".img_grad", img.grad());
    out.insert(std::string(name) + ".txt_grad", txt.grad());
    out.insert(std::string(name) + ".loss", loss.detach().reshape({1}));
  }
  write_result(args, dist, out);
}

// Gradients of a per-rank regression loss: local ones, then the bucket-averaged ones.
void run_average(const Args& args, const std::shared_ptr<Distributed>& dist) {
  toy::ToyClip model(7 + dist->rank());  // different seeds: the broadcast must equalise them
  rsclip::DataParallel ddp(dist, model->named_parameters(), args.number("bucket-mb", 25));
  auto batch = toy::shard(0, 0, dist->rank(), 6);
  auto loss_of = [&] {
    auto [i, t] = model->forward(batch.images, batch.texts);
    return (i - t).pow(2).sum() * model->logit_scale;
  };
  rsclip::StateDict out;
  {
    auto guard = ddp.no_sync();
    loss_of().backward();
  }
  for (const auto& item : model->named_parameters()) {
    if (item.value().requires_grad()) out.insert("local." + item.key(), item.value().grad().clone());
    out.insert("param." + item.key(), item.value().detach().clone());
  }
  toy::zero_grad(model);
  loss_of().backward();
  ddp.synchronize();
  for (const auto& item : model->named_parameters()) {
    if (item.value().requires_grad()) out.insert("synced." + item.key(), item.value().grad().clone());
  }
  out.insert("stats.bytes_reduced", torch::tensor({ddp.stats().bytes_reduced}));
  out.insert("stats.buckets", torch::tensor({static_cast<int64_t>(ddp.buckets().size())}));
  out.insert("stats.trainable_numel", torch::tensor({ddp.trainable_numel()}));
  out.insert("stats.frozen_numel", torch::tensor({ddp.frozen_numel()}));
  write_result(args, *dist, out);
}

void run_train(const Args& args, const std::shared_ptr<Distributed>& dist) {
  const int steps = static_cast<int>(args.number("steps", 4));
  const int accum = static_cast<int>(args.number("accum", 1));
  const int64_t rows = static_cast<int64_t>(args.number("rows", 4));
  const bool with_grad = args.number("gather-with-grad", 1) != 0;
  const bool local = args.number("local-loss", 0) != 0;
  const bool set_to_none = args.text("zero", "none") == "none";
  toy::ToyClip model(7 + dist->rank());
  rsclip::DataParallel ddp(dist, model->named_parameters(), args.number("bucket-mb", 25));
  std::vector<torch::Tensor> losses;
  for (int step = 0; step < steps; ++step) {
    torch::Tensor step_loss = torch::zeros({});
    for (int micro = 0; micro < accum; ++micro) {
      auto guard = micro + 1 < accum ? ddp.no_sync() : rsclip::DataParallel::NoSync{};
      auto batch = toy::shard(step, micro, dist->rank(), rows);
      auto [i, t] = model->forward(batch.images, batch.texts);
      auto loss = toy::clip_loss(*dist, i, t, model->logit_scale, with_grad, local) / accum;
      loss.backward();
      step_loss += loss.detach();
    }
    ddp.synchronize();
    toy::sgd_step(model);
    if (set_to_none) {
      for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    } else {
      toy::zero_grad(model);
    }
    dist->all_reduce(step_loss, rsclip::ReduceOp::mean);
    losses.push_back(step_loss.reshape({1}));
  }
  rsclip::StateDict out;
  for (const auto& item : model->named_parameters()) out.insert("param." + item.key(), item.value().detach().clone());
  out.insert("losses", torch::cat(losses));
  out.insert("stats.bytes_reduced", torch::tensor({ddp.stats().bytes_reduced}));
  out.insert("stats.buckets_reduced", torch::tensor({ddp.stats().buckets_reduced}));
  out.insert("stats.buckets_overlapped", torch::tensor({ddp.stats().buckets_overlapped}));
  out.insert("stats.buckets", torch::tensor({static_cast<int64_t>(ddp.buckets().size())}));
  out.insert("stats.trainable_numel", torch::tensor({ddp.trainable_numel()}));
  out.insert("stats.frozen_numel", torch::tensor({ddp.frozen_numel()}));
  write_result(args, *dist, out);
}

// An MLP of --layers x --width^2 weights: step time with buckets started from the hooks
// (overlapped with backward) against all buckets started after backward (no_sync, then
// synchronize), and how long synchronize() waited in each case.
void run_overlap(const Args& args, const std::shared_ptr<Distributed>& dist) {
  const int64_t width = static_cast<int64_t>(args.number("width", 1024));
  const int layers = static_cast<int>(args.number("layers", 8));
  const int steps = static_cast<int>(args.number("steps", 5));
  torch::manual_seed(1);
  torch::nn::Sequential mlp;
  for (int l = 0; l < layers; ++l) {
    mlp->push_back(torch::nn::Linear(width, width));
    mlp->push_back(torch::nn::Tanh());
  }
  rsclip::DataParallel ddp(dist, mlp->named_parameters(), args.number("bucket-mb", 25));
  auto x = torch::randn({static_cast<int64_t>(args.number("batch", 256)), width});
  for (const bool overlapped : {true, false, true, false}) {
    double step_s = 0, wait_s = 0;
    for (int step = 0; step < steps; ++step) {
      const double wait_before = ddp.stats().wait_seconds;
      const auto start = std::chrono::steady_clock::now();
      {
        auto guard = overlapped ? rsclip::DataParallel::NoSync{} : ddp.no_sync();
        mlp->forward(x).pow(2).mean().backward();
      }
      ddp.synchronize();
      step_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      wait_s += ddp.stats().wait_seconds - wait_before;
      for (auto& p : mlp->parameters()) p.mutable_grad() = torch::Tensor();
    }
    if (dist->is_primary()) {
      std::printf(
          "%-26s %d buckets, %.1f MB: step %.1f ms, synchronize waited %.1f ms\n",
          overlapped ? "started in backward:" : "started after backward:", static_cast<int>(ddp.buckets().size()),
          ddp.trainable_numel() * 4 / 1e6, 1e3 * step_s / steps, 1e3 * wait_s / steps);
    }
  }
}

// Rank r sends (r + 1) * ones; the receiver weights what it got by 10 * (its rank + 1).
void run_neighbour(const Args& args, Distributed& dist) {
  const int world = dist.world_size(), rank = dist.rank();
  const int left = (rank - 1 + world) % world, right = (rank + 1) % world;
  auto x = torch::full({3}, rank + 1.0).requires_grad_();
  auto from_left = rsclip::neighbour_exchange_with_grad(dist, left, right, x);
  (from_left * (10.0 * (rank + 1))).sum().backward();
  auto a = torch::full({2}, 100.0 + rank).requires_grad_();
  auto b = torch::full({2}, 200.0 + rank).requires_grad_();
  auto [from_right, from_left2] = rsclip::neighbour_exchange_bidir_with_grad(dist, left, right, a, b);
  (from_right * 3.0 + from_left2 * 5.0).sum().backward();
  write_result(args, dist,
               {{"uni.received", from_left.detach()},
                {"uni.grad", x.grad()},
                {"bidir.from_right", from_right.detach()},
                {"bidir.from_left", from_left2.detach()},
                {"bidir.grad_to_left", a.grad()},
                {"bidir.grad_to_right", b.grad()}});
}

void run_fail(const Args& args, Distributed& dist) {
  const int fail_rank = static_cast<int>(args.number("fail-rank", 1));
  const std::string mode = args.text("mode", "throw");
  for (int i = 0; i < 100; ++i) {
    if (i == 3 && dist.rank() == fail_rank) {
      std::fprintf(stderr, "dist_worker: rank %d injecting a failure (%s) at t=%.3f\n", dist.rank(), mode.c_str(),
                   monotonic_seconds());
      if (mode == "exit") ::_exit(3);  // a crash: no report, no clean-up
      throw rsclip::Error("injected failure at iteration 3");
    }
    auto t = torch::ones({1000});
    dist.all_reduce(t);
  }
}

void run_check(Distributed& dist) {
  auto t = torch::ones({4});
  dist.all_reduce(t);
  TORCH_CHECK(t.eq(dist.world_size()).all().item<bool>(), "all_reduce gave ", t);
  std::printf("check ok: rank %d of %d, local %d of %d, launcher %s, backend %s\n", dist.rank(), dist.world_size(),
              dist.local_rank(), dist.local_world_size(), dist.launch().launcher_name(), dist.backend_name().c_str());
}

// Ring all-reduce moves 2 (n - 1) / n of the buffer per rank: busbw = bytes / time * that.
void run_bench(const Args& args, Distributed& dist) {
  const int iters = static_cast<int>(args.number("iters", 10));
  const double n = dist.world_size();
  if (dist.is_primary()) std::printf("%12s %10s %12s %12s\n", "bytes", "ms", "algbw GB/s", "busbw GB/s");
  for (int64_t bytes = 1 << 16; bytes <= (int64_t{1} << static_cast<int>(args.number("max-log2", 27))); bytes <<= 2) {
    auto t = torch::ones({bytes / 4});
    dist.all_reduce(t);  // warm-up
    dist.barrier();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) dist.all_reduce(t);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
    if (dist.is_primary()) {
      std::printf("%12lld %10.3f %12.3f %12.3f\n", static_cast<long long>(bytes), s * 1e3, bytes / s / 1e9,
                  bytes / s / 1e9 * 2 * (n - 1) / n);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse(argc, argv);
    rsclip::DistributedConfig config;
    config.backend = args.text("backend", "gloo");
    config.timeout_s = args.number("timeout", 30);
    config.init_timeout_s = args.number("timeout", 30);
    config.failure_poll_s = args.number("poll", 0.1);
    config.failure_grace_s = args.number("grace", 5);
    auto dist = Distributed::from_environment(config, torch::kCPU);
    dist->run_or_report([&] {
      if (args.scenario == "gather")
        run_gather(args, *dist);
      else if (args.scenario == "average")
        run_average(args, dist);
      else if (args.scenario == "train")
        run_train(args, dist);
      else if (args.scenario == "neighbour")
        run_neighbour(args, *dist);
      else if (args.scenario == "fail")
        run_fail(args, *dist);
      else if (args.scenario == "check")
        run_check(*dist);
      else if (args.scenario == "bench")
        run_bench(args, *dist);
      else if (args.scenario == "overlap")
        run_overlap(args, dist);
      else
        throw rsclip::Error("unknown scenario '" + args.scenario + "'");
    });
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dist_worker: error: %s\ndist_worker: exiting at t=%.3f\n", e.what(), monotonic_seconds());
    return 1;
  }
}
