// Builds the c10d backend (ProcessGroupGloo or ProcessGroupNCCL) for the distributed runtime.
// Kept apart because only this file needs gloo's headers (third_party/gloo, see its README)
// and NCCL's; nothing else in rsclip touches gloo or NCCL types.
#pragma once

#include <chrono>
#include <string>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace rsclip::detail {

// True when this build can create a ProcessGroupNCCL (torch built with NCCL and a GPU).
bool nccl_available();

// `name` is "gloo" or "nccl"; `store` is dedicated to this group (a PrefixStore). For NCCL
// `cuda_device` selects this rank's GPU (made current) and connects eagerly.
c10::intrusive_ptr<c10d::Backend> make_backend(const std::string& name, const c10::intrusive_ptr<c10d::Store>& store,
                                               int rank, int world_size, std::chrono::milliseconds timeout,
                                               int cuda_device);

}  // namespace rsclip::detail
