# shellcheck shell=bash
# The fleet lab: many gateways, each a light site with its own muzzled, managed over mutual TLS
# from one admin namespace. The full lab (lab.sh: nine namespaces and two dnsmasq) times 32 is
# too heavy for CI; a fleet rollout needs many boxes, not many kinds of device, so each site here
# is a gateway, one camera and one NVR.
#
#            admin 198.19.0.1/24 (br-mgmt)                       muzzlectl runs here
#   ┌──────────────┼──────────────────────┐
#   mgmt0 198.19.0.11          ...         mgmt0 198.19.0.(10+N)  (a veth each, port gwNN on br-mgmt)
#   gw01                                   gwNN                   muzzled, mTLS on mgmt0:7443
#    ├ br-cam 198.18.10.1/24 ── cam01 198.18.10.11 (MAC 44:47:cc:00:00:11: lobby-cam)
#    ├ lan-nvr 198.18.1.1/24 ── nvr01 198.18.1.10 (labnet serve tcp 554)
#    └ uplink0 198.51.100.1/24 (a veth to nothing: its peer stays in the gateway, unused; the
#                               kernel here has no dummy interfaces; muzzled only names it)
#
# Every site has the same addresses (they are separate namespaces): the policy one site runs
# runs on any other, as on a real fleet of identical shops. Namespaces are mzF<ID>-admin,
# mzF<ID>-gwNN, mzF<ID>-camNN, mzF<ID>-nvrNN; nothing is created in the root namespace.
#
# Cost, measured on the 2-core CI machine: see tests/lab/README.md ("The fleet lab").
#
# As a library (source tests/scenario/common.sh first: root check, scenario_certs/scenario_issue,
# wait_until):
#   fleet_trap                   # tear down on EXIT/INT/TERM (replaces common.sh's lab trap)
#   fleet_up ID COUNT            # namespaces, links, NVR servers, certificates, muzzled configs
#   fleet_start_all              # every muzzled at once; waits for each one's event=ready
#   fleet_ctl N ARGS...          # muzzlectl --target 198.19.0.(10+N):7443 with the admin's cert
#   fleet_admin CMD...           # a command in the admin namespace (muzzlectl fleet ...)
#   fleet_kill N / fleet_start N # kill -9 one box's muzzled / start it again (waits for ready)
#   fleet_revision N / fleet_pending N / fleet_policy_text N   # what box N says about itself
#   fleet_cam_start N [PER_SECOND]   # camNN opens TCP connections to its NVR's 554, until stopped
#   fleet_down                   # kill everything, delete every namespace; safe twice
#
# Environment: BUILD (mgmt/muzzled, mgmt/muzzlectl, tests/lab/labnet), as lab.sh;
# FLEET_POLICY (default policies/site-example.yaml): the policy every box starts from;
# FLEET_KEEP_STATE=1 keeps $FLEET_STATE (logs, configs, certificates) after the end.
# Set by fleet_up: FLEET_ID, FLEET_COUNT, FLEET_STATE (mktemp dir), FLEET_CERTS ($FLEET_STATE/certs:
# ca.pem, admin.pem/key with CN fleet-admin (role admin on every box), gwNN.pem/key with
# subjectAltName IP:198.19.0.(10+N)).

# shellcheck source=tests/lab/lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"

FLEET_MGMT_NET=198.19.0
FLEET_ADMIN_ADDR=198.19.0.1
FLEET_PORT=7443
FLEET_MAX=200  # 198.19.0.(10+N) must stay a host address of the /24
declare -ga FLEET_PID=()

fleet_log() { printf 'fleet-lab: %s\n' "$*" >&2; }

fleet_name() { printf 'gw%02d' "$1"; }
fleet_addr() { echo "$FLEET_MGMT_NET.$((10 + $1))"; }
fleet_target() { echo "$(fleet_addr "$1"):$FLEET_PORT"; }
fleet_ns() { printf 'mzF%s-%s' "$FLEET_ID" "$1"; }
fleet_dir() { echo "$FLEET_STATE/$(fleet_name "$1")"; }
fleet_admin() { ip netns exec "$(fleet_ns admin)" "$@"; }

