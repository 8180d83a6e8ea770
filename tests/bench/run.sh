#!/usr/bin/env bash
# The performance benchmark (issues 6 and 18): muzzled against the kernel alone and against a
# bare C queue loop (behind muzzled's table and behind a minimal one), same lab, same traffic,
# one run. Not part of CI's pass/fail. See README.md here.
#
#   tests/bench/run.sh                 full matrix, 3 rounds (~25 minutes on 2 cores), as root
#   BENCH_SECONDS=1 BENCH_ROUNDS=1 tests/bench/run.sh   a quick pass to check the harness
#
# Writes $BENCH_OUT/latest.jsonl (one JSON object per cell, plus a meta line) and latest.txt
# (the table, the ratios and the targets). BENCH_OUT defaults to tests/bench/results.
#
# Safety: every packet stays inside the lab's namespaces (tests/lab/lab.sh, id b<pid>); the
# queue programs, muzzled and every ruleset live only in the lab's gateway namespace; the EXIT
# trap kills what the bench started and deletes the namespaces. The one thing it does outside
# the lab is a 0 us request on /dev/cpu_dma_latency while a cell runs (BENCH_DMA_LATENCY=0: none),
# held by this shell's own file descriptor, so it ends with the cell or with the script.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BUILD="${BUILD:-$repo/build}"
out_dir="${BENCH_OUT:-$repo/tests/bench/results}"
secs="${BENCH_SECONDS:-3}"
rounds="${BENCH_ROUNDS:-3}"
bench="$BUILD/tests/bench"
# The established-path cells offer this many 64-byte UDP datagrams a second: below what every
# config forwards, so each forwards the same packets and only the CPU they cost differs. They run
# longer than the other cells: softirq time is sampled at the timer tick (250 Hz here), and a
# few percent needs about a thousand samples, ~10 s at this rate.
fixed_pps="${BENCH_FIXED_PPS:-50000}"
fixed_secs="${BENCH_FIXED_SECONDS:-10}"
# What a feature costs a new flow, measured as the established path is: new UDP flows at a fixed
# offered rate (the udp-fixed cells, BENCH_FLOW_RATE a second for BENCH_FLOW_RATE_SECONDS), below
# what every config forwards, so each forwards the same flows and only the CPU they cost differs.
# Saturated rates cannot resolve 3 %: one config and code ran udp-churn at two steady rates ~25 %
# apart (tests/bench/HISTORY.md, "The run committed"). 5 s at 40,000: ~200,000 flows, under the lab
# gateway's 262,144 conntrack entries, so no flow is evicted early.
flow_rate="${BENCH_FLOW_RATE:-40000}"
flow_rate_secs="${BENCH_FLOW_RATE_SECONDS:-5}"
# The same for TCP: the tcp-fixed cells, BENCH_TCP_FLOW_RATE connects a second for
# BENCH_FLOW_RATE_SECONDS, 32 open at most, where saturated tcp-churn moved by a quarter and more
# between rounds (muzzled: 15,974-22,056 conn/s over the 5 rounds of the run of 2026-12-06 22:46,
# HISTORY.md; the first run with these cells spread them as wide, for reasons HISTORY.md gives
# under "The run committed, 2026-12-07"). 8,000:
# about half the slowest round of any config that runs the cell (muzzled-2q 15,383, muzzled-noacct
# 15,919; the small box runs no fixed cells), so a slow round still forwards every connect
# offered; and even at saturated tcp-churn's p99 connect time (~2 ms) only ~16 would be open, so
# the 32 slots do not bound the rate.
# 5 s: 40,000 connections, one conntrack entry each, far under the table's 262,144.
tcp_flow_rate="${BENCH_TCP_FLOW_RATE:-8000}"
# During those cells (and the new-flow cells: cell()) perf samples every CPU (cpu-clock, this many
# times a second; 0: no perf) to measure the table's own CPU a packet (a flow): the samples in the
# kernel's nf_tables code. The tick-sampled softirq of one config moved by a factor of 4 between
# rounds; the table is the only part of it that differs between configs, and perf measures that
# part alone. At 1 kHz perf itself costs little; at 20 kHz it inflated the CPU it measured ~4x.
perf_hz="${BENCH_PERF_HZ:-1000}"
# The latency cells' flows, one at a time. Enough that a cell lasts most of a second: with 2,000
# UDP flows and 1,000 connects a cell took 50-110 ms, so its p99 was its 20th (10th) slowest
# flow, and one stall of the VM, or work a busy cell before had left behind, moved it by half.
latency_udp_flows=20000
latency_tcp_flows=5000
# BENCH_CONFIGS: only these configs (comma-separated names of the table in README.md; the small
# box's two go together as "small"), for an experiment on a few rows. Default: all.
only_configs="${BENCH_CONFIGS:-}"
want() { [[ -z "$only_configs" || ",$only_configs," == *",$1,"* ]]; }
# BENCH_KEEP_PERF: a folder where each cell's perf samples are kept (ROUND-CONFIG-WORKLOAD.perf,
# for `perf report -i`), instead of being deleted once the table's share is read.
keep_perf="${BENCH_KEEP_PERF:-}"
[[ -z "$keep_perf" ]] || mkdir -p "$keep_perf"

if ((EUID != 0)); then
  echo "bench: needs root (network namespaces)" >&2
  exit 1
fi

# Build what the bench needs (only its programs: on a small shared box the whole tree takes long),
# and the packages only it uses (iperf3; conntrack, to empty the lab gateway's table between cells;
# perf, for the tables' own CPU).
SETUP_TARGETS="${SETUP_TARGETS:-muzzled muzzlectl labnet bench_nfq_loop bench_ruleset bench_traffic}" \
  "$repo/tests/setup.sh"
for pkg in iperf3 conntrack linux-perf; do
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
    echo "bench: installing $pkg" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null; }
  fi
done

# shellcheck source=tests/lab/lab.sh
source "$repo/tests/lab/lab.sh"
lab_trap
# Every muzzled config keeps the flood guard's rule and the segment guard's (each first packet
# pays both buckets' updates, as on a box) at rates no cell reaches: the bench's traffic comes
# from one MAC address per segment, whose churn the defaults (500 a second per device, 2000 per
# segment) would cut to the buckets. Set it to measure another ({new_flows_per_second: 0,
# segment_new_flows_per_second: 0}: both guards off). The connection limit is off: one MAC
# address holds every connection of a cell, which any limit a box would use cuts, and the count
# the kernel walks for it would be the whole table, not a device's (README, Security).
if [[ -z "${LAB_FLOOD_GUARD:-}" ]]; then
  export LAB_FLOOD_GUARD='{new_flows_per_second: 1000000, burst: 10000000, connections: 0, segment_new_flows_per_second: 10000000, segment_burst: 100000000}'
fi
LAB_ID="b$$"
LAB_ID="${LAB_ID:0:12}"

mkdir -p "$out_dir"
jsonl="$out_dir/latest.jsonl.tmp"
: >"$jsonl"
say() { printf 'bench: %s\n' "$*" >&2; }

lab_up "$LAB_ID"
gw_ns="$(lab_ns gw)"
# BENCH_RPS=1: the gateway's interfaces hand each received packet to a CPU by its flow's hash
# (RPS over every CPU), as a NIC with several receive queues (RSS) would; without it a veth
# processes a packet on the CPU that sent it. Fanned out by CPU, new flows reach muzzled-2q's two
# queues only if that CPU varies (HISTORY: "Two queues, measured").
if [[ "${BENCH_RPS:-0}" == 1 ]]; then
  rps_mask="$(printf %x $(((1 << $(nproc)) - 1)))"
  for f in $(lab_exec gw sh -c 'ls /sys/class/net/*/queues/rx-*/rps_cpus'); do
    lab_exec gw sh -c "echo $rps_mask > $f" || exit 1
  done
  say "RPS on every gateway interface (CPU mask $rps_mask)"
fi
cam_ns="$(lab_ns cam1)"
inet_ns="$(lab_ns inet)"
# Every address of 203.0.113.0/24 is a host in the "internet", so churn has many destinations.
lab_exec inet ip route add local 203.0.113.0/24 dev lo
# The mixed site's extra devices live in 198.19.0.0/20 on the camera segment; they are raw
# frames with no ARP behind them, so reverse-path filtering must not judge them first.
lab_exec gw ip addr add 198.19.0.1/20 dev br-cam
lab_exec gw sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.br-cam.rp_filter=0
# DNS answers go back to them (the mixed workload): the gateway knows their Ethernet addresses
# as it would from ARP, which raw frames cannot answer. Device i: 198.19.0.2 + i, 44:47:cc:10:00:01 + i.
awk 'BEGIN { for (i = 0; i < 999; i++) { a = 2 + i; m = 1 + i
  printf "neigh replace 198.19.%d.%d lladdr 44:47:cc:10:%02x:%02x dev br-cam nud permanent\n", int(a / 256), a % 256, int(m / 256), m % 256 } }' |
  ip -n "$(lab_ns gw)" -batch -
gw_mac="$(lab_exec gw cat /sys/class/net/br-cam/address)"
cam_mac="${LAB_MAC[cam1]}"
cam_ip="${LAB_V4[cam1]}"

