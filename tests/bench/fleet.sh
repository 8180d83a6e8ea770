#!/usr/bin/env bash
# The fleet benchmark (issue 16): what `muzzlectl fleet plan` and `fleet apply` cost the admin's
# machine across the 32 gateways of the fleet lab (tests/lab/fleet_lab.sh) and across a simulated
# 1,000. Not part of CI's pass/fail. See README.md here ("Fleet").
#
#   tests/bench/fleet.sh            as root; ~4 minutes on 2 cores
#   BENCH_ROUNDS=1 tests/bench/fleet.sh   a quick pass
#
# Writes $BENCH_OUT/fleet-latest.txt (BENCH_OUT defaults to tests/bench/results).
#
# What is measured, each the median of BENCH_ROUNDS (default 3) runs, wall time and the client's
# peak resident set (`/usr/bin/time -f %M`, muzzlectl alone: it is exec'd by `ip netns exec`):
#   plan-32       fleet plan --json over the 32 boxes (all drift: every box's diff is made)
#   plan-1000     the same over 1,000 boxes: fleet.yaml lists box0001..box1000, each one of the
#                 32 targets in turn (round-robin), each with an NVR of its own (1,000 distinct
#                 desired texts, so nothing is shared between boxes that would not be)
#   plan-1000-pN  plan-1000 with --parallel N (the bound on boxes worked on at once)
#   apply-32      fleet apply over the 32 boxes, waves 1,10%,rest, --window W (BENCH_WINDOW,
#                 default 1s), alternating between two texts so that every run changes every box
#   apply-32-pN   the same with --parallel N
# and a model for apply over 1,000 (a box holds one pending commit at a time, so the same box
# cannot stand for 31 others here): see the end of the results file.
#
# Safety: as tests/lab/fleet_lab.sh: namespaces mzF<id>-*, lab addresses only, torn down on exit.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BUILD="${BUILD:-$repo/build}"
out_dir="${BENCH_OUT:-$repo/tests/bench/results}"
rounds="${BENCH_ROUNDS:-3}"
window="${BENCH_WINDOW:-1s}"
big="${BENCH_BIG:-1000}"

if ((EUID != 0)); then
  echo "bench: needs root (network namespaces)" >&2
  exit 1
fi
[[ -x /usr/bin/time ]] || {
  echo "bench: /usr/bin/time missing (package time; tests/setup.sh installs it)" >&2
  exit 1
}

# shellcheck source=tests/scenario/common.sh
source "$repo/tests/scenario/common.sh"
# shellcheck source=tests/lab/fleet_lab.sh
source "$repo/tests/lab/fleet_lab.sh"
fleet_trap
say() { printf 'bench: %s\n' "$*" >&2; }

lab_started=$(date +%s%N)
fleet_up "b$$" 32
fleet_start_all
lab_ms=$((($(date +%s%N) - lab_started) / 1000000))
say "fleet lab up in $lab_ms ms"

# write_fleet DIR COUNT VARIANT: COUNT boxes over the 32 targets, one policy (VARIANT a or b: the
# cameras lose DNS to the gateway, or NTP too); box i's NVR is an address of its own.
write_fleet() {
  local dir="$1" count="$2" variant="$3"
  mkdir -p "$dir/policies"
  sed '/^  camera:$/,/^    egress:$/s/^    egress:$/&\n      - {deny: [gateway], proto: udp, ports: [53]}/' \
    "$LAB_REPO/policies/site-example.yaml" >"$dir/policies/cameras.yaml"
  if [[ "$variant" == b ]]; then
    sed -i 's/^      - {deny: \[gateway\], proto: udp, ports: \[53\]}$/&\n      - {deny: [gateway], proto: udp, ports: [123]}/' \
      "$dir/policies/cameras.yaml"
  fi
  {
    printf 'version: 1\ntls: {ca: %s/ca.pem, cert: %s/admin.pem, key: %s/admin.key}\n' \
      "$FLEET_CERTS" "$FLEET_CERTS" "$FLEET_CERTS"
    printf 'groups:\n  - {name: cameras, select: {role: cameras}, policy: policies/cameras.yaml}\nboxes:\n'
    awk -v count="$count" -v net="$FLEET_MGMT_NET" -v port="$FLEET_PORT" -v same="$((count == 32))" 'BEGIN {
      for (i = 1; i <= count; i++) {
        g = (i - 1) % 32 + 1
        name = same ? sprintf("gw%02d", g) : sprintf("box%04d", i)
        nvr = same ? "198.18.1.10" : sprintf("198.18.%d.%d", 100 + int(i / 250), i % 250 + 1)
        printf "  - {name: %s, target: \"%s.%d:%d\", labels: {role: cameras, site: s%d}, addresses: {nvr: [%s]}}\n",
          name, net, 10 + g, port, i, nvr
      }
    }'
    printf 'rollout: {waves: "1,10%%,rest", confirm: "2m", parallel: 16}\n'
    printf 'health: {window: "3s", deny_rate_multiple: 3, deny_rate_floor: 1}\n'
  } >"$dir/fleet.yaml"
}

