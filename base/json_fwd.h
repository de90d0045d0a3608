// The JSON value type by name only, for headers that pass it around (see base/json.h).
// Including nlohmann's full header costs every translation unit about a second; this one costs
// nothing.
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace zsfs {

// Objects keep their members in the order they were added (and read), so the documents scripts
// parse keep their field order.
using Json = nlohmann::ordered_json;

}  // namespace zsfs
