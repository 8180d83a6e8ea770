#!/usr/bin/env bash
# The Muzzle demo, in under a minute: build, bring up the lab (tests/lab/), run muzzled with
# policies/site-example.yaml in the lab's gateway, drive real traffic and show what happened.
# Needs root. Exits non-zero if any flow did not behave as the policy says.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
export BUILD="${BUILD:-$repo/build}"

"$repo/tests/setup.sh"

# Loads the lab library, installs the teardown trap (the lab goes away however we exit).
# shellcheck source=tests/scenario/common.sh
source "$repo/tests/scenario/common.sh"

echo
echo "== Muzzle demo: three cameras (one not listed), a vacuum, a speaker, an unknown device, an NVR and a small internet"
scenario_lab_up
lab_start_muzzled
echo "muzzled is enforcing policies/site-example.yaml in namespace $(lab_ns gw)"
echo
site_example_rows
echo
echo "== what muzzled logged about denied flows"
grep 'event=deny' "$LAB_STATE/muzzled.log" | sed 's/^/  /' || echo "  (no event=deny lines)"
echo
echo "== names: the speaker reaches its cloud by name, the camera's P2P relay is stopped by name"
grep -E 'event=deny .*name=' "$LAB_STATE/muzzled.log" | sed 's/^/  /' || echo "  (no named denials)"
echo
echo "== devices: cam3 is not listed but is a Hikvision camera (classified); the unknown gadget is quarantined"
grep -E 'event=new-device mac=(44:47:cc:00:00:13|02:5a:00:00:00:99)' "$LAB_STATE/muzzled.log" | sed 's/^/  /' || true
echo
echo "== the admin assigns the gadget to the camera profile; its traffic follows"
muzzlectl() { "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" "$@"; }
muzzlectl device set 02:5a:00:00:00:99 --name doorbell --profile camera --comment "demo: identified" |
  sed 's/^/  /'
lab_table_header
lab_expect allowed unknown nvr tcp 554
echo
muzzlectl devices | sed 's/^/  /'
echo
lab_summary
