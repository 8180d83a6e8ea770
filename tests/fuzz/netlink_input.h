// What the fuzz targets of netlink answers share (conntrack_fuzz, flood_dump_fuzz): each input is
// read as an answer the kernel could send, whole and then cut short (by its last byte), as a read
// that ended early leaves it. Header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace muzzle::fuzz {

// Calls `check` with the input's bytes in a buffer of exactly their size (aligned as a receive
// buffer is: operator new), then with a prefix of them.
template <typename Check>
void checkWholeAndCut(const uint8_t* data, size_t size, Check check) {
  std::vector<char> buf(data, data + size);
  check(buf);
  if (size > 1) {
    const size_t cut = size_t{static_cast<uint8_t>(buf[size - 1])} % size;
    check(std::vector<char>(buf.begin(), buf.begin() + static_cast<long>(cut)));
  }
}

}  // namespace muzzle::fuzz