work="$FLEET_STATE/bench"
mkdir -p "$work"
write_fleet "$work/f32" 32 a
write_fleet "$work/f32b" 32 b
write_fleet "$work/f1000" "$big" a

# timed NAME CMD...: runs CMD in the admin namespace under /usr/bin/time; appends
# "NAME seconds max_rss_kB exit" to $work/raw.
timed() {
  local name="$1" rc=0
  shift
  fleet_admin /usr/bin/time -f '%e %M' -o "$work/time.out" "$@" >"$work/$name.out" 2>&1 || rc=$?
  read -r secs kb <"$work/time.out" || true
  echo "$name $secs $kb $rc" >>"$work/raw"
  say "$name: $secs s, $kb kB, exit $rc"
}
ctl="$BUILD/mgmt/muzzlectl"
: >"$work/raw"

# Plans first (they change nothing), then applies.
for ((r = 1; r <= rounds; r++)); do
  timed plan-32 "$ctl" fleet plan "$work/f32" --json
  timed "plan-$big" "$ctl" fleet plan "$work/f1000" --json
  for p in 8 64; do timed "plan-$big-p$p" "$ctl" fleet plan "$work/f1000" --json --parallel "$p"; done
done
variant=b
for ((r = 1; r <= rounds; r++)); do
  for p in 32 8; do
    dir="$work/f32"
    [[ "$variant" == b ]] && dir="$work/f32b"
    timed apply-32-p$p "$ctl" fleet apply "$dir" --restart --window "$window" --confirm 2m --parallel $p
    variant=$([[ "$variant" == a ]] && echo b || echo a)
  done
done

# Medians per name.
summary="$(awk '{ n[$1]++; s[$1, n[$1]] = $2; m[$1, n[$1]] = $3; if ($4 != 0) bad[$1]++ }
  END {
    for (k in n) {
      c = n[k]
      for (i = 1; i <= c; i++) { a[i] = s[k, i]; b[i] = m[k, i] }
      # insertion sort, c is small
      for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      for (i = 2; i <= c; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
      printf "%-16s %8.2f s %9.1f MB  (%d runs%s)\n", k, a[int((c + 1) / 2)], b[int((c + 1) / 2)] / 1024, c, bad[k] ? ", " bad[k] " failed" : ""
    }
  }' "$work/raw" | sort)"
echo "$summary"
cp "$work/raw" "$work/raw.keep"
{
  echo "# tests/bench/fleet.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$repo" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# median of $rounds runs: wall time, muzzlectl's peak RSS; apply --window $window"
  echo "fleet lab up (32 gateways, ready): $lab_ms ms"
  echo "$summary"
  echo
  echo "# raw: name seconds max_rss_kB exit"
  cat "$work/raw"
} >"$work/fleet-latest.txt"
mkdir -p "$out_dir"
cp "$work/fleet-latest.txt" "$out_dir/fleet-latest.txt"
say "wrote $out_dir/fleet-latest.txt"
