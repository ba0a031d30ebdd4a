#include "train/sweep/sweep_runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <deque>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/base/atomic_file.h"
#include "core/base/error.h"
#include "core/base/log.h"
#include "train/loop/trainer.h"
#include "train/sweep/sweep_status.h"

extern char** environ;

namespace rsclip::train {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_signals = 0;
void on_signal(int) { g_signals = g_signals + 1; }

// SIGINT/SIGTERM counted (not SA_RESTART, so a blocking wait returns EINTR); restored on exit.
class SignalCounter {
 public:
  SignalCounter() {
    g_signals = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalCounter() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  SignalCounter(const SignalCounter&) = delete;
  SignalCounter& operator=(const SignalCounter&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(), fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Fd open_or_throw(const fs::path& path, int flags) {
  Fd fd(::open(path.c_str(), flags | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw Error(std::string("cannot open: ") + std::strerror(errno), path.string());
  return fd;
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// Environment of a child: ours, with CUDA_VISIBLE_DEVICES replaced when it gets a GPU, and
// with `threads` > 0 an OMP_NUM_THREADS (unless the user set one): N CPU trainers at once,
// each with torch's default of one intra-op thread per core, would oversubscribe the cores.
std::vector<std::string> child_environment(const std::string& gpu, unsigned threads) {
  std::vector<std::string> env;
  bool has_omp = false;
  for (char** e = environ; *e; ++e) {
    if (!gpu.empty() && std::strncmp(*e, "CUDA_VISIBLE_DEVICES=", 21) == 0) continue;
    has_omp = has_omp || std::strncmp(*e, "OMP_NUM_THREADS=", 16) == 0;
    env.emplace_back(*e);
  }
  if (!gpu.empty()) env.push_back("CUDA_VISIBLE_DEVICES=" + gpu);
  if (threads > 0 && !has_omp) env.push_back("OMP_NUM_THREADS=" + std::to_string(threads));
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// fork + exec with stdin from /dev/null and stdout/stderr to `log_fd`. Everything is prepared
// before fork: between fork and exec the child only makes async-signal-safe calls.
pid_t spawn(std::vector<std::string> argv, std::vector<std::string> env, int log_fd, int null_fd) {
  const auto args = c_strings(argv);
  const auto envp = c_strings(env);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(std::string("fork failed: ") + std::strerror(errno), "rsclip sweep");
  if (pid == 0) {
    ::setpgid(0, 0);                                     // Ctrl-C on a terminal reaches the sweep only
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);                  // a killed sweep stops its trainers (they checkpoint)
    if (::getppid() != parent) ::_exit(kExitPreempted);  // the sweep died before prctl
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(args[0], args.data(), envp.data());
    static const char msg[] = "error: rsclip sweep: cannot execute the rsclip binary\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so that it holds before the parent signals the group
  return pid;
}

struct Running {
  pid_t pid = -1;
  std::size_t variant = 0;
  std::string gpu;
  Clock::time_point start;
};

}  // namespace

std::vector<std::string> sweep_extra_overrides(const SweepRunOptions& o) {
  if (o.gpus.empty()) return {};
  return {"model.device=cuda"};
}

bool run_finished(const fs::path& run_dir) {
  const fs::path file = run_dir / "summary.json";
  if (!fs::exists(file)) return false;
  try {
    const auto j = nlohmann::json::parse(read_file(file));
    return j.is_object() && j.value("status", std::string()) == "finished";
  } catch (const nlohmann::json::exception&) {
    return false;  // torn or foreign: run it again (the trainer rewrites it when it finishes)
  }
}

namespace {

// One `rsclip sweep` invocation: settings fixed at start, then a loop that keeps up to `jobs`
// trainers running, records each outcome and forwards signals.
class SweepRun {
 public:
  SweepRun(const SweepConfig& c, const std::vector<SweepVariant>& variants, const SweepRunOptions& o)
      : c_(c), variants_(variants), gpus_(o.gpus), logs_(c.dir() / "logs"), status_(c.dir() / "status.json") {
    std::error_code ec;
    for (const auto& d : {logs_, c.runs_dir()}) {
      fs::create_directories(d, ec);
      if (ec) throw Error("cannot create directory: " + ec.message(), d.string());
    }
    // One sweep per directory at a time (the lock dies with the process, also on SIGKILL).
    sweep_lock_ = open_or_throw(c.dir() / ".lock", O_RDWR | O_CREAT);
    if (::flock(sweep_lock_.get(), LOCK_EX | LOCK_NB) != 0) {
      throw Error("another `rsclip sweep` is running in this directory", c.dir().string(),
                  "wait for it to end, or stop it (Ctrl-C / SIGTERM) first");
    }
    exe_ = o.exe.empty() ? fs::read_symlink("/proc/self/exe") : o.exe;
    extra_ = sweep_extra_overrides(o);
    jobs_ = static_cast<std::size_t>(o.jobs > 0        ? o.jobs
                                     : !o.gpus.empty() ? static_cast<int64_t>(o.gpus.size())
                                                       : c.jobs);
    if (!o.gpus.empty() && jobs_ > o.gpus.size()) {
      throw Error(fmt::format("{} jobs but {} GPUs", jobs_, o.gpus.size()), "--jobs", "each job gets a GPU of its own");
    }
    // CPU jobs share the cores (GPU jobs keep torch's default for their host-side work).
    cpu_threads_ = o.gpus.empty() && jobs_ > 1
                       ? std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(jobs_))
                       : 0;
    write_file_atomic(c.dir() / "sweep.yaml", read_file(c.file));  // what produced this directory
    null_fd_ = open_or_throw("/dev/null", O_RDONLY);
  }

  int run() {
    plan();
    SignalCounter signals;
    while (true) {
      if (g_signals > handled_signals_) forward_signal();
      while (!stopping_ && running_.size() < jobs_ && next_ < todo_.size()) {
        ++next_;
        if (!launch(todo_[next_ - 1])) {
          --next_;
          break;
        }
      }
      if (running_.empty() && (stopping_ || next_ >= todo_.size())) break;
      if (!reap()) {
        const timespec pause{0, 100'000'000};
        ::nanosleep(&pause, nullptr);  // a signal cuts it short
      }
    }
    const std::size_t not_started = todo_.size() - finished_ - failed_ - interrupted_;
    log::info("sweep {}: {} finished now, {} earlier, {} failed, {} interrupted, {} not started", c_.name, finished_,
              variants_.size() - todo_.size(), failed_, interrupted_, not_started);
    if (stopping_ || interrupted_ > 0) return kExitPreempted;
    return failed_ > 0 ? 1 : 0;
  }

 private:
  // The variants still to run; a finished one is skipped, with a warning where the sweep file
  // now gives it other settings (the table would mix them up).
  void plan() {
    for (std::size_t i = 0; i < variants_.size(); ++i) {
      const fs::path run = c_.runs_dir() / variants_[i].name;
      if (!run_finished(run)) {
        todo_.push_back(i);
        continue;
      }
      log::info("{}: finished earlier, skipped", variants_[i].name);
      const auto now =
          dump_train_config(load_train_config(c_.base.string(), train_overrides(c_, variants_[i], extra_)));
      if (fs::exists(run / "config.yaml") && read_file(run / "config.yaml") != now) {
        log::warn("{}: its config.yaml differs from what the sweep file gives now; delete {} to run it again",
                  variants_[i].name, run.string());
      }
    }
    log::info("sweep {}: {} variants, {} finished earlier, {} to run, {} at a time{}; logs in {}", c_.name,
              variants_.size(), variants_.size() - todo_.size(), todo_.size(), jobs_,
              gpus_.empty() ? "" : " (one GPU each)", logs_.string());
    free_gpus_.assign(gpus_.begin(), gpus_.end());
  }

  // First signal: SIGTERM to the trainers (they checkpoint and exit); again: SIGKILL.
  void forward_signal() {
    handled_signals_ = g_signals;
    const bool first = !stopping_;
    stopping_ = true;
    log::warn("{}: {} {} running trainer(s){}", first ? "stopping" : "signal again",
              first ? "SIGTERM to" : "SIGKILL to", running_.size(),
              first ? " (they checkpoint and exit; signal again to kill them)" : "");
    for (const auto& r : running_) ::kill(r.pid, first ? SIGTERM : SIGKILL);
  }

  // Opens and locks the variant's log (waiting for an orphaned trainer of a killed sweep to
  // exit), then starts its trainer. false: a signal arrived while waiting.
  bool launch(std::size_t index) {
    const SweepVariant& v = variants_[index];
    const fs::path log = logs_ / (v.name + ".log");
    Fd fd = open_or_throw(log, O_WRONLY | O_CREAT | O_APPEND);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      log::warn("{}: its trainer from an earlier sweep is still running (it was told to stop); waiting for it", v.name);
      while (::flock(fd.get(), LOCK_EX) != 0) {
        if (errno != EINTR) throw Error(std::string("cannot lock: ") + std::strerror(errno), log.string());
        if (g_signals > handled_signals_) return false;
      }
      if (run_finished(c_.runs_dir() / v.name)) {  // it got to the end before it heard
        status_.set(v.name, {"finished", 0, "", "logs/" + v.name + ".log", 0.0});
        ++finished_;
        log::info("{}: finished by that trainer", v.name);
        return true;
      }
    }
    Running r{-1, index, {}, Clock::now()};
    if (!free_gpus_.empty()) r.gpu = free_gpus_.front(), free_gpus_.pop_front();
    auto argv = train_argv(c_, v, extra_, exe_.string());
    const std::string header = fmt::format("===== {} rsclip sweep {}:{} {}\n", timestamp(), c_.name,
                                           r.gpu.empty() ? "" : " CUDA_VISIBLE_DEVICES=" + r.gpu, shell_join(argv));
    [[maybe_unused]] auto n = ::write(fd.get(), header.data(), header.size());
    r.pid = spawn(std::move(argv), child_environment(r.gpu, cpu_threads_), fd.get(), null_fd_.get());
    log::info("[{}/{}] {}: started (pid {}{})", next_, todo_.size(), v.name, r.pid,
              r.gpu.empty() ? "" : ", GPU " + r.gpu);
    running_.push_back(r);
    return true;  // our copy of the log fd closes here; the child's keeps the lock
  }

  // Records every trainer that has exited; false when none had.
  bool reap() {
    bool reaped = false;
    for (auto it = running_.begin(); it != running_.end();) {
      int wstatus = 0;
      if (::waitpid(it->pid, &wstatus, WNOHANG) == it->pid) {
        record(*it, wstatus);
        it = running_.erase(it);
        reaped = true;
      } else {
        ++it;
      }
    }
    return reaped;
  }

  VariantStatus outcome(const Running& r, int wstatus) const {
    const SweepVariant& v = variants_[r.variant];
    VariantStatus s;
    s.log = "logs/" + v.name + ".log";
    s.attempt_seconds = std::chrono::duration<double>(Clock::now() - r.start).count();
    if (!WIFEXITED(wstatus)) {
      const int sig = WTERMSIG(wstatus);
      s.exit_code = 128 + sig;
      s.status = stopping_ ? "interrupted" : "failed";
      s.error = fmt::format("killed by signal {} ({})", sig, strsignal(sig));
      return s;
    }
    s.exit_code = WEXITSTATUS(wstatus);
    if (s.exit_code == 0 && run_finished(c_.runs_dir() / v.name)) {
      s.status = "finished";
    } else if (s.exit_code == kExitPreempted) {
      s.status = "interrupted";
    } else {
      s.status = "failed";
      s.error = s.exit_code == 0 ? "exited 0 without writing summary.json" : last_error_line(c_.dir() / s.log);
      if (s.error.empty()) s.error = fmt::format("exit status {}", s.exit_code);
    }
    return s;
  }

  void record(const Running& r, int wstatus) {
    const std::string& name = variants_[r.variant].name;
    const VariantStatus s = outcome(r, wstatus);
    status_.set(name, s);
    if (s.status == "finished") {
      ++finished_;
      log::info("{}: finished ({:.1f} s)", name, s.attempt_seconds);
    } else if (s.status == "interrupted") {
      ++interrupted_;
      log::warn("{}: interrupted; the next `rsclip sweep` resumes it", name);
    } else {
      ++failed_;
      log::error("{}: FAILED ({}): {} (log: {})", name, s.exit_code, s.error, (c_.dir() / s.log).string());
    }
    if (!r.gpu.empty()) free_gpus_.push_back(r.gpu);
  }

  const SweepConfig& c_;
  const std::vector<SweepVariant>& variants_;
  const std::vector<std::string> gpus_;
  const fs::path logs_;
  SweepStatusFile status_;
  Fd sweep_lock_, null_fd_;
  fs::path exe_;
  std::vector<std::string> extra_;
  std::size_t jobs_ = 1;
  unsigned cpu_threads_ = 0;
  std::vector<std::size_t> todo_;  // indices into variants_
  std::deque<std::string> free_gpus_;
  std::vector<Running> running_;
  std::size_t next_ = 0, finished_ = 0, failed_ = 0, interrupted_ = 0;
  int handled_signals_ = 0;
  bool stopping_ = false;
};

}  // namespace

int run_sweep(const SweepConfig& c, const std::vector<SweepVariant>& variants, const SweepRunOptions& o) {
  return SweepRun(c, variants, o).run();
}

std::vector<std::string> train_argv(const SweepConfig& c, const SweepVariant& v, const std::vector<std::string>& extra,
                                    const std::string& exe) {
  std::vector<std::string> argv = {exe, "train", "--config", c.base.string()};
  for (const auto& o : train_overrides(c, v, extra)) {
    argv.push_back("--set");
    argv.push_back(o);
  }
  argv.push_back("--resume");
  argv.push_back("auto");
  return argv;
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !a.empty() && a.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_-.,/=:+@%") == std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char ch : a) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    out += '\'';
  }
  return out;
}

}  // namespace rsclip::train
