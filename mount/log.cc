#include "mount/log.h"

#include <syslog.h>

#include <cstdarg>

#include "base/log.h"
#include "mount/fuse_api.h"

namespace zsfs::mount {
namespace {

// libfuse's messages, once stderr is /dev/null. fuse_log_level values are syslog priorities.
void fuse_log_to_syslog(enum fuse_log_level level, const char* format, va_list args) {
  vsyslog(static_cast<int>(level), format, args);
}

}  // namespace

void log_to_syslog_from_now() {
  openlog("zsfs", LOG_PID, LOG_DAEMON);
  log_to_syslog(true);
  fuse_set_log_func(fuse_log_to_syslog);
}

void log_error(std::string_view message) noexcept {
  log(LogLevel::kError, "%.*s", static_cast<int>(message.size()), message.data());
}

void log_warning(std::string_view message) noexcept {
  log(LogLevel::kWarning, "%.*s", static_cast<int>(message.size()), message.data());
}

}  // namespace zsfs::mount
