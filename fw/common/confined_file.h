// Reading files named by input the box does not fully trust, without ever blocking and without
// leaving the folders they are meant to be in.
//
// A policy may name files (address group lists, `dns.doh_list`), and a policy can arrive over
// the management API from any caller allowed to validate one. readConfinedFile resolves such a
// name only inside the folders it is given (the policy's folder, then the shipped policies
// folder), with openat2(2) and RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: the kernel refuses any
// step out of the folder, by "..", by an absolute symbolic link, by a relative one that climbs
// out, or through /proc's magic links. Symbolic links that stay inside are followed. An absolute
// name is accepted only when it lies inside one of the folders, and is then resolved beneath
// that folder in the same way.
//
// Both readers open with O_NONBLOCK | O_NOCTTY and read only regular files: a FIFO, a device
// (/dev/zero), a socket or a folder is refused by what it is, before a byte is read, so none can
// stall or flood the engine thread. The size is checked with fstat before reading (a 2 GB sparse
// file is refused unread) and again while reading (a file that grows is cut off at the limit and
// refused). Errors name the file as the caller wrote it (escaped and shortened, see excerpt.h),
// say what is wrong and what to do, and never quote the file's contents.
//
// Any thread may call these; they keep no state. Where openat2(2) is missing (Linux before 5.6,
// or a seccomp filter answering ENOSYS) readConfinedFile walks the name one component at a time
// instead, following no symbolic link at all: as safe, stricter about links.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"

namespace muzzle {

// The largest file either reader returns: far above a country's address ranges or a big threat
// feed, far below what would strain the box's memory.
inline constexpr size_t kMaxNamedFileBytes = size_t{16} << 20;

// Reads the regular file at `path`, a path the box's administrator chose (the policy file,
// muzzled.yaml). Not confined to a folder. Errors start with the path; a missing file is
// kNotFound, every other refusal kInvalidArgument, an I/O error kUnknown.
Result<std::string> readRegularFile(const std::string& path, size_t max_bytes = kMaxNamedFileBytes);

// Reads the file `name` names inside one of `folders`: a relative name is looked for in each
// folder in turn (the first that has it wins; a refusal in one folder is not retried in the
// next), an absolute name only in the folder it lies in. Empty folder strings are skipped, as
// are folders that do not exist. Errors start with the quoted name; kNotFound when no folder
// has it, kInvalidArgument for every refusal, kUnknown for an I/O error.
Result<std::string> readConfinedFile(const std::vector<std::string>& folders, std::string_view name,
                                     size_t max_bytes = kMaxNamedFileBytes);

// Tests only: resolve every name by the walk, as where openat2(2) is missing.
void setConfinedWalkForTesting(bool on);

}  // namespace muzzle
