// What a training checkpoint holds (one directory, written by CheckpointStore):
//   model.safetensors      every parameter by name (open_clip names + PEFT names); metadata:
//                          the model config JSON and the PEFT config JSON
//   optimizer.safetensors  optimiser moments and steps, grad scaler state
//   ema.safetensors        EMA weights (when enabled)
//   rng.safetensors        CPU (and CUDA) generator states of every rank: rank<R>.cpu/cuda
//   trainer.json           format version, step, epoch, samples, counters, best metric, world
//                          size, every rank's data-stream position (data/loader/loader_state.h)
//                          and how many records metrics.jsonl held
//   manifest.json          every file's size and checksum, written last (checkpoint_manifest.h)
//   config.yaml            the resolved training config
// Rank 0 writes it; each rank reads its own data position and RNG on resume.
#pragma once

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dist/distributed.h"
#include "core/io/state_dict.h"

namespace rsclip::train {

inline constexpr int kCheckpointFormat = 1;

struct TrainCounters {
  int64_t step = 0;               // optimiser steps taken (incl. skipped non-finite ones)
  int64_t epoch = 0;              // the epoch the data stream is in
  int64_t samples = 0;            // samples consumed, all ranks
  int64_t nonfinite_skipped = 0;  // steps skipped for a non-finite loss
  std::string best_metric;
  double best_value = -std::numeric_limits<double>::infinity();
  int64_t best_step = -1;
  double seconds = 0;  // wall time spent training, over all sessions
};

struct Checkpoint {
  StateDict model, optimizer, ema;
  std::string model_config_json, peft_config_json;
  TrainCounters counters;
  int world_size = 1;
  std::vector<std::string> data_states;  // per rank, data/loader/loader_state.h JSON
  int64_t metrics_records = -1;          // records in metrics.jsonl when written; -1: unknown (older)
  StateDict rng;                         // rank<R>.cpu, rank<R>.cuda
  std::string config_yaml;
};

void write_train_checkpoint(const std::filesystem::path& dir, const Checkpoint& ckpt);
// Reads every file of a checkpoint directory; rsclip::Error names what is malformed.
Checkpoint read_train_checkpoint(const std::filesystem::path& dir);

// This process's generator states (CPU, and the CUDA device's when `device` is CUDA).
StateDict capture_rng(int rank, torch::Device device);
void restore_rng(const StateDict& rng, int rank, torch::Device device);

// Every rank's string, in rank order (rank 0 gets all; others too). One process: {s}.
std::vector<std::string> gather_strings(Distributed* dist, const std::string& s);

}  // namespace rsclip::train
