// Durable file replacement: a reader sees the old content or the new, never half a file, and
// after a crash the file holds one of them too.
#pragma once

#include <string>

#include "fw/common/status.h"

namespace muzzle {

// Writes `content` to `dir`/`name`: temp file, fsync, rename over the old one, fsync the folder
// (so the rename itself survives a power cut). Errors name the file and errno.
Status writeFileAtomically(const std::string& dir, const std::string& name, const std::string& content);

// Reads a whole file. NotFound when it does not exist.
Result<std::string> readWholeFile(const std::string& path);

}  // namespace muzzle
