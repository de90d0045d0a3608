// JSON for the statistics and reports that scripts parse: nlohmann-json (Debian's
// nlohmann-json3-dev, header-only), with zsfs's one way of writing text.
//
// Values are built as plain data (`Json{{"pages_held", n}, ...}`) and keep their members in the
// order added (base/json_fwd.h). Unsigned and signed integers are held as 64-bit integers, never
// as doubles, so counters keep every bit. Non-finite doubles are written as null.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/json_fwd.h"

namespace zsfs {

// Compact text (no spaces). A string that is not valid UTF-8 (a file name is bytes, not text)
// has each bad byte replaced by U+FFFD instead of failing the whole document.
inline std::string to_json_text(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace zsfs
