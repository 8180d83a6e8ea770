#!/usr/bin/env bash
# The Muzzle lab: a gateway, four IoT devices, an NVR and a small "internet", each in its own
# network namespace, joined by veth pairs. Real kernel, real packets, and nothing leaves the
# namespaces: no interface is ever created in the root namespace, and muzzled runs only inside
# the gateway's namespace.
#
#   cam1 cam2 cam3 vacuum unknown speaker ──(br-cam 198.18.10.1/24, fd00:10::1/64)── gw ──(uplink0)── inet
#                                                          │ (lan-nvr 198.18.1.1/24)           └ cloud
#                                                          nvr 198.18.1.10                       hosts
#
# DNS: dnsmasq on gw (the devices' resolver, on 198.18.10.1 / fd00:10::1) forwards to dnsmasq in
# inet (198.51.100.2 / 2001:db8:1::2), which answers the vendor names in LAB_DNS_RECORDS.
#
# As a library (what tests do):
#   source tests/lab/lab.sh
#   lab_trap                 # tear down on EXIT/INT/TERM, whatever happens
#   lab_up "$$"              # the id keeps namespaces apart: mz<ID>-gw, mz<ID>-cam1, ...
#   lab_start_muzzled
#   lab_expect allowed cam1 nvr tcp 554
#   lab_summary              # "N passed, N failed"; non-zero on failure
#
# As a command (for poking around by hand):
#   tests/lab/lab.sh up ID          build the lab, start the services, print how to enter it
#   tests/lab/lab.sh down ID        kill everything in it, delete it
#   tests/lab/lab.sh exec ID NODE cmd...
#
# Environment: BUILD (default <repo>/build) is where mgmt/muzzled and tests/lab/labnet are found
# (LABNET overrides the latter); LAB_MANAGEMENT (optional): extra lines, indented two spaces,
# for muzzled.yaml's `management:` section (the socket is always $LAB_STATE/muzzled.sock);
# FAIL_MODE (closed|open) and LAB_QUEUE_COUNT (flow queues, default 1) go into muzzled.yaml;
# LAB_STATE_DIR (default $LAB_STATE) is muzzled's state_dir (revisions, audit log, generation);
# LAB_CONFIG_EXTRA (optional): more top-level lines for muzzled.yaml (`devices: {...}`);
# LAB_FLOOD_GUARD (optional): muzzled.yaml's `flood_guard:` ({new_flows_per_second: 0,
# segment_new_flows_per_second: 0} turns the guards off for a test that floods on purpose,
# {connections: 0} the connection limit); unset: muzzled's default;
# LAB_MUZZLED_ENV (optional): NAME=VALUE words (no spaces) for muzzled's environment alone, e.g.
# TZ and libfaketime's variables (tests/scenario/schedule.sh);
# LAB_STATE is set by lab_up (a mktemp dir with logs, pids, muzzled.yaml and policy.yaml).

LAB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD:-$LAB_REPO/build}"
LABNET="${LABNET:-$BUILD/tests/lab/labnet}"  # the image's self-test sets its own
LAB_NODES=(gw cam1 cam2 cam3 vacuum unknown speaker nvr inet)
LAB_DEVICES=(cam1 cam2 cam3 vacuum unknown speaker)

# Where each node is reached from the camera segment (the gateway by its segment address).
declare -gA LAB_V4=(
  [gw]=198.18.10.1 [cam1]=198.18.10.11 [cam2]=198.18.10.12 [cam3]=198.18.10.13 [vacuum]=198.18.10.21
  [unknown]=198.18.10.99 [speaker]=198.18.10.31 [nvr]=198.18.1.10 [inet]=198.51.100.2
  [cloud1]=203.0.113.10 [cloud2]=203.0.113.20
)
declare -gA LAB_V6=(
  [gw]=fd00:10::1 [cam1]=fd00:10::11 [cam2]=fd00:10::12 [cam3]=fd00:10::13 [vacuum]=fd00:10::21
  [unknown]=fd00:10::99 [speaker]=fd00:10::31 [nvr]=fd00:1::10 [inet]=2001:db8:1::2
  [cloud1]=2001:db8:cafe::10 [cloud2]=2001:db8:cafe::20
)
declare -gA LAB_MAC=(
  [cam1]=44:47:cc:00:00:11 [cam2]=44:47:cc:00:00:12 [cam3]=44:47:cc:00:00:13 [vacuum]=50:ec:50:00:00:21
  [unknown]=02:5a:00:00:00:99 [speaker]=68:54:fd:00:00:31
)
# Gateway bridge port for each device.
declare -gA LAB_PORT=([cam1]=p-cam1 [cam2]=p-cam2 [cam3]=p-cam3 [vacuum]=p-vac [unknown]=p-unk [speaker]=p-spk)

