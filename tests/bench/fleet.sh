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
#   targets-1000-show   muzzlectl --targets (one "NAME TARGET" a line, the same 1,000) --json
#                 policy show: every box's running text, without the fleet directory
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
  fleet_admin /usr/bin/time -f '%e %M %U %S' -o "$work/time.out" "$@" >"$work/$name.out" 2>&1 || rc=$?
  # time writes "Command exited with non-zero status N" first when it did.
  read -r secs kb user sys < <(tail -n1 "$work/time.out") || true
  echo "$name $secs $kb $rc $user $sys" >>"$work/raw"
  say "$name: $secs s, $kb kB, cpu ${user}+${sys} s, exit $rc"
}
ctl="$BUILD/mgmt/muzzlectl"
: >"$work/raw"

# The same 1,000 boxes for muzzlectl's older multi-box mode (--targets: a channel and one call
# per box, 32 at a time): what reading every box's policy costs without the fleet directory.
awk -v count="$big" -v net="$FLEET_MGMT_NET" -v port="$FLEET_PORT" 'BEGIN {
  for (i = 1; i <= count; i++) printf "box%04d %s.%d:%d\n", i, net, 10 + (i - 1) % 32 + 1, port }' \
  >"$work/targets-$big"
tls=(--ca "$FLEET_CERTS/ca.pem" --cert "$FLEET_CERTS/admin.pem" --key "$FLEET_CERTS/admin.key")

# Reads first (they change nothing), then applies.
for ((r = 1; r <= rounds; r++)); do
  timed "targets-$big-show" "$ctl" --targets "$work/targets-$big" "${tls[@]}" --json policy show
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
summary="$(awk '{ n[$1]++; s[$1, n[$1]] = $2; m[$1, n[$1]] = $3; u[$1, n[$1]] = $5 + $6; if ($4 != 0) bad[$1]++ }
  END {
    for (k in n) {
      c = n[k]
      for (i = 1; i <= c; i++) { a[i] = s[k, i]; b[i] = m[k, i]; d[i] = u[k, i] }
      # insertion sort, c is small
      for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      for (i = 2; i <= c; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
      for (i = 2; i <= c; i++) for (j = i; j > 1 && d[j - 1] > d[j]; j--) { t = d[j]; d[j] = d[j - 1]; d[j - 1] = t }
      h = int((c + 1) / 2)
      printf "%-16s %8.2f s wall %7.2f s cpu %8.1f MB rss  (%d runs%s)\n", k, a[h], d[h], b[h] / 1024, c, bad[k] ? ", " bad[k] " failed" : ""
    }
  }' "$work/raw" | sort)"
echo "$summary"
# The model for apply over 1,000 (see README.md, "Fleet"). A wave of n boxes with `parallel` P
# runs ceil(n/P) rounds; a round is each box's two health windows plus what it costs to sample,
# apply, and confirm it (r). r is measured from apply-32-p8's median: waves 1, 4, 27 at 8 at once
# are 1 + 1 + 4 = 6 rounds, so r = wall / 6 - 2W. Client CPU per box is apply-32-p32's / 32.
w_s="${window%s}"
model="$(awk -v w="$w_s" -v big="$big" '
  $1 == "apply-32-p8" && $4 == 0 { p8[++n8] = $2 }
  $1 == "apply-32-p32" && $4 == 0 { cpu[++nc] = $5 + $6 }
  function median(a, c,   i, j, t) {
    for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return a[int((c + 1) / 2)]
  }
  END {
    if (!n8 || !nc) { print "model: no successful apply runs"; exit }
    r = median(p8, n8) / 6 - 2 * w
    if (r < 0) r = 0
    printf "per round beyond the windows (sample, apply, confirm; the lab boxes share 2 cores): r = %.2f s\n", r
    printf "client CPU per box (apply-32-p32 / 32): %.1f ms\n", median(cpu, nc) / 32 * 1000
    w1 = 1; w2 = int((big * 10 + 99) / 100); w3 = big - w1 - w2
    printf "apply over %d boxes, waves 1,10%%,rest = %d, %d, %d:\n", big, w1, w2, w3
    printf "  %-9s %-8s %-7s %-12s %s\n", "parallel", "window", "rounds", "wall (model)", "--confirm at least"
    split("16 64 128 256", ps, " "); split("3 10", ws, " ")
    for (i = 1; i <= 4; i++) for (j = 1; j <= 2; j++) {
      P = ps[i]; W = ws[j]
      rounds = int((w1 + P - 1) / P) + int((w2 + P - 1) / P) + int((w3 + P - 1) / P)
      largest = int((w3 + P - 1) / P)
      printf "  %-9d %-8s %-7d %-12s %ds\n", P, W "s", rounds, sprintf("%.0f s", rounds * (2 * W + r)), largest * 2 * W + 60
    }
  }' "$work/raw")"
echo "$model"
{
  echo "# tests/bench/fleet.sh, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$repo" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# median of $rounds runs: wall time, muzzlectl's CPU (user+sys), its peak RSS; apply --window $window"
  echo "fleet lab up (32 gateways, ready): $lab_ms ms"
  echo "$summary"
  echo
  echo "# model: fleet apply over $big boxes (a box holds one pending commit, so the lab cannot run it)"
  echo "$model"
  echo
  echo "# raw: name seconds max_rss_kB exit user_s sys_s"
  cat "$work/raw"
} >"$work/fleet-latest.txt"
mkdir -p "$out_dir"
cp "$work/fleet-latest.txt" "$out_dir/fleet-latest.txt"
say "wrote $out_dir/fleet-latest.txt"
