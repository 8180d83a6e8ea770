#!/usr/bin/env bash
# Build fixture: Muzzle configures and builds with CMake's default generator (Unix Makefiles),
# not only with Ninja. Ninja creates the folder of every output it is about to write; make does
# not, so code generation into a folder nobody created (protoc's output folder for the gRPC
# services) fails only there. Builds only the generated protobuf/gRPC code and the library made
# from it, to stay short: unoptimized and without debug info (what is checked is that the
# generated files appear where the build expects them, not the code made of them); ccache, when
# installed, makes reruns cheap.
#
# Usage: default_generator.sh SOURCE_DIR WORK_DIR [CXX_COMPILER]
set -euo pipefail

source_dir="$1"
work_dir="$2"
compiler="${3:-}"

rm -rf "$work_dir"
args=(-S "$source_dir" -B "$work_dir" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Debug
      -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DCMAKE_C_FLAGS_DEBUG=-O0)
[[ -n "$compiler" ]] && args+=(-DCMAKE_CXX_COMPILER="$compiler")
if command -v ccache >/dev/null; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake "${args[@]}" >"$work_dir.configure.log" 2>&1 || {
  cat "$work_dir.configure.log"
  echo "default_generator: configuring $source_dir with Unix Makefiles failed (log above)" >&2
  exit 1
}
# muzzle_proto (proto/), muzzle_mgmt_messages and muzzle_mgmt_proto (mgmt/: the gRPC services).
if ! cmake --build "$work_dir" --target muzzle_mgmt_proto -j 2; then
  echo "default_generator: building the generated protobuf/gRPC code with Unix Makefiles failed" \
       "(see above); Ninja builds may hide it" >&2
  exit 1
fi
rm -rf "$work_dir" "$work_dir.configure.log"
echo "default_generator: Unix Makefiles configure and build the generated code"
