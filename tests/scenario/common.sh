# shellcheck shell=bash
# Shared by the scenario tests and tests/demo.sh (sourced; not a test itself).
#
#   source "$(dirname "$0")/common.sh"   # loads lab.sh, checks root, installs teardown traps
#   scenario_lab_up                      # a lab with an id no other running lab has
#   site_example_rows                    # the table of flows the example policy promises

# shellcheck source=tests/lab/lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lab" && pwd)/lab.sh"

# ctest reports exit code 77 as "skipped" (SKIP_RETURN_CODE in CMakeLists.txt).
if ((EUID != 0)); then
  echo "skipped: the lab needs root (network namespaces)"
  exit 77
fi

lab_trap

# The shell's pid is unique among running processes, so parallel tests never share a lab.
scenario_lab_up() { lab_up "${LAB_ID:-$$}"; }

# Every flow of policies/site-example.yaml that the demo shows, each in IPv4 and IPv6.
# Expectations: allowed / rejected (egress, reset or ICMP) / refused (towards a device).
site_example_rows() {
  local family
  lab_table_header
  while read -r expected from to proto port; do
    for family in 4 6; do
      lab_expect "$expected" "$from" "$to" "$proto" "$port" "$family"
    done
  done <<'ROWS'
allowed  cam1    nvr    tcp 554
rejected cam1    cloud1 tcp 443
allowed  cam1    gw     udp 53
rejected cam1    gw     tcp 22
rejected unknown nvr    tcp 554
allowed  unknown gw     udp 53
allowed  vacuum  cloud2 tcp 443
refused  inet    cam1   tcp 80
allowed  nvr     cam1   tcp 554
refused  nvr     cam1   tcp 23
allowed  cam3    nvr    tcp 554
rejected cam3    cloud1 tcp 443
ROWS
  # Flows to names: the device looks the name up through the gateway, then connects.
  while read -r expected from name proto port; do
    for family in 4 6; do
      lab_expect_name "$expected" "$from" "$name" "$proto" "$port" "$family"
    done
  done <<'ROWS'
allowed  speaker avs.voice.example        tcp 443
rejected speaker telemetry.vendor.example tcp 443
rejected cam1    relay.p2p.example        tcp 443
ROWS
}

# Waits up to SECONDS for a muzzled log line matching the extended regex PATTERN.
wait_log() {
  local pattern="$1" seconds="${2:-5}" i
  for ((i = 0; i < seconds * 20; i++)); do
    grep -Eq -- "$pattern" "$LAB_STATE/muzzled.log" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