# The names inet's dnsmasq answers: NAME V4 V6 TTL. Short TTLs keep TTL tests short; the cloud
# hosts behind them are addresses on inet's loopback.
LAB_DNS_RECORDS=(
  "avs.voice.example 203.0.113.30 2001:db8:cafe::30 60"
  "time.vendor.example 203.0.113.31 2001:db8:cafe::31 60"
  "telemetry.vendor.example 203.0.113.32 2001:db8:cafe::32 60"
  "node7.cdnco.example 203.0.113.33 2001:db8:cafe::33 60"
  "voice.example 203.0.113.34 2001:db8:cafe::34 60"
  "short.voice.example 203.0.113.35 2001:db8:cafe::35 1"
  "relay.p2p.example 203.0.113.40 2001:db8:cafe::40 60"
  "dns.voice.example 203.0.113.53 2001:db8:cafe::53 60"
  "split-answer-needs-several-tcp-segments-to-arrive-whole-0002.cdnco.example 203.0.113.37 2001:db8:cafe::37 60"
)
# CNAME chains: cdn.voice.example -> edge.cdnco.example -> node7.cdnco.example, and
# split.voice.example -> two long names, an answer of ~200 bytes (looked up over TCP in 88-byte
# segments, the smallest Linux allows).
LAB_DNS_CNAMES=("cdn.voice.example edge.cdnco.example" "edge.cdnco.example node7.cdnco.example"
  "split.voice.example split-answer-needs-several-tcp-segments-to-arrive-whole-0001.cdnco.example"
  "split-answer-needs-several-tcp-segments-to-arrive-whole-0001.cdnco.example split-answer-needs-several-tcp-segments-to-arrive-whole-0002.cdnco.example")

LAB_PASSED=0
LAB_FAILED=0
LAB_MUZZLED_PID=""

lab_log() { printf 'lab: %s\n' "$*" >&2; }

lab_ns() { printf 'mz%s-%s' "$LAB_ID" "$1"; }

# Runs a command inside a node's namespace: lab_exec cam1 ping -c1 198.18.1.10
lab_exec() {
  local node="$1"
  shift
  ip netns exec "$(lab_ns "$node")" "$@"
}

