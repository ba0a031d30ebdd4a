// Who launched this process and where its peers are, read from the environment the way
// torch.distributed's `env://` rendezvous reads it.
//
//   torchrun  RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
//             TORCHELASTIC_USE_AGENT_STORE=True (the agent already hosts the TCPStore at
//             MASTER_ADDR:MASTER_PORT, so every rank connects as a client, as
//             torch/distributed/rendezvous.py::_create_c10d_store does) and
//             TORCHELASTIC_RESTART_COUNT (keys of an earlier attempt must not be seen again).
//   SLURM     SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID (+ SLURM_NTASKS_PER_NODE or
//             SLURM_TASKS_PER_NODE/SLURM_NODEID for the local world size), with
//             MASTER_ADDR/MASTER_PORT exported by the batch script.
//   nothing   a single process: no process group at all.
//
// RANK/WORLD_SIZE win over SLURM_* (torchrun started by srun sees both). A SLURM job step of
// one task without MASTER_ADDR is a single process. Inconsistent values are rsclip::Error.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace rsclip {

struct LaunchEnv {
  enum class Launcher { none, torchrun, slurm };

  Launcher launcher = Launcher::none;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr;
  int master_port = 0;
  bool agent_store = false;  // the TCPStore server is torchrun's agent, not rank 0
  int restart_count = 0;

  bool distributed() const { return launcher != Launcher::none; }
  const char* launcher_name() const;
};

// Returns the value of an environment variable, or nothing when unset.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// The process environment (getenv).
std::optional<std::string> process_env(const char* name);

// Reads and validates the launch variables; rsclip::Error names the variable at fault.
LaunchEnv read_launch_env(const EnvLookup& env = process_env);

}  // namespace rsclip
