// The `distributed:` section of a training config: process-group settings (no torch here, so
// every config reader can include it; core/dist/distributed.h uses it).
#pragma once

#include <string>

namespace rsclip {

struct DistributedConfig {
  std::string backend = "auto";  // auto (nccl for CUDA training, gloo for CPU), gloo or nccl
  double timeout_s = 600;        // a collective running longer fails (torch's NCCL default)
  double init_timeout_s = 300;   // waiting for every rank to join at start-up
  double bucket_mb = 25;         // gradient all-reduce bucket size (torch DDP's bucket_cap_mb)
  double failure_poll_s = 0.2;   // how often each rank looks for a peer's failure in the store
  double failure_grace_s = 10;   // how long a store-hosting rank waits for peers to see a failure

  template <class V>
  void visit(V& v) {
    v("backend", backend);
    v("timeout_s", timeout_s);
    v("init_timeout_s", init_timeout_s);
    v("bucket_mb", bucket_mb);
    v("failure_poll_s", failure_poll_s);
    v("failure_grace_s", failure_grace_s);
  }
  void validate() const;
};

}  // namespace rsclip
