// rsclip sweep: expansion of grid x list into stably named variants (and the errors for bad
// files and keys), an end-to-end tiny sweep through the real binary with a failing variant,
// and an interrupted sweep (SIGTERM, then SIGKILL) that a rerun completes without rerunning
// finished variants.
#include "train/sweep/sweep.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "data/synth/synth_dataset.h"
#include "tests/reference/test_support.h"
#include "train/loop/train_config.h"
#include "train/report/run_dir.h"

extern char** environ;

namespace rsclip::train {
namespace {
namespace fs = std::filesystem;

std::string tiny_base() { return (testing::source_dir() / "configs/train/tiny_cpu.yaml").string(); }

fs::path write_sweep(const fs::path& dir, const std::string& body) {
  fs::create_directories(dir);
  const fs::path file = dir / "sweep.yaml";
  write_file_atomic(file, "base: " + tiny_base() + "\noutput_dir: " + (dir / "out").string() + "\n" + body);
  return file;
}

std::vector<std::string> names(const std::vector<SweepVariant>& variants) {
  std::vector<std::string> out;
  for (const auto& v : variants) out.push_back(v.name);
  return out;
}

// The message of the rsclip::Error `f` throws ("" and a test failure if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected rsclip::Error";
  return "";
}

TEST(SweepExpansion, ListTimesGridWithStableNames) {
  const auto dir = testing::scratch_dir();
  const auto file = write_sweep(dir, R"(name: abl
set: {schedule.max_steps: 3}
list:
  - {name: a, peft.method: lora}
  - {peft.method: bitfit, optim.lr: 0.01}
grid:
  optim.weight_decay: [0.0, 0.1]
seeds: [0, 1]
metrics: [zeroshot/x/top1]
)");
  const auto cfg = load_sweep_config(file);
  EXPECT_EQ(cfg.dir(), dir / "out" / "abl");
  const auto variants = expand_sweep(cfg);
  EXPECT_EQ(names(variants),
            (std::vector<std::string>{
                "a_weight_decay=0.0_seed=0", "a_weight_decay=0.0_seed=1", "a_weight_decay=0.1_seed=0",
                "a_weight_decay=0.1_seed=1", "method=bitfit_lr=0.01_weight_decay=0.0_seed=0",
                "method=bitfit_lr=0.01_weight_decay=0.0_seed=1", "method=bitfit_lr=0.01_weight_decay=0.1_seed=0",
                "method=bitfit_lr=0.01_weight_decay=0.1_seed=1"}));
  const auto& v = variants[7];
  EXPECT_EQ(v.overrides, (std::vector<std::string>{"schedule.max_steps=3", "peft.method=bitfit", "optim.lr=0.01",
                                                   "optim.weight_decay=0.1", "seed=1"}));
  EXPECT_EQ(v.group, "method=bitfit_lr=0.01_weight_decay=0.1");
  EXPECT_EQ(v.seed, "1");
  EXPECT_EQ(v.label, "bitfit_0.01_0.1_1");
  EXPECT_EQ(variants[0].group, "a_weight_decay=0.0");
  // Names depend on the file alone: expanding again gives the same.
  EXPECT_EQ(names(expand_sweep(load_sweep_config(file))), names(variants));
  const auto args = train_overrides(cfg, v);
  EXPECT_EQ(args[args.size() - 2], "name=method=bitfit_lr=0.01_weight_decay=0.1_seed=1");
  EXPECT_EQ(args.back(), "output_dir=" + (dir / "out/abl/runs").string());
  EXPECT_NO_THROW(validate_variants(cfg, variants));
  const auto tc = load_train_config(tiny_base(), args);
  EXPECT_EQ(tc.peft.method, "bitfit");
  EXPECT_EQ(tc.seed, 1);
  EXPECT_DOUBLE_EQ(tc.optim.lr, 0.01);
}

TEST(SweepExpansion, SharedLastComponentsUseWholeKeysAndValuesAreMadePathSafe) {
  const auto dir = testing::scratch_dir();
  const auto file = write_sweep(dir, R"(grid:
  peft.lora.dropout: [0.0]
  peft.vpt.dropout: [0.1, 0.2]
  init.checkpoint: ["/w/a b.pt"]
)");
  const auto variants = expand_sweep(load_sweep_config(file));
  EXPECT_EQ(names(variants),
            (std::vector<std::string>{"peft.lora.dropout=0.0_peft.vpt.dropout=0.1_checkpoint=-w-a-b.pt",
                                      "peft.lora.dropout=0.0_peft.vpt.dropout=0.2_checkpoint=-w-a-b.pt"}));
  EXPECT_EQ(load_sweep_config(file).name, "sweep");  // default: the file's stem
  EXPECT_TRUE(variants[0].group.empty());
}

TEST(SweepExpansion, DuplicateNamesAreRejected) {
  const auto dir = testing::scratch_dir();
  const auto file = write_sweep(dir, R"(list:
  - {name: x, peft.method: lora}
  - {name: y, peft.method: coop}
  - {name: x, peft.method: bitfit}
)");
  const auto cfg = load_sweep_config(file);
  const auto msg = error_of([&] { expand_sweep(cfg); });
  EXPECT_NE(msg.find("variants 1 and 3 are both named 'x'"), std::string::npos) << msg;
}

TEST(SweepExpansion, InvalidKeyNamesTheVariantAndTheKey) {
  const auto dir = testing::scratch_dir();
  auto cfg = load_sweep_config(write_sweep(dir, R"(list:
  - {name: fine, peft.method: lora}
  - {name: broken, peft.lora.rnak: 4}
)"));
  auto msg = error_of([&] { validate_variants(cfg, expand_sweep(cfg)); });
  EXPECT_NE(msg.find("variant 'broken'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("peft.lora.rnak"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'rank'"), std::string::npos) << msg;

  cfg = load_sweep_config(write_sweep(dir, "grid: {peft.method: [lora, lorra]}\n"));
  msg = error_of([&] { validate_variants(cfg, expand_sweep(cfg)); });
  EXPECT_NE(msg.find("variant 'method=lorra'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lorra"), std::string::npos) << msg;
}

TEST(SweepExpansion, BadSweepFilesAreErrorsNamingFileAndKey) {
  const auto dir = testing::scratch_dir();
  struct Case {
    std::string body, expected;
  } cases[] = {
      {"grdi: {seed: [0]}\n", "did you mean 'grid'"},
      {"grid: {optim.lr: 0.1}\n", "grid.optim.lr: expected a non-empty list"},
      {"grid: {seed: [0]}\nseeds: [1]\n", "both `seeds:` and a `seed` grid axis"},
      {"set: {name: x}\ngrid: {seed: [0]}\n", "'name' is set by the sweep"},
      {"list: [{peft.method: lora}]\ngrid: {peft.method: [coop]}\n", "is set by list[0] and varied by the grid"},
      {"set: {seed: 1}\n", "nothing to sweep"},
      {"seeds: [0]\nmetrics: [top1]\n", "'top1' is not an evaluation metric"},
      {"list: [{}]\n", "list[0]: an empty variant"},
  };
  for (const auto& c : cases) {
    const auto file = write_sweep(dir, c.body);
    const auto msg = error_of([&] { expand_sweep(load_sweep_config(file)); });
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.body << " -> " << msg;
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  }
  const auto file = dir / "nobase.yaml";
  write_file_atomic(file, "base: missing.yaml\nseeds: [0]\n");
  EXPECT_NE(error_of([&] { load_sweep_config(file); }).find("base training config not found"), std::string::npos);
}

// ----- end to end through the binary --------------------------------------------------

class SweepRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new fs::path(fs::temp_directory_path() / ("rsclip-sweep-test-" + std::to_string(::getpid())));
    fs::remove_all(*data_);
    data::SynthDatasetOptions o;
    o.out = *data_;
    o.seed = 5;
    o.train = 64;
    o.test = 13;
    o.shard_size = 64;
    o.image_size = 64;
    data::write_synth_dataset(o);
    // One zero-shot template instead of the 105 RS ones: the evaluation is then a blink.
    write_file_atomic(*data_ / "templates.txt", "a satellite photo of {}.\n");
    // The trainers inherit it: on a shared 2-core machine more threads only contend.
    ::setenv("OMP_NUM_THREADS", "1", 1);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*data_);
    delete data_;
  }
  // `set:` lines for the tiny model on the suite's data.
  static std::string tiny_set(int steps, bool eval) {
    std::string s = "set:\n  data.shards: " + (*data_ / "train/synth-train-0000.tar").string() +
                    "\n  data.batch_size: 8\n  schedule.warmup: 1\n  schedule.max_steps: " + std::to_string(steps) +
                    "\n  checkpoint.every_steps: 2\n  logging.progress: lines\n";
    if (eval) {
      s += "  eval.zeroshot: [{name: synth, path: " + (*data_ / "test/imagefolder").string() + "}]\n";
      s += "  eval.retrieval: [{name: synth, path: " + (*data_ / "test/captions.json").string() + "}]\n";
      s += "  eval.templates: " + (*data_ / "templates.txt").string() + "\n";
    }
    return s;
  }
  static fs::path* data_;
};
fs::path* SweepRun::data_ = nullptr;

