// Durable whole-file replacement: write a temp file, fsync it, rename it over the target, fsync
// the directory. A crash at any point leaves either the old file or the new one, never a torn
// one. Used for every piece of state Muzzle keeps on disk.
#pragma once

#include <string>

#include "fw/common/status.h"

namespace muzzle {

// Replaces `dir`/`name` with `content`. Errors name the path and the system error.
Status writeFileAtomically(const std::string& dir, const std::string& name,
                           const std::string& content, int mode = 0640);

// Reads a whole file. A missing file is an error whose message starts with the path.
Result<std::string> readFile(const std::string& path);

}  // namespace muzzle
