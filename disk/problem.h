// Problem: how a file operation of the disk layer failed, for a person and for a program.
//
// The errno says what kind of failure it was (ENOSPC, EIO, EINVAL for a file that is not what it
// should be, ...), so that callers can choose an exit status or a reply; the message is a whole
// sentence naming the file and where in it things went wrong ("/var/lib/z.img: corrupt: frame 17
// of the blocks section, at byte 73400320, fails its checksum"), so that callers can pass it on
// as it is. An empty Problem (error 0) means success: `if (Problem p = f()) report(p);`.
#pragma once

#include <cstring>
#include <string>
#include <utility>

namespace zsfs::disk {

struct [[nodiscard]] Problem {
  int error = 0;  // a positive errno, or 0 for success
  std::string message;

  explicit operator bool() const { return error != 0; }
};

// A failure with its sentence.
inline Problem problem(int error, std::string message) {
  return Problem{error, std::move(message)};
}

// "<what>: <strerror(error)>", the usual form for a failed system call.
inline Problem system_problem(int error, const std::string& what) {
  return Problem{error, what + ": " + std::strerror(error)};
}

}  // namespace zsfs::disk