std::vector<std::vector<std::string>> read_csv(const fs::path& file) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> row;
    std::string cell;
    bool quoted = false;
    for (char c : line) {
      if (c == '"')
        quoted = !quoted;
      else if (c == ',' && !quoted)
        row.push_back(cell), cell.clear();
      else
        cell += c;
    }
    row.push_back(cell);
    rows.push_back(row);
  }
  return rows;
}

// The row of `variant` with `status` (any status if empty), as column -> value.
std::map<std::string, std::string> csv_row(const fs::path& file, const std::string& variant,
                                           const std::string& status = "") {
  const auto rows = read_csv(file);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (rows[i][0] == variant && (status.empty() || rows[i][1] == status)) {
      std::map<std::string, std::string> out;
      for (std::size_t c = 0; c < rows[0].size() && c < rows[i].size(); ++c) out[rows[0][c]] = rows[i][c];
      return out;
    }
  }
  ADD_FAILURE() << "no row " << variant << " " << status << " in " << file;
  return {};
}

TEST_F(SweepRun, TinySweepRecordsAFailingVariantAndFinishesTheOthers) {
  const auto dir = testing::scratch_dir();
  const auto file = write_sweep(dir, "name: tiny\n" + tiny_set(2, true) + R"(list:
  - {name: full, peft.method: full}
  - {name: broken, init.checkpoint: /nonexistent/weights.safetensors}
  - {name: bitfit, peft.method: bitfit, optim.lr: 0.01}
seeds: [0, 1]
metrics: [zeroshot/synth/top1, retrieval/synth/mR]
)");
  const fs::path sweep = dir / "out/tiny";
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = testing::run_rsclip({"sweep", file.string(), "--jobs", "2"});
  std::printf("sweep of 6 variants (2 failing) with --jobs 2: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_EQ(r.exit_code, 1) << r.output;  // some variant failed
  const fs::path csv = sweep / "results.csv";
  ASSERT_TRUE(fs::exists(csv)) << r.output;
  for (const char* v : {"full_seed=0", "full_seed=1", "bitfit_seed=0", "bitfit_seed=1"}) {
    const auto row = csv_row(csv, v);
    EXPECT_EQ(row.at("status"), "finished") << v << "\n" << r.output;
    EXPECT_FALSE(row.at("zeroshot/synth/top1").empty()) << v;
    EXPECT_FALSE(row.at("retrieval/synth/mR").empty()) << v;
    EXPECT_GT(std::stod(row.at("trainable_params")), 0) << v;
    EXPECT_EQ(row.at("seed"), std::string(v).substr(std::string(v).size() - 1));
  }
  EXPECT_LT(std::stod(csv_row(csv, "bitfit_seed=0").at("trainable_params")),
            std::stod(csv_row(csv, "full_seed=0").at("trainable_params")));
  for (const char* v : {"broken_seed=0", "broken_seed=1"}) {
    const auto row = csv_row(csv, v);
    EXPECT_EQ(row.at("status"), "failed") << v;
    EXPECT_NE(row.at("error").find("/nonexistent/weights.safetensors"), std::string::npos) << row.at("error");
  }
  // One row kind per file: results.csv holds the 6 runs only, results_seeds.csv the groups.
  const auto runs = read_csv(csv);
  EXPECT_EQ(runs.size(), 7u) << read_file(csv);
  for (std::size_t i = 1; i < runs.size(); ++i) {
    EXPECT_TRUE(runs[i][1] == "finished" || runs[i][1] == "failed") << runs[i][0] << " " << runs[i][1];
  }
  const fs::path seeds = sweep / "results_seeds.csv";
  EXPECT_EQ(read_csv(seeds).size(), 4u) << read_file(seeds);
  const auto full = csv_row(seeds, "full");
  const double a = std::stod(csv_row(csv, "full_seed=0").at("final_loss"));
  const double b = std::stod(csv_row(csv, "full_seed=1").at("final_loss"));
  EXPECT_NEAR(std::stod(full.at("final_loss_mean")), (a + b) / 2, 1e-9);
  EXPECT_NEAR(std::stod(full.at("final_loss_std")), std::abs(a - b) / std::sqrt(2.0), 1e-9);
  EXPECT_EQ(full.at("seeds"), "2");
  EXPECT_EQ(full.at("finished"), "2");
  EXPECT_TRUE(csv_row(seeds, "broken").at("final_loss_mean").empty());
  EXPECT_EQ(csv_row(seeds, "broken").at("finished"), "0");

  const std::string md = read_file(sweep / "results.md");
  EXPECT_NE(md.find("## Mean ± std over seeds"), std::string::npos) << md;
  EXPECT_NE(md.find("## Failed"), std::string::npos) << md;
  EXPECT_NE(md.find("`broken_seed=0`"), std::string::npos) << md;
  for (const char* p : {"plots/zeroshot_synth_top1.png", "plots/retrieval_synth_mR.png", "plots/loss_curves.png",
                        "logs/broken_seed=1.log", "status.json"}) {
    EXPECT_TRUE(fs::exists(sweep / p)) << p;
  }

  // --report-only rebuilds the same table; --dry-run marks finished variants.
  const std::string before = read_file(csv);
  fs::remove(csv);
  EXPECT_EQ(testing::run_rsclip({"sweep", file.string(), "--report-only"}).exit_code, 0);
  EXPECT_EQ(read_file(csv), before);
  const auto dry = testing::run_rsclip({"sweep", file.string(), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0);
  EXPECT_NE(dry.output.find("full_seed=1  [finished: skipped]"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("--set name=broken_seed=0"), std::string::npos) << dry.output;
}

// Starts `rsclip args...` in the background with its output in `log`.
pid_t start_rsclip(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv = {testing::rsclip_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(rc, 0);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool has_checkpoint(const fs::path& run) {
  if (!fs::exists(run / "checkpoints")) return false;
  for (const auto& e : fs::directory_iterator(run / "checkpoints")) {
    if (e.path().filename().string().rfind("step_", 0) == 0) return true;
  }
  return false;
}

// Polls until `ready` or the process ends; false if it ended first (or after 90 s).
template <class F>
bool wait_until(pid_t pid, F ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::vector<int64_t> logged_steps(const fs::path& run) {
  std::vector<int64_t> steps;
  for (const auto& r : MetricsLog::read(run / "metrics.jsonl")) {
    if (r.contains("loss")) steps.push_back(r["step"].get<int64_t>());
  }
  return steps;
}

TEST_F(SweepRun, InterruptedSweepResumesWithoutRerunningFinishedVariants) {
  const auto dir = testing::scratch_dir();
  const int steps = 10;
  const auto file =
      write_sweep(dir, "name: stop\n" + tiny_set(steps, false) + "grid: {peft.method: [full, lora, bitfit]}\n");
  const fs::path sweep = dir / "out/stop", runs = sweep / "runs";
  const fs::path v1 = runs / "method=full", v2 = runs / "method=lora", v3 = runs / "method=bitfit";

  // 1. SIGTERM once the first variant finished and the second has a checkpoint: forwarded,
  //    the trainer checkpoints, the sweep exits 75.
  pid_t pid = start_rsclip({"sweep", file.string()}, dir / "sweep1.log");
  ASSERT_TRUE(wait_until(pid, [&] { return fs::exists(v1 / "summary.json") && has_checkpoint(v2); }))
      << read_file(dir / "sweep1.log");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid), 75) << read_file(dir / "sweep1.log");
  ASSERT_FALSE(fs::exists(v2 / "summary.json")) << "the second variant finished before the signal";
  EXPECT_EQ(csv_row(sweep / "results.csv", "method=lora").at("status"), "interrupted");
  EXPECT_EQ(csv_row(sweep / "results.csv", "method=bitfit").at("status"), "pending");
  const auto v1_summary_time = fs::last_write_time(v1 / "summary.json");
  const std::string v1_log = read_file(sweep / "logs/method=full.log");

  // 2. SIGKILL the rerun while the third variant trains: its orphaned trainer is told to stop
  //    (PR_SET_PDEATHSIG) and the next sweep waits for it on the log's lock.
  pid = start_rsclip({"sweep", file.string()}, dir / "sweep2.log");
  ASSERT_TRUE(wait_until(pid, [&] { return fs::exists(v2 / "summary.json") && has_checkpoint(v3); }))
      << read_file(dir / "sweep2.log");
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait_exit(pid), 128 + SIGKILL);
  const std::string sweep2 = read_file(dir / "sweep2.log");
  EXPECT_NE(sweep2.find("method=full: finished earlier, skipped"), std::string::npos) << sweep2;
  const auto v2_summary_time = fs::last_write_time(v2 / "summary.json");

  // 3. A plain rerun completes the table.
  const auto r = testing::run_rsclip({"sweep", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* v : {"method=full", "method=lora", "method=bitfit"}) {
    EXPECT_EQ(csv_row(sweep / "results.csv", v).at("status"), "finished") << v << "\n" << r.output;
  }
  EXPECT_EQ(fs::last_write_time(v1 / "summary.json"), v1_summary_time);
  EXPECT_EQ(fs::last_write_time(v2 / "summary.json"), v2_summary_time);
  EXPECT_EQ(read_file(sweep / "logs/method=full.log"), v1_log);
  // The interrupted ones resumed from their checkpoints and read like uninterrupted runs.
  EXPECT_NE(read_file(sweep / "logs/method=lora.log").find("resumed from"), std::string::npos);
  const std::string v3_log = read_file(sweep / "logs/method=bitfit.log");
  EXPECT_NE(v3_log.find("resumed from"), std::string::npos) << v3_log;
  EXPECT_NE(v3_log.find("stopped (signal 15)"), std::string::npos) << "the orphaned trainer got no SIGTERM\n" << v3_log;
  std::vector<int64_t> expected(steps);
  for (int i = 0; i < steps; ++i) expected[static_cast<std::size_t>(i)] = i + 1;
  for (const auto& run : {v1, v2, v3}) EXPECT_EQ(logged_steps(run), expected) << run;
}

}  // namespace
}  // namespace rsclip::train
