// Why: see stop_signals.hpp.
#include "ovlmount/core/stop_signals.hpp"

namespace ovlmount {
namespace {

constexpr int handled[4] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

volatile std::sig_atomic_t stop_signal = 0;

void record(int signal_number) { stop_signal = signal_number; }

}  // namespace

StopSignals::StopSignals() {
  stop_signal = 0;
  struct sigaction note {};
  note.sa_handler = record;
  sigemptyset(&note.sa_mask);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  for (int i = 0; i < 4; ++i) {
    ::sigaction(handled[i], nullptr, &previous_[i]);
    const bool ignored = handled[i] == SIGPIPE || previous_[i].sa_handler == SIG_IGN;
    ::sigaction(handled[i], ignored ? &ignore : &note, nullptr);
  }
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 4; ++i) ::sigaction(handled[i], &previous_[i], nullptr);
}

int StopSignals::caught() { return stop_signal; }

void StopSignals::note(int signal_number) { stop_signal = signal_number; }

const volatile std::sig_atomic_t* StopSignals::flag() { return &stop_signal; }

}  // namespace ovlmount