# Installs teardown traps. INT/TERM turn into a normal exit so the EXIT trap runs once.
lab_trap() {
  trap 'lab_down' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

_lab_check_id() {
  # The id is part of namespace names; keep it short and plain.
  [[ "${LAB_ID:-}" =~ ^[A-Za-z0-9]{1,12}$ ]] || {
    lab_log "lab id must be 1-12 letters or digits, got '${LAB_ID:-}'"
    return 1
  }
}

# A namespace with loopback up and IPv6 DAD off, so addresses are usable the moment they exist
# (a tentative address would make the first v6 flows of a test fail at random).
_lab_add_ns() {
  local ns
  ns="$(lab_ns "$1")"
  ip netns add "$ns" &&
    ip -n "$ns" link set lo up &&
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
      net.ipv6.conf.default.accept_dad=0
}

# A veth pair created directly inside two namespaces: never visible in the root namespace.
_lab_veth() {
  local node_a="$1" if_a="$2" node_b="$3" if_b="$4"
  ip link add "$if_a" netns "$(lab_ns "$node_a")" type veth \
    peer name "$if_b" netns "$(lab_ns "$node_b")" &&
    ip -n "$(lab_ns "$node_a")" link set "$if_a" up &&
    ip -n "$(lab_ns "$node_b")" link set "$if_b" up
}

_lab_addr() {
  local node="$1" dev="$2" v4="$3" v6="$4"
  ip -n "$(lab_ns "$node")" addr add "$v4" dev "$dev" &&
    ip -n "$(lab_ns "$node")" -6 addr add "$v6" dev "$dev" nodad
}

_lab_default_route() {
  local node="$1" v4="$2" v6="$3"
  ip -n "$(lab_ns "$node")" route add default via "$v4" &&
    ip -n "$(lab_ns "$node")" -6 route add default via "$v6"
}

# Records a background process for lab_down, and takes it out of bash's job table: bash then
# reaps it without printing "Killed" lines into test output when the lab kills it.
_lab_remember_pid() {
  echo "$1" >>"$LAB_STATE/pids"
  disown "$1" 2>/dev/null || true
}

# Waits until FILE exists, up to SECONDS (fractions allowed).
lab_wait_file() {
  local file="$1" seconds="${2:-5}" i
  for ((i = 0; i < ${seconds%.*} * 20 + 1; i++)); do
    [[ -e "$file" ]] && return 0
    sleep 0.05
  done
  [[ -e "$file" ]]
}

# Starts `labnet serve` in NODE (args: --tcp/--udp lists) and waits until it listens.
lab_serve() {
  local node="$1"
  shift
  local ready="$LAB_STATE/serve-$node.ready"
  lab_exec "$node" "$LABNET" serve "$@" --ready-file "$ready" \
    >>"$LAB_STATE/serve-$node.log" 2>&1 </dev/null &
  _lab_remember_pid $!
  lab_wait_file "$ready" 5 || {
    lab_log "labnet serve in $node did not start:"
    cat "$LAB_STATE/serve-$node.log" >&2
    return 1
  }
}

# Builds the whole lab. Fails (non-zero) on any step; the caller's trap tears down the rest.
lab_up() {
  if [[ $# -ge 1 ]]; then LAB_ID="$1"; fi
  _lab_check_id || return 1
  [[ -x "$LABNET" ]] || {
    lab_log "$LABNET not built (run tests/setup.sh, or set BUILD)"
    return 1
  }
  local node dev
  for node in "${LAB_NODES[@]}"; do
    if [[ -e "/run/netns/$(lab_ns "$node")" ]]; then
      lab_log "namespace $(lab_ns "$node") exists already: another lab uses id $LAB_ID"
      return 1
    fi
  done
  LAB_STATE="${LAB_STATE:-$(mktemp -d "/tmp/muzzle-lab-$LAB_ID.XXXXXX")}"
  export LAB_ID LAB_STATE
  : >"$LAB_STATE/pids"
  lab_log "building lab $LAB_ID (state in $LAB_STATE)"

  for node in "${LAB_NODES[@]}"; do _lab_add_ns "$node" || return 1; done

  # Gateway: forwarding on, one bridge for the camera segment. Multicast snooping off: with
  # no MLD querier in the lab it only adds ways for IPv6 neighbour discovery to go quiet.
  lab_exec gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
  ip -n "$(lab_ns gw)" link add br-cam type bridge forward_delay 0 mcast_snooping 0 || return 1
  ip -n "$(lab_ns gw)" link set br-cam up || return 1

  for node in "${LAB_DEVICES[@]}"; do
    dev="${LAB_PORT[$node]}"
    _lab_veth gw "$dev" "$node" eth0 || return 1
    ip -n "$(lab_ns gw)" link set "$dev" master br-cam || return 1
    ip -n "$(lab_ns "$node")" link set eth0 address "${LAB_MAC[$node]}" || return 1
    _lab_addr "$node" eth0 "${LAB_V4[$node]}/24" "${LAB_V6[$node]}/64" || return 1
    _lab_default_route "$node" 198.18.10.1 fd00:10::1 || return 1
  done
  _lab_addr gw br-cam 198.18.10.1/24 fd00:10::1/64 || return 1

  _lab_veth gw lan-nvr nvr eth0 || return 1
  _lab_addr gw lan-nvr 198.18.1.1/24 fd00:1::1/64 || return 1
  _lab_addr nvr eth0 198.18.1.10/24 fd00:1::10/64 || return 1
  _lab_default_route nvr 198.18.1.1 fd00:1::1 || return 1

  # The internet: one router namespace whose loopback carries the "cloud" hosts.
  _lab_veth gw uplink0 inet eth0 || return 1
  _lab_addr gw uplink0 198.51.100.1/24 2001:db8:1::1/64 || return 1
  _lab_addr inet eth0 198.51.100.2/24 2001:db8:1::2/64 || return 1
  _lab_default_route gw 198.51.100.2 2001:db8:1::2 || return 1
  local cloud
  for cloud in 203.0.113.10/32 203.0.113.20/32; do
    ip -n "$(lab_ns inet)" addr add "$cloud" dev lo || return 1
  done
  for cloud in 2001:db8:cafe::10/128 2001:db8:cafe::20/128; do
    ip -n "$(lab_ns inet)" -6 addr add "$cloud" dev lo nodad || return 1
  done
  local record name v4 v6 ttl
  for record in "${LAB_DNS_RECORDS[@]}"; do
    read -r name v4 v6 ttl <<<"$record"
    ip -n "$(lab_ns inet)" addr add "$v4/32" dev lo || return 1
    ip -n "$(lab_ns inet)" -6 addr add "$v6/128" dev lo nodad || return 1
  done
  ip -n "$(lab_ns inet)" route add 198.18.0.0/15 via 198.51.100.1 || return 1
  ip -n "$(lab_ns inet)" -6 route add fd00::/8 via 2001:db8:1::1 || return 1

  lab_serve nvr --tcp 554,8000 || return 1
  lab_serve cam1 --tcp 554,80,23 || return 1
  lab_serve cam2 --tcp 554,80,23 || return 1
  lab_serve inet --tcp 443,80,554,853 --udp 67,123,853 || return 1
  lab_serve gw --tcp 22 --udp 123 || return 1
  _lab_start_dns || return 1

  # Let the gateway learn every device's MAC before muzzled starts, as on a live network.
  for node in "${LAB_DEVICES[@]}"; do
    lab_exec "$node" ping -q -c1 -W2 198.18.10.1 >/dev/null || {
      lab_log "$node cannot ping its gateway (v4)"
      return 1
    }
    lab_exec "$node" ping -q -6 -c1 -W2 fd00:10::1 >/dev/null || {
      lab_log "$node cannot ping its gateway (v6)"
      return 1
    }
  done
  lab_exec nvr ping -q -c1 -W2 198.18.1.1 >/dev/null || return 1
  lab_exec nvr ping -q -6 -c1 -W2 fd00:1::1 >/dev/null || return 1
  lab_exec inet ping -q -c1 -W2 198.51.100.1 >/dev/null || return 1
  lab_exec inet ping -q -6 -c1 -W2 2001:db8:1::1 >/dev/null || return 1
  lab_log "lab $LAB_ID is up"
}

# dnsmasq in NODE with the config file CONF, in the foreground (so lab_down can kill it by pid);
# waits until it answers on ADDRESS.
_lab_dnsmasq() {
  local node="$1" conf="$2" address="$3"
  # A pid file of its own: the default, /var/run/dnsmasq.pid, is shared by every lab, and dnsmasq
  # refuses to start ("failed to open pidfile ... File exists") when another lab's dnsmasq
  # creates it at the same moment (several gateways started at once: mgmt_fleet, fleet_reads).
  lab_exec "$node" dnsmasq --conf-file="$conf" --keep-in-foreground \
    --pid-file="$LAB_STATE/dnsmasq-$node.pid" \
    --log-facility="$LAB_STATE/dnsmasq-$node.log" >>"$LAB_STATE/dnsmasq-$node.log" 2>&1 </dev/null &
  local pid=$!
  _lab_remember_pid "$pid"
  # A deadline, not a count of tries: with several labs starting at once on a loaded box, a
  # refused query returns in microseconds and a fixed count ran out before dnsmasq was up.
  local deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    lab_exec "$node" "$LABNET" dns "$address" lab-ready.example --timeout-ms 200 2>/dev/null |
      grep -q 'result=answered' && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  lab_log "dnsmasq in $node does not answer on $address (pid $pid $(kill -0 "$pid" 2>/dev/null && echo running || echo exited)):"
  cat "$LAB_STATE/dnsmasq-$node.log" >&2
  return 1
}

# The lab's DNS: the vendor names in inet, and the devices' resolver on gw forwarding to it.
# Both configs say everything (no-resolv, no-hosts): dnsmasq never reads the host's resolv.conf
# or hosts file, and binds only lab addresses.
_lab_start_dns() {
  local record name v4 v6 ttl cname
  {
    echo "# Written by tests/lab/lab.sh: the simulated internet's names."
    printf '%s\n' no-resolv no-hosts bind-interfaces listen-address=198.51.100.2 \
      listen-address=2001:db8:1::2 user=root log-queries
    for record in "${LAB_DNS_RECORDS[@]}"; do
      read -r name v4 v6 ttl <<<"$record"
      echo "host-record=$name,$v4,$v6,$ttl"
    done
    for cname in "${LAB_DNS_CNAMES[@]}"; do
      read -r name v4 <<<"$cname"
      echo "cname=$name,$v4,60"
    done
  } >"$LAB_STATE/dnsmasq-inet.conf"
  # The gateway forwards and does not cache (cache-size=0), so devices see the TTLs inet gives.
  {
    echo "# Written by tests/lab/lab.sh: the devices' resolver on the gateway."
    printf '%s\n' no-resolv no-hosts bind-interfaces listen-address=198.18.10.1 \
      listen-address=fd00:10::1 server=198.51.100.2 cache-size=0 user=root log-queries
  } >"$LAB_STATE/dnsmasq-gw.conf"
  _lab_dnsmasq inet "$LAB_STATE/dnsmasq-inet.conf" 198.51.100.2 &&
    _lab_dnsmasq gw "$LAB_STATE/dnsmasq-gw.conf" 198.18.10.1
}

# Kills everything the lab started and deletes its namespaces. Safe to call twice, and on a
# half-built lab; never fails (it runs from EXIT traps).
lab_down() {
  local status=$?
  set +e
  [[ -n "${LAB_ID:-}" ]] || return "$status"
  local pid node ns
  # The processes we started, then anything else still living in the lab's namespaces
  # (whatever a test or a person started there by hand).
  if [[ -n "${LAB_STATE:-}" && -f "$LAB_STATE/pids" ]]; then
    while read -r pid; do
      [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
    done <"$LAB_STATE/pids"
  fi
  for node in "${LAB_NODES[@]}"; do
    ns="$(lab_ns "$node")"
    [[ -e "/run/netns/$ns" ]] || continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [[ -n "${LAB_STATE:-}" && -d "$LAB_STATE" && "$LAB_STATE" == /tmp/muzzle-lab-* ]]; then
    if [[ -n "${LAB_KEEP_STATE:-}" ]]; then
      lab_log "kept $LAB_STATE"
    else
      rm -rf "$LAB_STATE"
    fi
  fi
  LAB_MUZZLED_PID=""
  return "$status"
}

# ---------------------------------------------------------------------------------------------
# muzzled inside the gateway namespace

_lab_write_muzzled_config() {
  # A test may have written its own policy.yaml; otherwise the shipped example is the policy.
  [[ -f "$LAB_STATE/policy.yaml" ]] || cp "$LAB_REPO/policies/site-example.yaml" "$LAB_STATE/policy.yaml"
  # The lists the example names (DoH resolvers), unless a test wrote its own.
  [[ -d "$LAB_STATE/lists" ]] || cp -r "$LAB_REPO/policies/lists" "$LAB_STATE/lists"
  cat >"$LAB_STATE/muzzled.yaml" <<EOF
# Written by tests/lab/lab.sh for lab $LAB_ID.
segments:
  - name: cameras
    interface: br-cam
uplink: [uplink0]
fail_mode: ${FAIL_MODE:-closed}
queue: {first: 100, count: ${LAB_QUEUE_COUNT:-1}}
policy: $LAB_STATE/policy.yaml
state_dir: ${LAB_STATE_DIR:-$LAB_STATE}
# The source tree's presets, as /usr/share/muzzle/policies/presets holds them on a box.
preset_dirs: [$LAB_REPO/policies/presets]
${LAB_FLOOD_GUARD:+flood_guard: $LAB_FLOOD_GUARD}
${LAB_CONFIG_EXTRA:-}
management:
  socket: $LAB_STATE/muzzled.sock
${LAB_MANAGEMENT:-}
EOF
}

_lab_ready_count() {
  local n
  n="$(grep -c 'event=ready' "$LAB_STATE/muzzled.log" 2>/dev/null || true)"
  echo "${n:-0}"
}

# Starts muzzled in the gateway namespace (extra args are passed on, e.g. `--user root`) and
# waits up to 10 s for a new `event=ready` line in $LAB_STATE/muzzled.log. The log is appended
# to across restarts. Files muzzled reads from elsewhere (certificates) must be readable by the
# user muzzle.
# shellcheck disable=SC2120  # extra muzzled arguments are optional
lab_start_muzzled() {
  local muzzled="$BUILD/mgmt/muzzled" before i
  [[ -x "$muzzled" ]] || {
    lab_log "$muzzled not built"
    return 1
  }
  _lab_write_muzzled_config
  # Started as root, muzzled becomes the user muzzle with CAP_NET_ADMIN alone, as on a real box
  # (tests/setup.sh creates the user): its state folder is that user's, as /var/lib/muzzle is.
  if getent passwd muzzle >/dev/null; then
    : >>"$LAB_STATE/muzzled.log"
    chown -R muzzle:muzzle "$LAB_STATE" || return 1
  fi
  before="$(_lab_ready_count)"
  # shellcheck disable=SC2086  # NAME=VALUE words, split on purpose
  ip netns exec "$(lab_ns gw)" env ${LAB_MUZZLED_ENV:-} "$muzzled" \
    --config "$LAB_STATE/muzzled.yaml" "$@" >>"$LAB_STATE/muzzled.log" 2>&1 </dev/null &
  LAB_MUZZLED_PID=$!
  _lab_remember_pid "$LAB_MUZZLED_PID"
  for ((i = 0; i < 200; i++)); do
    if (($(_lab_ready_count) > before)); then return 0; fi
    if ! kill -0 "$LAB_MUZZLED_PID" 2>/dev/null; then
      lab_log "muzzled exited before it was ready; log:"
      tail -n 30 "$LAB_STATE/muzzled.log" >&2
      LAB_MUZZLED_PID=""
      return 1
    fi
    sleep 0.05
  done
  lab_log "muzzled not ready after 10 s; log:"
  tail -n 30 "$LAB_STATE/muzzled.log" >&2
  return 1
}

# Sends SIGNAL to muzzled and, for terminating signals, waits up to 30 s for it to exit (a stop
# takes well under a second, but seconds on a loaded machine).
_lab_signal_muzzled() {
  local signal="$1" i
  [[ -n "$LAB_MUZZLED_PID" ]] || {
    lab_log "muzzled is not running"
    return 1
  }
  kill "-$signal" "$LAB_MUZZLED_PID" || return 1
  [[ "$signal" == HUP ]] && return 0
  for ((i = 0; i < 600; i++)); do
    kill -0 "$LAB_MUZZLED_PID" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$LAB_MUZZLED_PID" 2>/dev/null; then
    lab_log "muzzled still running 30 s after SIG$signal"
    return 1
  fi
  LAB_MUZZLED_PID=""
}

lab_stop_muzzled() { _lab_signal_muzzled TERM; }
lab_kill_muzzled() { _lab_signal_muzzled KILL; }
lab_reload_muzzled() { _lab_signal_muzzled HUP; }

# The gateway's netfilter queues. Columns: queue_number peer_portid queue_total copy_mode
# copy_range queue_dropped user_dropped id_sequence 1
lab_queue_stats() { lab_exec gw cat /proc/net/netfilter/nfnetlink_queue; }

# id_sequence of QUEUE (default 100): how many packets that queue ever handed to user space.
# Prints 0 when the queue does not exist (yet).
lab_queue_seq() {
  local queue="${1:-100}"
  lab_queue_stats | awk -v q="$queue" '$1 == q { print $8; found = 1 } END { if (!found) print 0 }'
}

# ---------------------------------------------------------------------------------------------
# Flows and checks

# Address of a named target (gw, nvr, cam1, cloud1, ...) in family 4 or 6.
lab_addr() {
  local name="$1" family="${2:-4}"
  if [[ "$family" == 6 ]]; then echo "${LAB_V6[$name]:?unknown lab node $name}"; else
    echo "${LAB_V4[$name]:?unknown lab node $name}"
  fi
}

# Runs one labnet probe from NODE: lab_flow cam1 tcp 198.18.1.10 554 [--timeout-ms N].
# Prints labnet's line (result=... ms=...); returns labnet's exit code.
lab_flow() {
  local node="$1" proto="$2" host="$3" port="$4"
  shift 4
  lab_exec "$node" "$LABNET" "$proto" "$host" "$port" "$@" </dev/null
}

# Starts `labnet hold` in the background from NODE. Sets LAB_HOLD_PID, LAB_HOLD_OUT (its output)
# and LAB_HOLD_READY (exists, holding the echo count, once the first echo came back). Waits up
# to 5 s for the first echo; returns non-zero if it never came.
lab_hold_start() {
  local node="$1" host="$2" port="$3"
  shift 3
  local tag="hold-$node-$port-$RANDOM"
  LAB_HOLD_OUT="$LAB_STATE/$tag.out"
  LAB_HOLD_READY="$LAB_STATE/$tag.ready"
  lab_exec "$node" "$LABNET" hold "$host" "$port" --ready-file "$LAB_HOLD_READY" "$@" \
    >"$LAB_HOLD_OUT" 2>&1 </dev/null &
  LAB_HOLD_PID=$!
  _lab_remember_pid "$LAB_HOLD_PID"
  lab_wait_file "$LAB_HOLD_READY" 5
}

# Echo count of the current hold (0 before the first echo).
lab_hold_echoes() { cat "$LAB_HOLD_READY" 2>/dev/null || echo 0; }

# Waits up to SECONDS until the current hold has seen at least N echoes.
lab_hold_wait_echoes() {
  local n="$1" seconds="${2:-5}" i
  for ((i = 0; i < seconds * 20; i++)); do
    (($(lab_hold_echoes) >= n)) && return 0
    sleep 0.05
  done
  return 1
}

# Is the current hold still running (no cut, no max-ms yet)?
lab_hold_alive() { kill -0 "$LAB_HOLD_PID" 2>/dev/null && ! grep -q 'result=' "$LAB_HOLD_OUT"; }

# Waits up to SECONDS for the hold to end; prints its result line.
lab_hold_wait() {
  local seconds="${1:-5}" i
  for ((i = 0; i < seconds * 20; i++)); do
    grep -q 'result=' "$LAB_HOLD_OUT" && break
    sleep 0.05
  done
  grep 'result=' "$LAB_HOLD_OUT" || true
}

# Records one check: lab_check NAME COMMAND... (PASS when the command succeeds).
lab_check() {
  local name="$1"
  shift
  if "$@"; then lab_pass "$name"; else lab_fail "$name"; fi
}

lab_pass() {
  LAB_PASSED=$((LAB_PASSED + 1))
  printf '  PASS  %s\n' "$1"
}

lab_fail() {
  LAB_FAILED=$((LAB_FAILED + 1))
  printf '  FAIL  %s\n' "$1"
}

lab_table_header() {
  printf '%-3s %-44s %-9s %-18s %s\n' '#' 'flow (from -> to)' 'expected' 'got' ''
  printf '%-3s %-44s %-9s %-18s %s\n' '---' '--------------------------------------------' \
    '---------' '------------------' '----'
}

# One table row: lab_expect EXPECTED FROM TO PROTO PORT [4|6]
#   EXPECTED: allowed  (tcp connected and echoed, udp answered)
#             rejected (refused or unreachable: the firewall answered with a reset or ICMP)
#             refused  (same as rejected; the word used for connections towards a device)
#             blocked  (anything but allowed, including a silent drop)
lab_expect() {
  local expected="$1" from="$2" to="$3" proto="$4" port="$5" family="${6:-4}"
  local host line got ms ok=0 timeout=2000
  host="$(lab_addr "$to" "$family")"
  [[ "$proto" == udp ]] && timeout=1000
  if [[ "$proto" == udp && "$port" == 53 ]]; then
    # Port 53 is a real resolver (dnsmasq): ask it something instead of expecting an echo.
    line="$(lab_exec "$from" "$LABNET" dns "$host" probe.lab.example --timeout-ms "$timeout" </dev/null)" || true
  else
    line="$(lab_flow "$from" "$proto" "$host" "$port" --timeout-ms "$timeout")" || true
  fi
  got="$(sed -n 's/.*result=\([a-z-]*\).*/\1/p' <<<"$line")"
  ms="$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$line")"
  case "$expected" in
    allowed) [[ "$got" == connected || "$got" == answered ]] && ok=1 ;;
    rejected | refused) [[ "$got" == refused || "$got" == unreachable ]] && ok=1 ;;
    blocked) [[ -n "$got" && "$got" != connected && "$got" != answered ]] && ok=1 ;;
    *)
      lab_log "lab_expect: unknown expectation '$expected'"
      ;;
  esac
  _lab_row "$ok" "$from -> $to $host $proto/$port" "$expected" "$got" "$ms"
}