# Policies: two variants of the same site (only a comment differs) for the swap. The threat
# list goes to $LAB_STATE/lists/threats.txt, next to the policy muzzled's config names
# (THREATS_INLINE=1 keeps it in the policy, for comparison).
"$repo/tests/bench/gen_policy.sh" -o "$LAB_STATE/policy-a.yaml" a
"$repo/tests/bench/gen_policy.sh" -o "$LAB_STATE/policy-b.yaml" b
cp "$LAB_STATE/policy-a.yaml" "$LAB_STATE/policy.yaml"

# Quiet vCPUs: while a cell runs, a 0 us CPU latency request keeps idle vCPUs polling instead of
# halting. A halted vCPU waits for the host to wake it, and every cross-CPU hand-off of a packet
# (the generator, the kernel's forwarding, the queue thread) pays that wake-up: without the
# request TCP connect churn moved 3x between passes in a VM (issue 18). The request lives as
# long as the file stays open (kernel/power/qos.c), so the shell holds it on a descriptor of its
# own: closed after the cell, and by the kernel when the script dies, however it dies.
dma_state=off
if [[ "${BENCH_DMA_LATENCY:-1}" != 0 ]]; then
  if [[ -w /dev/cpu_dma_latency ]] && (: >/dev/cpu_dma_latency) 2>/dev/null; then
    dma_state=held
  else
    dma_state=unavailable
  fi
fi
dma_fd=""
dma_hold() {
  [[ "$dma_state" == held ]] || return 0
  exec {dma_fd}>/dev/cpu_dma_latency
  # Not 4 bytes, so the kernel reads it as hex text: 0 us.
  printf '0' >&"$dma_fd"
}
dma_release() {
  [[ -n "$dma_fd" ]] || return 0
  exec {dma_fd}>&-
  dma_fd=""
}
# "total softirq steal" of all CPUs from /proc/stat, in USER_HZ ticks (guest time is already in
# user). Without CONFIG_IRQ_TIME_ACCOUNTING (this kernel) softirq is sampled at the timer tick:
# a cell's softirq time is statistical, good to a few percent over a few hundred samples.
# And idle (+ iowait): whether the cell left any CPU unused (two flow queues can only help then).
cpu_stat() { awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $8, $9, $5 + $6 }' /proc/stat; }
# Entries into the shallowest idle state (POLL) and into any, over every CPU: with the request
# held nearly every idle entry is POLL, which shows that the request took effect.
idle_entries() {
  cat /sys/devices/system/cpu/cpu*/cpuidle/state0/usage 2>/dev/null | awk '{ s += $1 } END { printf "%d ", s }'
  cat /sys/devices/system/cpu/cpu*/cpuidle/state*/usage 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}
poll_entries=0 all_idle_entries=0
run_stat0="$(cpu_stat)"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# Flow tuples never repeat within a run: each cell starts where the last one stopped.
tuple_base=0
consumer_pid=""   # the queue program of the current config (muzzled or the bare loop)

