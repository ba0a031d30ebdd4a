#include "core/base/stop_signal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

namespace rsclip::stop {
namespace {

std::atomic<int> g_signal{0};
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGUSR1};
struct sigaction g_previous[3];

extern "C" void on_signal(int sig) {
  int expected = 0;
  if (g_signal.compare_exchange_strong(expected, sig)) return;
  // A second signal: leave now (async-signal-safe calls only).
  static const char msg[] = "rsclip: second signal, exiting at once (the last checkpoint stays; rerun to resume)\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(kExitResumable);
}

}  // namespace

SignalScope::SignalScope() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // blocking reads resume; waits poll the flag
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &g_previous[i]);
}

SignalScope::~SignalScope() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &g_previous[i], nullptr);
}

int requested() { return g_signal.load(std::memory_order_relaxed); }

StopRequested::StopRequested(int signal)
    : std::runtime_error(std::string("stopped by signal ") + std::to_string(signal) + " (" + ::strsignal(signal) + ")"),
      signal_(signal) {}

void throw_if_requested() {
  if (const int sig = requested()) throw StopRequested(sig);
}

}  // namespace rsclip::stop