# Counts and prints one table row: _lab_row OK FLOW EXPECTED GOT MS (OK is 1 or 0).
# Always success: a failed row is counted, and must not stop a `set -e` script mid-table.
_lab_row() {
  local ok="$1" flow="$2" expected="$3" got="$4" ms="$5" verdict=PASS
  LAB_ROW=$((${LAB_ROW:-0} + 1))
  if ((ok)); then LAB_PASSED=$((LAB_PASSED + 1)); else
    verdict=FAIL
    LAB_FAILED=$((LAB_FAILED + 1))
  fi
  printf '%-3s %-44s %-9s %-18s %s\n' "$LAB_ROW" "$flow" "$expected" "${got:-error} ${ms:+${ms}ms}" "$verdict"
  return 0
}

# Resolves NAME from NODE through the gateway's resolver; prints the first address (A for
# family 4, AAAA for 6), nothing when there is none. Extra args go to labnet dns (--proto tcp).
lab_resolve() {
  local node="$1" name="$2" family="${3:-4}" server type=a line
  shift 3 2>/dev/null || shift $#
  server="$(lab_addr gw "$family")"
  [[ "$family" == 6 ]] && type=aaaa
  line="$(lab_exec "$node" "$LABNET" dns "$server" "$name" --type "$type" "$@" </dev/null)" || true
  sed -n 's/.* addrs=\([^, ]*\).*/\1/p' <<<"$line"
}

