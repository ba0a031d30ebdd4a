#include "train/loop/trainer.h"

#include <cstdio>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <limits>
#include <sstream>

#include "core/base/atomic_file.h"
#include "core/base/config.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "core/base/stop_signal.h"
#include "core/dist/collectives_autograd.h"
#include "core/dist/data_parallel.h"
#include "core/dist/distributed.h"
#include "data/loader/clip_processor.h"
#include "data/loader/loader.h"
#include "models/clip/load_state.h"
#include "models/io/model_io.h"
#include "models/io/pretrained.h"
#include "models/peft/peft.h"
#include "models/peft/targets.h"
#include "train/eval/evaluator.h"
#include "train/loop/checkpoint_manifest.h"
#include "train/loop/checkpoint_store.h"
#include "train/loop/train_state.h"
#include "train/loop/train_step.h"
#include "train/losses/losses.h"
#include "train/optim/grad_scaler.h"
#include "train/optim/optimizer.h"
#include "train/optim/schedule.h"
#include "train/report/plot.h"
#include "train/report/progress.h"
#include "train/report/run_dir.h"
#include "train/report/tensorboard.h"

namespace rsclip::train {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The loss's collectives; `seconds` accumulates the time their forward calls take (exposed
// communication on Gloo; on NCCL the calls only enqueue, so this is launch time).
LossCollectives collectives_for(Distributed* dist, double* seconds) {
  LossCollectives c;
  if (!dist || !dist->enabled()) return c;
  c.rank = dist->rank();
  c.world_size = dist->world_size();
  auto timed = [seconds](auto&& call) {
    const auto t0 = Clock::now();
    auto out = call();
    *seconds += seconds_since(t0);
    return out;
  };
  c.all_gather = [dist, timed](const torch::Tensor& t) {
    return timed([&] { return all_gather_with_grad(*dist, t); });
  };
  c.exchange = [dist, timed](int from, int to, const torch::Tensor& t) {
    return timed([&] { return neighbour_exchange_with_grad(*dist, from, to, t); });
  };
  c.exchange_bidir = [dist, timed](int left, int right, const torch::Tensor& to_left, const torch::Tensor& to_right) {
    return timed([&] { return neighbour_exchange_bidir_with_grad(*dist, left, right, to_left, to_right); });
  };
  return c;
}

std::string tensor_bytes(const torch::Tensor& t) {
  auto c = t.contiguous().cpu();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

torch::Tensor bytes_tensor(const std::string& s) {
  auto t = torch::empty({static_cast<int64_t>(s.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr(), s.data(), s.size());
  return t;
}

class Trainer {
 public:
  Trainer(TrainConfig cfg, TrainOptions opts) : cfg_(std::move(cfg)), opts_(std::move(opts)) {}
  int run();

 private:
  int train_loop();
  enum class EpochEnd { data, max_steps, stopped };
  EpochEnd run_epoch(StepContext& ctx, int64_t global_batch);
  bool next_micro_batches(std::vector<data::Batch>& micro);
  void skip_nonfinite_step(const StepResult& r);
  void build();
  std::pair<std::string, std::string> initial_weights() const;  // (model name, weights), names resolved
  data::DataConfig build_model();
  void init_logit_parameters(models::ModelConfig& mcfg);
  void freeze_parameters();
  void build_data(const data::DataConfig& data_cfg);
  void resume();
  void restore_logs(int64_t metrics_records, int64_t step);
  void open_logs();
  void record(const nlohmann::json& rec);  // metrics.jsonl and TensorBoard
  std::optional<fs::path> resume_point();
  void optimizer_step();
  void log_window(const StepResult& r, double lr);
  void evaluate();
  fs::path save(const std::string& why);
  bool stop_requested();
  void write_summary();
  bool primary() const { return !dist_->enabled() || dist_->is_primary(); }
  int rank() const { return dist_->enabled() ? dist_->rank() : 0; }
  int world() const { return dist_->enabled() ? dist_->world_size() : 1; }
  std::vector<torch::Tensor> trainable() const;

  TrainConfig cfg_;
  TrainOptions opts_;
  std::shared_ptr<Distributed> dist_;
  torch::Device device_{torch::kCPU};
  Precision precision_ = Precision::fp32;
  fs::path run_root_;
  std::unique_ptr<RunDir> run_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<EventWriter> events_;  // TensorBoard (logging.tensorboard)
  std::unique_ptr<CheckpointStore> store_;
  models::CLIP model_{nullptr};
  std::unique_ptr<DataParallel> ddp_;
  std::unique_ptr<data::Loader> loader_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Schedule> schedule_;
  std::unique_ptr<TrainingLoss> loss_;
  std::unique_ptr<GradScaler> scaler_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<Progress> progress_;
  StateDict ema_;
  TrainCounters counters_;
  models::peft::PeftReport peft_report_;
  nlohmann::json last_eval_;
  double seconds_before_ = 0;  // training time of earlier sessions (resume)
  int64_t total_steps_ = 0, steps_per_epoch_ = -1;
  bool loader_positioned_ = false;  // resumed mid-epoch: do not restart the epoch
  int64_t last_saved_step_ = -1, last_eval_step_ = -1;
  // Logging window.
  Clock::time_point window_start_ = Clock::now(), run_start_ = Clock::now();
  double window_data_s_ = 0, window_loss_comm_s_ = 0;  // the latter from collectives_for
  double window_grad_wait_from_ = 0;                   // the DDP wait total at window start
  int64_t window_samples_ = 0, window_steps_ = 0, steps_this_session_ = 0;
};

std::vector<torch::Tensor> Trainer::trainable() const {
  std::vector<torch::Tensor> out;
  for (const auto& p : model_->parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

void Trainer::build() {
  if (dist_->enabled()) {
    device_ = dist_->device();
    log::set_rank(dist_->rank());
  } else {
    device_ = models::parse_device(cfg_.model.device);
  }
  precision_ = parse_precision(cfg_.precision.mode);
  run_root_ = fs::path(cfg_.output_dir) / cfg_.name;
  if (primary()) {
    run_ = std::make_unique<RunDir>(run_root_);
    store_ = std::make_unique<CheckpointStore>(run_->checkpoints(), cfg_.checkpoint.keep_last);
  }
  const auto data_cfg = build_model();
  build_data(data_cfg);
  optimizer_ = std::make_unique<Optimizer>(build_optimizer(model_->named_parameters(), cfg_.optim));
  schedule_ = std::make_unique<Schedule>(cfg_.schedule, cfg_.optim.lr, total_steps_,
                                         steps_per_epoch_ > 0 ? steps_per_epoch_ : total_steps_);
  loss_ = std::make_unique<TrainingLoss>(build_loss(cfg_.loss, collectives_for(dist_.get(), &window_loss_comm_s_)));
  scaler_ = std::make_unique<GradScaler>(precision_ == Precision::amp_fp16, cfg_.precision.init_scale,
                                         cfg_.precision.growth_interval, device_);
  if (cfg_.model.ema.decay > 0) {
    for (const auto& p : model_->named_parameters()) {
      if (p.value().requires_grad()) ema_.insert(p.key(), p.value().detach().to(torch::kFloat).clone());
    }
  }
  if (primary() && (!cfg_.eval.zeroshot.empty() || !cfg_.eval.retrieval.empty())) {
    evaluator_ =
        std::make_unique<Evaluator>(cfg_.eval, data_cfg.preprocess, data_cfg.tokenizer, torch::get_num_threads());
  }
  progress_ = std::make_unique<Progress>(primary() ? cfg_.logging.progress : "off", cfg_.logging.every_steps);
}

// The architecture and initial weights named as open_clip users name them: model.name
// hf-hub:ORG/NAME (config and weights from the Hugging Face cache, as open_clip_train's
// --model), local-dir:PATH, init.checkpoint likewise, or init.pretrained TAG
// (models/io/pretrained.h).
std::pair<std::string, std::string> Trainer::initial_weights() const {
  auto s = models::resolve_model_source(cfg_.model.name, cfg_.init.checkpoint, cfg_.init.pretrained,
                                        cfg_.init.pretrained_dir, "init.pretrained", "init.checkpoint");
  if (s.weights.empty() && cfg_.model.name.rfind("hf-hub:", 0) == 0) s.weights = s.model;
  if (primary() && s.weights != cfg_.init.checkpoint) log::info("initial weights: {} ({})", s.weights, s.model);
  return {s.model, s.weights};
}

// The model with its initial weights, PEFT method and frozen parameters, on the device;
// returns the data config adapted to it (image size, context length).
data::DataConfig Trainer::build_model() {
  // The same initial weights on every rank (open_clip seeds with rank 0 first).
  torch::manual_seed(static_cast<uint64_t>(cfg_.seed));
  const auto [model_name, init_checkpoint] = initial_weights();
  auto mcfg = models::load_model_config(model_name);
  if (cfg_.model.patch_dropout) mcfg.vision.patch_dropout = *cfg_.model.patch_dropout;
  init_logit_parameters(mcfg);
  model_ = models::CLIP(mcfg);
  // The PEFT method is applied to the initial weights; an adapter the checkpoint carries
  // (an export's adapter.safetensors, a training checkpoint's) continues training.
  peft_report_ = init_checkpoint.empty()
                     ? models::peft::apply_method(*model_, cfg_.peft)
                     : models::load_initial_weights(*model_, init_checkpoint, cfg_.init.strict, cfg_.peft);
  if (primary()) log::info("{}", peft_report_.table());
  freeze_parameters();
  model_->set_grad_checkpointing(cfg_.model.grad_checkpointing);
  model_->to(device_);
  if (precision_ == Precision::pure_bf16) model_->to(torch::kBFloat16);
  model_->train();
  torch::manual_seed(static_cast<uint64_t>(cfg_.seed + rank()));
  if (dist_->enabled())
    ddp_ = std::make_unique<DataParallel>(dist_, model_->named_parameters(), cfg_.distributed.bucket_mb);
  // Data: images at the model's size, token rows at its context length.
  data::DataConfig data_cfg = cfg_.data;
  data_cfg.preprocess.size = mcfg.vision.image_size;
  data_cfg.tokenizer.context_length = mcfg.text.context_length;
  return data_cfg;
}

// model.init_logit_scale / init_logit_bias, set here as open_clip_train --siglip does when the
// loss needs a logit_bias the model config lacks (written into the resolved config, and into
// the model config the checkpoints and the export carry).
void Trainer::init_logit_parameters(models::ModelConfig& mcfg) {
  auto& m = cfg_.model;
  if (!mcfg.init_logit_bias && !m.init_logit_bias && needs_logit_bias(cfg_.loss)) {
    if (!m.init_logit_scale) m.init_logit_scale = std::log(10.0);
    m.init_logit_bias = -10.0;
    if (primary()) {
      log::info(
          "loss '{}' needs a logit_bias and {} has none: model.init_logit_scale = {:.6g}, model.init_logit_bias = "
          "{:g} (as open_clip_train --siglip); a checkpoint's logit_scale wins, a missing logit_bias starts at 0",
          cfg_.loss.name, cfg_.model.name, *m.init_logit_scale, *m.init_logit_bias);
    }
  }
  if (m.init_logit_scale) {
    mcfg.init_logit_scale = *m.init_logit_scale;
    mcfg.json["init_logit_scale"] = *m.init_logit_scale;
  }
  if (m.init_logit_bias) {
    mcfg.init_logit_bias = *m.init_logit_bias;
    mcfg.json["init_logit_bias"] = *m.init_logit_bias;
  }
}

// model.freeze: parameter-name globs kept fixed; a glob that matches nothing is an error.
void Trainer::freeze_parameters() {
  if (cfg_.model.freeze.empty()) return;
  std::vector<std::string> names;
  for (const auto& p : model_->named_parameters()) names.push_back(p.key());
  for (const auto& pattern : cfg_.model.freeze) {
    bool hit = false;
    for (auto& p : model_->named_parameters()) {
      if (models::peft::glob_match(pattern, p.key())) p.value().set_requires_grad(false), hit = true;
    }
    if (!hit) {
      std::string close;
      for (const auto& n : models::peft::closest_names(pattern, names, 3)) close += (close.empty() ? "" : ", ") + n;
      throw Error("freeze pattern '" + pattern + "' matches no parameter", "model.freeze", "close names: " + close);
    }
  }
  peft_report_ = models::peft::report(*model_, cfg_.peft.method);
  if (primary()) log::info("after model.freeze:\n{}", peft_report_.table());
}

// The loader, and the run's length in optimiser steps.
void Trainer::build_data(const data::DataConfig& data_cfg) {
  loader_ =
      std::make_unique<data::Loader>(data_cfg, data::clip_processor(data_cfg, cfg_.data.augmentation), rank(), world());
  const int64_t accum = cfg_.optim.accum_freq;
  if (loader_->batches_per_epoch() >= 0) steps_per_epoch_ = loader_->batches_per_epoch() / accum;
  if (cfg_.schedule.max_steps > 0) {
    total_steps_ = cfg_.schedule.max_steps;
  } else if (steps_per_epoch_ > 0) {
    total_steps_ = steps_per_epoch_ * cfg_.schedule.epochs;
  } else {
    throw Error("the number of steps is unknown: the epoch length of these shards is not known", "data.shards",
                "set data.samples_per_epoch (or put a sizes.json beside the shards) or schedule.max_steps");
  }
  if (steps_per_epoch_ == 0) throw Error("an epoch has fewer batches than accum_freq", "data.batch_size");
}

// The checkpoint to resume from (--resume auto | never | PATH), chosen by rank 0 (it reads
// every file to verify checksums) and agreed by all ranks.
std::optional<fs::path> Trainer::resume_point() {
  std::string chosen;
  if (primary()) {
    const CheckpointStore checkpoints(run_root_ / "checkpoints", 0);
    if (opts_.resume == "auto") {
      const auto usable = checkpoints.latest_usable();  // falls back past damaged ones, saying so
      if (!usable && checkpoints.latest()) {
        throw Error("every checkpoint of the run is damaged", (run_root_ / "checkpoints").string(),
                    "rsclip checkpoint verify " + (run_root_ / "checkpoints").string() +
                        " lists what is wrong; move them away to start over");
      }
      if (usable) chosen = usable->string();
    } else if (opts_.resume == "never") {
      if (checkpoints.latest()) {
        throw Error("the run directory already has checkpoints", run_root_.string(),
                    "continue it with --resume auto, or choose another `name`");
      }
    } else {
      const fs::path path(opts_.resume);
      if (!fs::exists(path / "trainer.json")) throw Error("not a checkpoint directory", path.string());
      if (const auto check = verify_checkpoint(path); !check.usable()) {
        throw Error("the checkpoint is " + check.summary(), path.string(), "resume from an earlier checkpoint");
      }
      chosen = path.string();
    }
  }
  chosen = gather_strings(dist_.get(), chosen).front();
  if (chosen.empty()) return std::nullopt;
  return fs::path(chosen);
}

void Trainer::resume() {
  const std::optional<fs::path> from = resume_point();
  if (!from) {
    if (primary()) {
      restore_logs(0, 0);  // what a run killed before its first checkpoint logged is redone
      write_file_atomic(run_->config(), dump_train_config(cfg_));
    }
    return;
  }
  const Checkpoint ckpt = read_train_checkpoint(*from);
  const bool same_world = ckpt.world_size == world();
  if (!same_world && !cfg_.data.resampled) {
    throw Error(fmt::format("checkpoint was written by {} ranks, this run has {}", ckpt.world_size, world()),
                from->string(), "resume with the same number of processes, or use resampled data (data.resampled)");
  }
  models::load_state_dict(*model_, ckpt.model, /*strict=*/true, (*from / "model.safetensors").string());
  StateDict optim_state;
  for (const auto& item : ckpt.optimizer) {
    if (item.key().rfind("scaler.", 0) != 0) optim_state.insert(item.key(), item.value());
  }
  optimizer_->load_state_dict(optim_state);
  scaler_->load_state_dict(ckpt.optimizer);
  if (!ema_.is_empty()) {
    for (auto& item : ema_) {
      const auto* saved = ckpt.ema.find(item.key());
      if (!saved) throw Error("checkpoint has no EMA weight for " + item.key(), from->string());
      item.value().copy_(*saved);
    }
  }
  counters_ = ckpt.counters;
  seconds_before_ = counters_.seconds;
  last_saved_step_ = counters_.step;
  if (counters_.step >= total_steps_) last_eval_step_ = counters_.step;  // finished: nothing left to do
  if (same_world) {
    auto state = data::LoaderState::from_json(ckpt.data_states.at(static_cast<std::size_t>(rank())));
    if (state.epoch == counters_.epoch) {
      loader_->restore(state);
      loader_positioned_ = true;
    }
    restore_rng(ckpt.rng, rank(), device_);
  } else {
    torch::manual_seed(static_cast<uint64_t>(cfg_.seed + rank() + 1000003 * counters_.step));
  }
  if (primary()) {
    restore_logs(ckpt.metrics_records, counters_.step);
    if (ckpt.config_yaml != dump_train_config(cfg_)) {
      log::warn("the config differs from the checkpoint's ({}); continuing with the new one",
                (*from / "config.yaml").string());
    }
    write_file_atomic(run_->config(), dump_train_config(cfg_));
    log::info("resumed from {} at step {} (epoch {})", from->string(), counters_.step, counters_.epoch);
  }
}

// The run's logs as they were when the checkpoint at `step` was written: its first
// `metrics_records` records (-1: a checkpoint that predates the count; records up to `step`),
// and no evaluation file of a later step. The resumed run writes the rest again, once.
void Trainer::restore_logs(int64_t metrics_records, int64_t step) {
  if (metrics_records >= 0) {
    MetricsLog::keep_first(run_->metrics(), metrics_records);
  } else {
    MetricsLog::truncate_after(run_->metrics(), step);
  }
  for (const auto& e : fs::directory_iterator(run_->eval())) {
    const auto name = e.path().filename().string();
    int64_t n = -1;
    if (std::sscanf(name.c_str(), "step_%" SCNd64 ".json", &n) == 1 && n > step) fs::remove(e.path());
  }
}

void Trainer::optimizer_step() {
  if (ddp_) ddp_->synchronize();
  const auto params = trainable();
  if (opts_.inf_gradient_at_step > 0 && counters_.step + 1 == opts_.inf_gradient_at_step) {
    torch::NoGradGuard no_grad;
    for (const auto& p : params) {
      if (p.grad().defined()) {
        p.grad().view(-1)[0].fill_(std::numeric_limits<float>::infinity());
        break;
      }
    }
  }
  const bool finite = scaler_->unscale(params);
  if (cfg_.optim.grad_clip_norm) clip_grad_norm(params, *cfg_.optim.grad_clip_norm);
  if (finite) optimizer_->step();
  scaler_->update();
  optimizer_->zero_grad();
  torch::NoGradGuard no_grad;
  model_->logit_scale.clamp_(0, std::log(100.0));  // open_clip: at most 100 after each step
  if (!ema_.is_empty()) {
    const double w = 1.0 - cfg_.model.ema.decay;
    for (const auto& p : model_->named_parameters()) {
      if (auto* e = ema_.find(p.key())) e->lerp_(p.value().detach().to(torch::kFloat), w);
    }
  }
}

void Trainer::log_window(const StepResult& r, double lr) {
  const double elapsed = seconds_since(window_start_);
  const auto per_second = [elapsed](double amount) { return elapsed > 0 ? amount / elapsed : 0.0; };
  const double samples_per_s = per_second(static_cast<double>(window_samples_));
  const double data_wait = per_second(window_data_s_);
  // Exposed communication: waiting for gradient buckets after backward, and the loss's
  // feature exchange (see collectives_for). The rest of the window is compute.
  const double grad_wait_total = ddp_ ? ddp_->stats().wait_seconds : 0.0;
  const double grad_wait = per_second(grad_wait_total - window_grad_wait_from_);
  const double loss_comm = per_second(window_loss_comm_s_);
  const double per_step = steps_this_session_ > 0 ? seconds_since(run_start_) / steps_this_session_ : 0;
  progress_->update({counters_.step, total_steps_, counters_.epoch, r.loss, lr, samples_per_s, data_wait,
                     per_step * static_cast<double>(total_steps_ - counters_.step)});
  if (!primary() || (counters_.step % cfg_.logging.every_steps != 0 && counters_.step != total_steps_)) return;
  nlohmann::json rec = {{"step", counters_.step},
                        {"epoch", counters_.epoch},
                        {"loss", r.loss},
                        {"lr", lr},
                        {"logit_scale", model_->logit_scale.exp().item<double>()},
                        {"samples_per_s", samples_per_s},
                        {"time", seconds_before_ + seconds_since(run_start_)},
                        {"data_wait", data_wait},
                        {"grad_comm_wait", grad_wait},
                        {"feature_comm_wait", loss_comm},
                        {"samples", counters_.samples},
                        {"bad_samples", loader_->faults().bad_samples()},
                        {"nonfinite_skipped", counters_.nonfinite_skipped}};
  for (const auto& [k, v] : r.terms) rec[k] = v;
  if (scaler_->enabled()) rec["loss_scale"] = scaler_->current_scale();
  record(rec);
  window_start_ = Clock::now();
  window_data_s_ = window_loss_comm_s_ = 0;
  window_grad_wait_from_ = grad_wait_total;
  window_samples_ = window_steps_ = 0;
}

void Trainer::evaluate() {
  last_eval_step_ = counters_.step;
  float improved = 0;
  if (evaluator_) {
    const bool bf16 = precision_ != Precision::fp32;
    auto results = evaluator_->evaluate(*model_, device_, bf16);
    last_eval_ = results;
    if (!ema_.is_empty()) {  // the EMA weights, swapped in for the evaluation
      torch::NoGradGuard no_grad;
      StateDict live;
      for (auto& p : model_->named_parameters()) {
        if (auto* e = ema_.find(p.key())) {
          live.insert(p.key(), p.value().clone());
          p.value().copy_(*e);
        }
      }
      results["ema"] = evaluator_->evaluate(*model_, device_, bf16);
      for (auto& p : model_->named_parameters()) {
        if (auto* l = live.find(p.key())) p.value().copy_(*l);
      }
    }
    write_file_atomic(run_->eval() / fmt::format("step_{:08d}.json", counters_.step), results.dump(2) + "\n");
    nlohmann::json rec = {{"step", counters_.step}, {"epoch", counters_.epoch}};
    std::string summary;
    for (const auto& [k, v] : Evaluator::flatten(results)) {
      rec["eval/" + k] = v;
      if (k.find("/per_class") == std::string::npos && (k.ends_with("/top1") || k.ends_with("/mR"))) {
        summary += fmt::format("  {} {:.2f}", k, v);
      }
    }
    if (results.contains("ema")) {
      for (const auto& [k, v] : Evaluator::flatten(results["ema"])) rec["eval_ema/" + k] = v;
    }
    record(rec);
    progress_->message(fmt::format("eval at step {}:{}", counters_.step, summary));
    if (!cfg_.eval.best_metric.empty()) {
      const auto flat = Evaluator::flatten(results);
      auto it = flat.find(cfg_.eval.best_metric);
      if (it == flat.end()) {
        std::string names;
        for (const auto& [k, v] : flat) names += (names.empty() ? "" : ", ") + k;
        throw Error("no evaluated metric is called '" + cfg_.eval.best_metric + "'", "eval.best_metric",
                    "evaluated: " + names);
      }
      if (it->second > counters_.best_value) {
        counters_.best_metric = it->first;
        counters_.best_value = it->second;
        counters_.best_step = counters_.step;
        improved = 1;
      }
    }
  }
  if (dist_->enabled()) {  // the other ranks wait for rank 0's evaluation here
    auto flag = torch::full({1}, improved, torch::TensorOptions().device(device_));
    dist_->all_reduce(flag, ReduceOp::max);
    improved = flag.item<float>();
  }
  if (improved > 0) {
    const auto path = save("best " + cfg_.eval.best_metric);
    if (primary()) store_->set_best(path, counters_.best_metric, counters_.best_value);
  }
}

fs::path Trainer::save(const std::string& why) {
  const auto states = gather_strings(dist_.get(), loader_->state().to_json());
  const auto rng = capture_rng(rank(), device_);
  const auto cpu = gather_strings(dist_.get(), tensor_bytes(rng[fmt::format("rank{}.cpu", rank())]));
  const auto* cuda_state = rng.find(fmt::format("rank{}.cuda", rank()));
  const auto cuda = gather_strings(dist_.get(), cuda_state ? tensor_bytes(*cuda_state) : std::string());
  fs::path path;
  if (primary()) {
    Checkpoint c;
    c.model = models::model_state_dict(*model_);
    c.optimizer = optimizer_->state_dict();
    for (const auto& item : scaler_->state_dict()) c.optimizer.insert(item.key(), item.value());
    c.ema = ema_;
    c.model_config_json = model_->cfg.json.dump();
    c.peft_config_json = config::to_yaml(config::write(cfg_.peft));
    counters_.seconds = seconds_before_ + seconds_since(run_start_);
    c.counters = counters_;
    c.world_size = world();
    c.data_states = states;
    for (int r = 0; r < world(); ++r) {
      c.rng.insert(fmt::format("rank{}.cpu", r), bytes_tensor(cpu[static_cast<std::size_t>(r)]));
      if (!cuda[static_cast<std::size_t>(r)].empty()) {
        c.rng.insert(fmt::format("rank{}.cuda", r), bytes_tensor(cuda[static_cast<std::size_t>(r)]));
      }
    }
    c.config_yaml = dump_train_config(cfg_);
    c.metrics_records = metrics_ ? metrics_->records() : 0;
    path = store_->save(counters_.step, [&](const fs::path& dir) { write_train_checkpoint(dir, c); });
    progress_->message(fmt::format("checkpoint {} ({})", path.string(), why));
  }
  if (dist_->enabled()) dist_->barrier();
  last_saved_step_ = counters_.step;
  return path;
}

bool Trainer::stop_requested() {
  float stop = stop::requested() != 0 ? 1.0f : 0.0f;
  if (opts_.stop_at_step > 0 && counters_.step >= opts_.stop_at_step && counters_.step < total_steps_) stop = 1.0f;
  if (dist_->enabled()) {
    auto flag = torch::full({1}, stop, torch::TensorOptions().device(device_));
    dist_->all_reduce(flag, ReduceOp::max);
    stop = flag.item<float>();
  }
  return stop > 0;
}

// RUN/summary.json: what a finished run reports to sweeps and scripts.
void Trainer::write_summary() {
  nlohmann::json j = {{"status", "finished"},
                      {"name", cfg_.name},
                      {"model", cfg_.model.name},
                      {"peft", cfg_.peft.method},
                      {"steps", counters_.step},
                      {"epochs", counters_.epoch},
                      {"samples", counters_.samples},
                      {"world_size", world()},
                      {"trainable_params", peft_report_.trainable()},
                      {"total_params", peft_report_.total()},
                      {"seconds", seconds_before_ + seconds_since(run_start_)},
                      {"nonfinite_skipped", counters_.nonfinite_skipped},
                      {"final_loss", nullptr},
                      {"eval", nlohmann::json::object()}};
  const auto records = MetricsLog::read(run_->metrics());
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (it->contains("loss")) {
      j["final_loss"] = (*it)["loss"];
      break;
    }
  }
  if (!last_eval_.is_null()) {
    for (const auto& [k, v] : Evaluator::flatten(last_eval_)) {
      if (k.find("/per_class/") == std::string::npos) j["eval"][k] = v;
    }
  } else if (const auto evals = run_->eval(); fs::exists(evals)) {  // resumed after the final evaluation
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(evals)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (!files.empty()) {
      for (const auto& [k, v] : Evaluator::flatten(nlohmann::json::parse(read_file(files.back())))) {
        if (k.find("/per_class/") == std::string::npos) j["eval"][k] = v;
      }
    }
  }
  if (counters_.best_step >= 0) {
    j["best"] = {{"metric", counters_.best_metric}, {"value", counters_.best_value}, {"step", counters_.best_step}};
  }
  write_file_atomic(run_->root() / "summary.json", j.dump(2) + "\n");
}

int Trainer::run() {
  dist_ = Distributed::from_environment(cfg_.distributed, models::parse_device(cfg_.model.device).type());
  // An exception on any rank is published so that every rank stops naming it.
  return dist_->run_or_report([&] { return train_loop(); });
}

// metrics.jsonl, and TensorBoard's event file of this session with the resolved config as
// text; a resumed session's events start at its first step.
void Trainer::open_logs() {
  metrics_ = std::make_unique<MetricsLog>(run_->metrics());
  const auto& tb = cfg_.logging.tensorboard;
  if (tb == "false" || (tb == "auto" && !local_file_system(run_->root()))) return;
  events_ = std::make_unique<EventWriter>(run_->root() / "tensorboard", counters_.step + 1);
  std::string text;  // Markdown: the YAML as a code block
  std::istringstream in(dump_train_config(cfg_));
  for (std::string line; std::getline(in, line);) text += "    " + line + "\n";
  events_->text(counters_.step, "config", text);
}

void Trainer::record(const nlohmann::json& rec) {
  metrics_->write(rec);
  if (events_) events_->scalars(rec["step"].get<int64_t>(), tensorboard_scalars(rec));
}

int Trainer::train_loop() {
  build();
  resume();
  if (primary()) open_logs();
  StepContext ctx{*model_, *loss_,      precision_, cfg_.loss.hmmc.token_dropout,
                  device_, dist_.get(), ddp_.get(), *scaler_};
  const int64_t global_batch = loader_->batch_size() * cfg_.optim.accum_freq * world();
  if (primary()) {
    log::info("training {} for {} steps ({} per epoch) at global batch {}, {} on {}{}", cfg_.model.name, total_steps_,
              steps_per_epoch_ > 0 ? std::to_string(steps_per_epoch_) : "?", global_batch, cfg_.precision.mode,
              device_.str(), world() > 1 ? fmt::format(", {} ranks ({})", world(), dist_->backend_name()) : "");
  }
  run_start_ = window_start_ = Clock::now();
  // max_steps, when set, is the length: as many epochs as it takes.
  while ((cfg_.schedule.max_steps > 0 || counters_.epoch < cfg_.schedule.epochs) && counters_.step < total_steps_) {
    if (!loader_positioned_) loader_->start_epoch(counters_.epoch);
    loader_positioned_ = false;
    const EpochEnd end = run_epoch(ctx, global_batch);
    if (end == EpochEnd::stopped) return kExitPreempted;
    if (end == EpochEnd::max_steps) break;  // reached inside the epoch
    ++counters_.epoch;
    if (primary()) progress_->message(fmt::format("epoch {} done ({})", counters_.epoch, loader_->faults().summary()));
    if (cfg_.eval.every_steps == 0) evaluate();
    if (cfg_.checkpoint.at_epoch_end && last_saved_step_ != counters_.step) save("end of epoch");
  }
  progress_->finish();
  if (last_eval_step_ != counters_.step) evaluate();
  if (last_saved_step_ != counters_.step) save("end of training");
  if (primary()) {
    plot_run(run_->root());
    write_summary();
    log::info("done: {} steps in {}; run directory {}", counters_.step, format_duration(seconds_since(run_start_)),
              run_->root().string());
  }
  return 0;
}

// Steps until the epoch's data ends, the run's length is reached or a stop is requested.
Trainer::EpochEnd Trainer::run_epoch(StepContext& ctx, int64_t global_batch) {
  std::vector<data::Batch> micro;
  while (counters_.step < total_steps_) {
    const auto t0 = Clock::now();
    const bool full = next_micro_batches(micro);
    window_data_s_ += seconds_since(t0);
    if (!full) return EpochEnd::data;  // leftover micro-batches are dropped, as open_clip_train does
    optimizer_->apply_schedule(*schedule_, counters_.step);
    const double lr = schedule_->lr(counters_.step);
    const StepResult r = forward_backward(ctx, micro);
    if (r.finite) {
      optimizer_step();
    } else {
      skip_nonfinite_step(r);
    }
    ++counters_.step;
    ++steps_this_session_;
    counters_.samples += global_batch;
    window_samples_ += global_batch;
    ++window_steps_;
    log_window(r, lr);
    if (cfg_.eval.every_steps > 0 && counters_.step % cfg_.eval.every_steps == 0) evaluate();
    if (cfg_.checkpoint.every_steps > 0 && counters_.step % cfg_.checkpoint.every_steps == 0 &&
        last_saved_step_ != counters_.step) {
      save("every " + std::to_string(cfg_.checkpoint.every_steps) + " steps");
    }
    if (stop_requested()) {
      if (last_saved_step_ != counters_.step) save("preempted");
      progress_->finish();
      log::warn("stopped ({}) at step {}: the run is resumable (rsclip train --config ... --resume auto)",
                stop::requested() ? fmt::format("signal {}", stop::requested()) : std::string("--stop-at-step"),
                counters_.step);
      return EpochEnd::stopped;
    }
  }
  return EpochEnd::max_steps;
}

// The accum_freq micro-batches of one step; false when the epoch's data ran out first.
bool Trainer::next_micro_batches(std::vector<data::Batch>& micro) {
  micro.clear();
  for (int64_t j = 0; j < cfg_.optim.accum_freq; ++j) {
    auto b = loader_->next();
    if (!b) return false;
    micro.push_back(std::move(*b));
  }
  return true;
}

// loss.on_nonfinite: skip counts the step and goes on; stop checkpoints the state before it.
void Trainer::skip_nonfinite_step(const StepResult& r) {
  optimizer_->zero_grad();
  if (cfg_.loss.on_nonfinite == "stop") {
    save("non-finite loss");
    throw Error(fmt::format("the loss is {} at step {}; stopped with a checkpoint of the state before it", r.loss,
                            counters_.step),
                "loss", "lower optim.lr, use precision amp_bf16 instead of amp, or set loss.on_nonfinite: skip");
  }
  ++counters_.nonfinite_skipped;
  progress_->message(
      fmt::format("non-finite loss at step {}: step skipped ({} so far)", counters_.step, counters_.nonfinite_skipped));
}

}  // namespace

int run_training(const TrainConfig& config, const TrainOptions& options) {
  const stop::SignalScope signals;  // SIGINT, SIGTERM, SIGUSR1: checkpoint and exit 75
  Trainer trainer(config, options);
  try {
    return trainer.run();
  } catch (const stop::StopRequested& e) {
    // Mid-way (waiting for data, evaluating): no consistent point to save at, so the last
    // checkpoint stands and the steps after it are redone on resume.
    log::warn(
        "{} while waiting for data or evaluating: exiting without a new checkpoint; the run resumes from its "
        "last one (--resume auto)",
        e.what());
  } catch (const PeerFailure& e) {
    log::error("{}", e.what());
    log::warn(
        "a peer rank failed: exiting {} so that torchrun --max-restarts or SLURM --requeue restarts the group, "
        "which resumes from the last checkpoint",
        kExitPreempted);
  }
  return kExitPreempted;
}

}  // namespace rsclip::train
