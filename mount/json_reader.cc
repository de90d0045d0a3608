#include "mount/json_reader.h"

#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

namespace zsfs::mount {
namespace {

// Thrown by the parser callback to stop at the first violation of zsfs's extra rules.
struct Rejected {
  std::string what;
};

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1,
// column 4: " preamble (the byte offset says where).
std::string reason(const Json::parse_error& e) {
  const std::string what = e.what();
  const size_t colon = what.find(": ");
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

}  // namespace

Expected<Json> parse_json(std::string_view text) {
  // The keys seen so far in each object being read, innermost last.
  std::vector<std::unordered_set<std::string>> keys;
  const Json::parser_callback_t check = [&keys](int depth, Json::parse_event_t event,
                                                Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        // depth counts the containers around this one.
        if (depth >= kJsonMaxDepth) {
          throw Rejected{"nested deeper than " + std::to_string(kJsonMaxDepth) + " levels"};
        }
        if (event == Json::parse_event_t::object_start) keys.emplace_back();
        break;
      case Json::parse_event_t::key:
        if (!keys.back().insert(parsed.get<std::string>()).second) {
          throw Rejected{"duplicate object key " + to_json_text(parsed)};
        }
        break;
      case Json::parse_event_t::object_end:
        keys.pop_back();
        break;
      case Json::parse_event_t::array_end:
      case Json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const Json::parse_error& e) {
    // e.byte counts the bytes read, the offending one included.
    const size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    return Unexpected{"invalid JSON at byte " + std::to_string(offset) + ": " + reason(e)};
  } catch (const Rejected& r) {
    return Unexpected{"invalid JSON: " + r.what};
  }
}

const Json* json_member(const Json& json, std::string_view key) {
  if (!json.is_object()) return nullptr;
  const auto it = json.find(std::string(key));
  return it == json.end() ? nullptr : &*it;
}

std::optional<uint64_t> json_u64(const Json& json, std::string_view key) {
  const Json* value = json_member(json, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_unsigned()) return value->get<uint64_t>();
  if (value->is_number_integer() && value->get<int64_t>() >= 0) {
    return static_cast<uint64_t>(value->get<int64_t>());
  }
  return std::nullopt;
}

std::optional<int64_t> json_i64(const Json& json, std::string_view key) {
  const Json* value = json_member(json, key);
  if (value == nullptr || !value->is_number_integer()) return std::nullopt;
  if (value->is_number_unsigned()) {
    const auto u = value->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  return value->get<int64_t>();
}

std::optional<double> json_number(const Json& json, std::string_view key) {
  const Json* value = json_member(json, key);
  if (value == nullptr || !value->is_number()) return std::nullopt;
  return value->get<double>();
}

std::optional<bool> json_bool(const Json& json, std::string_view key) {
  const Json* value = json_member(json, key);
  if (value == nullptr || !value->is_boolean()) return std::nullopt;
  return value->get<bool>();
}

const std::string* json_string(const Json& json, std::string_view key) {
  const Json* value = json_member(json, key);
  return value != nullptr && value->is_string() ? value->get_ptr<const std::string*>() : nullptr;
}

}  // namespace zsfs::mount