# One table row for a flow to a name: the device looks NAME up through the gateway first, as
# firmware does, then connects to the first address.
#   lab_expect_name EXPECTED FROM NAME PROTO PORT [4|6]
lab_expect_name() {
  local expected="$1" from="$2" name="$3" proto="$4" port="$5" family="${6:-4}"
  local host line="" got ms ok=0
  host="$(lab_resolve "$from" "$name" "$family")"
  if [[ -n "$host" ]]; then
    line="$(lab_flow "$from" "$proto" "$host" "$port" --timeout-ms 2000)" || true
  fi
  got="$(sed -n 's/.*result=\([a-z-]*\).*/\1/p' <<<"$line")"
  ms="$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$line")"
  case "$expected" in
    allowed) [[ "$got" == connected ]] && ok=1 ;;
    rejected) [[ "$got" == refused || "$got" == unreachable ]] && ok=1 ;;
  esac
  _lab_row "$ok" "$from -> $name ${host:-(no-address)} $proto/$port" "$expected" "$got" "$ms"
}

# Prints "N passed, N failed"; returns non-zero when anything failed (or nothing ran).
lab_summary() {
  printf '%d passed, %d failed\n' "$LAB_PASSED" "$LAB_FAILED"
  ((LAB_FAILED == 0 && LAB_PASSED > 0))
}

