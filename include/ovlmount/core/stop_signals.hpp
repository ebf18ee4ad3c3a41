// Why: export and files stream whole trees; Ctrl-C, a kill or a reader that went away must
// stop them cleanly (the private mount and scratch dir removed, a half-written file deleted)
// instead of ending the process where it stands.
#pragma once

#include <csignal>

namespace ovlmount {

// While one lives, SIGINT, SIGTERM and SIGHUP only record which of them came (unless they
// were ignored, as a background job's SIGINT is), and SIGPIPE is ignored, so a closed pipe is
// a failed write; the old dispositions come back when it goes away. One at a time.
class StopSignals {
 public:
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals();

  // The signal that asked to stop (SIGPIPE when note() said so); 0 while none did.
  static int caught();

  // Records `signal_number` as if it had been caught (a write failing with EPIPE).
  static void note(int signal_number);

  // What caught() reads, for code that polls it without knowing this class.
  static const volatile std::sig_atomic_t* flag();

 private:
  struct sigaction previous_[4] = {};
};

}  // namespace ovlmount
