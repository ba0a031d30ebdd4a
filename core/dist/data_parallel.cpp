#include "core/dist/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <tuple>

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "core/base/error.h"
#include "core/base/log.h"

namespace rsclip {

namespace {
// torch DDP's _DEFAULT_FIRST_BUCKET_BYTES: a small first bucket starts communication early.
constexpr int64_t kFirstBucketBytes = int64_t{1} << 20;
}  // namespace

struct DataParallel::State {
  struct Slot {
    std::string name;
    torch::Tensor param;
    size_t bucket = 0;
    int64_t offset = 0;
    bool ready = false;
  };
  struct Bucket {
    torch::Tensor flat;
    std::vector<size_t> slots;
    size_t pending = 0;
    Distributed::Pending work;
  };

  Distributed* dist = nullptr;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  size_t next_launch = 0;
  bool syncing = true;
  int64_t frozen_numel = 0;
  DataParallelStats stats;
  std::mutex mutex;  // hooks run on autograd threads (one per device)

  torch::Tensor slot_view(const Slot& slot) const {
    return buckets[slot.bucket].flat.narrow(0, slot.offset, slot.param.numel()).view(slot.param.sizes());
  }

  // Copies the parameter's current gradient into its bucket (nothing to do when the
  // gradient already is that bucket view), or zeros when it has none.
  void stage(Slot& slot) {
    auto view = slot_view(slot);
    const auto& grad = slot.param.grad();
    if (!grad.defined()) {
      view.zero_();
    } else if (grad.data_ptr() != view.data_ptr()) {
      view.copy_(grad);
    }
    slot.ready = true;
    --buckets[slot.bucket].pending;
  }

  // Buckets start strictly in order, so every rank issues the same collectives in the
  // same sequence whatever order its gradients arrive in.
  void launch_ready(bool in_backward) {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      auto& bucket = buckets[next_launch++];
      bucket.flat.div_(dist->world_size());
      bucket.work = dist->all_reduce_async(bucket.flat);
      stats.bytes_reduced += bucket.flat.numel() * bucket.flat.element_size();
      ++stats.buckets_reduced;
      if (in_backward) ++stats.buckets_overlapped;
    }
  }

  void gradient_ready(size_t index) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!syncing) return;
    auto& slot = slots[index];
    TORCH_CHECK(!slot.ready, "DataParallel: parameter '", slot.name,
                "' received a second gradient before synchronize(); run all but the last micro-batch "
                "inside no_sync()");
    torch::NoGradGuard no_grad;
    stage(slot);
    launch_ready(true);
  }
};

namespace {

struct GradientReadyHook : torch::autograd::PostAccumulateGradHook {
  GradientReadyHook(DataParallel::State* state, size_t index) : state(state), index(index) {}
  void operator()(const torch::autograd::Variable& /*param*/) override { state->gradient_ready(index); }
  DataParallel::State* state;
  size_t index;
};

}  // namespace

