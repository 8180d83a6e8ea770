#!/usr/bin/env bash
# The layering check finds what it is meant to find: violations planted in a throwaway tree are
# each reported, and the same tree without them passes.
# Usage: planted_test.sh CHECK_SCRIPT
set -euo pipefail

check="$1"
tree="$(mktemp -d /tmp/muzzle-layering.XXXXXX)"
trap 'rm -rf "$tree"' EXIT

mkdir -p "$tree"/fw/common "$tree"/fw/packet "$tree"/fw/nft "$tree"/fw/engine \
         "$tree"/tests/unit/fw/packet "$tree"/mgmt/server
printf '// Plain values (fw/common/status.h is this very file).\n#include "fw/common/status.h"\n' \
  >"$tree"/fw/common/status.h
printf '#include "fw/common/status.h"\n' >"$tree"/fw/packet/packet.h
printf '#include "fw/packet/packet.h"\n' >"$tree"/tests/unit/fw/packet/packet_test.cc
printf 'See `fw/common/status.h`.\n' >"$tree"/README.md

fail=0
"$check" "$tree" >"$tree/out" || fail=1
if [[ $fail -ne 0 ]]; then
  cat "$tree/out"
  echo "planted_test: a tree that follows the rules failed the check" >&2
  exit 1
fi

# The violations, one per rule kind.
printf '#include "fw/engine/judge.h"\n' >>"$tree"/fw/packet/packet.h         # packet: common only
printf '#include <grpcpp/grpcpp.h>\n' >"$tree"/fw/nft/writer.cc               # fw/: no gRPC
printf '#include "mgmt/server/server.h"\n' >"$tree"/fw/engine/daemon.cc       # fw/: no mgmt/
printf '#include "mgmt/server/server.h"\n' >>"$tree"/tests/unit/fw/packet/packet_test.cc
printf '// The old home was fw/common/gone.h.\n' >>"$tree"/fw/common/status.h  # stale citation
printf 'Moved to `mgmt/server/nowhere.cc`.\n' >>"$tree"/README.md

status=0
"$check" "$tree" >"$tree/out" || status=$?
cat "$tree/out"
[[ $status -eq 1 ]] || { echo "planted_test: the check exited $status, not 1" >&2; exit 1; }
for expected in "fw/packet/packet.h:2: includes fw/engine/judge.h" \
                "fw/nft/writer.cc:1: includes grpcpp/grpcpp.h" \
                "fw/engine/daemon.cc:1: includes mgmt/server/server.h" \
                "tests/unit/fw/packet/packet_test.cc:2: includes mgmt/server/server.h" \
                "fw/common/status.h:3: cites fw/common/gone.h" \
                "README.md:2: cites mgmt/server/nowhere.cc"; do
  grep -qF "$expected" "$tree/out" || { echo "planted_test: not reported: $expected" >&2; exit 1; }
done
echo "planted_test: every planted violation is reported"
