// One optimiser step's forward and backward over its micro-batches, with open_clip_train's
// semantics (train.py train_one_epoch):
//   accum_freq == 1: features under autocast, loss, (scaled) backward;
//   accum_freq  > 1: features of every micro-batch first computed without gradients and
//     cached; then each micro-batch is recomputed with gradients and the loss is taken over
//     the whole batch with that micro-batch's rows live and the others from the cache, and
//     backward runs once per micro-batch (DDP communicates only on the last one). The summed
//     gradients equal those of one big batch.
// HMMC's second pass (input-token dropout) runs where the loss asks for it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/dist/data_parallel.h"
#include "core/dist/distributed.h"
#include "data/loader/loader.h"
#include "models/clip/clip.h"
#include "train/losses/losses.h"
#include "train/optim/grad_scaler.h"

namespace rsclip::train {

enum class Precision { fp32, amp_bf16, amp_fp16, pure_bf16 };
Precision parse_precision(const std::string& mode);
// The autocast dtype, if the precision autocasts.
std::optional<c10::ScalarType> autocast_dtype(Precision p);

struct StepContext {
  models::CLIPImpl& model;
  TrainingLoss& loss;
  Precision precision;
  double token_dropout;  // HMMC's second pass
  torch::Device device;
  Distributed* dist = nullptr;  // null or disabled: one process
  DataParallel* ddp = nullptr;
  GradScaler& scaler;
};

struct StepResult {
  double loss = 0;                      // of the whole (accumulated) batch
  std::map<std::string, double> terms;  // weighted loss terms
  bool finite = true;                   // false: no backward ran (agreed by every rank)
};

StepResult forward_backward(StepContext& ctx, const std::vector<data::Batch>& micro_batches);

}  // namespace rsclip::train
