// Starts N copies of the distributed test worker (RSCLIP_DIST_WORKER, dist_worker.cpp) on
// 127.0.0.1 with torchrun-style or SLURM variables, each logging to its own file, and waits
// for all of them with a time limit (stragglers are killed). Records each rank's exit status
// and when it ended.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <netinet/in.h>

extern char** environ;

namespace rsclip::testing {

// A port nobody listens on now (bind port 0, read it back, close), so parallel test runs
// do not collide on a fixed MASTER_PORT.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("could not find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct RankResult {
  int exit_code = -1;   // 128 + signal when killed
  double seconds = 0;   // from launch until this rank ended
  bool killed = false;  // still running at the time limit
  std::string output;   // stdout and stderr
};

enum class LaunchStyle { torchrun, slurm };

// The parent's environment without any launcher variables (a test may itself run under
// SLURM or torchrun), plus `extra`.
inline std::vector<std::string> clean_environment(const std::map<std::string, std::string>& extra) {
  static const char* dropped[] = {"RANK=",        "WORLD_SIZE=",     "LOCAL_RANK=", "LOCAL_WORLD_SIZE=",
                                  "MASTER_ADDR=", "MASTER_PORT=",    "SLURM_",      "TORCHELASTIC_",
                                  "GROUP_RANK=",  "OMP_NUM_THREADS="};
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool keep = true;
    for (const char* prefix : dropped) keep = keep && entry.rfind(prefix, 0) != 0;
    if (keep) env.push_back(entry);
  }
  env.push_back("OMP_NUM_THREADS=1");  // a 2-core machine shared by several ranks
  for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
  return env;
}

inline std::vector<RankResult> launch_ranks(const std::string& worker, const std::vector<std::string>& args, int world,
                                            const std::filesystem::path& log_dir, double limit_s,
                                            LaunchStyle style = LaunchStyle::torchrun) {
  const int port = free_port();
  std::vector<pid_t> pids(world, -1);
  std::vector<RankResult> results(world);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < world; ++r) {
    std::map<std::string, std::string> vars = {{"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", std::to_string(port)}};
    if (style == LaunchStyle::torchrun) {
      vars.insert({{"RANK", std::to_string(r)},
                   {"WORLD_SIZE", std::to_string(world)},
                   {"LOCAL_RANK", std::to_string(r)},
                   {"LOCAL_WORLD_SIZE", std::to_string(world)}});
    } else {
      vars.insert({{"SLURM_PROCID", std::to_string(r)},
                   {"SLURM_NTASKS", std::to_string(world)},
                   {"SLURM_LOCALID", std::to_string(r)},
                   {"SLURM_NODEID", "0"},
                   {"SLURM_TASKS_PER_NODE", std::to_string(world)}});
    }
    auto env = clean_environment(vars);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_storage{worker};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);

    const auto log = (log_dir / ("rank" + std::to_string(r) + ".log")).string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc = ::posix_spawn(&pids[r], worker.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn " + worker + " failed");
  }
  int running = world;
  while (running > 0) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (int r = 0; r < world; ++r) {
      if (pids[r] < 0) continue;
      int status = 0;
      const pid_t done = ::waitpid(pids[r], &status, WNOHANG);
      if (done == 0 && elapsed < limit_s) continue;
      if (done == 0) {
        ::kill(pids[r], SIGKILL);
        ::waitpid(pids[r], &status, 0);
        results[r].killed = true;
      }
      results[r].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      results[r].seconds = elapsed;
      pids[r] = -1;
      --running;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int r = 0; r < world; ++r) {
    std::ifstream in(log_dir / ("rank" + std::to_string(r) + ".log"));
    std::stringstream text;
    text << in.rdbuf();
    results[r].output = text.str();
  }
  return results;
}

inline void expect_all_succeeded(const std::vector<RankResult>& ranks) {
  for (size_t r = 0; r < ranks.size(); ++r) {
    EXPECT_EQ(ranks[r].exit_code, 0) << "rank " << r << " output:\n" << ranks[r].output;
  }
}

// The workers' distributed.timeout_s (and init_timeout_s) in these tests.
constexpr double kWorkerTimeout = 30;

#ifdef RSCLIP_DIST_WORKER  // the worker's path, defined for the tests that start workers

// Runs `core_dist_worker SCENARIO DIR --timeout ... EXTRA...` on `world` ranks; logs go to DIR.
inline std::vector<RankResult> run_workers(const std::string& scenario, int world, const std::filesystem::path& dir,
                                           std::vector<std::string> extra = {},
                                           LaunchStyle style = LaunchStyle::torchrun) {
  std::vector<std::string> args{scenario, dir.string(), "--timeout", std::to_string(kWorkerTimeout)};
  args.insert(args.end(), extra.begin(), extra.end());
  return launch_ranks(RSCLIP_DIST_WORKER, args, world, dir, 2 * kWorkerTimeout + 30, style);
}
#endif

}  // namespace rsclip::testing
