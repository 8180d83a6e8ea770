#!/usr/bin/env bash
# Every shipped preset (policies/presets/), enforced by muzzled in the lab: what each allows and
# what it stops. One lab; each preset becomes the policy in turn (SIGHUP), with the lab's
# devices assigned to it. A stop is proven by muzzled's log naming the preset rule that stopped
# it — a closed port alone would "stop" traffic with no firewall at all.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

presets="$LAB_REPO/policies/presets"

# use_preset FILE PROFILE NODE...: the preset (or FILE, when it is a path) as the policy, the
# nodes' devices in PROFILE.
use_preset() {
  local file="$1" profile="$2" node
  shift 2
  [[ "$file" == /* ]] || file="$presets/$file"
  {
    # The lab copies the shipped lists next to the policy, where `lists/...` finds them.
    cat "$file"
    echo "devices:"
    for node in "$@"; do
      echo "  - {name: $node, mac: \"${LAB_MAC[$node]}\", profile: $profile}"
    done
  } >"$LAB_STATE/policy.yaml.new"
  mv "$LAB_STATE/policy.yaml.new" "$LAB_STATE/policy.yaml"
  if [[ -z "$LAB_MUZZLED_PID" ]]; then
    lab_start_muzzled
  else
    local before
    before="$(grep -c 'event=policy-reloaded' "$LAB_STATE/muzzled.log" || true)"
    lab_reload_muzzled
    for _ in $(seq 100); do
      (($(grep -c 'event=policy-reloaded' "$LAB_STATE/muzzled.log" || true) > before)) && break
      sleep 0.05
    done
  fi
  echo "== preset ${file##*/}: ${*} as $profile"
}

# stopped_by NODE DST PROTO PORT RULE: NODE sends to DST:PORT and muzzled logs the deny by RULE.
stopped_by() {
  local node="$1" dst="$2" proto="$3" port="$4" rule="$5"
  lab_flow "$node" "$proto" "$dst" "$port" --timeout-ms 1000 >/dev/null || true
  wait_log "event=deny device=$node .*dst=\\[?${dst//./\\.}\\]?:$port .*rule=${rule//[/\\[}" 2
}

# What camera-nvr-only lets cam1 do and not do: the same table for the preset as shipped and for
# a site that uses it by name.
camera_nvr_only_flows() {
  lab_table_header
  lab_expect allowed cam1 nvr tcp 554
  lab_expect allowed cam1 nvr tcp 554 6
  lab_expect allowed cam1 gw udp 53
  lab_expect allowed nvr cam1 tcp 554
  lab_expect refused nvr cam1 tcp 23
  lab_expect refused inet cam1 tcp 80
  lab_expect rejected cam1 cloud1 tcp 443
  lab_expect rejected cam1 cam2 tcp 80
  lab_expect_name rejected cam1 telemetry.vendor.example tcp 443
}

scenario_lab_up
gw4="$(lab_addr gw 4)"

use_preset camera-nvr-only.yaml camera-nvr-only cam1
camera_nvr_only_flows
lab_check "UPnP/SSDP to the box stopped by its rule" \
  stopped_by cam1 "$gw4" udp 1900 'profiles.camera-nvr-only.egress[2]'
lab_check "NAT-PMP/PCP stopped by its rule" stopped_by cam1 "$gw4" udp 5351 'profiles.camera-nvr-only.egress[3]'
lab_check "STUN (udp) stopped by its rule" stopped_by cam1 203.0.113.10 udp 3478 'profiles.camera-nvr-only.egress[4]'
lab_check "TURN over TLS (tcp) stopped by its rule" stopped_by cam1 203.0.113.10 tcp 5349 'profiles.camera-nvr-only.egress[5]'

use_preset camera-vendor-cloud.yaml camera-vendor-cloud cam1
lab_table_header
lab_expect allowed cam1 nvr tcp 554
lab_expect_name allowed cam1 telemetry.vendor.example tcp 443
lab_expect_name allowed cam1 telemetry.vendor.example tcp 443 6
lab_expect_name rejected cam1 relay.p2p.example tcp 443
lab_expect_name rejected cam1 avs.voice.example tcp 443
lab_expect rejected cam1 cloud1 tcp 443  # never looked up: address rules only
lab_check "  and that is logged as no-dns" wait_log 'event=deny device=cam1 .*dst=203\.0\.113\.10:443 .*reason=no-dns' 2
lab_check "P2P relay stopped by its rule, with its name" \
  wait_log 'event=deny device=cam1 .*rule=profiles\.camera-vendor-cloud\.egress\[2\] name=relay\.p2p\.example' 2

lab_flow cam1 udp 198.51.100.2 53 --timeout-ms 1000 >/dev/null || true
lab_check "  (cam1 -> 198.51.100.2:53 logged dns-bypass)" wait_log 'event=deny device=cam1 .*dst=198\.51\.100\.2:53 .*reason=dns-bypass' 2

use_preset vacuum.yaml vacuum vacuum
lab_table_header
lab_expect_name allowed vacuum telemetry.vendor.example tcp 443
lab_expect_name rejected vacuum avs.voice.example tcp 443
lab_expect allowed vacuum gw udp 53
lab_expect rejected vacuum nvr tcp 554
lab_check "lateral: vacuum -> cam1 stopped by the deny-local rule" \
  stopped_by vacuum "$(lab_addr cam1 4)" tcp 80 'profiles.vacuum.egress[2]'
lab_check "UPnP/SSDP to the box stopped by its rule" stopped_by vacuum "$gw4" udp 1900 'profiles.vacuum.egress[3]'

use_preset speaker.yaml speaker speaker
lab_table_header
lab_expect_name allowed speaker avs.voice.example tcp 443
lab_expect_name allowed speaker avs.voice.example tcp 443 6
lab_expect_name rejected speaker telemetry.vendor.example tcp 443
lab_expect allowed speaker gw udp 53
lab_flow speaker tcp 198.51.100.2 853 --timeout-ms 1000 >/dev/null || true
lab_check "DNS over TLS is refused as dns-bypass" \
  wait_log 'event=deny device=speaker .*dst=198\.51\.100\.2:853 .*reason=dns-bypass' 2
lab_check "lateral: speaker -> cam1 stopped by the deny-local rule" \
  stopped_by speaker "$(lab_addr cam1 4)" tcp 554 'profiles.speaker.egress[3]'

use_preset quarantine.yaml quarantine
lab_table_header
lab_expect allowed unknown gw udp 53
lab_expect allowed unknown gw udp 53 6
lab_expect rejected unknown nvr tcp 554
lab_expect rejected unknown cloud1 tcp 443
lab_expect_name rejected unknown telemetry.vendor.example tcp 443
lab_expect rejected cam1 nvr tcp 554  # unlisted under this policy: quarantined too
lab_check "the unknown device was reported as new, quarantined" \
  wait_log 'event=new-device mac=02:5a:00:00:00:99 .*profile=quarantine' 2

# A site that names the preset instead of copying it: the same promises, row by row, and the
# same rules stop the same flows (labelled by the site's profile). The lab's muzzled.yaml finds
# the source tree's presets through preset_dirs.
cat >"$LAB_STATE/by-name.yaml" <<EOF
version: 1
addresses:
  nvr: [198.18.1.10, fd00:1::10]
profiles:
  lobby-cams: {preset: camera-nvr-only}
  quarantine: {preset: quarantine}
EOF
use_preset "$LAB_STATE/by-name.yaml" lobby-cams cam1
camera_nvr_only_flows
lab_check "UPnP/SSDP to the box stopped by the preset's rule" \
  stopped_by cam1 "$gw4" udp 1900 'profiles.lobby-cams.egress[2]'
lab_check "STUN (udp) stopped by the preset's rule" \
  stopped_by cam1 203.0.113.10 udp 3478 'profiles.lobby-cams.egress[4]'
nvr_line="$(grep -n -F -- '- {allow: [nvr], proto: tcp, ports: [554, 8000]}' "$presets/camera-nvr-only.yaml" | cut -d: -f1)"
explain() { "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" policy explain "$@"; }
explain cam1 | sed 's/^/    /' || true
explain_has() {  # PATTERN ARGS...: the output of `policy explain ARGS...` has a line matching
  local out
  out="$(explain "${@:2}")" || return 1
  grep -Eq -- "$1" <<<"$out"
}
lab_check "policy explain prints a rule with its preset file and line" explain_has \
  "profiles\\.lobby-cams\\.egress\\[0\\] +allow +allow nvr tcp 554,8000 +/.*/policies/presets/camera-nvr-only\\.yaml:$nvr_line *\$" cam1
lab_check "  and why the device has its profile" explain_has \
  'profile lobby-cams \(preset camera-nvr-only\), listed' cam1
lab_check "  and the same as JSON" explain_has '"preset": "camera-nvr-only"' --json cam1

lab_summary
