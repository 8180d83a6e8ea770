#!/usr/bin/env bash
# A queue thread that hangs while the engine loop turns (a judgement stuck on a crafted packet, a
# lock never released, a system call that never returns) must cost at most a restart. Its queue
# fills and drops every new flow (fail closed), so muzzled says event=queue-stalled and stops
# pinging systemd's watchdog, which then restarts it; if the thread turns again first,
# event=queue-resumed and the pings go on.
#
# The flow queue's thread alone (muzzle-q100) is frozen with ptrace: PTRACE_SEIZE and
# PTRACE_INTERRUPT on its thread id, by a root tracer that holds it until told to let go (a
# SIGSTOP would stop the whole process, the engine loop with it). The notify socket is a stand-in
# for systemd's, as in service_notify.sh; no systemd here restarts anything.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

scenario_lab_up
scenario_notify_socket

echo "== muzzled with NOTIFY_SOCKET and a watchdog of 2 s (a ping every second)"
NOTIFY_SOCKET="$NOTIFY_SOCKET_PATH" WATCHDOG_USEC=2000000 lab_start_muzzled
lab_check "WATCHDOG=1 arrives while every thread turns" notify_arrived 'WATCHDOG=1' 30
lab_expect allowed cam1 nvr tcp 554

# More WATCHDOG=1 than $1 have arrived.
_pings_above() { (($(notify_count 'WATCHDOG=1') > $1)); }

# The flow queue's thread, by the name muzzled gives it.
queue_tid=""
for task in /proc/"$LAB_MUZZLED_PID"/task/*; do
  if [[ "$(cat "$task/comm" 2>/dev/null)" == muzzle-q100 ]]; then queue_tid="${task##*/}"; fi
done
lab_check "the queue thread muzzle-q100 is there" test -n "$queue_tid"

# Freezes thread $1 and writes its own pid to $2 once the thread is stopped; on SIGTERM (or when
# the tracer dies: the kernel then detaches) the thread runs on.
tracer_ready="$LAB_STATE/tracer.ready"
lab_exec gw python3 -c '
import ctypes, os, signal, sys
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT, WALL = 17, 0x4206, 0x4207, 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
tid, ready = int(sys.argv[1]), sys.argv[2]
def ptrace(request, what):
    if libc.ptrace(request, tid, None, None) != 0:
        sys.exit(what + ": " + os.strerror(ctypes.get_errno()))
def release(signum, frame):
    ptrace(PTRACE_DETACH, "PTRACE_DETACH")
    sys.exit(0)
signal.signal(signal.SIGTERM, release)
ptrace(PTRACE_SEIZE, "PTRACE_SEIZE")
ptrace(PTRACE_INTERRUPT, "PTRACE_INTERRUPT")
os.waitpid(tid, WALL)  # the thread is in its ptrace stop
with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
while True:
    signal.pause()
' "$queue_tid" "$tracer_ready" </dev/null >>"$LAB_STATE/tracer.log" 2>&1 &
_lab_remember_pid $!

echo "== muzzle-q100 frozen (thread $queue_tid); the engine loop turns on"
if ! lab_wait_file "$tracer_ready" 10; then
  lab_fail "the tracer stops the queue thread"
  cat "$LAB_STATE/tracer.log" >&2
  lab_summary
  exit 1
fi
tracer_pid="$(cat "$tracer_ready")"
lab_check "only the queue thread is stopped (t), the engine thread runs" \
  test "$(awk '{ print $3 }' "/proc/$LAB_MUZZLED_PID/task/$queue_tid/stat")" = t
lab_check "event=queue-stalled names the queues and the thread" \
  wait_log "event=queue-stalled queue=100,101 thread=muzzle-q100 seconds=([5-9]|[1-9][0-9])" 20
# A ping sent just before the stall was seen may still be on its way to the socket's file.
sleep 0.5
pings="$(notify_count 'WATCHDOG=1')"
# A new flow waits in the frozen thread's queue: it is not passed.
lab_expect blocked cam2 nvr tcp 554
# Three ping intervals (the 2 s flow above, then 1 s): no ping while the thread hangs.
sleep 1
lab_check "no WATCHDOG=1 while the queue thread hangs ($pings before, $(notify_count 'WATCHDOG=1') after)" \
  test "$(notify_count 'WATCHDOG=1')" = "$pings"
lab_check "muzzlectl status says the queue thread is stalled" \
  grep -q 'STALLED' <<<"$(ctl status)"
{ grep -E 'event=queue-stalled' "$LAB_STATE/muzzled.log" || true; } | sed 's/^/    | /'

echo "== muzzle-q100 let go"
kill -TERM "$tracer_pid"
lab_check "event=queue-resumed says how long it went without a turn" \
  wait_log "event=queue-resumed queue=100,101 thread=muzzle-q100 seconds=[0-9]+" 20
lab_check "WATCHDOG=1 comes again" wait_until 10 _pings_above "$pings"
{ grep -E 'event=queue-resumed' "$LAB_STATE/muzzled.log" || true; } | sed 's/^/    | /'
lab_expect allowed cam2 nvr tcp 554
lab_expect allowed cam1 nvr tcp 554
lab_check "muzzled stops cleanly" lab_stop_muzzled
lab_check "the last counters line counts the stall" \
  grep -q 'event=stopped .* queue_stalls=1 ' "$LAB_STATE/muzzled.log"

lab_summary
