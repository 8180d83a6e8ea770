#!/usr/bin/env bash
# Build fixture: Muzzle configures and builds with CMake's default generator (Unix Makefiles),
# not only with Ninja. Ninja creates the folder of every output it is about to write; make does
# not, so code generation into a folder nobody created (protoc's output folder for the gRPC
# services) fails only there. Builds only the generated protobuf/gRPC files (target
# muzzle_mgmt_generated: protoc and its gRPC plugin, nothing compiled), to stay short: compiling
# them cost CI ~2.5 minutes of CPU.
#
# Usage: default_generator.sh SOURCE_DIR WORK_DIR [CXX_COMPILER]
set -euo pipefail

source_dir="$1"
work_dir="$2"
compiler="${3:-}"

rm -rf "$work_dir"
args=(-S "$source_dir" -B "$work_dir" -G "Unix Makefiles")
[[ -n "$compiler" ]] && args+=(-DCMAKE_CXX_COMPILER="$compiler")
cmake "${args[@]}" >"$work_dir.configure.log" 2>&1 || {
  cat "$work_dir.configure.log"
  echo "default_generator: configuring $source_dir with Unix Makefiles failed (log above)" >&2
  exit 1
}
# The messages and the gRPC services of mgmt/ (protoc writes into mgmt/proto/).
if ! cmake --build "$work_dir" --target muzzle_mgmt_generated -j 2; then
  echo "default_generator: generating the protobuf/gRPC code with Unix Makefiles failed" \
       "(see above); Ninja builds may hide it" >&2
  exit 1
fi
# make does not check that a rule wrote what it promised: look.
for f in management.pb.cc management.grpc.pb.cc mud.grpc.pb.h learn.grpc.pb.cc web.pb.h; do
  [[ -s "$work_dir/mgmt/proto/muzzle/v1/$f" ]] || {
    echo "default_generator: make ran, but $work_dir/mgmt/proto/muzzle/v1/$f is missing or empty" >&2
    exit 1
  }
done
rm -rf "$work_dir" "$work_dir.configure.log"
echo "default_generator: Unix Makefiles configure and generate the protobuf/gRPC code"
