# CMake toolchain for Muzzle on arm64 (Raspberry Pi 4/5 class), cross-built on an amd64 Debian 12
# machine with Debian's multiarch packages (image/cross/setup-arm64.sh installs them):
#
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=image/cross/aarch64-linux-gnu.cmake
#
# Compilers and libraries are arm64 (crossbuild-essential-arm64, the -dev:arm64 packages in
# /usr/lib/aarch64-linux-gnu); the programs the build runs are the build machine's own: protoc and
# grpc_cpp_plugin (amd64) generate the same code for any target. The unit tests run under
# qemu-aarch64 user emulation (CMAKE_CROSSCOMPILING_EMULATOR: ctest puts it in front of them).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# libyaml-cpp-dev cannot sit beside its amd64 self (Multi-Arch: no: its changelog is per
# architecture), so setup-arm64.sh unpacks the arm64 one here; everything else is found where
# multiarch puts it. Searched first (BOTH: the prefix re-rooted here, then the machine's own
# prefixes, whose lib/aarch64-linux-gnu the library architecture above selects).
set(MUZZLE_CROSS_EXTRA /opt/muzzle-cross/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${MUZZLE_CROSS_EXTRA})
# Programs (protoc, grpc_cpp_plugin, python3) from the build machine, never from a root path.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config sees the arm64 .pc files only: the amd64 ones name the same libraries in
# /usr/lib/x86_64-linux-gnu, which the cross linker would reject (or worse, half-accept).
if(NOT PKG_CONFIG_EXECUTABLE)
  find_program(PKG_CONFIG_EXECUTABLE NAMES aarch64-linux-gnu-pkg-config pkg-config)
endif()
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

find_program(MUZZLE_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(MUZZLE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MUZZLE_QEMU_AARCH64})
endif()