# The flow queues of the current config: 100 .. 100 + flow_queues - 1 (muzzled's inspection queue
# comes after them).
flow_queues=1
# "ID_SEQUENCE ..." of the flow queues, in queue order: how many packets each has been given.
flow_queue_seqs() {
  lab_exec gw cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
    awk -v n="$flow_queues" '$1 >= 100 && $1 < 100 + n { seq[$1] = $8 }
      END { for (q = 100; q < 100 + n; q++) printf "%d ", seq[q]; print "" }'
}
# The busiest flow queue's share of the first packets the flow queues were given between two
# flow_queue_seqs: 1.00 when one queue took them all, 0.50 for an even spread over two; "null"
# with one flow queue or fewer than 100 packets (a stream's few). Fanned out by CPU, new flows
# spread only as far as the CPUs their first packets are processed on.
queue_share() {  # BEFORE AFTER
  awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) { d = y[i] - x[i]; s += d; if (d > top) top = d }
    if (n > 1 && s >= 100) printf "%.2f", top / s; else print "null" }'
}
# Where both CPUs spent a cell's traffic, from its perf samples (every CPU, the traffic program's
# run only): "TRAFFIC QUEUES IDLE", percent of all samples. TRAFFIC is bench_traffic's context,
# which holds the kernel's forwarding, conntrack, table walk and queueing of each packet it sends
# (a veth runs the receiving side in the sender's context) and its own receives; QUEUES the queue
# threads (muzzle-q*, or the bare loop), with the forwarding of each released packet, which runs
# inside their verdicts; IDLE the idle task. The cell's idle_pct spans more: the program's start
# and perf's own start and end, when little else runs.
perf_split() {  # FILE
  perf report -i "$1" --stdio -n --sort comm -q 2>/dev/null |
    awk '{ n = $2; all += n } $3 == "bench_traffic" { t += n } $3 ~ /^muzzle-q/ || $3 == "bench_nfq_loop" { q += n }
      $3 == "swapper" { i += n }
      END { if (all > 0) printf "%.1f %.1f %.1f\n", 100 * t / all, 100 * q / all, 100 * i / all; else print "null null null" }'
}
queue_cols() {  # "id_sequence queue_dropped user_dropped" summed over every bound queue
  lab_exec gw cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
    awk '{ s += $8; d += $6; u += $7 } END { print s + 0, d + 0, u + 0 }'
}
# ct_stat COLUMN...: the gateway kernel's conntrack statistics (/proc/net/stat/nf_conntrack, per
# namespace, one line per CPU, in hex), those columns summed over CPUs. early_drop: unreplied
# entries evicted because the table was full; drop and insert_failed: packets conntrack dropped
# itself (no entry could be made: the table full with nothing to evict, or a clash inserting it).
ct_stat() {
  local sum=0 v
  for v in $(lab_exec gw cat /proc/net/stat/nf_conntrack 2>/dev/null |
    awk -v want=" $* " 'NR == 1 { for (i = 1; i <= NF; i++) if (index(want, " " $i " ")) cols[i] = 1; next }
      { for (i in cols) print $i }'); do
    sum=$((sum + 16#$v))
  done
  echo "$sum"
}
# Empties the gateway's conntrack table (the lab's namespace only) and prints how many entries
# it held then. A churn cell leaves up to the table's 262,144 one-datagram flows behind, expired
# within a second, but the kernel's collector comes by only every few seconds (in this lab, often
# not within 20 s). Until then the table is full: every new flow evicts a live unreplied one
# early (ct_early_drop), and a cell would pay for its predecessor's flows, more after a faster
# one. Between cells no flow is in flight, so each cell starts from an empty table.
ct_flush() {
  local n
  n="$(lab_exec gw cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo 0)"
  lab_exec gw conntrack -F >/dev/null 2>&1 || true
  echo "$n"
}
# After ct_flush, waits until muzzled's accounting thread has read the destroy events of the
# entries flushed (the cell before's flows: ~130,000 after udp-fixed), so that this cell does not
# pay for them: until its CPU time has not grown for 100 ms (it wakes every 10 ms while events
# wait), at most 5 s. Nothing to wait for without that thread.
events_settle() {
  local before after i
  before="$(event_thread_sched)"
  [[ "${before%% *}" != 0 ]] || return 0
  for ((i = 0; i < 50; i++)); do
    sleep 0.1
    after="$(event_thread_sched)"
    [[ "${after%% *}" == "${before%% *}" ]] && return 0
    before="$after"
  done
}
# The queue program's CPU time in ns, all its threads: the scheduler's own count of each thread's
# time on a CPU (/proc/PID/task/TID/schedstat, first field), not utime+stime, which come in 10 ms
# ticks (a latency cell of 20,000 first packets is ~0.4 s of CPU: 40 ticks). A kernel without
# schedstat: utime+stime in ns. A thread that ends during a cell takes its time with it; the
# queue programs' threads live as long as they do.
cpu_ns() {
  [[ -n "$consumer_pid" ]] || { echo 0; return; }
  if [[ -r "/proc/$consumer_pid/schedstat" ]]; then
    cat "/proc/$consumer_pid"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
  else
    sed 's/.*) //' "/proc/$consumer_pid/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($12 + $13) * 1e9 / hz }'
  fi
}
# The queue threads' scheduler counts (thread_sched's last three: wake-ups, preemptions,
# migrations), summed over the threads that read the queues (muzzled's muzzle-q*; the bare
# loop's only thread). A wake-up is a voluntary switch (the thread slept in its receive until
# packets came; muzzled's also wakes when its 100 ms wait ends empty, a handful a cell), so
# packets a wake-up is the drain's batch; a preemption is an involuntary one (another task took
# its CPU while it had work); a migration, a move to the other CPU (from /proc/.../sched, where
# the kernel has it). Why: one config and code ran at two steady rates in different cells (stop
# 41), and these show whether the slow one reads fewer packets a wake-up, shares its CPU, or
# moves.
queue_sched() { thread_sched 'muzzle-q*' all; }
# Accounting's event thread (muzzle-ctevents), all 0 without it: its CPU time and its time
# runnable but waiting for a CPU tell whether an overrun of its socket (the kernel's events lost)
# comes from a thread kept off the CPUs or from one too slow to drain.
event_thread_sched() { thread_sched muzzle-ctevents; }
# The program's (consumer_pid's) threads whose name matches GLOB (all of them when none does and
# FALLBACK is "all"), summed: "cpu_ns wait_ns voluntary involuntary migrations" (CPU time and
# time runnable but waiting for a CPU from /proc/PID/task/TID/schedstat, switches from status,
# moves between CPUs from sched); all 0 without a program or a matching thread.
thread_sched() {  # GLOB [FALLBACK]
  [[ -n "$consumer_pid" && -d "/proc/$consumer_pid/task" ]] || { echo "0 0 0 0 0"; return; }
  local tasks=() t
  for t in /proc/"$consumer_pid"/task/*; do
    [[ "$(cat "$t/comm" 2>/dev/null)" == $1 ]] && tasks+=("$t")
  done
  [[ ${#tasks[@]} -gt 0 || "${2:-}" != all ]] || tasks=(/proc/"$consumer_pid"/task/*)
  for t in "${tasks[@]}"; do
    cat "$t/schedstat" "$t/status" "$t/sched" 2>/dev/null
  done | awk 'NF == 3 && $1 ~ /^[0-9]+$/ { c += $1; w += $2 }
    /^voluntary_ctxt_switches/ { v += $2 } /^nonvoluntary_ctxt_switches/ { n += $2 }
    /^se.nr_migrations/ { m += $3 } END { printf "%.0f %.0f %.0f %.0f %.0f\n", c, w, v, n, m }'
}
rss_kb() { [[ -n "$consumer_pid" ]] && awk '/^VmRSS/ { print $2 }' "/proc/$consumer_pid/status" || echo 0; }
json_field() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1" | tr -d '"'; }

# Runs one cell: cell CONFIG WORKLOAD UNIT COMMAND... ; COMMAND prints bench_traffic's JSON.
cell() {
  local config="$1" workload="$2" unit="$3"
  shift 3
  local q0 q1 qs0 qs1 t0 t1 result judged cpu_us hz s0 s1 i0 i1 e0 e1 d0 d1 ct0 w0 w1 ev0 ev1 per_wake="null"
  ct0="$(ct_flush)"
  events_settle
  read -r -a q0 <<<"$(queue_cols)"
  qs0="$(flow_queue_seqs)"
  e0="$(ct_stat early_drop)"
  d0="$(ct_stat drop insert_failed)"
  dma_hold
  read -r -a i0 <<<"$(idle_entries)"
  read -r -a s0 <<<"$(cpu_stat)"
  local wall0 wall1
  wall0="$(date +%s%N)"
  # The established-path and new-flow cells run their traffic program under perf: the table's
  # CPU a forwarded packet, or a new flow (table_ns_each).
  local perf_file=""
  if [[ "$perf_hz" != 0 && " established-pps udp-churn tcp-churn mixed " == *" $workload "* ]] &&
    command -v perf >/dev/null; then
    perf_file="$LAB_STATE/cell.perf"
    traffic_prefix=(perf record -q -a -e cpu-clock -F "$perf_hz" -o "$perf_file" --)
  fi
  read -r -a w0 <<<"$(queue_sched)"
  read -r -a ev0 <<<"$(event_thread_sched)"
  t0="$(cpu_ns)"
  result="$("$@")" || result='{"error":1}'
  t1="$(cpu_ns)"
  read -r -a w1 <<<"$(queue_sched)"
  read -r -a ev1 <<<"$(event_thread_sched)"
  traffic_prefix=()
  read -r -a s1 <<<"$(cpu_stat)"
  wall1="$(date +%s%N)"
  read -r -a i1 <<<"$(idle_entries)"
  dma_release
  read -r -a q1 <<<"$(queue_cols)"
  qs1="$(flow_queue_seqs)"
  e1="$(ct_stat early_drop)"
  d1="$(ct_stat drop insert_failed)"
  poll_entries=$((poll_entries + i1[0] - i0[0]))
  all_idle_entries=$((all_idle_entries + i1[1] - i0[1]))
  judged=$((q1[0] - q0[0]))
  hz="$(getconf CLK_TCK)"
  cpu_us="null"
  # Per judged packet only where there are enough of them: a cell that judged a handful (a
  # stream's or the established-path flow's first packets) would read the queue program's other
  # work (timers, the accounting dump) as milliseconds a packet.
  if ((judged >= 100)) && [[ -n "$consumer_pid" ]]; then
    cpu_us="$(awk -v t=$((t1 - t0)) -v n="$judged" 'BEGIN { printf "%.2f", t / 1e3 / n }')"
  fi
  local wakes=$((w1[2] - w0[2]))
  if ((judged >= 100 && wakes > 0)); then
    per_wake="$(awk -v n="$judged" -v w="$wakes" 'BEGIN { printf "%.1f", n / w }')"
  fi
  local sent
  sent="$(json_field "$result" sent)"
  [[ "$workload" == *churn* || "$workload" == *latency* || "$workload" == mixed || "$workload" == udp-fixed || "$workload" == tcp-fixed ]] &&
    tuple_base=$((tuple_base + ${sent:-0}))
  # The CPU steal of the cell (time the host gave this VM's vCPUs to others) and its softirq
  # time; per forwarded packet where the workload counts them (the established-path cells).
  local dt=$((s1[0] - s0[0])) steal_pct idle_pct softirq_ms forwarded softirq_ns="null"
  steal_pct="$(awk -v s=$((s1[2] - s0[2])) -v t="$dt" 'BEGIN { printf "%.1f", (t > 0) ? 100 * s / t : 0 }')"
  idle_pct="$(awk -v s=$((s1[3] - s0[3])) -v t="$dt" 'BEGIN { printf "%.1f", (t > 0) ? 100 * s / t : 0 }')"
  softirq_ms="$(awk -v q=$((s1[1] - s0[1])) -v hz="$hz" 'BEGIN { printf "%.0f", q * 1000 / hz }')"
  forwarded="$(json_field "$result" forwarded)"
  # The whole box's CPU a flow sent, on the new-flow cells: every CPU's busy time (the wall time
  # on all CPUs less their idle and stolen time, which a tickless kernel counts exactly, where
  # user and system time are tick samples) less the traffic program's own code (its user time).
  # In it: muzzled's threads, the kernel's forwarding, conntrack and tables, accounting's events,
  # and the traffic program's system calls (its sends run the forwarding in their own context,
  # so they stay in), the same in every config.
  local busy_us="null"
  if [[ "$unit" == flows/s || "$unit" == conn/s ]] && ((${sent:-0} > 0)); then
    busy_us="$(awk -v w=$((wall1 - wall0)) -v c="$(nproc)" -v i=$((s1[3] - s0[3] + s1[2] - s0[2])) -v hz="$hz" \
      -v u="$(json_field "$result" traffic_user_us)" -v n="$sent" \
      'BEGIN { b = w * c - i * 1e9 / hz - u * 1e3; printf "%.2f", (b > 0 ? b : 0) / 1e3 / n }')"
  fi
  if ((${forwarded:-0} > 0)); then
    softirq_ns="$(awk -v q=$((s1[1] - s0[1])) -v hz="$hz" -v n="$forwarded" 'BEGIN { printf "%.0f", q * 1e9 / hz / n }')"
  fi
  local table_pkt="null" table_flow="null" split=(null null null)
  [[ -z "$perf_file" ]] || ((${forwarded:-0} > 0)) || read -r -a split <<<"$(perf_split "$perf_file")"
  if [[ -n "$perf_file" ]] && ((${forwarded:-0} > 0)); then
    table_pkt="$(table_ns_each "$perf_file" "$forwarded")"
  elif [[ -n "$perf_file" ]]; then
    table_flow="$(table_ns_each "$perf_file" "${sent:-0}")"
  fi
  [[ -z "$perf_file" || -z "$keep_perf" ]] || mv "$perf_file" "$keep_perf/$round-$config-$workload.perf"
  local share
  share="$(queue_share "$qs0" "$qs1")"
  local line="{\"config\":\"$config\",\"workload\":\"$workload\",\"unit\":\"$unit\",\"round\":$round,${result#\{}"
  line="${line%\}},\"judged\":$judged,\"queue_dropped\":$((q1[1] - q0[1])),\"user_dropped\":$((q1[2] - q0[2])),\"ct_early_drop\":$((e1 - e0)),\"ct_drop\":$((d1 - d0)),\"ct_flushed\":$ct0,\"cpu_us_per_pkt\":$cpu_us,\"table_ns_per_pkt\":$table_pkt,\"table_ns_per_flow\":$table_flow,\"rss_kb\":$(rss_kb),\"queue_wakeups\":$wakes,\"pkts_per_wakeup\":$per_wake,\"queue_preempted\":$((w1[3] - w0[3])),\"queue_migrations\":$((w1[4] - w0[4])),\"busiest_queue_share\":$share"
  line+=",\"perf_traffic_pct\":${split[0]},\"perf_queues_pct\":${split[1]},\"perf_idle_pct\":${split[2]}"
  line+=",\"event_thread_cpu_us\":$(((ev1[0] - ev0[0]) / 1000)),\"event_thread_wait_us\":$(((ev1[1] - ev0[1]) / 1000))"
  line+=",\"event_thread_wakeups\":$((ev1[2] - ev0[2])),\"event_thread_preempted\":$((ev1[3] - ev0[3]))"
  line+=",\"steal_pct\":$steal_pct,\"idle_pct\":$idle_pct,\"softirq_ms\":$softirq_ms,\"softirq_ns_per_pkt\":$softirq_ns,\"busy_us_per_flow\":$busy_us,\"dma_latency\":\"$dma_state\"}"
  echo "$line" >>"$jsonl"
  local dns
  dns="$(json_field "$line" dns_answers)"
  say "$config $workload: $(json_field "$line" rate) $unit p99=$(json_field "$line" p99_us)us lost=$(json_field "$line" lost) cpu/pkt=${cpu_us}us pkts/wake=$per_wake preempted=$((w1[3] - w0[3])) moved=$((w1[4] - w0[4]))$([[ "$share" == null ]] || echo " busiest-queue=$share")$([[ "${split[0]}" == null ]] || echo " cpu(traffic/queues/idle)=${split[0]}/${split[1]}/${split[2]}%") steal=${steal_pct}%${dns:+ dns_answers=$dns}${forwarded:+ softirq=${softirq_ns}ns/pkt}$([[ "$table_pkt" == null ]] || echo " table=${table_pkt}ns/pkt")$([[ "$table_flow" == null ]] || echo " table=${table_flow}ns/flow")"
}

# What cell() puts before the traffic program (perf record, on the established-path and new-flow
# cells), else nothing.
traffic_prefix=()
traffic_udp() {  # extra bench_traffic args follow
  "${traffic_prefix[@]}" "$bench/bench_traffic" udp --from "$cam_ns" --to "$inet_ns" --ifname eth0 --dst-mac "$gw_mac" \
    --src-mac "$cam_mac" --src-ip "$cam_ip" --tuple-base "$tuple_base" "$@"
}
traffic_mixed() {
  # 999 devices of the policy (44:47:cc:10:00:01 ...), one flow each in turn; every fourth flow
  # first asks the resolver (203.0.113.53, answered by bench_traffic's sink) for one of the
  # policy's 50 names and then goes to the answer on udp/9100, which only the name rule opens.
  "${traffic_prefix[@]}" "$bench/bench_traffic" udp --from "$cam_ns" --to "$inet_ns" --ifname eth0 --dst-mac "$gw_mac" \
    --src-mac 44:47:cc:10:00:01 --src-ip 198.19.0.2 --devices 999 --tuple-base "$tuple_base" \
    --dns-every 4 --resolver 203.0.113.53 --name-port 9100 "$@"
}
# The mixed site's 999 devices without DNS: one flow each in turn to udp/9000, the devices-fixed
# cells. Each device then holds a thousandth of the cell's connections, as on a box of many
# devices, where udp-churn's one MAC address holds them all.
traffic_devices() {
  "${traffic_prefix[@]}" "$bench/bench_traffic" udp --from "$cam_ns" --to "$inet_ns" --ifname eth0 --dst-mac "$gw_mac" \
    --src-mac 44:47:cc:10:00:01 --src-ip 198.19.0.2 --devices 999 --tuple-base "$tuple_base" "$@"
}
traffic_tcp() { "${traffic_prefix[@]}" "$bench/bench_traffic" tcp --from "$cam_ns" --to "$inet_ns" --tuple-base "$tuple_base" "$@"; }
# One long TCP flow; bits/s of what the receiver got, as the same JSON shape.
traffic_stream() {
  local json bps
  json="$(lab_exec cam1 timeout $((secs + 10)) iperf3 -c 203.0.113.10 -t "$secs" -J 2>/dev/null)" || true
  bps="$(tr -d ' \t\n' <<<"$json" | sed -n 's/.*"sum_received":{[^}]*"bits_per_second":\([0-9.e+]*\).*/\1/p')"
  printf '{"sent":0,"received":0,"lost":0,"late":0,"seconds":%s,"rate":%.0f,"p50_us":null,"p99_us":null,"max_us":null}\n' \
    "$secs" "$(awk -v b="${bps:-0}" 'BEGIN { print b / 1e6 }')"
}

# Packets the gateway sent out of uplink0 (to the simulated internet), from its own /proc/net/dev.
uplink_tx_packets() { lab_exec gw cat /proc/net/dev | awk '$1 == "uplink0:" { print $11 }'; }
# One established UDP flow at a fixed offered rate (BENCH_FIXED_PPS 64-byte datagrams a second,
# iperf3 to udp/9001, a port every config allows), for the kernel's cost per established packet:
# cell() divides the softirq time of the cell by "forwarded", the packets the gateway forwarded
# to the internet (the datagrams and iperf3's few control packets). Below saturation every
# config forwards the same packets, so the softirq time is what differs.
traffic_fixed() {
  local json tx0 tx1 got
  tx0="$(uplink_tx_packets)"
  # -w: a receive buffer that absorbs the receiver's scheduling gaps (its losses are not the
  # gateway's, but they would show as lost). perf (cell()) wraps iperf3 itself, so its samples
  # cover exactly the packets counted here.
  json="$("${traffic_prefix[@]}" ip netns exec "$cam_ns" timeout $((fixed_secs + 10)) iperf3 -c 203.0.113.10 -p 9001 \
    -u -l 64 -w 4M -b "$((fixed_pps * 64 * 8))" -t "$fixed_secs" -J 2>/dev/null)" || true
  tx1="$(uplink_tx_packets)"
  # iperf3's own count of what was sent and lost, at the end of its JSON.
  got="$(tr -d ' \t\n' <<<"$json" | sed -n 's/.*"sum":{[^}]*"lost_packets":\([0-9]*\),"packets":\([0-9]*\).*/\1 \2/p' | tail -n 1)"
  local lost="${got%% *}" sent="${got##* }"
  printf '{"sent":%s,"received":%s,"lost":%s,"late":0,"seconds":%s,"rate":%.0f,"offered_pps":%s,"forwarded":%s,"p50_us":null,"p99_us":null,"max_us":null}\n' \
    "${sent:-0}" "$(( ${sent:-0} - ${lost:-0} ))" "${lost:-0}" "$fixed_secs" \
    "$(awk -v n=$((tx1 - tx0)) -v s="$fixed_secs" 'BEGIN { printf "%.0f", n / s }')" "$fixed_pps" "$((tx1 - tx0))"
}
# The CPU time of the kernel's nf_tables code (every function named nft_*: the chain walk, the
# expressions, the set and map lookups, the counters) in the perf samples of FILE, in ns for each
# of COUNT packets (or flows); "null" without samples. What a table costs, whichever table:
# conntrack, forwarding and the sockets run the same code in every config and are left out.
table_ns_each() {
  local file="$1" packets="$2"
  perf report -i "$file" --stdio -n --sort sym -q 2>/dev/null |
    awk -v hz="$perf_hz" -v n="$packets" '$3 == "[k]" && $4 ~ /^_*nft_/ { t += $2 } { all += $2 }
      END { if (all > 0 && n > 0) printf "%.0f", t * 1e9 / hz / n; else print "null" }'
  [[ -n "$keep_perf" ]] || rm -f "$file"
}

# The cells every config runs (fast path as the ruleset has it): the fixed-rate ones first
# (fixed_flow_cell says why), then churn_cells.
common_cells() {
  fixed_flow_cell "$1"
  churn_cells "$1"
}
churn_cells() {
  local config="$1"
  cell "$config" udp-churn flows/s traffic_udp --window 256 --seconds "$secs"
  cell "$config" udp-latency flows/s traffic_udp --window 1 --flows "$latency_udp_flows" --seconds "$secs"
  cell "$config" tcp-churn conn/s traffic_tcp --concurrency 32 --seconds "$secs"
  cell "$config" tcp-latency conn/s traffic_tcp --concurrency 1 --flows "$latency_tcp_flows" --seconds "$secs"
  cell "$config" mixed flows/s traffic_mixed --window 256 --seconds "$secs"
  cell "$config" tcp-stream Mbit/s traffic_stream
}
# New flows at a fixed offered rate (flow_rate; TCP: tcp_flow_rate): the CPU a flow costs, not
# how many a second. Every config runs them first, on a muzzled just started: after `mixed` (999
# devices to 254 hosts each) accounting's room for address pairs stays full until its next read,
# up to 10 s later, and each connection that ends meanwhile is summed by its two ends, three
# lookups instead of one. Run after mixed, as the feature configs once did, these cells read 2x
# muzzled's accounting thread CPU and p99s of milliseconds (HISTORY.md, "The run committed,
# 2026-12-07 evening"), which was the order of the cells, not the feature.
fixed_flow_cell() {
  cell "$1" udp-fixed flows/s traffic_udp --window 256 --rate "$flow_rate" --seconds "$flow_rate_secs"
  cell "$1" tcp-fixed conn/s traffic_tcp --concurrency 32 --rate "$tcp_flow_rate" --seconds "$flow_rate_secs"
}
# New flows of 999 devices at the fixed rate: what a per-device feature costs a flow when each
# device holds a few of the connections (the connection limit's walk of its device's list).
devices_fixed_cell() {
  cell "$1" devices-fixed flows/s traffic_devices --window 256 --rate "$flow_rate" --seconds "$flow_rate_secs"
  await_accounting_read
}
# Waits (12 s at most) for muzzled's next accounting read. The cell of 999 devices fills
# accounting's room for address pairs until that read empties it, and a cell run before the read
# pays three lookups an ended connection instead of one: in the run of 6f5f10b, muzzled's
# udp-churn and mixed cells read 10.2 / 9.9 us a judged packet against its siblings' 7.0-8.7
# (HISTORY.md, "The full run committed", 2026-12-08).
accounting_reads() {
  "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" --json status 2>/dev/null |
    sed -n '/"accounting"/,/}/s/.*"reads": "*\([0-9]*\).*/\1/p' | head -n1
}
await_accounting_read() {
  local before now i
  before="$(accounting_reads)"
  for ((i = 0; i < 120; i++)); do
    now="$(accounting_reads)"
    [[ -n "$now" && "$now" != "$before" ]] && return 0
    sleep 0.1
  done
  say "no accounting read within 12 s of the cell's end (reads: ${before:-none})"
}
# Every packet through the queue: one UDP flow and one TCP stream.
every_packet_cells() {
  local config="$1"
  cell "$config" every-packet pkt/s traffic_udp --single-flow --window 256 --seconds "$secs"
  cell "$config" every-packet-stream Mbit/s traffic_stream
}

# The kernel's cost per established packet: one flow at a fixed rate (traffic_fixed); in the
# first round also the rules it walks (established_walk).
established_cells() {
  cell "$1" established-pps pkt/s traffic_fixed
  ((round == 1)) && established_walk "$1"
  return 0
}

# How many rules, and how many expressions in them, an established packet walks through the
# gateway's tables: nft traces a few datagrams of one UDP flow (table inet benchtrace marks
# udp/9001 for tracing at prerouting, before every filter chain) and, for the last traced packet,
# every chain it went through counts its rules up to the one that ended it (a chain that ended
# without one, all of them); the expressions are those rules' (nft --debug=netlink), an upper
# bound: the kernel stops a rule at its first mismatch. Not timed: tracing slows every rule.
# A packet's events are those after its "packet:" line (printed once per hook), not those of its
# trace id: the kernel derives the id from the packet buffer's address, which later packets reuse.
established_walk() {
  local config="$1" trace="$LAB_STATE/trace-$1.txt" listing="$LAB_STATE/listing-$1.txt" mon walk
  lab_exec gw nft -f - <<'EOF'
table inet benchtrace {
  chain pre {
    type filter hook prerouting priority -350; policy accept;
    udp dport 9001 meta nftrace set 1
  }
}
EOF
  ip netns exec "$gw_ns" timeout 10 nft -a monitor trace >"$trace" 2>/dev/null &
  mon=$!
  echo "$mon" >>"$LAB_STATE/pids"  # lab_down kills it if the bench is interrupted
  sleep 0.3
  lab_exec cam1 timeout 10 iperf3 -c 203.0.113.10 -p 9001 -u -l 64 -b 51200 -t 1 >/dev/null 2>&1 || true
  sleep 0.3
  kill "$mon" 2>/dev/null || true
  wait "$mon" 2>/dev/null || true
  lab_exec gw nft delete table inet benchtrace
  lab_exec gw nft -a --debug=netlink list ruleset >"$listing" 2>&1 || true
  walk="$(awk -v trace="$trace" '
    # The listing: "inet TABLE CHAIN HANDLE POSITION" before each rule'"'"'s expressions.
    FNR == NR && /^(inet|ip|ip6) [^ ]+ [^ ]+ [0-9]+/ { key = $2 " " $3; idx[key, $4] = ++nrules[key]; cur = key SUBSEP nrules[key]; next }
    FNR == NR && /^  \[ / { exprs[cur]++; next }
    FNR == NR { next }
    # The trace: the events since the last "packet:" line that reached a verdict.
    $1 == "trace" && $5 != "benchtrace" {
      if ($0 ~ / packet: /) { cur_ev = "" }
      cur_ev = cur_ev "\n" $0
      if ($0 ~ /verdict (accept|drop)|policy (accept|drop)/) last_ev = cur_ev
    }
    END {
      n = split(last_ev, lines, "\n"); rules = 0; ex = 0; path = ""
      for (i = 1; i <= n; i++) {
        if (lines[i] == "") continue
        split(lines[i], f, " "); key = f[5] " " f[6]
        if (!(key in nrules)) continue
        if (!(key in walked)) { order[++nc] = key; walked[key] = 0 }
        if (match(lines[i], /# handle [0-9]+/)) { h = substr(lines[i], RSTART + 9, RLENGTH - 9); if (idx[key, h] > walked[key]) walked[key] = idx[key, h] }
        else if (lines[i] ~ / (policy|verdict) (accept|drop|continue|return)/ && lines[i] !~ / rule /) walked[key] = nrules[key]
      }
      for (i = 1; i <= nc; i++) {
        key = order[i]; rules += walked[key]
        for (j = 1; j <= walked[key]; j++) ex += exprs[key SUBSEP j]
        split(key, tc, " "); path = path (path == "" ? "" : ">") tc[1] "/" tc[2] ":" walked[key]
      }
      printf "%d %d %s\n", rules, ex, (path == "" ? "none" : path)
    }' "$listing" "$trace")"
  read -r rules exprs chains <<<"$walk"
  echo "{\"config\":\"$config\",\"workload\":\"established-walk\",\"rules\":$rules,\"expressions\":$exprs,\"chains\":\"$chains\"}" >>"$jsonl"
  say "$config established packet: $rules rules, $exprs expressions ($chains)"
}

# Deletes the rule of chain judge that looks the conntrack mark up in the verdict map (the
# kernel fast path), so every packet of every flow goes to the queue. Only in the lab gateway;
# the table is reinstalled afterwards. nft(8) warns on stderr that it cannot print the NFQUEUE
# target (no libxtables here); the rules it lists are enough.
drop_fast_path() {
  local handle
  for handle in $(lab_exec gw nft -a list chain inet muzzle judge 2>/dev/null |
    awk '$1 == "ct" && $2 == "mark" && / vmap / { print $NF }'); do
    lab_exec gw nft delete rule inet muzzle judge handle "$handle"
  done
}

# conntrack's per-connection counters (net.netfilter.nf_conntrack_acct) in the lab gateway:
# muzzled with accounting turns them on itself (its accounting reads them), and it stays on for
# whatever runs next in the namespace. Every config without accounting turns it off first, so
# what counting costs conntrack shows only where accounting is on.
conntrack_acct_off() { lab_exec gw sysctl -qw net.netfilter.nf_conntrack_acct=0 || true; }

# start_bare_loop CONFIG MARK [ARG...]: bench_nfq_loop on flow queue 100, answering with MARK,
# logging to CONFIG.log; returns once it says it is ready. Not through lab_exec (a shell
# function): ip netns exec execs the program, so $! is the loop itself, for its CPU and RSS.
start_bare_loop() {
  local config="$1" mark="$2"
  shift 2
  conntrack_acct_off
  ip netns exec "$gw_ns" "$bench/bench_nfq_loop" --queue 100 --mark "$mark" --max-seconds 300 "$@" \
    >"$LAB_STATE/$config.log" 2>&1 </dev/null &
  consumer_pid=$!
  _lab_remember_pid "$consumer_pid"
  for _ in $(seq 50); do grep -q ready "$LAB_STATE/$config.log" && break; sleep 0.05; done
}

stop_bare_loop() {
  kill -TERM "$consumer_pid" 2>/dev/null || true
  wait "$consumer_pid" 2>/dev/null || true
  consumer_pid=""
}

start_iperf_server() {
  lab_exec inet iperf3 -s -B 203.0.113.10 >/dev/null 2>&1 </dev/null &
  _lab_remember_pid $!
  # The established-path cells' server: udp/9001 (and its tcp/9001 control connection).
  lab_exec inet iperf3 -s -B 203.0.113.10 -p 9001 >/dev/null 2>&1 </dev/null &
  _lab_remember_pid $!
  sleep 0.3
}

# ---- 1. kernel only: the same segment filtering as static nft rules, no queue ------------------
kernel_ruleset() {
  local threats
  # The IPv4 entries of the threat list, from the list file or the policy (THREATS_INLINE=1).
  local sources=("$LAB_STATE/policy-a.yaml")
  [[ -f "$LAB_STATE/lists/threats.txt" ]] && sources+=("$LAB_STATE/lists/threats.txt")
  threats="$(sed -n 's/^\(    - \)\{0,1\}\(198\.19\.[0-9.]*\)$/\2/p' "${sources[@]}" | paste -sd, -)"
  cat <<EOF
table inet benchk {
  set known_macs { type ether_addr; elements = { $cam_mac, $(sed -n 's/.*mac: "\(44:47:cc:10:[0-9a-f:]*\)".*/\1/p' "$LAB_STATE/policy-a.yaml" | paste -sd, -) } }
  set threat_v4 { type ipv4_addr; flags interval; elements = { $threats } }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "br-cam" goto judge
    oifname "br-cam" goto judge
  }
  chain judge {
    ct state established,related accept
    ct state invalid drop
    ether saddr != @known_macs reject
    ip daddr @threat_v4 reject
    ip daddr 203.0.113.0/24 meta l4proto udp th dport 9000-9099 accept
    ip daddr 203.0.113.0/24 meta l4proto tcp th dport { 5201, 9000-9099 } accept
    ip daddr 203.0.113.53 udp dport 53 accept
    # The addresses the mixed workload's 50 names resolve to: static rules cannot follow DNS.
    ip daddr 203.0.113.100-203.0.113.149 udp dport 9100 accept
    reject
  }
}
EOF
}

# The minimal ruleset (bare-minimal), without its last rule: "queue to 100", which bench_ruleset
# appends. Family inet, as muzzled's table, so both see the same packets at the same hook.
minimal_ruleset() {
  cat <<EOF
table inet benchmin {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ct state established,related accept
    meta mark $1 accept
  }
}
EOF
}
# The minimal ruleset, its queue rule and the bare loop behind it, logging as CONFIG. nft(8)
# cannot write the queue rule on this kernel (see bench_ruleset.cc): it is appended as muzzled's
# own table builds it.
start_minimal_loop() {
  local mark=$(((bare_generation << 8) | 1))
  minimal_ruleset "$mark" >"$LAB_STATE/minimal.nft"
  lab_exec gw nft -f "$LAB_STATE/minimal.nft"
  lab_exec gw "$bench/bench_ruleset" add-queue --table benchmin --chain forward --queue 100 >/dev/null
  start_bare_loop "$1" "$mark"
}
# Deletes the minimal ruleset's conntrack-state rule, so every packet goes to the queue.
drop_minimal_fast_path() {
  local handle
  for handle in $(lab_exec gw nft -a list chain inet benchmin forward 2>/dev/null | awk '$1 == "ct" && $2 == "state" { print $NF }'); do
    lab_exec gw nft delete rule inet benchmin forward handle "$handle"
  done
}

# The new-flow cells of the per-feature rows and of the small box.
feature_cells() {
  cell "$1" udp-churn flows/s traffic_udp --window 256 --seconds "$secs"
  cell "$1" tcp-churn conn/s traffic_tcp --concurrency 32 --seconds "$secs"
  cell "$1" mixed flows/s traffic_mixed --window 256 --seconds "$secs"
}
small_box_cells() {
  feature_cells "$1"
  cell "$1" udp-latency flows/s traffic_udp --window 1 --flows "$latency_udp_flows" --seconds "$secs"
}

# The camera and the mixed site's 999 devices, each in a learning session of an hour (muzzlectl
# learn start, 4 at a time); prints how many started.
policy_device_macs() {
  local i
  printf '%s\n' "$cam_mac"
  for ((i = 1; i <= 999; i++)); do printf '44:47:cc:10:%02x:%02x\n' $((i / 256)) $((i % 256)); done
}
learn_all_devices() {
  policy_device_macs | xargs -P 4 -I{} "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" \
    learn start {} --for 1h 2>/dev/null | grep -c ' learning' || true
}

# The web console for muzzled-web, on the uplink side, and a viewer in the simulated internet:
# an account made over the API, a login (its session cookie in a file), then the event stream
# read and the overview fetched every 2 s until web_viewer_stop.
bench_web='  web:
    listen: 198.51.100.1:8443
    allow: [198.51.100.2]'
web_viewer_pids=()
web_viewer_start() {
  local url=https://198.51.100.1:8443 jar="$LAB_STATE/web-cookies.txt"
  "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" web user add benchview --role viewer \
    --password-stdin <<<"bench-viewer-1" >/dev/null 2>&1 || true
  lab_exec inet curl -sk --max-time 5 -c "$jar" -o /dev/null --data-urlencode name=benchview \
    --data-urlencode password=bench-viewer-1 "$url/login" || say "web viewer: login failed"
  ip netns exec "$inet_ns" curl -skN -b "$jar" -o /dev/null "$url/events/stream" </dev/null &
  web_viewer_pids=($!)
  ip netns exec "$inet_ns" bash -c "while :; do curl -sk --max-time 5 -b '$jar' -o /dev/null '$url/'; sleep 2; done" </dev/null &
  web_viewer_pids+=($!)
  local pid
  for pid in "${web_viewer_pids[@]}"; do _lab_remember_pid "$pid"; done
}
web_viewer_stop() {
  kill "${web_viewer_pids[@]}" 2>/dev/null || true
  web_viewer_pids=()
}

# The small box: the queue program in a cgroup of its own with a 5 ms quota every 10 ms on CPU 0,
# i.e. one core at half speed (cgroup v2 cpu.max and cpuset.cpus, or v1's cpu and cpuset
# hierarchies). A short period, so that it runs slower rather than stopping 50 ms at a time.
# Made once; removed on exit (small_box_remove, after lab_down has stopped what ran in it).
# BENCH_SMALL_BOX=0 leaves the rows out; so does a machine without those controllers.
small_box=()
small_box_make() {
  local name="muzzle-bench-$LAB_ID" root=/sys/fs/cgroup
  if [[ -f "$root/cgroup.controllers" ]]; then
    grep -qw cpu "$root/cgroup.subtree_control" || echo +cpu >"$root/cgroup.subtree_control" || return 1
    grep -qw cpuset "$root/cgroup.subtree_control" || echo +cpuset >"$root/cgroup.subtree_control" || return 1
    mkdir "$root/$name" && small_box=("$root/$name") || return 1
    echo "5000 10000" >"$root/$name/cpu.max" && echo 0 >"$root/$name/cpuset.cpus"
  elif [[ -d "$root/cpu" && -d "$root/cpuset" ]]; then
    mkdir "$root/cpu/$name" && small_box=("$root/cpu/$name") || return 1
    mkdir "$root/cpuset/$name" && small_box+=("$root/cpuset/$name") || return 1
    echo 10000 >"$root/cpu/$name/cpu.cfs_period_us" && echo 5000 >"$root/cpu/$name/cpu.cfs_quota_us" &&
      echo 0 >"$root/cpuset/$name/cpuset.cpus" && cat "$root/cpuset/cpuset.mems" >"$root/cpuset/$name/cpuset.mems"
  else
    return 1
  fi
}
# Moves a process (all its threads) into the small box.
small_box_enter() {
  local dir
  for dir in "${small_box[@]}"; do echo "$1" >"$dir/cgroup.procs"; done
}
# How often the quota stopped what ran in the small box so far (cpu.stat), which shows it bound.
small_box_throttled() {
  awk '$1 == "nr_throttled" { n = $2 } $1 == "throttled_usec" { t = $2 / 1e6 } $1 == "throttled_time" { t = $2 / 1e9 }
    END { printf "throttled %d times, %.1f s in all\n", n, t }' "${small_box[0]}/cpu.stat"
}
small_box_remove() {
  local dir pid
  for dir in "${small_box[@]}"; do
    # Whatever still runs there goes back to the parent first: a cgroup with a process stays.
    while read -r pid; do echo "$pid" >"$(dirname "$dir")/cgroup.procs" 2>/dev/null || true; done <"$dir/cgroup.procs"
    rmdir "$dir" 2>/dev/null || say "could not remove cgroup $dir"
  done
  small_box=()
}
if [[ "${BENCH_SMALL_BOX:-1}" != 0 ]]; then
  trap 'lab_down; small_box_remove' EXIT
  if ! small_box_make; then
    say "no cpu/cpuset cgroup controllers here: the small-box rows are left out"
    small_box_remove
  fi
fi

start_iperf_server

# The configurations, each a function that runs its cells and leaves the gateway as it found it:
# ready_gateway runs before each, so none depends on what ran before it in a round.

# Before each configuration: no table of another config left behind (muzzled leaves its own
# when it stops, as fail_mode keeps applying; a config that failed halfway leaves its own), and
# conntrack's counters off (muzzled with accounting turns them on itself).
ready_gateway() {
  local table
  for table in muzzle benchk benchmin; do lab_exec gw nft delete table inet "$table" 2>/dev/null || true; done
  conntrack_acct_off
}

config_kernel() {
  want kernel || return 0
  say "config kernel"
  lab_exec gw nft -f "$LAB_STATE/kernel.nft" 2>&1 | cut -c1-300 >&2
  common_cells kernel
  established_cells kernel
  every_packet_cells kernel
  lab_exec gw nft delete table inet benchk
}

# ---- 2. the bare queue loop behind muzzled's own ruleset ----------------------------------------
bare_generation=4242
config_bare() {
  for mode in per-packet batch; do
    config="bare-$mode"
    want "$config" || continue
    say "config $config"
    info="$(lab_exec gw "$bench/bench_ruleset" install --generation "$bare_generation" --segment br-cam)"
    mark="$(sed -n 's/.*allow_mark=\([0-9]*\).*/\1/p' <<<"$info")"
    extra=()
    [[ "$mode" == batch ]] && extra=(--batch)
    start_bare_loop "$config" "$mark" "${extra[@]}"
    common_cells "$config"
    drop_fast_path
    every_packet_cells "$config"
    stop_bare_loop
    lab_exec gw "$bench/bench_ruleset" remove
  done
}

# ---- 2b. the same bare loop behind a minimal ruleset ---------------------------------------------
# The reference of issue 18: what a queue costs with the least a table can do. Established and
# related packets are accepted on the conntrack state; the loop's verdict (NF_REPEAT with the
# mark) is accepted on the packet mark; everything else is queued. Its per-packet kernel cost
# is the floor muzzled's table is measured against, and new flows behind it are the rate
# muzzled's new flows are held to.
config_bare_minimal() {
  want bare-minimal || return 0
  config=bare-minimal
  say "config $config"
  start_minimal_loop "$config"
  common_cells "$config"
  established_cells "$config"
  drop_minimal_fast_path
  every_packet_cells "$config"
  stop_bare_loop
  lab_exec gw nft delete table inet benchmin
}

# ---- 3. muzzled with the 1,000-device site policy -----------------------------------------------
config_muzzled() {
  want muzzled || return 0
  say "config muzzled"
  lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  rss_start="$(rss_kb)"
  fixed_flow_cell muzzled
  # Before mixed, as in muzzled-limit (fixed_flow_cell says why); after udp-fixed, which it would
  # otherwise find with accounting's room for pairs full.
  devices_fixed_cell muzzled
  churn_cells muzzled
  established_cells muzzled
  # muzzled's own DNS counters after the mixed cell (the only one with DNS): answers it judged
  # and name-address pairs it learned from them (SIGUSR1 logs event=counters).
  kill -USR1 "$LAB_MUZZLED_PID"
  sleep 0.3
  counters="$(grep 'event=counters' "$LAB_STATE/muzzled.log" | tail -n 1)"
  dns_counter() { local v; v="$(sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$counters")"; echo "${v:-null}"; }
  dns_line="\"dns_answers\":$(dns_counter dns_answers),\"dns_learned\":$(dns_counter dns_learned)"
  dns_line+=",\"dns_answers_dropped\":$(dns_counter dns_answers_dropped),\"no_dns\":$(dns_counter no_dns)"
  echo "{\"config\":\"muzzled\",\"workload\":\"dns-counters\",$dns_line}" >>"$jsonl"
  say "muzzled dns counters: $dns_line"
  # The accounting line of muzzlectl status after the cells (as of the last accounting read):
  # the groups read, bytes beyond the counter's room, and how often the kernel dropped ended
  # connections' events because the event socket's buffer was full (the thread drains it every
  # 10 ms), all since muzzled started.
  acct_text="$("$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" status 2>/dev/null |
    sed -n 's/^ *accounting  *//p' | head -n 1)"
  acct_overruns="$(sed -n 's/.*counts lost \([0-9]*\) times.*/\1/p' <<<"$acct_text")"
  echo "{\"config\":\"muzzled\",\"workload\":\"accounting-status\",\"event_overruns\":${acct_overruns:-0},\"text\":\"${acct_text//\"/}\"}" >>"$jsonl"
  say "muzzled accounting: $acct_text"

  # The swap: SIGHUP twice with another variant while new flows stream through; nothing may be
  # lost (bench_traffic counts every datagram) and the queue must drop nothing.
  swap_traffic() {
    local f="$LAB_STATE/swap.json"
    traffic_udp --window 64 --seconds "$secs" >"$f" &
    local pid=$!
    local v
    for v in b a; do
      sleep "$(awk -v s="$secs" 'BEGIN { print s / 3 }')"
      cp "$LAB_STATE/policy-$v.yaml" "$LAB_STATE/policy.yaml"
      lab_reload_muzzled
    done
    wait "$pid"
    cat "$f"
  }
  cell muzzled swap flows/s swap_traffic
  sleep 0.5
  mapfile -t reloads < <(grep 'event=policy-reloaded' "$LAB_STATE/muzzled.log" | tail -n 2)
  swap_ms=""
  for r in "${reloads[@]}"; do
    c="$(sed -n 's/.*compile_ms=\([0-9.]*\).*/\1/p' <<<"$r")"
    i="$(sed -n 's/.*install_ms=\([0-9.]*\).*/\1/p' <<<"$r")"
    swap_ms+="{\"compile_ms\":$c,\"install_ms\":$i},"
  done
  echo "{\"config\":\"muzzled\",\"workload\":\"reload\",\"reloads\":[${swap_ms%,}],\"rss_start_kb\":$rss_start}" >>"$jsonl"

  drop_fast_path
  every_packet_cells muzzled
  lab_stop_muzzled
  consumer_pid=""
}

# ---- 4. muzzled with two flow queues, a thread each ---------------------------------------------
# The ruleset spreads new flows over the queues by CPU; on 2 cores the generator and the kernel's
# forwarding share the cores with both queue threads, so this shows what a second thread buys
# (or costs) on a box this small.
config_muzzled_2q() {
  want muzzled-2q || return 0
  say "config muzzled-2q"
  LAB_QUEUE_COUNT=2 lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  flow_queues=2
  common_cells muzzled-2q
  drop_fast_path
  every_packet_cells muzzled-2q
  lab_stop_muzzled
  flow_queues=1
  consumer_pid=""
}

# ---- 5. muzzled without per-device accounting ---------------------------------------------------
# What counting every device's traffic costs (README "Traffic per device"): the same site with
# conntrack's counters off and nothing read, on the new-flow and the established-flow cells.
config_muzzled_noacct() {
  want muzzled-noacct || return 0
  say "config muzzled-noacct"
  LAB_CONFIG_EXTRA='devices: {accounting_interval_seconds: 0}' lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  fixed_flow_cell muzzled-noacct
  cell muzzled-noacct udp-churn flows/s traffic_udp --window 256 --seconds "$secs"
  cell muzzled-noacct tcp-churn conn/s traffic_tcp --concurrency 32 --seconds "$secs"
  cell muzzled-noacct tcp-stream Mbit/s traffic_stream
  established_cells muzzled-noacct
  lab_stop_muzzled
  consumer_pid=""
}

# ---- 6. what each feature of this wave costs on new flows (issue 18: <= 3 % each) ---------------
# muzzled-learn: every policy device (the camera and the mixed site's 999) in a learning session,
# so the Judge records each flow it judges (fw/learn). muzzled-web: the web console on, with a
# logged-in viewer's open page: its event stream read all along and the overview fetched every
# 2 s, as a browser tab does. Each against muzzled in the same round.
config_muzzled_learn() {
  want muzzled-learn || return 0
  say "config muzzled-learn"
  # A state folder of its own: the sessions (an hour) are saved there, and the other configs'
  # muzzled, started from the bench's folder, must not resume them.
  mkdir -p "$LAB_STATE/state-learn"
  LAB_STATE_DIR="$LAB_STATE/state-learn" lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  learn_all_devices >/dev/null
  fixed_flow_cell muzzled-learn
  feature_cells muzzled-learn
  lab_stop_muzzled
  consumer_pid=""
}
config_muzzled_web() {
  want muzzled-web || return 0
  say "config muzzled-web"
  LAB_MANAGEMENT="$bench_web" lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  web_viewer_start
  fixed_flow_cell muzzled-web
  feature_cells muzzled-web
  web_viewer_stop
  lab_stop_muzzled
  consumer_pid=""
}

# muzzled-noguard: the flood guard and the segment guard off (flood_guard:
# {new_flows_per_second: 0, segment_new_flows_per_second: 0}), against muzzled, whose guards run
# at rates no cell reaches: what their two buckets cost each first packet.
config_muzzled_noguard() {
  want muzzled-noguard || return 0
  say "config muzzled-noguard"
  LAB_FLOOD_GUARD='{new_flows_per_second: 0, connections: 0, segment_new_flows_per_second: 0}' lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  fixed_flow_cell muzzled-noguard
  feature_cells muzzled-noguard
  lab_stop_muzzled
  consumer_pid=""
}

# muzzled-limit: the connection limit on (flood_guard.connections: 1024, muzzled.yaml's default),
# against muzzled, where it is off (LAB_FLOOD_GUARD): what conntrack's count costs each allowed new
# flow (an add to its device's list, whose walk, at most once a kernel tick, finds each connection
# the device holds). Only the cells of many devices: udp-churn's one MAC address would hold every
# connection of its cell and be cut at 1,024 (tcp-churn's too: closed connections leave a device's
# list a few at a time).
config_muzzled_limit() {
  want muzzled-limit || return 0
  say "config muzzled-limit"
  LAB_FLOOD_GUARD="${LAB_FLOOD_GUARD/connections: 0/connections: 1024}" lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  devices_fixed_cell muzzled-limit
  cell muzzled-limit mixed flows/s traffic_mixed --window 256 --seconds "$secs"
  lab_stop_muzzled
  consumer_pid=""
}

# ---- 7. a small box: the queue program on one core at half its speed ----------------------------
# Where a Raspberry-Pi-class box saturates, and that muzzled degrades no faster than the bare
# loop behind the minimal ruleset: both confined alike (small_box_enter), same cells. A packet
# the queue cannot take is dropped and counted (qdrop), never passed undecided: the report
# checks that no udp-churn flow arrived that the queue did not see.
config_small() {
  ((${#small_box[@]})) || return 0
  want small || return 0
  config=bare-minimal-small
  say "config $config"
  start_minimal_loop "$config"
  small_box_enter "$consumer_pid"
  small_box_cells "$config"
  stop_bare_loop
  say "small box: $(small_box_throttled)"
  lab_exec gw nft delete table inet benchmin
  say "config muzzled-small"
  lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  small_box_enter "$consumer_pid"
  small_box_cells muzzled-small
  lab_stop_muzzled
  consumer_pid=""
  say "small box: $(small_box_throttled)"
}

# One round: every configuration, one after the other. The whole matrix runs BENCH_ROUNDS times
# and report.sh takes each cell's median, so a slow minute of a shared machine moves one sample
# of a cell, not the cell. Every other round runs the configurations backwards: the last ones of
# a round met a host that had run ~25 cells before them (the web console read 0.80x muzzled last
# in every round of one run, 1.02x with only the two), and what a place in the order costs must
# fall on every config alike, not on the features that happened to come last.
configs=(kernel bare bare_minimal muzzled muzzled_2q muzzled_noacct muzzled_learn muzzled_web muzzled_noguard
  muzzled_limit small)
one_round() {
  # Short conntrack timeouts: millions of one-datagram flows must not fill the table (see
  # ct_flush; its size is a host-wide limit a namespace cannot raise). With 2 s for an unreplied
  # UDP flow the mixed cell (~90,000 flows/s) filled it, and the kernel evicted unreplied entries
  # early, among them DNS queries' entries before their answer came back: the answer then opened
  # a flow of its own from port 53, which a firewall refuses, and its device's flow was lost.
  kernel_ruleset >"$LAB_STATE/kernel.nft"
  lab_exec gw sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1 net.netfilter.nf_conntrack_tcp_timeout_close=2 || true
  local order=("${configs[@]}") config_fn i
  if ((round % 2 == 0)); then
    order=()
    for ((i = ${#configs[@]} - 1; i >= 0; i--)); do order+=("${configs[i]}"); done
  fi
  say "round $round: ${order[*]}"
  for config_fn in "${order[@]}"; do
    ready_gateway
    "config_$config_fn"
  done
}

for ((round = 1; round <= rounds; round++)); do
  say "round $round of $rounds"
  one_round
done

# ---- 6. learning mode's memory (once; RSS, not a rate) -------------------------------------------
# muzzled's resident set while devices learn (fw/learn/README.md, "Bounds"): a fresh muzzled,
# learning started for the camera and the 999 policy devices; then one device opens 10,000
# distinct flows (its bound keeps 1,024), then the 999 devices 100,000 (the total bound keeps
# 65,536). BENCH_LEARN=0 skips it; BENCH_ROUNDS=0 runs only it.
learn_memory() {
  local rss0 rss1 rss2 t0 started shown
  say "learn-memory: 1000 devices learning"
  lab_exec gw nft delete table inet muzzle 2>/dev/null || true
  lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  ctl() { "$BUILD/mgmt/muzzlectl" --socket "$LAB_STATE/muzzled.sock" "$@"; }
  rss0="$(rss_kb)"
  t0=$SECONDS
  started="$(learn_all_devices)"
  say "learn-memory: $started sessions started in $((SECONDS - t0)) s"
  local one many
  one="$(traffic_udp --window 256 --flows 10000 --dst-ports 40 --seconds 60)"
  tuple_base=$((tuple_base + 10000))
  rss1="$(rss_kb)"
  # --json: one "target" per flow kept.
  shown="$(ctl --json learn show "$cam_mac" 2>/dev/null | grep -c '"target"' || true)"
  many="$(traffic_mixed --dns-every 0 --window 256 --flows 100000 --dst-ports 40 --seconds 120)"
  tuple_base=$((tuple_base + 100000))
  rss2="$(rss_kb)"
  local kept_other
  kept_other="$(ctl --json learn show 44:47:cc:10:00:01 2>/dev/null | grep -c '"target"' || true)"
  echo "{\"config\":\"muzzled\",\"workload\":\"learn-memory\",\"sessions\":$started,\"rss_start_kb\":$rss0,\"rss_one_device_kb\":$rss1,\"one_device_flows_kept\":$shown,\"rss_all_devices_kb\":$rss2,\"other_device_flows_kept\":$kept_other,\"one_device_sent\":$(json_field "$one" sent),\"all_devices_sent\":$(json_field "$many" sent)}" >>"$jsonl"
  say "learn-memory: RSS ${rss0} KiB at start, ${rss1} after 10,000 flows of one device ($shown kept), ${rss2} after 100,000 of 999 devices"
  lab_stop_muzzled
  consumer_pid=""
}
[[ "${BENCH_LEARN:-1}" == 0 ]] || learn_memory

# ---- 7. a site of 10,000 devices and a 100,000-entry address list (once) -------------------------
# What a large site costs muzzled (issue 18: compile + swap <= 100 ms, RSS after start <= 32 MB,
# no verdict delayed by the compile): gen_policy.sh's site at DEVICES=10000 THREATS=100000 (the
# list in lists/threats.txt; it replaces the 1,000-device site's, so this runs last), with
# DEVICES_FILE=1: the devices in lists/devices.csv, as a site of that size keeps them (the same
# devices listed in the YAML take the compile ~3x the CPU, most of it yaml-cpp's scanner). muzzled
# starts with it (rss_start, and the initial load's compile_ms/install_ms), then gets SIGHUP with
# the other variant and back, twice, while the camera opens new flows one at a time (cell `swap`
# of config `muzzled-10k`): its p99 and max_us show whether a first packet waited for a compile.
# Four reloads, as a box sees one after another: the first after start is the slowest (its heap
# is not warm yet), and the report lists each.
# BENCH_SITE10K=0 skips it.
site_10k() {
  local v r n t loaded loads_json="" rss0 rss1 ct10k
  say "site-10k: 10,000 devices, a 100,000-entry address list"
  lab_exec gw nft delete table inet muzzle 2>/dev/null || true
  for v in a b; do
    DEVICES=10000 THREATS=100000 DEVICES_FILE=1 \
      "$repo/tests/bench/gen_policy.sh" -o "$LAB_STATE/policy-10k-$v.yaml" "10k-$v"
  done
  cp "$LAB_STATE/policy-10k-a.yaml" "$LAB_STATE/policy.yaml"
  # A state folder of its own: muzzled boots from the newest revision it keeps, which in the
  # bench's folder is the 1,000-device site; in an empty one it boots from policy.yaml, as a
  # fresh box does.
  mkdir -p "$LAB_STATE/state-10k"
  # An empty conntrack table, as every cell starts from: learn_memory's flows (50,000-70,000)
  # are still in it, and accounting takes the connections open at its start as a baseline, one
  # tracked entry each (~80 bytes; 65,536 at most, flow_counts.h): 4-5 MB of RSS that are the
  # previous section's traffic, not the site's. The count flushed goes in the JSON.
  ct10k="$(ct_flush)"
  LAB_STATE_DIR="$LAB_STATE/state-10k" lab_start_muzzled
  consumer_pid="$LAB_MUZZLED_PID"
  rss0="$(rss_kb)"
  loaded="$(grep 'event=policy-loaded' "$LAB_STATE/muzzled.log" | tail -n 1)"
  reloaded_count() { grep -c 'event=policy-reloaded' "$LAB_STATE/muzzled.log" || true; }
  # Each SIGHUP waits (up to 30 s) for its policy-reloaded line, so the two never overlap.
  swap10k_traffic() {
    local f="$LAB_STATE/swap10k.json" pid v n i span
    span=$((secs * 3 > 3 ? secs * 3 : 3))
    traffic_udp --window 1 --seconds "$span" >"$f" &
    pid=$!
    echo "$pid" >>"$LAB_STATE/pids"  # lab_down kills it if the bench is interrupted
    for v in b a b a; do
      sleep "$(awk -v s="$span" 'BEGIN { print s / 6 }')"
      n="$(reloaded_count)"
      cp "$LAB_STATE/policy-10k-$v.yaml" "$LAB_STATE/policy.yaml"
      lab_reload_muzzled
      for ((i = 0; i < 600; i++)); do (($(reloaded_count) > n)) && break; sleep 0.05; done
    done
    wait "$pid"
    cat "$f"
  }
  cell muzzled-10k swap flows/s swap10k_traffic
  rss1="$(rss_kb)"
  local swaps=()
  mapfile -t swaps < <(grep 'event=policy-reloaded' "$LAB_STATE/muzzled.log" | tail -n 4)
  for r in "$loaded" "${swaps[@]}"; do
    n="$(sed -n 's/.*compile_ms=\([0-9.]*\).*/\1/p' <<<"$r")"
    t="$(sed -n 's/.*install_ms=\([0-9.]*\).*/\1/p' <<<"$r")"
    v="$(sed -n 's/.* devices=\([0-9]*\).*/\1/p' <<<"$r")"
    loads_json+="{\"compile_ms\":${n:-null},\"install_ms\":${t:-null},\"devices\":${v:-null}},"
  done
  # The first entry is the load at start; the others are the SIGHUPs.
  echo "{\"config\":\"muzzled-10k\",\"workload\":\"reload-10k\",\"devices\":10000,\"addresses\":100000,\"reloads\":[${loads_json%,}],\"rss_start_kb\":$rss0,\"rss_after_kb\":$rss1,\"ct_flushed\":$ct10k}" >>"$jsonl"
  say "site-10k: RSS ${rss0} KiB after start, ${rss1} after the swaps; compile+install: ${loads_json%,}"
  lab_stop_muzzled
  consumer_pid=""
}
[[ "${BENCH_SITE10K:-1}" == 0 ]] || site_10k

# ---- results ------------------------------------------------------------------------------------
# The machine during the run: CPU steal over the whole run (from /proc/stat: the share of time
# the host ran something else on this VM's vCPUs), the load average at the start and the end,
# whether the cells held the 0 us latency request, and which share of the idle entries during
# the cells polled (POLL, cpuidle state 0).
read -r -a run_stat1 <<<"$(cpu_stat)"
read -r -a run_stat0 <<<"$run_stat0"
steal_run="$(awk -v s=$((run_stat1[2] - run_stat0[2])) -v t=$((run_stat1[0] - run_stat0[0])) 'BEGIN { printf "%.1f", (t > 0) ? 100 * s / t : 0 }')"
poll_pct="$(awk -v p="$poll_entries" -v a="$all_idle_entries" 'BEGIN { if (a > 0) printf "%.1f", 100 * p / a; else print "null" }')"
meta="{\"meta\":1,\"date\":\"$(date -u +%FT%TZ)\",\"kernel\":\"$(uname -r)\",\"cpus\":$(nproc),\"seconds_per_cell\":$secs,\"rounds\":$rounds,\"load_at_start\":\"$load_at_start\",\"load_at_end\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"steal_pct\":$steal_run,\"dma_latency\":\"$dma_state\",\"idle_poll_pct\":$poll_pct,\"cpuidle\":\"$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)\",\"fixed_pps\":$fixed_pps,\"fixed_seconds\":$fixed_secs,\"commit\":\"$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)\"}"
{ echo "$meta"; cat "$jsonl"; } >"$out_dir/latest.jsonl"
rm -f "$jsonl"
"$repo/tests/bench/report.sh" "$out_dir/latest.jsonl" | tee "$out_dir/latest.txt"