DataParallel::DataParallel(std::shared_ptr<Distributed> dist,
                           const torch::OrderedDict<std::string, torch::Tensor>& parameters, double bucket_mb)
    : dist_(std::move(dist)), state_(std::make_unique<State>()) {
  TORCH_CHECK(dist_, "DataParallel needs a Distributed runtime");
  if (!(bucket_mb > 0)) throw Error("must be positive", "distributed.bucket_mb");
  auto& s = *state_;
  s.dist = dist_.get();

  std::vector<torch::Tensor> all;
  for (const auto& item : parameters) {
    all.push_back(item.value());
    if (item.value().requires_grad())
      s.slots.push_back({item.key(), item.value()});
    else
      s.frozen_numel += item.value().numel();
  }
  if (!dist_->enabled()) return;

  // Every rank starts from rank 0's values, frozen ones included.
  dist_->broadcast_coalesced(all, 0);
  for (const auto& t : all) s.stats.bytes_broadcast += t.numel() * t.element_size();

  // Bucket assignment as torch DDP's _compute_bucket_assignment_by_size: reverse order,
  // one open bucket per (dtype, device), closed once it reaches its limit (1 MB for the
  // first of each kind, then bucket_mb).
  const auto cap = static_cast<int64_t>(bucket_mb * 1024 * 1024);
  struct Open {
    std::vector<size_t> slots;
    int64_t bytes = 0;
    int64_t limit = kFirstBucketBytes;
  };
  std::map<std::tuple<int, int, int>, Open> open;
  std::vector<std::vector<size_t>> assigned;
  for (size_t i = s.slots.size(); i-- > 0;) {
    const auto& p = s.slots[i].param;
    const auto key = std::make_tuple(static_cast<int>(p.scalar_type()), static_cast<int>(p.device().type()),
                                     static_cast<int>(p.device().index()));
    auto& bucket = open[key];
    bucket.slots.push_back(i);
    bucket.bytes += p.numel() * p.element_size();
    if (bucket.bytes >= std::min(bucket.limit, cap)) {
      assigned.push_back(std::move(bucket.slots));
      bucket = Open{{}, 0, cap};
    }
  }
  for (auto& [key, bucket] : open) {
    if (!bucket.slots.empty()) assigned.push_back(std::move(bucket.slots));
  }
  // Closed buckets are already in reverse order; leftovers go after them, ordered by where
  // they start, so the order is the same on every rank.
  std::stable_sort(assigned.begin(), assigned.end(),
                   [](const auto& a, const auto& b) { return a.front() > b.front(); });
  for (const auto& members : assigned) {
    State::Bucket bucket;
    int64_t numel = 0;
    for (size_t i : members) {
      s.slots[i].bucket = s.buckets.size();
      s.slots[i].offset = numel;
      numel += s.slots[i].param.numel();
    }
    bucket.flat = torch::zeros({numel}, s.slots[members.front()].param.options().requires_grad(false));
    bucket.slots = members;
    bucket.pending = members.size();
    s.buckets.push_back(std::move(bucket));
  }

  for (size_t i = 0; i < s.slots.size(); ++i) {
    auto& hooks = torch::autograd::impl::post_acc_grad_hooks(s.slots[i].param);
    if (hooks) {
      throw Error("already has a post-accumulate-grad hook", "parameter " + s.slots[i].name,
                  "wrap each model in DataParallel only once");
    }
    torch::autograd::impl::set_post_acc_grad_hooks(s.slots[i].param, std::make_unique<GradientReadyHook>(&s, i));
  }
  log::info("DataParallel: {} trainable tensors ({} values) in {} buckets, {} frozen values not communicated",
            s.slots.size(), trainable_numel(), s.buckets.size(), s.frozen_numel);
}

DataParallel::~DataParallel() {
  if (!dist_->enabled()) return;
  for (auto& slot : state_->slots) torch::autograd::impl::set_post_acc_grad_hooks(slot.param, nullptr);
}

void DataParallel::synchronize() {
  if (!dist_->enabled()) return;
  auto& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  TORCH_CHECK(s.syncing, "DataParallel::synchronize() called inside no_sync()");
  torch::NoGradGuard no_grad;
  for (size_t b = s.next_launch; b < s.buckets.size(); ++b) {
    for (size_t i : s.buckets[b].slots) {
      if (!s.slots[i].ready) s.stage(s.slots[i]);
    }
  }
  s.launch_ready(false);
  const auto start = std::chrono::steady_clock::now();
  for (auto& bucket : s.buckets) bucket.work.wait();
  s.stats.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& slot : s.slots) {
    slot.param.mutable_grad() = s.slot_view(slot);
    slot.ready = false;
  }
  for (auto& bucket : s.buckets) bucket.pending = bucket.slots.size();
  s.next_launch = 0;
  ++s.stats.syncs;
}

DataParallel::NoSync DataParallel::no_sync() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  TORCH_CHECK(state_->syncing, "DataParallel::no_sync() is already active");
  for (const auto& slot : state_->slots) {
    TORCH_CHECK(!slot.ready, "DataParallel::no_sync() entered after a synced backward; call synchronize() first");
  }
  state_->syncing = false;
  return NoSync(this);
}

DataParallel::NoSync::~NoSync() {
  if (!owner_) return;
  std::lock_guard<std::mutex> lock(owner_->state_->mutex);
  owner_->state_->syncing = true;
}

const DataParallelStats& DataParallel::stats() const { return state_->stats; }

std::vector<std::vector<std::string>> DataParallel::buckets() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& bucket : state_->buckets) {
    auto& names = out.emplace_back();
    for (size_t i : bucket.slots) names.push_back(state_->slots[i].name);
  }
  return out;
}

int64_t DataParallel::trainable_numel() const {
  int64_t n = 0;
  for (const auto& slot : state_->slots) n += slot.param.numel();
  return n;
}

int64_t DataParallel::frozen_numel() const { return state_->frozen_numel; }

}  // namespace rsclip
