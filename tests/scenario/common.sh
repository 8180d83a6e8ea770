# shellcheck shell=bash
# Shared by the scenario tests and tests/demo.sh (sourced; not a test itself).
#
#   source "$(dirname "$0")/common.sh"   # loads lab.sh, checks root, installs teardown traps
#   scenario_lab_up                      # a lab with an id no other running lab has
#   site_example_rows                    # the table of flows the example policy promises
#   scenario_certs DIR; scenario_issue NAME CN EXT   # a CA and certificates muzzled can read
#   scenario_tls_management <<LINES                  # management.tcp over those certificates
#   ctl ARGS; expect_exit CODE CMD...; revision      # muzzlectl on the lab box's socket
#   log_count PATTERN; usr1_counters; counter NAME   # muzzled's log and its counters line
#   scenario_notify_socket; notify_arrived MSG S; notify_count MSG   # a stand-in for systemd's
#                                                    # notify socket and what it received
#   lab_excerpt FILE N                               # FILE's first N lines, indented
#
# The tests run under `set -euo pipefail`: a pipe into `head` or `grep -q` fails the whole line
# when its writer is still writing as the reader exits (SIGPIPE), which only a loaded machine
# shows. Read the writer's whole output first (`grep -q X <<<"$(cmd)"`, `grep -m1`) instead.

# shellcheck source=tests/lab/lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lab" && pwd)/lab.sh"

# ctest reports exit code 77 as "skipped" (SKIP_RETURN_CODE in CMakeLists.txt).
if ((EUID != 0)); then
  echo "skipped: the lab needs root (network namespaces)"
  exit 77
fi

lab_trap
# A command that stops the test (set -e) says where, before the teardown's output: the checks
# after it never ran, and without this line the log just ends.
trap 'echo "  FAIL  the test stopped at ${BASH_SOURCE[0]}:$LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR

lab_excerpt() { sed -n "1,${2}s/^/    | /p" "$1"; }

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

# Certificates for a scenario's TLS listener, in folder `$1` (scenario_certs DIR): a CA `ca`
# (ca.pem, ca.key); scenario_issue NAME CN EXTENSION [CA] signs NAME.pem/NAME.key with CA (default
# `ca`; scenario_ca NAME makes another CA). muzzled runs as the user muzzle, so the folder and
# every file are readable by its group, as an admin sets them up on a box.
scenario_certs() {
  SCENARIO_CERTS="$1"
  chgrp muzzle "$SCENARIO_CERTS" && chmod g+rx "$SCENARIO_CERTS"
  scenario_ca ca
}
scenario_key_opts=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
scenario_ca() {
  openssl req -x509 "${scenario_key_opts[@]}" -keyout "$SCENARIO_CERTS/$1.key" \
    -out "$SCENARIO_CERTS/$1.pem" -days 1 -subj "/CN=test-$1" 2>/dev/null
  chgrp muzzle "$SCENARIO_CERTS/$1.pem" && chmod g+r "$SCENARIO_CERTS/$1.pem"
}
scenario_issue() {
  local dir="$SCENARIO_CERTS" ca="${4:-ca}"
  openssl req "${scenario_key_opts[@]}" -keyout "$dir/$1.key" -out "$dir/$1.csr" -subj "/CN=$2" \
    2>/dev/null
  printf '%s\n' "$3" >"$dir/$1.ext"
  openssl x509 -req -in "$dir/$1.csr" -CA "$dir/$ca.pem" -CAkey "$dir/$ca.key" -CAcreateserial \
    -out "$dir/$1.pem" -days 1 -extfile "$dir/$1.ext" 2>/dev/null
  chgrp muzzle "$dir/$1.key" "$dir/$1.pem" && chmod g+r "$dir/$1.key" "$dir/$1.pem"
}

