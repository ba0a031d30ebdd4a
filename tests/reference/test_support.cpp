#include "tests/reference/test_support.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

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
    if (c == '\'') out += "'\\''";
    else out += c;
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

void expect_close(const std::string& name, const torch::Tensor& actual, const torch::Tensor& expected,
                  double rel_tol, double abs_tol) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << name << ": shape mismatch";
  const auto d = compare(actual, expected);
  std::printf("  %-48s max|diff| %.3e  max|ref| %.3e  rel %.3e\n", name.c_str(), d.max_abs, d.max_ref, d.max_rel);
  EXPECT_LE(d.max_abs, rel_tol * d.max_ref + abs_tol) << name << ": max abs error " << d.max_abs
                                                      << " exceeds tolerance (rel " << rel_tol << ")";
}

}  // namespace rsclip::testing
