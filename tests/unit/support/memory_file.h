// A FILE* whose contents a test can read back: where the EventLog under test writes.
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <string>

namespace muzzle::testing {

class MemoryFile {
 public:
  MemoryFile() : file_(open_memstream(&buf_, &len_)) {}
  ~MemoryFile() {
    fclose(file_);
    free(buf_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Open for the MemoryFile's lifetime; the caller must not close it.
  FILE* get() { return file_; }
  // Everything written so far (flushes first).
  std::string text() {
    fflush(file_);
    return std::string(buf_, len_);
  }

 private:
  char* buf_ = nullptr;
  size_t len_ = 0;
  FILE* file_;
};

}  // namespace muzzle::testing
