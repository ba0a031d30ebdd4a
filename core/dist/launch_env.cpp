#include "core/dist/launch_env.h"

#include <charconv>
#include <cstdlib>
#include <vector>

#include "core/base/error.h"

namespace rsclip {
namespace {

constexpr const char* kLaunchHint =
    "launch with `torchrun --nproc-per-node N rsclip ...`, or under SLURM with `srun` after "
    "exporting MASTER_ADDR and MASTER_PORT (see scripts/slurm/train.sbatch)";

// A whole-string decimal integer; rsclip::Error naming the variable otherwise.
int parse_int(const std::string& text, const char* name) {
  int value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) {
    throw Error("'" + text + "' is not an integer", name, kLaunchHint);
  }
  return value;
}

int require_int(const EnvLookup& env, const char* name, const char* needed_because) {
  const auto value = env(name);
  if (!value) throw Error(std::string("is not set but ") + needed_because, name, kLaunchHint);
  return parse_int(*value, name);
}

std::optional<int> optional_int(const EnvLookup& env, const char* name) {
  const auto value = env(name);
  if (!value) return std::nullopt;
  return parse_int(*value, name);
}

// SLURM_TASKS_PER_NODE lists tasks per node in node order, run-length encoded:
// "2(x3),1" = three nodes with 2 tasks, then one node with 1 task.
int tasks_on_node(const std::string& spec, int node_id, const char* name) {
  int node = 0;
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    const std::size_t comma = spec.find(',', pos);
    const std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const std::size_t paren = item.find("(x");
    const int tasks = parse_int(item.substr(0, paren), name);
    int repeat = 1;
    if (paren != std::string::npos) {
      if (item.back() != ')') throw Error("malformed entry '" + item + "' in '" + spec + "'", name);
      repeat = parse_int(item.substr(paren + 2, item.size() - paren - 3), name);
    }
    if (tasks < 1 || repeat < 1) throw Error("malformed entry '" + item + "' in '" + spec + "'", name);
    if (node_id < node + repeat) return tasks;
    node += repeat;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  throw Error("lists " + std::to_string(node) + " nodes but SLURM_NODEID is " + std::to_string(node_id), name);
}

void read_master(const EnvLookup& env, LaunchEnv& out, const char* needed_because) {
  const auto addr = env("MASTER_ADDR");
  if (!addr || addr->empty()) throw Error(std::string("is not set but ") + needed_because, "MASTER_ADDR", kLaunchHint);
  out.master_addr = *addr;
  out.master_port = require_int(env, "MASTER_PORT", needed_because);
  if (out.master_port < 1 || out.master_port > 65535) {
    throw Error("port " + std::to_string(out.master_port) + " is outside 1..65535", "MASTER_PORT", kLaunchHint);
  }
}

void validate(const LaunchEnv& e, const char* rank_var, const char* world_var, const char* local_var) {
  if (e.world_size < 1) throw Error("must be at least 1, got " + std::to_string(e.world_size), world_var, kLaunchHint);
  if (e.rank < 0 || e.rank >= e.world_size) {
    throw Error("rank " + std::to_string(e.rank) + " is outside 0.." + std::to_string(e.world_size - 1) + " (" +
                    world_var + "=" + std::to_string(e.world_size) + ")",
                rank_var, kLaunchHint);
  }
  if (e.local_world_size < 1 || e.local_world_size > e.world_size) {
    throw Error("local world size " + std::to_string(e.local_world_size) + " must be in 1.." +
                    std::to_string(e.world_size) + " (the world size)",
                "LOCAL_WORLD_SIZE", kLaunchHint);
  }
  if (e.local_rank < 0 || e.local_rank >= e.local_world_size) {
    throw Error("local rank " + std::to_string(e.local_rank) + " is outside 0.." +
                    std::to_string(e.local_world_size - 1) + " (local world size)",
                local_var, kLaunchHint);
  }
}

LaunchEnv read_torchrun(const EnvLookup& env) {
  LaunchEnv e;
  e.launcher = LaunchEnv::Launcher::torchrun;
  e.rank = require_int(env, "RANK", "WORLD_SIZE is set");
  e.world_size = require_int(env, "WORLD_SIZE", "RANK is set");
  // A hand-made launch may omit the local variables: then it is one node.
  e.local_world_size = optional_int(env, "LOCAL_WORLD_SIZE").value_or(e.world_size);
  e.local_rank = optional_int(env, "LOCAL_RANK").value_or(e.rank % e.local_world_size);
  validate(e, "RANK", "WORLD_SIZE", "LOCAL_RANK");
  read_master(env, e, "RANK and WORLD_SIZE are set");
  e.agent_store = env("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  e.restart_count = optional_int(env, "TORCHELASTIC_RESTART_COUNT").value_or(0);
  return e;
}

std::optional<LaunchEnv> read_slurm(const EnvLookup& env) {
  const auto ntasks = optional_int(env, "SLURM_NTASKS");
  if (!env("SLURM_PROCID") || !ntasks) return std::nullopt;
  // One task without a rendezvous address: an interactive shell or a plain batch step.
  if (*ntasks == 1 && !env("MASTER_ADDR")) return std::nullopt;
  LaunchEnv e;
  e.launcher = LaunchEnv::Launcher::slurm;
  e.rank = require_int(env, "SLURM_PROCID", "SLURM_NTASKS is set");
  e.world_size = *ntasks;
  e.local_rank = require_int(env, "SLURM_LOCALID", "SLURM_PROCID is set");
  if (const auto per_node = optional_int(env, "SLURM_NTASKS_PER_NODE")) {
    e.local_world_size = *per_node;
  } else {
    const char* name = env("SLURM_STEP_TASKS_PER_NODE") ? "SLURM_STEP_TASKS_PER_NODE" : "SLURM_TASKS_PER_NODE";
    const auto spec = env(name);
    if (!spec) throw Error("is not set, so the tasks on this node are unknown", name, kLaunchHint);
    e.local_world_size = tasks_on_node(*spec, optional_int(env, "SLURM_NODEID").value_or(0), name);
  }
  validate(e, "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID");
  read_master(env, e, "this is a SLURM job step with several tasks");
  e.restart_count = optional_int(env, "SLURM_RESTART_COUNT").value_or(0);
  return e;
}

}  // namespace

const char* LaunchEnv::launcher_name() const {
  switch (launcher) {
    case Launcher::torchrun: return "torchrun";
    case Launcher::slurm: return "slurm";
    case Launcher::none: break;
  }
  return "none";
}

std::optional<std::string> process_env(const char* name) {
  const char* value = std::getenv(name);
  if (!value) return std::nullopt;
  return std::string(value);
}

LaunchEnv read_launch_env(const EnvLookup& env) {
  if (env("RANK") || env("WORLD_SIZE")) return read_torchrun(env);
  if (auto slurm = read_slurm(env)) return *slurm;
  return LaunchEnv{};
}

}  // namespace rsclip
