#include "tests/reference/test_support.h"

#include <cstdio>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace rsclip::testing {
namespace fs = std::filesystem;

fs::path source_dir() { return RSCLIP_SOURCE_DIR; }
fs::path rsclip_binary() { return fs::path(RSCLIP_BINARY_DIR) / "rsclip"; }

fs::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "no-test";
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  const fs::path dir = fs::path(RSCLIP_BINARY_DIR) / "test-tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string shell_quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string run_python(const std::string& script, const std::vector<std::string>& args) {
  std::string cmd = "PYTHONPATH=" + shell_quote(source_dir().string()) + " " + shell_quote(RSCLIP_PYTHON) + " " +
                    shell_quote((source_dir() / script).string());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  auto result = run_command(cmd);
  EXPECT_EQ(result.exit_code, 0) << "python reference failed: " << cmd << "\n" << result.output;
  if (result.exit_code != 0) throw std::runtime_error("python reference script failed: " + script);
  return result.output;
}

CommandResult run_rsclip(const std::vector<std::string>& args) {
  std::string cmd = shell_quote(rsclip_binary().string());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return run_command(cmd);
}

TensorDiff compare(const torch::Tensor& actual, const torch::Tensor& expected) {
  TensorDiff d;
  auto a = actual.detach().to(torch::kCPU, torch::kDouble);
  auto e = expected.detach().to(torch::kCPU, torch::kDouble);
  d.max_abs = (a - e).abs().max().item<double>();
  d.max_ref = e.abs().max().item<double>();
  d.max_rel = d.max_ref > 0 ? d.max_abs / d.max_ref : d.max_abs;
  return d;
}

void expect_close(const std::string& name, const torch::Tensor& actual, const torch::Tensor& expected, double rel_tol,
                  double abs_tol) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << name << ": shape mismatch";
  const auto d = compare(actual, expected);
  std::printf("  %-48s max|diff| %.3e  max|ref| %.3e  rel %.3e\n", name.c_str(), d.max_abs, d.max_ref, d.max_rel);
  EXPECT_LE(d.max_abs, rel_tol * d.max_ref + abs_tol)
      << name << ": max abs error " << d.max_abs << " exceeds tolerance (rel " << rel_tol << ")";
}

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const auto ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const fs::path& log,
                                     const std::vector<std::string>& env)
    : log_(log) {
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
  env_storage.insert(env_storage.end(), env.begin(), env.end());
  std::vector<char*> envp, args;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = argv;
  for (auto& a : argv_storage) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const int rc = ::posix_spawn(&pid_, args[0], &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed");
}

BackgroundProcess::~BackgroundProcess() {
  if (status_ >= 0) return;
  ::kill(-pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

void BackgroundProcess::signal(int sig) const { ::kill(pid_, sig); }
void BackgroundProcess::signal_group(int sig) const { ::kill(-pid_, sig); }

int BackgroundProcess::wait(double seconds) {
  if (status_ >= 0) return status_;
  wait_until(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      },
      seconds);
  return status_;
}

std::string BackgroundProcess::output() const {
  std::ifstream in(log_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool wait_until(const std::function<bool()>& ready, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (true) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace rsclip::testing
