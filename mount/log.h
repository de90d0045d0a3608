// mount/'s side of base/log.h: messages as strings, and the switch to syslog once the daemon has
// left its terminal, which takes libfuse's own messages along.
#pragma once

#include <string_view>

namespace zsfs::mount {

// From now on, messages (zsfs's and libfuse's) also go to syslog (daemon facility).
void log_to_syslog_from_now();

// "zsfs: error: message" on stderr (and syslog once switched). Never throws.
void log_error(std::string_view message) noexcept;
void log_warning(std::string_view message) noexcept;

}  // namespace zsfs::mount
