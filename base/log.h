// Logging for the few events that deserve a line: corrupt data, failed checks, daemon life cycle.
//
// Lines go to standard error, and also to syslog once the daemon has detached from its terminal
// (mount/ calls log_to_syslog(true) after daemonizing). printf-style, one line per call.
#pragma once

#include <syslog.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace zsfs {

enum class LogLevel { kError = LOG_ERR, kWarning = LOG_WARNING, kInfo = LOG_INFO };

inline std::atomic<bool>& log_syslog_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

inline void log_to_syslog(bool on) {
  log_syslog_flag().store(on, std::memory_order_relaxed);
}

[[gnu::format(printf, 2, 3)]] inline void log(LogLevel level, const char* format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  const char* prefix = level == LogLevel::kError     ? "error"
                       : level == LogLevel::kWarning ? "warning"
                                                     : "info";
  std::fprintf(stderr, "zsfs: %s: %s\n", prefix, line);
  if (log_syslog_flag().load(std::memory_order_relaxed)) {
    syslog(static_cast<int>(level), "%s", line);
  }
}

}  // namespace zsfs
