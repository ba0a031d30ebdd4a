// The training config: one YAML file (with `inherit:` and `--set a.b=c` overrides, see
// core/base/config.h) read into these structs. Sections:
//
//   name, output_dir, seed
//   model        architecture, precision-independent model options, freezing, EMA
//   init         starting weights
//   data         shards and loader (data/loader/loader_options.h), preprocessing, augmentation, tokenizer
//   optim        optimiser (train/optim/optim_config.h) + gradient accumulation
//   schedule     lr schedule (train/optim/schedule.h) + epochs / max_steps
//   precision    fp32 | amp_bf16 | amp (fp16 + grad scaler) | pure_bf16
//   loss         loss expression (train/losses/loss_config.h) + what to do with a non-finite loss
//   peft         parameter-efficient method (models/peft/)
//   distributed  process group settings (core/dist/distributed_config.h)
//   eval         periodic zero-shot / retrieval evaluation and best-checkpoint metric
//   checkpoint   how often, how many kept
//   logging      progress output and metrics.jsonl cadence
#pragma once

#include <string>
#include <vector>

#include "core/dist/distributed_config.h"
#include "data/loader/data_config.h"
#include "models/peft/peft_config.h"
#include "train/eval/eval_config.h"
#include "train/losses/loss_config.h"
#include "train/optim/optim_config.h"
#include "train/optim/schedule.h"

namespace rsclip::train {

struct EmaConfig {
  double decay = 0.0;  // 0 = off; else ema = decay * ema + (1 - decay) * weights after each step
  template <class V>
  void visit(V& v) {
    v("decay", decay);
  }
  void validate() const;
};

struct ModelSection {
  std::string name = "ViT-B-32";        // built-in name or open_clip config .json
  std::string device = "auto";          // cpu | cuda | cuda:N | auto (per rank: cuda:LOCAL_RANK)
  bool grad_checkpointing = false;      // recompute each residual block in backward
  std::optional<double> patch_dropout;  // overrides vision_cfg.patch_dropout
  // Override the model config's init_logit_scale / init_logit_bias (the initial values when
  // no checkpoint sets them). A loss that needs a logit_bias on a model without one sets
  // them as open_clip_train --siglip does: ln 10 and -10.
  std::optional<double> init_logit_scale, init_logit_bias;
  std::vector<std::string> freeze;  // parameter-name globs kept fixed (e.g. "visual.conv1.*")
  EmaConfig ema;
  template <class V>
  void visit(V& v) {
    v("name", name);
    v("device", device);
    v("grad_checkpointing", grad_checkpointing);
    v("patch_dropout", patch_dropout);
    v("init_logit_scale", init_logit_scale);
    v("init_logit_bias", init_logit_bias);
    v("freeze", freeze);
    v("ema", ema);
  }
};

struct InitSection {
  std::string checkpoint;      // .safetensors / torch .pt / OpenAI TorchScript; empty = random init
  bool strict = true;          // GeoRSCLIP's release loads with strict=false
  std::string pretrained;      // open_clip pretrained tag of model.name (instead of checkpoint)
  std::string pretrained_dir;  // where its weight files are, besides the Hugging Face cache
  template <class V>
  void visit(V& v) {
    v("checkpoint", checkpoint);
    v("strict", strict);
    v("pretrained", pretrained);
    v("pretrained_dir", pretrained_dir);
  }
};

struct DataSection : data::DataConfig {
  // false: the eval transform (no randomness) for training too, as in the parity runs.
  bool augmentation = true;
  template <class V>
  void visit(V& v) {
    data::DataConfig::visit(v);
    v("augmentation", augmentation);
  }
};

struct OptimSection : OptimizerConfig {
  int accum_freq = 1;  // open_clip_train --accum-freq: features of micro-batches cached
  template <class V>
  void visit(V& v) {
    OptimizerConfig::visit(v);
    v("accum_freq", accum_freq);
  }
  void validate() const;
};

struct ScheduleSection : ScheduleConfig {
  int64_t epochs = 1;
  int64_t max_steps = 0;  // > 0: the run's length in optimiser steps, over as many epochs as it
                          // takes (`epochs` is then ignored); also the schedule's length
  template <class V>
  void visit(V& v) {
    ScheduleConfig::visit(v);
    v("epochs", epochs);
    v("max_steps", max_steps);
  }
  void validate() const;
};

struct PrecisionSection {
  std::string mode = "fp32";    // fp32 | amp_bf16 | amp | pure_bf16
  double init_scale = 65536.0;  // grad scaler (amp): torch.amp.GradScaler defaults
  int64_t growth_interval = 2000;
  template <class V>
  void visit(V& v) {
    v("mode", mode);
    v("init_scale", init_scale);
    v("growth_interval", growth_interval);
  }
  void validate() const;
};

struct LossSection : LossConfig {
  std::string on_nonfinite = "skip";  // skip (count and go on) | stop (checkpoint and stop)
  template <class V>
  void visit(V& v) {
    LossConfig::visit(v);
    v("on_nonfinite", on_nonfinite);
  }
  void validate() const;
};

struct CheckpointSection {
  int64_t every_steps = 0;  // 0: only at epoch ends
  bool at_epoch_end = true;
  int keep_last = 3;  // 0 keeps all
  template <class V>
  void visit(V& v) {
    v("every_steps", every_steps);
    v("at_epoch_end", at_epoch_end);
    v("keep_last", keep_last);
  }
};

struct LoggingSection {
  int64_t every_steps = 10;       // metrics.jsonl record + plain progress line
  std::string progress = "auto";  // auto (bar on a terminal) | bar | lines | off
  std::string level = "info";
  std::string tensorboard = "auto";  // RUN/tensorboard/ event files: auto (on a local file system) | true | false
  template <class V>
  void visit(V& v) {
    v("every_steps", every_steps);
    v("progress", progress);
    v("level", level);
    v("tensorboard", tensorboard);
  }
  void validate() const;
};

struct TrainConfig {
  std::string name = "run";
  std::string output_dir = "runs";
  int64_t seed = 0;
  ModelSection model;
  InitSection init;
  DataSection data;
  OptimSection optim;
  ScheduleSection schedule;
  PrecisionSection precision;
  LossSection loss;
  models::peft::PeftConfig peft;
  DistributedConfig distributed;
  EvalSection eval;
  CheckpointSection checkpoint;
  LoggingSection logging;

  template <class V>
  void visit(V& v) {
    v("name", name);
    v("output_dir", output_dir);
    v("seed", seed);
    v("model", model);
    v("init", init);
    v("data", data);
    v("optim", optim);
    v("schedule", schedule);
    v("precision", precision);
    v("loss", loss);
    v("peft", peft);
    v("distributed", distributed);
    v("eval", eval);
    v("checkpoint", checkpoint);
    v("logging", logging);
  }
};

// Loads FILE (with `inherit:`), applies `key=value` overrides, validates. Errors name the
// file and key.
TrainConfig load_train_config(const std::string& file, const std::vector<std::string>& overrides = {});

// The resolved config as YAML (written to the run directory and every checkpoint).
std::string dump_train_config(const TrainConfig& config);

}  // namespace rsclip::train
