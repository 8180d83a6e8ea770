// Durable whole-file replacement: write a temp file, fsync it, rename it over the target, fsync
// the directory. A crash at any point leaves either the old file or the new one, never a torn
// one. Used for every piece of state Muzzle keeps on disk; it is read back with readRegularFile
// (confined_file.h): regular files only, bounded, never blocking.
#pragma once

#include <string>

#include "fw/common/status.h"

namespace muzzle {

// Replaces `dir`/`name` with `content`. Errors name the path and the system error; on failure
// the temp file is removed (a full disk keeps no half-written leftovers) and the old file stays.
Status writeFileAtomically(const std::string& dir, const std::string& name,
                           const std::string& content, int mode = 0640);

// Keeps a damaged file for inspection: renames `path` to `path.damaged-<UTC time>` (with -2, -3,
// ... when that exists) and makes the rename durable. Never deletes anything. Returns the new
// path; fails (naming both paths) when the folder cannot be written, leaving the file in place.
Result<std::string> setAsideDamaged(const std::string& path);

}  // namespace muzzle
