#include "core/dist/launch_env.h"

#include <map>

#include <gtest/gtest.h>

#include "core/base/error.h"

namespace rsclip {
namespace {

using Vars = std::map<std::string, std::string>;

LaunchEnv read(const Vars& vars) {
  return read_launch_env([&](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

// The error's text (what + where + hint) must mention `needle`.
void expect_error(const Vars& vars, const std::string& needle) {
  try {
    read(vars);
    ADD_FAILURE() << "no error; expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

const Vars kTorchrun = {{"RANK", "3"},
                        {"WORLD_SIZE", "8"},
                        {"LOCAL_RANK", "1"},
                        {"LOCAL_WORLD_SIZE", "2"},
                        {"MASTER_ADDR", "node0"},
                        {"MASTER_PORT", "29500"}};

Vars with(Vars base, const Vars& changes) {
  for (const auto& [k, v] : changes) base[k] = v;
  return base;
}
Vars without(Vars base, const std::string& key) {
  base.erase(key);
  return base;
}

TEST(LaunchEnv, NoVariablesMeansOneProcess) {
  const auto env = read({});
  EXPECT_FALSE(env.distributed());
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.rank, 0);
}

TEST(LaunchEnv, Torchrun) {
  const auto env =
      read(with(kTorchrun, {{"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "2"}}));
  EXPECT_EQ(env.launcher, LaunchEnv::Launcher::torchrun);
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "node0");
  EXPECT_EQ(env.master_port, 29500);
  EXPECT_TRUE(env.agent_store);
  EXPECT_EQ(env.restart_count, 2);
  EXPECT_FALSE(read(kTorchrun).agent_store);
}

TEST(LaunchEnv, HandMadeLaunchWithoutLocalVariablesIsOneNode) {
  const auto env = read(without(without(kTorchrun, "LOCAL_RANK"), "LOCAL_WORLD_SIZE"));
  EXPECT_EQ(env.local_rank, 3);
  EXPECT_EQ(env.local_world_size, 8);
}

TEST(LaunchEnv, WorldSizeOneWithVariablesStillMakesAGroup) {
  const auto env = read({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1234"}});
  EXPECT_TRUE(env.distributed());
  EXPECT_EQ(env.world_size, 1);
}

TEST(LaunchEnv, InconsistentTorchrunVariablesAreErrors) {
  expect_error(with(kTorchrun, {{"RANK", "8"}}), "RANK");
  expect_error(with(kTorchrun, {{"RANK", "-1"}}), "outside 0..7");
  expect_error(with(kTorchrun, {{"WORLD_SIZE", "0"}}), "WORLD_SIZE");
  expect_error(with(kTorchrun, {{"WORLD_SIZE", "eight"}}), "'eight' is not an integer");
  expect_error(with(kTorchrun, {{"RANK", "3x"}}), "not an integer");
  expect_error(with(kTorchrun, {{"LOCAL_RANK", "2"}}), "LOCAL_RANK");
  expect_error(with(kTorchrun, {{"LOCAL_WORLD_SIZE", "9"}}), "LOCAL_WORLD_SIZE");
  expect_error(without(kTorchrun, "RANK"), "RANK: is not set but WORLD_SIZE is set");
  expect_error(without(kTorchrun, "WORLD_SIZE"), "WORLD_SIZE: is not set");
  expect_error(without(kTorchrun, "MASTER_ADDR"), "MASTER_ADDR: is not set");
  expect_error(without(kTorchrun, "MASTER_PORT"), "MASTER_PORT: is not set");
  expect_error(with(kTorchrun, {{"MASTER_PORT", "70000"}}), "outside 1..65535");
  expect_error(with(kTorchrun, {{"MASTER_ADDR", ""}}), "MASTER_ADDR");
}

const Vars kSlurm = {
    {"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"},    {"SLURM_LOCALID", "1"},  {"SLURM_TASKS_PER_NODE", "4(x2)"},
    {"SLURM_NODEID", "1"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29400"}};

TEST(LaunchEnv, Slurm) {
  const auto env = read(kSlurm);
  EXPECT_EQ(env.launcher, LaunchEnv::Launcher::slurm);
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_FALSE(env.agent_store);
}

TEST(LaunchEnv, SlurmTasksPerNodeList) {
  auto vars = with(kSlurm, {{"SLURM_TASKS_PER_NODE", "2(x2),3,1"}, {"SLURM_NODEID", "2"}, {"SLURM_LOCALID", "2"}});
  vars["SLURM_NTASKS"] = "8";
  EXPECT_EQ(read(vars).local_world_size, 3);
  EXPECT_EQ(read(with(kSlurm, {{"SLURM_NTASKS_PER_NODE", "2"}, {"SLURM_LOCALID", "1"}})).local_world_size, 2);
  expect_error(with(kSlurm, {{"SLURM_TASKS_PER_NODE", "4(x2"}}), "malformed");
  expect_error(with(kSlurm, {{"SLURM_NODEID", "5"}}), "lists 2 nodes but SLURM_NODEID is 5");
}

TEST(LaunchEnv, TorchrunWinsOverSlurm) {
  auto vars = kSlurm;
  for (const auto& [k, v] : kTorchrun) vars[k] = v;
  EXPECT_EQ(read(vars).launcher, LaunchEnv::Launcher::torchrun);
  EXPECT_EQ(read(vars).rank, 3);
}

TEST(LaunchEnv, SlurmErrors) {
  expect_error(without(kSlurm, "MASTER_ADDR"), "MASTER_ADDR: is not set but this is a SLURM job step");
  expect_error(with(kSlurm, {{"SLURM_PROCID", "8"}}), "SLURM_PROCID");
  expect_error(with(kSlurm, {{"SLURM_LOCALID", "4"}}), "SLURM_LOCALID");
  expect_error(without(kSlurm, "SLURM_LOCALID"), "SLURM_LOCALID: is not set");
  expect_error(without(kSlurm, "SLURM_TASKS_PER_NODE"), "SLURM_TASKS_PER_NODE: is not set");
}

TEST(LaunchEnv, SingleTaskSlurmStepWithoutMasterIsOneProcess) {
  const auto env = read({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}, {"SLURM_LOCALID", "0"}});
  EXPECT_FALSE(env.distributed());
}

}  // namespace
}  // namespace rsclip
