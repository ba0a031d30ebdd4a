// rsclip bench encode: images/s and texts/s of encode_image / encode_text on random inputs.
// scripts/bench_encode.sh runs it beside open_clip with the same model, batch and threads.
#include <cstdio>

#include <algorithm>
#include <chrono>

#include "core/base/autocast.h"
#include "core/base/error.h"
#include "models/io/model_io.h"
#include "train/cli/command.h"

namespace rsclip::cli::bench_encode_command {

struct BenchArgs {
  std::string model = "ViT-B-32", device = "cpu", precision = "fp32";
  int64_t batch_size = 16;
  int threads = 0, iters = 5, warmup = 2;
};

// Median seconds per call of fn over `iters` timed calls after `warmup` untimed ones.
double median_seconds(const std::function<void()>& fn, int warmup, int iters, bool cuda) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    if (cuda) torch::cuda::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    if (cuda) torch::cuda::synchronize();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void run(const BenchArgs& a) {
  if (a.threads > 0) torch::set_num_threads(a.threads);
  if (a.iters < 1) throw Error("--iters must be at least 1", "bench encode");
  const auto device = models::parse_device(a.device);
  auto model = models::load_model(a.model, "", true, device);
  const auto& cfg = model->cfg;
  torch::manual_seed(0);
  auto pixels = torch::randn({a.batch_size, 3, cfg.vision.image_size, cfg.vision.image_size}).to(device);
  auto tokens = torch::randint(1, cfg.text.vocab_size - 2, {a.batch_size, cfg.text.context_length}, torch::kLong);
  tokens.select(1, cfg.text.context_length / 2).fill_(cfg.text.vocab_size - 1);  // an EOT per row
  tokens = tokens.to(device);
  c10::InferenceMode inference;  // no autograd bookkeeping at all (stricter than no_grad)
  std::optional<AutocastScope> autocast;
  if (a.precision == "bf16") autocast.emplace(device.type(), torch::kBFloat16);
  const bool cuda = device.is_cuda();
  const double image_s = median_seconds([&] { model->encode_image(pixels); }, a.warmup, a.iters, cuda);
  const double text_s = median_seconds([&] { model->encode_text(tokens); }, a.warmup, a.iters, cuda);
  std::printf(
      "{\"impl\": \"rsclip\", \"model\": \"%s\", \"device\": \"%s\", \"precision\": \"%s\", \"batch\": %lld, "
      "\"threads\": %d, \"images_per_s\": %.3f, \"texts_per_s\": %.3f}\n",
      cfg.name.c_str(), device.str().c_str(), a.precision.c_str(), static_cast<long long>(a.batch_size),
      torch::get_num_threads(), a.batch_size / image_s, a.batch_size / text_s);
}

const Command reg("bench encode", [](CLI::App& cmd) {
  cmd.description("Throughput of encode_image / encode_text on random inputs (JSON line)");
  auto a = std::make_shared<BenchArgs>();
  cmd.add_option("--model", a->model, "model name or config .json")->capture_default_str();
  cmd.add_option("--batch-size", a->batch_size)->capture_default_str();
  cmd.add_option("--threads", a->threads, "CPU threads (0: torch default)")->capture_default_str();
  cmd.add_option("--iters", a->iters, "timed iterations (median reported)")->capture_default_str();
  cmd.add_option("--warmup", a->warmup)->capture_default_str();
  cmd.add_option("--device", a->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  cmd.add_option("--precision", a->precision, "fp32 or bf16 (autocast)")->capture_default_str();
  cmd.callback([a] { run(*a); });
});

}  // namespace rsclip::cli::bench_encode_command