# management.tcp for LAB_MANAGEMENT: muzzled serves mutual TLS on 198.18.1.1:7443 (the gateway's
# lan-nvr address) with the certificates scenario_certs made (box.pem, box.key; clients signed by
# ca.pem). The lines on stdin follow it (allow:, roles:, indented four spaces).
scenario_tls_management() {
  printf '  tcp:\n    listen: 198.18.1.1:7443\n    cert: %s\n    key: %s\n    client_ca: %s\n' \
    "$SCENARIO_CERTS/box.pem" "$SCENARIO_CERTS/box.key" "$SCENARIO_CERTS/ca.pem"
  cat
}

# muzzlectl on the lab box's management socket (a script may redefine it, e.g. with --timeout).
ctl() { "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" "$@"; }

# json_field NAME JSON: the first number field NAME of `muzzlectl --json` output (the JSON
# mapping writes uint64 as a quoted string, uint32 bare).
json_field() { sed -n "s/.*\"$1\": \"\{0,1\}\([0-9]*\).*/\1/p;T;q" <<<"$2"; }

# flood_guard_status FIELD VALUE: the flood_guard object of `muzzlectl status --json`, once its
# FIELD reads VALUE (muzzled reads the kernel's counts every 2 s), or as it stands after 10 s.
flood_guard_status() {
  local json="" i
  for ((i = 0; i < 100; i++)); do
    json="$(ctl --json status | sed -n '/"flood_guard"/,/}/p' || true)"
    [[ "$(json_field "$1" "$json")" == "$2" ]] && break
    sleep 0.1
  done
  printf '%s\n' "$json"
}

# device_drops SET MAC: the packets the counter of MAC's element in the device meter SET of
# table inet muzzle counted (@flood-dropped, @conn-limit-dropped); 0 when it holds none.
device_drops() {
  lab_exec gw nft list set inet muzzle "$1" |
    sed -n "s/.*$2 counter packets \([0-9]*\).*/\1/p" | head -n1 | grep . || echo 0
}

# expect_exit CODE COMMAND...: passes when COMMAND exits with CODE. Its output stays in
# $LAB_STATE/last.out for the checks after it, and is shown indented (its first 20 lines).
expect_exit() {
  local want="$1" got=0
  shift
  "$@" >"$LAB_STATE/last.out" 2>&1 || got=$?
  sed -n '1,20s/^/    /p' "$LAB_STATE/last.out"
  [[ "$got" == "$want" ]] || { echo "    exit $got, expected $want"; return 1; }
}

# thread_priorities BACKGROUND...: each of lab muzzled's threads at the nice value of its role
# (fw/common/thread_priority.h). The queue threads (muzzle-q*), the engine thread (the process's
# first), the accounting event thread and the event log's delivery thread run at the process's
# own (0 in the lab); each thread named BACKGROUND is there and runs at 10, and so does every
# other thread (gRPC's among them). The threads are listed on failure.
thread_priorities() {
  local t comm nice tid want bad=0 queue_threads=0 listing=""
  local -A background=()
  for want in "$@"; do background[$want]=missing; done
  for t in /proc/"$LAB_MUZZLED_PID"/task/*; do
    tid="${t##*/}"
    comm="$(cat "$t/comm" 2>/dev/null)" || continue
    # The nice value is stat's 19th field; the name in field 2 is cut first (it may hold spaces).
    nice="$(sed 's/^.*) //' "$t/stat" 2>/dev/null | awk '{ print $17 }')" || continue
    listing+="    $tid $comm nice=$nice"$'\n'
    if [[ -n "${background[$comm]:-}" ]]; then
      [[ "$nice" == 10 ]] && background[$comm]=ok || { background[$comm]=bad; bad=1; }
    elif [[ "$comm" == muzzle-q* || "$tid" == "$LAB_MUZZLED_PID" || "$comm" == muzzle-ctevents ||
            "$comm" == muzzle-events ]]; then
      [[ "$comm" == muzzle-q* ]] && queue_threads=$((queue_threads + 1))
      [[ "$nice" == 0 ]] || bad=1
    elif [[ "$nice" != 10 ]]; then
      listing+="      (neither of the packet path nor background)"$'\n'
      bad=1
    fi
  done
  for want in "$@"; do [[ "${background[$want]}" == ok ]] || bad=1; done
  ((queue_threads > 0)) || bad=1
  if ((bad)); then
    printf '%s' "$listing"
    for want in "$@"; do echo "    background $want: ${background[$want]}"; done
    return 1
  fi
}

