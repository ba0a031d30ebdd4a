#include "data/shards/shard_input.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/base/error.h"
#include "data/shards/shard_spec.h"

extern char** environ;

namespace rsclip::data {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Starts `/bin/sh -c command` with its stdout on a pipe; returns {read fd, pid}.
std::pair<int, pid_t> spawn_reader(const std::string& command, const std::string& url) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error("cannot create a pipe: " + errno_text(), shard_label(url));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The command must die of SIGPIPE when we stop reading early, even if this process
  // ignores SIGPIPE; and no signal blocked here should stay blocked there.
  sigset_t defaults, none;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  // Its own process group, so that stopping it early reaches every process of a pipeline
  // (`curl ... | zcat`), not just the shell.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw Error(std::string("cannot start the shard command: ") + std::strerror(rc), shard_label(url));
  }
  return {fds[0], pid};
}

}  // namespace

ShardInput::ShardInput(int fd, pid_t child, std::string label) : fd_(fd), child_(child), label_(std::move(label)) {
  struct stat st {};
  if (child_ < 0 && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
    regular_ = true;
    size_ = st.st_size;
    pos_ = ::lseek(fd_, 0, SEEK_CUR);
    if (pos_ < 0) pos_ = 0;
  }
}

std::unique_ptr<ShardInput> ShardInput::open(const std::string& url) {
  if (url.starts_with("pipe:")) {
    auto [fd, pid] = spawn_reader(url.substr(5), url);
    return std::unique_ptr<ShardInput>(new ShardInput(fd, pid, url));
  }
  if (url.starts_with("http://") || url.starts_with("https://")) {
    auto [fd, pid] =
        spawn_reader("curl --connect-timeout 30 --retry 30 --retry-delay 2 -f -s -L " + shell_quote(url), url);
    return std::unique_ptr<ShardInput>(new ShardInput(fd, pid, url));
  }
  if (url.find("://") != std::string::npos)
    throw Error("unsupported shard URL scheme", shard_label(url),
                "stream it through a command, e.g. pipe:aws s3 cp s3://bucket/shard.tar -");
  const std::string path = url.starts_with("file:") ? url.substr(5) : url;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error("cannot open shard: " + errno_text(), shard_label(url), "check that the file exists and is readable");
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error("shard is a directory", shard_label(url), "give the .tar files, e.g. DIR/*.tar");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ShardInput>(new ShardInput(fd, -1, url));
}

std::unique_ptr<ShardInput> ShardInput::from_fd(int fd, std::string label) {
  return std::unique_ptr<ShardInput>(new ShardInput(fd, -1, std::move(label)));
}

ShardInput::~ShardInput() { finish(); }

std::size_t ShardInput::read(void* buf, std::size_t n) {
  if (fd_ < 0 || at_end_) return 0;
  while (true) {
    const ssize_t got = ::read(fd_, buf, n);
    if (got > 0) {
      pos_ += got;
      bytes_read_ += static_cast<std::uint64_t>(got);
      return static_cast<std::size_t>(got);
    }
    if (got == 0) {
      at_end_ = true;
      return 0;
    }
    if (errno != EINTR) throw Error("read error: " + errno_text(), shard_label(label_));
  }
}

std::int64_t ShardInput::skip(std::int64_t n) {
  if (!regular_ || fd_ < 0 || n <= 0) return 0;
  const std::int64_t step = std::min(n, size_ - pos_);
  if (step <= 0) return 0;
  if (::lseek(fd_, step, SEEK_CUR) < 0) return 0;
  pos_ += step;
  return step;
}

std::string ShardInput::finish() {
  const bool early = !at_end_;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (child_ < 0) return {};
  const pid_t pid = child_;
  child_ = -1;
  if (early) ::kill(-pid, SIGTERM);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return "could not be waited for: " + errno_text();
  }
  if (early) return {};
  if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 141)) return {};
  if (WIFEXITED(status)) return "the command exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) return {};
  return "the command was killed by signal " + std::to_string(WTERMSIG(status));
}

}  // namespace rsclip::data