# ---------------------------------------------------------------------------------------------
# Command line

_lab_main() {
  set -euo pipefail
  local command="${1:-}"
  LAB_ID="${2:-}"
  case "$command" in
    up)
      _lab_check_id
      # On failure, leave nothing half-built behind.
      lab_up "$LAB_ID" || {
        lab_down
        exit 1
      }
      cat <<EOF
lab $LAB_ID is up; state in $LAB_STATE
  enter a node:   ip netns exec mz$LAB_ID-cam1 bash     (nodes: ${LAB_NODES[*]})
  run a flow:     $0 exec $LAB_ID cam1 $LABNET tcp 198.18.1.10 554
  tear down:      $0 down $LAB_ID
EOF
      ;;
    down)
      _lab_check_id
      # The state dir is a mktemp dir named after the id; find it again by that name.
      local dir
      LAB_STATE=""
      for dir in /tmp/muzzle-lab-"$LAB_ID".*; do
        [[ -d "$dir" ]] && LAB_STATE="$dir"
      done
      lab_down || true
      lab_log "lab $LAB_ID is down"
      ;;
    exec)
      _lab_check_id
      shift 2
      lab_exec "$@"
      ;;
    *)
      echo "usage: $0 up|down ID | exec ID NODE command..." >&2
      return 64
      ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  _lab_main "$@"
fi