# The policy revision the box runs, from `ctl --json status`.
revision() { ctl --json status | sed -n 's/.*"policy_revision": "\{0,1\}\([0-9]*\).*/\1/p'; }

# How many lines of muzzled's log match the extended regex PATTERN.
log_count() { grep -Ec -- "$1" "$LAB_STATE/muzzled.log" || true; }

# Counter NAME's value in muzzled's newest `event=counters` line.
counter() { grep -o " $1=[0-9]*" "$LAB_STATE/muzzled.log" | tail -n1 | cut -d= -f2; }

# Asks muzzled for its counters (SIGUSR1) and waits for the `event=counters` line that answers.
usr1_counters() {
  local before
  before="$(log_count 'event=counters')"
  kill -USR1 "$LAB_MUZZLED_PID"
  wait_until 0 _log_count_above 'event=counters' "$before"
}
_log_count_above() { (($(log_count "$1") > $2)); }

# Stands in for systemd's notify socket: a datagram socket in the gateway's namespace that anyone
# may write to, as /run/systemd/notify is; every message is appended to $NOTIFY_RECEIVED,
# NUL-separated. Sets NOTIFY_SOCKET_PATH (muzzled's NOTIFY_SOCKET) and NOTIFY_RECEIVED.
scenario_notify_socket() {
  NOTIFY_SOCKET_PATH="$LAB_STATE/notify.sock"
  NOTIFY_RECEIVED="$LAB_STATE/notify.received"
  : >"$NOTIFY_RECEIVED"
  lab_exec gw python3 -c '
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        f.write(s.recv(4096) + b"\0")
' "$NOTIFY_SOCKET_PATH" "$NOTIFY_RECEIVED" </dev/null >>"$LAB_STATE/notify.log" 2>&1 &
  _lab_remember_pid $!
  lab_wait_file "$NOTIFY_SOCKET_PATH" 10 || {
    lab_log "the notify socket did not appear:"
    cat "$LAB_STATE/notify.log" >&2
    return 1
  }
}

# How many messages equal to MESSAGE the notify socket received so far.
notify_count() { tr '\0' '\n' <"$NOTIFY_RECEIVED" | grep -cx -- "$1" || true; }

# One message equal to MESSAGE has arrived, within SECONDS.
notify_arrived() {
  local message="$1" seconds="$2" i
  for ((i = 0; i < seconds * 10; i++)); do
    (($(notify_count "$message") > 0)) && return 0
    sleep 0.1
  done
  return 1
}

# Scenario checks wait for what they need, never for a fixed short window: on a loaded machine
# (a CI runner, a build next door) a log line or a reply can take seconds. A check that passes
# returns as soon as its condition holds, so a generous deadline costs nothing.
SCENARIO_MIN_WAIT_SECONDS="${SCENARIO_MIN_WAIT_SECONDS:-20}"

# Waits for a muzzled log line matching the extended regex PATTERN: up to SECONDS, but never less
# than SCENARIO_MIN_WAIT_SECONDS.
wait_log() {
  local pattern="$1" seconds="${2:-0}"
  wait_until "$seconds" grep -Eq -- "$pattern" "$LAB_STATE/muzzled.log"
}

# Runs COMMAND... every 0.1 s until it succeeds: up to SECONDS, but never less than
# SCENARIO_MIN_WAIT_SECONDS. Returns non-zero if it never did.
wait_until() {
  local seconds="$1"
  shift
  ((seconds < SCENARIO_MIN_WAIT_SECONDS)) && seconds="$SCENARIO_MIN_WAIT_SECONDS"
  local deadline=$((SECONDS + seconds))
  until "$@" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
