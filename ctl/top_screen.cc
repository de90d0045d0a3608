#include "ctl/top_screen.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <optional>

#include "ctl/top.h"

namespace zsfs::ctl {
namespace {

using Clock = std::chrono::steady_clock;

// Set by SIGINT, SIGTERM and SIGHUP; the loop ends at its next wake-up.
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) {
  g_stop.store(true);
}

// The terminal in the state top needs, restored by the destructor (and so on every way out).
class TerminalMode {
 public:
  explicit TerminalMode(bool active) : active_(active) {
    if (!active_) return;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      keys_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    std::fputs("\033[?1049h\033[?25l", stdout);  // alternate screen, cursor hidden
  }
  ~TerminalMode() {
    if (!active_) return;
    std::fputs("\033[?25h\033[?1049l", stdout);
    std::fflush(stdout);
    if (keys_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  TerminalMode(const TerminalMode&) = delete;
  TerminalMode& operator=(const TerminalMode&) = delete;

  bool reads_keys() const { return keys_; }

 private:
  bool active_;
  bool keys_ = false;
  termios saved_{};
};

// The terminal's size; zeros when it is not known.
winsize terminal_size() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0) return {};
  return size;
}

std::string clock_text() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  char buf[16] = "";
  if (localtime_r(&now, &local) != nullptr) std::strftime(buf, sizeof buf, "%H:%M:%S", &local);
  return buf;
}

// Waits until deadline, a signal, or (reading keys) q; true when top should end.
bool wait_until(Clock::time_point deadline, bool reads_keys) {
  while (!g_stop.load()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    const int ready =
        poll(reads_keys ? &fd : nullptr, reads_keys ? 1 : 0, static_cast<int>(left.count()));
    if (ready > 0 && (fd.revents & POLLIN) != 0) {
      char key = 0;
      if (read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q')) return true;
    } else if (ready < 0 && errno != EINTR) {
      return false;
    }
  }
  return true;
}

}  // namespace

int run_top(const TopOptions& options, const std::function<mount::Expected<Json>()>& read) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP})
    sigaction(signal_number, &action, nullptr);

  const bool screen = !options.once && isatty(STDOUT_FILENO);
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.interval_seconds));
  std::optional<Json> previous;
  Clock::time_point previous_time;
  std::string failure;
  {
    TerminalMode terminal(screen);
    Clock::time_point next = Clock::now();
    for (bool first = true; !g_stop.load(); first = false) {
      const Clock::time_point now = Clock::now();
      mount::Expected<Json> current = read();
      if (!current.ok()) {
        failure = current.message();
        break;
      }
      // --once: the first reading only sets the baseline of the rates.
      if (!(options.once && first)) {
        TopFrame frame;
        frame.mount_point = options.mount_point;
        frame.previous = previous ? &*previous : nullptr;
        frame.current = &*current;
        frame.elapsed_seconds = std::chrono::duration<double>(now - previous_time).count();
        frame.interval_seconds = options.interval_seconds;
        const std::string clock = clock_text();
        frame.clock = clock;
        const winsize size = screen ? terminal_size() : winsize{};
        frame.max_lines = size.ws_row;
        frame.max_columns = size.ws_col;
        std::string text = render_top(frame);
        if (screen) {
          // A line feed after the last line would scroll a full screen by one, title first.
          if (!text.empty() && text.back() == '\n') text.pop_back();
          std::fputs("\033[H\033[2J", stdout);
        } else if (!options.once && previous) {
          std::fputc('\n', stdout);
        }
        std::fputs(text.c_str(), stdout);
        if (std::fflush(stdout) != 0) break;  // the reader went away
        if (options.once) break;
      }
      previous = std::move(current).value();
      previous_time = now;
      next += interval;
      if (wait_until(next, terminal.reads_keys())) break;
    }
  }
  if (!failure.empty()) {
    std::fprintf(stderr, "zsfsctl: %s\n", failure.c_str());
    return 2;
  }
  return 0;
}

}  // namespace zsfs::ctl