fleet_trap() {
  trap 'fleet_down' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Records a background process for fleet_down and takes it out of bash's job table.
_fleet_remember_pid() {
  echo "$1" >>"$FLEET_STATE/pids"
  disown "$1" 2>/dev/null || true
}

# Runs `ip -batch` on stdin's lines, in namespace NS (or the root namespace for "-"): one process
# for a whole namespace's links and addresses, which is most of what makes 32 sites fast to build.
_fleet_ip_batch() {
  local ns="$1" out
  if [[ "$ns" == - ]]; then out="$(ip -batch - 2>&1)"; else out="$(ip -n "$ns" -batch - 2>&1)"; fi ||
    {
      fleet_log "ip -batch in ${ns/#-/the root namespace} failed: $out"
      return 1
    }
}

fleet_up() {
  FLEET_ID="$1"
  FLEET_COUNT="$2"
  [[ "$FLEET_ID" =~ ^[A-Za-z0-9]{1,10}$ ]] || {
    fleet_log "fleet id must be 1-10 letters or digits, got '$FLEET_ID'"
    return 1
  }
  ((FLEET_COUNT >= 1 && FLEET_COUNT <= FLEET_MAX)) || {
    fleet_log "between 1 and $FLEET_MAX gateways, not '$FLEET_COUNT'"
    return 1
  }
  [[ -x "$LABNET" && -x "$BUILD/mgmt/muzzled" && -x "$BUILD/mgmt/muzzlectl" ]] || {
    fleet_log "build labnet, muzzled and muzzlectl first (BUILD=$BUILD)"
    return 1
  }
  if grep -q "^mzF$FLEET_ID-" <<<"$(ip netns list)"; then
    fleet_log "namespaces mzF$FLEET_ID-* exist already: another fleet lab uses id $FLEET_ID"
    return 1
  fi
  FLEET_STATE="${FLEET_STATE:-$(mktemp -d "/tmp/muzzle-fleet-$FLEET_ID.XXXXXX")}"
  FLEET_CERTS="$FLEET_STATE/certs"
  export FLEET_ID FLEET_COUNT FLEET_STATE FLEET_CERTS
  : >"$FLEET_STATE/pids"
  fleet_log "building fleet lab $FLEET_ID: $FLEET_COUNT gateways (state in $FLEET_STATE)"

  local n nn gw
  {
    echo "netns add $(fleet_ns admin)"
    for ((n = 1; n <= FLEET_COUNT; n++)); do
      nn="$(printf %02d "$n")"
      echo "netns add $(fleet_ns "gw$nn")"
      echo "netns add $(fleet_ns "cam$nn")"
      echo "netns add $(fleet_ns "nvr$nn")"
    done
  } | _fleet_ip_batch - || return 1

  _fleet_ip_batch "$(fleet_ns admin)" <<EOF || return 1
link set lo up
link add br-mgmt type bridge forward_delay 0 mcast_snooping 0
addr add $FLEET_ADMIN_ADDR/24 dev br-mgmt
link set br-mgmt up
EOF
  for ((n = 1; n <= FLEET_COUNT; n++)); do
    _fleet_build_site "$n" || return 1
  done
  # The admin side of every management link, in one go.
  for ((n = 1; n <= FLEET_COUNT; n++)); do
    echo "link set $(fleet_name "$n") master br-mgmt up"
  done | _fleet_ip_batch "$(fleet_ns admin)" || return 1
  # Forwarding between the camera segment and the NVR's LAN is the gateway's job. A process per
  # namespace either way, so all at once.
  local -a pids=()
  for ((n = 1; n <= FLEET_COUNT; n++)); do
    ip netns exec "$(fleet_ns "gw$(printf %02d "$n")")" sysctl -qw net.ipv4.ip_forward=1 &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || return 1; done
  for ((n = 1; n <= FLEET_COUNT; n++)); do _fleet_serve_nvr "$n"; done
  for ((n = 1; n <= FLEET_COUNT; n++)); do _fleet_serve_nvr_ready "$n" || return 1; done
  _fleet_certs || return 1
  _fleet_configs || return 1
}

# One site: the gateway's interfaces, its camera and its NVR.
_fleet_build_site() {
  local n="$1" nn gw cam nvr
  nn="$(printf %02d "$n")"
  gw="$(fleet_ns "gw$nn")"
  cam="$(fleet_ns "cam$nn")"
  nvr="$(fleet_ns "nvr$nn")"
  _fleet_ip_batch "$gw" <<EOF || return 1
link set lo up
link add mgmt0 type veth peer name $(fleet_name "$n") netns $(fleet_ns admin)
addr add $(fleet_addr "$n")/24 dev mgmt0
link set mgmt0 up
link add br-cam type bridge forward_delay 0 mcast_snooping 0
addr add 198.18.10.1/24 dev br-cam
link set br-cam up
link add p-cam type veth peer name eth0 netns $cam
link set p-cam master br-cam up
link add lan-nvr type veth peer name eth0 netns $nvr
addr add 198.18.1.1/24 dev lan-nvr
link set lan-nvr up
link add uplink0 type veth peer name uplink0-peer
addr add 198.51.100.1/24 dev uplink0
link set uplink0 up
EOF
  _fleet_ip_batch "$cam" <<EOF || return 1
link set lo up
link set eth0 address 44:47:cc:00:00:11
addr add 198.18.10.11/24 dev eth0
link set eth0 up
route add default via 198.18.10.1
EOF
  _fleet_ip_batch "$nvr" <<EOF
link set lo up
addr add 198.18.1.10/24 dev eth0
link set eth0 up
route add default via 198.18.1.1
EOF
}

# Starts `labnet serve --tcp 554` in box N's NVR; _fleet_serve_nvr_ready N waits until it listens.
_fleet_serve_nvr() {
  local nn
  nn="$(printf %02d "$1")"
  ip netns exec "$(fleet_ns "nvr$nn")" "$LABNET" serve --tcp 554 \
    --ready-file "$FLEET_STATE/serve-nvr$nn.ready" >>"$FLEET_STATE/serve-nvr$nn.log" 2>&1 </dev/null &
  _fleet_remember_pid $!
}
_fleet_serve_nvr_ready() {
  local nn
  nn="$(printf %02d "$1")"
  lab_wait_file "$FLEET_STATE/serve-nvr$nn.ready" 10 || {
    fleet_log "labnet serve in nvr$nn did not start: $(cat "$FLEET_STATE/serve-nvr$nn.log")"
    return 1
  }
}

# A CA, the admin's client certificate (CN fleet-admin) and one server certificate per box for
# its management address, as a fleet's own PKI would issue them.
_fleet_certs() {
  mkdir -p "$FLEET_CERTS" && scenario_certs "$FLEET_CERTS" || return 1
  scenario_issue admin fleet-admin "extendedKeyUsage=clientAuth" || return 1
  local n
  for ((n = 1; n <= FLEET_COUNT; n++)); do
    scenario_issue "$(fleet_name "$n")" "$(fleet_name "$n")" "subjectAltName=IP:$(fleet_addr "$n")" ||
      return 1
  done
}

# Every box's muzzled.yaml (in its own folder, which is also its state_dir).
_fleet_configs() {
  [[ -f "$FLEET_STATE/policy.yaml" ]] ||
    cp "${FLEET_POLICY:-$LAB_REPO/policies/site-example.yaml}" "$FLEET_STATE/policy.yaml" || return 1
  [[ -d "$FLEET_STATE/lists" ]] || cp -r "$LAB_REPO/policies/lists" "$FLEET_STATE/lists" || return 1
  local n dir
  for ((n = 1; n <= FLEET_COUNT; n++)); do
    dir="$(fleet_dir "$n")"
    mkdir -p "$dir" || return 1
    cat >"$dir/muzzled.yaml" <<EOF
# Written by tests/lab/fleet_lab.sh for fleet lab $FLEET_ID, box $(fleet_name "$n").
segments:
  - name: cameras
    interface: br-cam
uplink: [uplink0]
fail_mode: closed
queue: {first: 100, count: 1}
policy: $FLEET_STATE/policy.yaml
state_dir: $dir
preset_dirs: [$LAB_REPO/policies/presets]
management:
  socket: $dir/muzzled.sock
  tcp:
    listen: $(fleet_target "$n")
    cert: $FLEET_CERTS/$(fleet_name "$n").pem
    key: $FLEET_CERTS/$(fleet_name "$n").key
    client_ca: $FLEET_CERTS/ca.pem
    allow: [$FLEET_ADMIN_ADDR]
    roles:
      - {identity: fleet-admin, role: admin}
EOF
    : >>"$dir/muzzled.log"
  done
  # muzzled makes itself the user muzzle (lab.sh): its folders and the seed policy are that
  # user's; the certificates stay root's, readable by the group (scenario_certs).
  if getent passwd muzzle >/dev/null; then
    chown muzzle:muzzle "$FLEET_STATE" "$FLEET_STATE/policy.yaml" || return 1
    chown -R muzzle:muzzle "$FLEET_STATE/lists" "$FLEET_STATE"/gw* || return 1
  fi
}

_fleet_ready_count() {
  local n
  n="$(grep -c 'event=ready' "$(fleet_dir "$1")/muzzled.log" 2>/dev/null || true)"
  echo "${n:-0}"
}

# Starts box N's muzzled without waiting; prints the ready count before it.
_fleet_spawn() {
  local n="$1" nn dir
  nn="$(printf %02d "$n")"
  dir="$(fleet_dir "$n")"
  ip netns exec "$(fleet_ns "gw$nn")" "$BUILD/mgmt/muzzled" --config "$dir/muzzled.yaml" \
    >>"$dir/muzzled.log" 2>&1 </dev/null &
  FLEET_PID[n]=$!
  _fleet_remember_pid "${FLEET_PID[n]}"
}

# Waits until every box in the list N... has logged more event=ready lines than BEFORE_N says
# (an associative array name), up to SECONDS.
_fleet_wait_ready() {
  local seconds="$1" n
  shift
  local -a left=("$@")
  local deadline=$((SECONDS + seconds))
  while ((${#left[@]} > 0)); do
    local -a still=()
    for n in "${left[@]}"; do
      if (($(_fleet_ready_count "$n") > FLEET_READY_BEFORE[n])); then continue; fi
      if ! kill -0 "${FLEET_PID[n]}" 2>/dev/null; then
        fleet_log "$(fleet_name "$n")'s muzzled exited before it was ready; log:"
        tail -n 20 "$(fleet_dir "$n")/muzzled.log" >&2
        return 1
      fi
      still+=("$n")
    done
    left=("${still[@]}")
    ((${#left[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      fleet_log "not ready after $seconds s: $(for n in "${left[@]}"; do fleet_name "$n"; done | tr '\n' ' ')"
      return 1
    fi
    sleep 0.1
  done
}
declare -ga FLEET_READY_BEFORE=()

# Starts every box's muzzled at once and waits (up to 120 s: 32 policy compiles and rulesets
# share 2 cores) for each one's event=ready.
fleet_start_all() {
  local n all=()
  for ((n = 1; n <= FLEET_COUNT; n++)); do
    FLEET_READY_BEFORE[n]="$(_fleet_ready_count "$n")"
    _fleet_spawn "$n"
    all+=("$n")
  done
  _fleet_wait_ready "${FLEET_START_SECONDS:-120}" "${all[@]}"
}

# Starts box N's muzzled again (after fleet_kill) and waits for it.
fleet_start() {
  local n="$1"
  FLEET_READY_BEFORE[n]="$(_fleet_ready_count "$n")"
  _fleet_spawn "$n"
  _fleet_wait_ready 60 "$n"
}

# kill -9 box N's muzzled and waits until it is gone.
fleet_kill() {
  local n="$1" pid="${FLEET_PID[$1]:-}" i
  [[ -n "$pid" ]] || {
    fleet_log "$(fleet_name "$n")'s muzzled is not running"
    return 1
  }
  kill -KILL "$pid" || return 1
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  FLEET_PID[n]=""
  ! kill -0 "$pid" 2>/dev/null
}

# muzzlectl from the admin namespace to box N, with the admin's certificate.
fleet_ctl() {
  local n="$1"
  shift
  fleet_admin "$BUILD/mgmt/muzzlectl" --target "$(fleet_target "$n")" --ca "$FLEET_CERTS/ca.pem" \
    --cert "$FLEET_CERTS/admin.pem" --key "$FLEET_CERTS/admin.key" --timeout 10 "$@"
}

# What box N says about itself: its running revision, its pending commit's revision ("" when
# none), its running policy text.
fleet_status_json() { fleet_ctl "$1" --json status; }
fleet_revision() { fleet_status_json "$1" | jq -r '.policy_revision // 0'; }
fleet_pending() { fleet_status_json "$1" | jq -r '.pending.revision // empty'; }
fleet_policy_text() { fleet_ctl "$1" policy get; }

# camNN opens a TCP connection to its NVR (198.18.1.10:554) PER_SECOND times a second (default
# 4), each a new flow muzzled judges, until fleet_cam_stop N or the end. One line per try in
# $FLEET_STATE/camNN.flows ("result=connected ..." / "result=refused ...").
fleet_cam_start() {
  local n="$1" per_second="${2:-4}" nn
  nn="$(printf %02d "$n")"
  ip netns exec "$(fleet_ns "cam$nn")" bash -c '
    labnet="$1" pause="$2"
    while true; do
      "$labnet" tcp 198.18.1.10 554 --timeout-ms 500 </dev/null 2>&1
      sleep "$pause"
    done' fleet-cam "$LABNET" "$(awk -v r="$per_second" 'BEGIN { printf "%.3f", 1 / r }')" \
    >>"$FLEET_STATE/cam$nn.flows" 2>&1 </dev/null &
  FLEET_CAM_PID[n]=$!
  _fleet_remember_pid "${FLEET_CAM_PID[n]}"
}
declare -ga FLEET_CAM_PID=()
fleet_cam_stop() { kill "${FLEET_CAM_PID[$1]}" 2>/dev/null || true; }
# How many of camNN's tries so far ended in RESULT (connected, refused, unreachable, ...).
fleet_cam_count() {
  local n
  n="$(grep -c "result=$2" "$FLEET_STATE/cam$(printf %02d "$1").flows" 2>/dev/null || true)"
  echo "${n:-0}"
}

# Kills everything the lab started and deletes its namespaces. Safe to call twice and on a
# half-built lab; never fails (it runs from EXIT traps).
fleet_down() {
  local status=$?
  set +e
  [[ -n "${FLEET_ID:-}" ]] || return "$status"
  local pid ns
  if [[ -n "${FLEET_STATE:-}" && -f "$FLEET_STATE/pids" ]]; then
    while read -r pid; do
      [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
    done <"$FLEET_STATE/pids"
  fi
  for ns in $(ip netns list | sed -n "s/^\(mzF$FLEET_ID-[A-Za-z0-9]*\).*/\1/p"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  ip netns list | sed -n "s/^\(mzF$FLEET_ID-[A-Za-z0-9]*\).*/netns del \1/p" | ip -force -batch - 2>/dev/null
  if [[ -n "${FLEET_STATE:-}" && -d "$FLEET_STATE" && "$FLEET_STATE" == /tmp/muzzle-fleet-* ]]; then
    if [[ -n "${FLEET_KEEP_STATE:-}" ]]; then
      fleet_log "kept $FLEET_STATE"
    else
      rm -rf "$FLEET_STATE"
    fi
  fi
  FLEET_ID=""
  return "$status"
}
