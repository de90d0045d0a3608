// Faults (see faults.h).
#include "disk/faults.h"

#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace zsfs::disk::faults {
namespace {

constexpr std::string_view kPoints[] = {
    "image.create",  "image.write",   "image.fsync_ahead", "image.fsync",  "image.rename",
    "image.dirsync", "image.created", "image.metadata",    "image.blocks", "image.written",
    "image.synced",  "image.renamed", "image.done",        "image.read",   "backing.write",
    "backing.read",  "backing.punch",
};

struct Errname {
  std::string_view name;
  int error;
};
constexpr Errname kErrnos[] = {{"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT},
                               {"EROFS", EROFS},   {"EFBIG", EFBIG},   {"EINTR", EINTR},
                               {"ENOMEM", ENOMEM}, {"EACCES", EACCES}};

enum class Kind { kFail, kShort, kStop };

struct Rule {
  std::string point;
  Kind kind;
  int error = 0;
  uint64_t nth = 0;  // 0: every time
  std::atomic<uint64_t> visits{0};
};

using Plan = std::vector<std::unique_ptr<Rule>>;

// The plan in force. Plans are kept (in all_plans) until the process ends: a thread may still be
// reading the old one when a test installs the next.
std::atomic<const Plan*> g_plan{nullptr};

std::vector<std::unique_ptr<Plan>>& all_plans() {
  static std::vector<std::unique_ptr<Plan>> plans;
  return plans;
}
std::mutex g_plans_mu;

bool known_point(std::string_view point) {
  for (std::string_view p : kPoints) {
    if (p == point) return true;
  }
  return false;
}

}  // namespace

Problem set_plan(std::string_view plan) {
  auto rules = std::make_unique<Plan>();
  size_t begin = 0;
  while (begin < plan.size()) {
    const size_t comma = std::min(plan.find(',', begin), plan.size());
    const std::string_view item = plan.substr(begin, comma - begin);
    begin = comma + 1;
    const size_t eq = item.find('=');
    auto bad = [&](const std::string& why) {
      return problem(EINVAL, "fault plan item '" + std::string(item) + "': " + why);
    };
    if (eq == std::string_view::npos) return bad("expected POINT=ACTION[@N]");
    auto rule = std::make_unique<Rule>();
    rule->point = item.substr(0, eq);
    if (!known_point(rule->point)) return bad("unknown point '" + rule->point + "'");
    std::string_view action = item.substr(eq + 1);
    if (const size_t at_sign = action.find('@'); at_sign != std::string_view::npos) {
      const std::string_view n = action.substr(at_sign + 1);
      uint64_t value = 0;
      for (char c : n) {
        if (c < '0' || c > '9' || value > UINT32_MAX) return bad("@N needs a number from 1");
        value = value * 10 + static_cast<uint64_t>(c - '0');
      }
      if (n.empty() || value == 0) return bad("@N needs a number from 1");
      rule->nth = value;
      action = action.substr(0, at_sign);
    }
    if (action == "short") {
      rule->kind = Kind::kShort;
    } else if (action == "stop") {
      rule->kind = Kind::kStop;
    } else {
      rule->kind = Kind::kFail;
      for (const Errname& e : kErrnos) {
        if (e.name == action) rule->error = e.error;
      }
      if (rule->error == 0) {
        return bad("unknown action '" + std::string(action) +
                   "'; expected short, stop or EIO, ENOSPC, EDQUOT, EROFS, EFBIG, EINTR, ENOMEM, "
                   "EACCES");
      }
    }
    rules->push_back(std::move(rule));
  }
  std::lock_guard lock(g_plans_mu);
  const Plan* installed = rules->empty() ? nullptr : rules.get();
  all_plans().push_back(std::move(rules));
  g_plan.store(installed, std::memory_order_release);
  return {};
}

Fault at(std::string_view point) {
  const Plan* plan = g_plan.load(std::memory_order_acquire);
  if (plan == nullptr) return {};
  for (const auto& rule : *plan) {
    if (rule->point != point) continue;
    const uint64_t visit = rule->visits.fetch_add(1, std::memory_order_relaxed) + 1;
    if (rule->nth != 0 && visit != rule->nth) continue;
    switch (rule->kind) {
      case Kind::kStop:
        raise(SIGSTOP);
        continue;
      case Kind::kShort:
        return Fault{Action::kShort, 0};
      case Kind::kFail:
        return Fault{Action::kFail, rule->error};
    }
  }
  return {};
}

}  // namespace zsfs::disk::faults
