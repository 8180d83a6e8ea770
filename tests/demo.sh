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
# The web console on the box's uplink address, for the admin's side of the lab (the "internet"
# namespace): its URL and a one-time login are printed at the end.
LAB_MANAGEMENT='  web:
    listen: 198.51.100.1:8443
    allow: [198.51.100.2]'
export LAB_MANAGEMENT
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
echo
echo "== the web console"
demo_password="$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
muzzlectl web user add demo --role admin --password-stdin <<<"$demo_password" | sed 's/^/  /'
muzzlectl status | grep 'web console' | sed 's/^/  /' || true
echo "  open https://198.51.100.1:8443/ from the lab's admin side (namespace $(lab_ns inet)),"
echo "  e.g. ip netns exec $(lab_ns inet) chromium --no-sandbox https://198.51.100.1:8443/"
echo "  one-time login for this lab: demo / $demo_password"
if [[ -n "${DEMO_HOLD:-}" ]]; then
  read -r -p "  the lab stays up until you press Enter " _
fi
echo
lab_summary
