#!/usr/bin/env bash
# Where muzzled's resident memory goes: starts muzzled in a lab with the bench's site
# (gen_policy.sh: 1,000 devices, 100 profiles, 2,202 rules), waits for it to settle, and prints
# VmRSS, its anonymous and file-backed parts, and the resident kB of every mapping (libraries,
# muzzled's own text, heap, anonymous mappings), largest first. Run it before and after a change
# that may cost memory; `ROUNDS` (default 3) repeats it, since RSS moves by ~50 kB between starts.
#
#   sudo tests/bench/memory.sh
#   BUILD=/path/to/other/build sudo tests/bench/memory.sh   # another build of muzzled
#   INVENTORY=inventory.pb sudo tests/bench/memory.sh      # a restart with devices already seen
#
# INVENTORY names a saved state_dir/inventory.pb (e.g. copied from a bench run's lab: the bench
# measures `rss_start` in its last round, when the earlier rounds have left the site's 1,000
# devices in the inventory), or one written by gen_inventory.sh, which looks the same.
#
# Like every lab script: namespaces only, removed on exit (tests/lab/lab.sh).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=tests/lab/lab.sh
source "$repo/tests/lab/lab.sh"
rounds="${ROUNDS:-3}"

measure() {  # $1: the round; $2: "breakdown" to print the mappings
  lab_trap
  lab_up "m$$r$1" >/dev/null
  "$repo/tests/bench/gen_policy.sh" -o "$LAB_STATE/policy.yaml" a
  [[ -z "${INVENTORY:-}" ]] || cp "$INVENTORY" "$LAB_STATE/inventory.pb"
  lab_start_muzzled >/dev/null
  sleep 3  # the first gRPC and timer work is done by then
  local pid=$LAB_MUZZLED_PID
  echo "round $1: $(grep -E '^(VmRSS|RssAnon|RssFile):' "/proc/$pid/status" | tr -s ' \t' ' ' |
    tr '\n' ' ')"
  if [[ "${2:-}" == breakdown ]]; then
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6; if (name == "") name = "[anon]" }
         /^Rss:/ { rss[name] += $2 }
         /^Anonymous:/ { anon[name] += $2 }
         END { for (n in rss) if (rss[n] >= 16) printf "%7d kB  (anon %5d kB)  %s\n", rss[n], anon[n], n }' \
      "/proc/$pid/smaps" | sort -rn
  fi
}

# A lab of its own for each round (a subshell: the lab's state and its trap end with it).
for ((round = 1; round <= rounds; ++round)); do
  (measure "$round" "$( ((round == rounds)) && echo breakdown)")
done
