#include "core/dist/process_group.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef USE_C10D_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <memory>
#include <sstream>
#include <vector>

#include "core/base/error.h"
#include "core/dist/launch_env.h"

namespace rsclip::detail {
namespace {

// The devices torch.distributed picks (distributed_c10d.py / _get_default_gloo_device):
// one per interface in GLOO_SOCKET_IFNAME, else the address this host's name resolves to
// (loopback when it does not resolve).
c10::intrusive_ptr<c10d::ProcessGroupGloo::Options> gloo_options(std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  const bool lazy = c10d::getDefaultGlooLazyInit();
  if (const auto ifnames = process_env("GLOO_SOCKET_IFNAME"); ifnames && !ifnames->empty()) {
    std::stringstream list(*ifnames);
    std::string name;
    while (std::getline(list, name, ',')) {
      if (!name.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name, lazy));
    }
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice(lazy));
  }
  // Two worker threads per device, as the Python binding sets up.
  options->threads = static_cast<int>(options->devices.size()) * 2;
  return options;
}

}  // namespace

bool nccl_available() {
#ifdef USE_C10D_NCCL
  return torch::cuda::is_available();
#else
  return false;
#endif
}

c10::intrusive_ptr<c10d::Backend> make_backend(const std::string& name, const c10::intrusive_ptr<c10d::Store>& store,
                                               int rank, int world_size, std::chrono::milliseconds timeout,
                                               int cuda_device) {
  if (name == "gloo") {
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, gloo_options(timeout));
  }
  if (name == "nccl") {
#ifdef USE_C10D_NCCL
    const int gpus = static_cast<int>(torch::cuda::device_count());
    if (cuda_device >= gpus) {
      throw Error("local rank " + std::to_string(cuda_device) + " needs GPU " + std::to_string(cuda_device) + " but " +
                      std::to_string(gpus) + " are visible",
                  "distributed.backend=nccl", "start at most as many processes per node as GPUs");
    }
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(cuda_device));
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options);
    // Build the communicator now (as init_process_group(device_id=...) does), so a broken
    // NCCL set-up fails at start-up rather than inside the first backward pass.
    group->eagerConnectSingleDevice(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(cuda_device)));
    return group;
#else
    throw Error("this torch build has no NCCL support", "distributed.backend", "use backend: gloo");
#endif
  }
  throw Error("unknown backend '" + name + "'", "distributed.backend", "use auto, gloo or nccl");
}

}  // namespace rsclip::detail
