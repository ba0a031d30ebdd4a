// rsclip bench peft: step time and peak memory of one training step (forward of both towers,
// CLIP contrastive loss, backward, AdamW over the trainable parameters) with a PEFT method,
// on random inputs. scripts/bench_peft.sh runs every method in its own process and prints
// the table with ratios against full fine-tuning.
//
// Memory, two measures:
//   peak_tensor_mib  high-water mark of live CPU tensor storage, counted by an allocator
//                    wrapped around LibTorch's CPU allocator (installed before the model is
//                    built): weights + gradients + optimiser state + activations. Exact for
//                    tensors; scratch memory of BLAS / oneDNN kernels is not included.
//   peak_rss_mib     the process's VmHWM (/proc/self/status): everything, including the
//                    allocator's and libraries' overhead (CPU only; one process per method).
// Step time: median over --iters timed steps after --warmup untimed ones.
#include <cstdio>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include <c10/core/CPUAllocator.h>

#include "core/base/config.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "models/io/model_io.h"
#include "models/peft/peft.h"
#include "train/bench/peak_rss.h"
#include "train/cli/command.h"

namespace rsclip::cli::bench_peft_command {

// Counts live bytes of every CPU allocation made through it and their high-water mark.
// Allocations stay "simple" (context == data) because some kernels use raw_allocate; sizes
// are kept in a map keyed by the pointer. One instance per process.
class TrackingAllocator final : public c10::Allocator {
 public:
  explicit TrackingAllocator(c10::Allocator* base) : base_(base), base_deleter_(base->raw_deleter()) {
    TORCH_CHECK(base_deleter_, "the CPU allocator has no raw deleter");
    TORCH_CHECK(!instance_, "one TrackingAllocator per process");
    instance_ = this;
  }

  c10::DataPtr allocate(size_t n) override {
    auto inner = base_->allocate(n);
    const auto device = inner.device();
    TORCH_CHECK(inner.get() == inner.get_context(), "the CPU allocator's pointers are not simple");
    void* data = inner.release_context();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sizes_[data] = n;
      live_ += static_cast<int64_t>(n);
      peak_ = std::max(peak_, live_);
    }
    return {data, data, &release, device};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  int64_t live() {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_;
  }
  int64_t peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    return peak_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    peak_ = live_;
  }

 private:
  static void release(void* data) {
    if (!data) return;
    auto* self = instance_;
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      auto it = self->sizes_.find(data);
      TORCH_CHECK(it != self->sizes_.end(), "freeing an untracked CPU pointer");
      self->live_ -= static_cast<int64_t>(it->second);
      self->sizes_.erase(it);
    }
    self->base_deleter_(data);
  }

  static inline TrackingAllocator* instance_ = nullptr;
  c10::Allocator* base_;
  c10::DeleterFnPtr base_deleter_;
  std::mutex mutex_;
  std::unordered_map<void*, size_t> sizes_;
  int64_t live_ = 0, peak_ = 0;
};

struct BenchArgs {
  std::string model = "ViT-B-32", method = "full";
  std::vector<std::string> options;  // "lora.rank=16"
  int64_t batch_size = 8;
  int threads = 1, iters = 3, warmup = 1;
  bool grad_checkpointing = false;
};

models::peft::PeftConfig peft_config(const BenchArgs& a) {
  YAML::Node node(YAML::NodeType::Map);
  node["method"] = a.method;
  for (const auto& o : a.options) config::apply_override(node, o);
  return config::read<models::peft::PeftConfig>(node, "bench peft");
}

void run(const BenchArgs& a) {
  if (a.iters < 1 || a.warmup < 0) throw Error("--iters must be >= 1 and --warmup >= 0", "bench peft");
  static TrackingAllocator tracker(c10::GetDefaultCPUAllocator());
  c10::SetCPUAllocator(&tracker, /*priority=*/100);
  torch::set_num_threads(a.threads);
  const auto cfg = peft_config(a);

  torch::manual_seed(0);
  auto model = models::load_model(a.model, "", true, torch::kCPU);
  const auto report = models::peft::apply_method(*model, cfg);
  log::info("{}", report.table());
  model->set_grad_checkpointing(a.grad_checkpointing);
  model->train();
  std::vector<torch::Tensor> params;
  for (auto& [name, p] : models::peft::trainable_parameters(*model)) params.push_back(p);
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(1e-4).weight_decay(0.1));

  const auto& mc = model->cfg;
  auto pixels = torch::randn({a.batch_size, 3, mc.vision.image_size, mc.vision.image_size});
  auto tokens = torch::randint(1, mc.text.vocab_size - 2, {a.batch_size, mc.text.context_length}, torch::kLong);
  tokens.select(1, 0).fill_(mc.text.vocab_size - 2);
  tokens.select(1, 20).fill_(mc.text.vocab_size - 1);  // EOT; argmax pooling
  const auto labels = torch::arange(a.batch_size);
  const double weights_mib = static_cast<double>(tracker.live()) / (1 << 20);

  auto step = [&] {
    namespace F = torch::nn::functional;
    optimizer.zero_grad();
    const auto img = F::normalize(model->encode_image(pixels), F::NormalizeFuncOptions().dim(-1));
    const auto txt = F::normalize(model->encode_text(tokens), F::NormalizeFuncOptions().dim(-1));
    const auto logits = model->logit_scale.exp() * img.matmul(txt.t());
    const auto loss = (F::cross_entropy(logits, labels) + F::cross_entropy(logits.t(), labels)) / 2;
    loss.backward();
    optimizer.step();
  };
  tracker.reset_peak();
  for (int i = 0; i < a.warmup; ++i) step();
  std::vector<double> times;
  for (int i = 0; i < a.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  std::printf(
      "{\"method\": \"%s\", \"model\": \"%s\", \"batch\": %lld, \"threads\": %d, \"grad_checkpointing\": %s, "
      "\"trainable\": %lld, \"total\": %lld, \"step_s\": %.4f, \"weights_mib\": %.1f, \"peak_tensor_mib\": %.1f, "
      "\"peak_rss_mib\": %.1f}\n",
      a.method.c_str(), mc.name.c_str(), static_cast<long long>(a.batch_size), torch::get_num_threads(),
      a.grad_checkpointing ? "true" : "false", static_cast<long long>(report.trainable()),
      static_cast<long long>(report.total()), times[times.size() / 2], weights_mib,
      static_cast<double>(tracker.peak()) / (1 << 20), peak_rss_mib());
}

const Command reg("bench peft", [](CLI::App& cmd) {
  cmd.description("Step time and peak memory of one training step with a PEFT method (JSON line)");
  auto a = std::make_shared<BenchArgs>();
  cmd.add_option("--model", a->model, "model name or config .json")->capture_default_str();
  cmd.add_option("--method", a->method, "PEFT method (peft.method)")->capture_default_str();
  cmd.add_option("--option", a->options, "method option as SECTION.KEY=VALUE, e.g. lora.rank=16 (repeatable)");
  cmd.add_option("--batch-size", a->batch_size)->capture_default_str();
  cmd.add_option("--threads", a->threads, "CPU threads")->capture_default_str();
  cmd.add_option("--iters", a->iters, "timed steps (median reported)")->capture_default_str();
  cmd.add_option("--warmup", a->warmup, "untimed steps first")->capture_default_str();
  cmd.add_flag("--grad-checkpointing", a->grad_checkpointing, "recompute blocks in backward");
  cmd.callback([a] { run(*a); });
});

}  // namespace rsclip::cli::bench_peft_command
