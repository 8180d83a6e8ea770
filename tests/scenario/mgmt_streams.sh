#!/usr/bin/env bash
# Streams are bounded per client and in total: one viewer that opens thousands of WatchEvents
# streams gets its 16 (management.max_streams_per_client, default) and RESOURCE_EXHAUSTED for the
# rest, with the limit and how to raise it; muzzled's memory and threads stay within a bound
# while it refuses them; another identity still gets its own (health Watch streams count too);
# past management.max_streams everyone is refused; and once streams close (or their client is
# killed), new ones are accepted. Server reflection (gRPC's own, synchronous service) holds a
# thread per stream: it gets at most 8 threads. The streams are opened by grpc_probe over TCP
# with mutual TLS from the NVR and over the unix socket.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

certs="$(mktemp -d /tmp/muzzle-streams.XXXXXX)"
trap 'exec 3>&- 4>&- 5>&- 2>/dev/null; lab_down; rm -rf "$certs"' EXIT
scenario_certs "$certs"
scenario_issue box box "subjectAltName=IP:198.18.1.1"
scenario_issue dash dash "extendedKeyUsage=clientAuth"
scenario_issue eve eve "extendedKeyUsage=clientAuth"

# The per-client limit is left at its default (16); the total is set low enough to reach.
per_client=16
total=40
LAB_MANAGEMENT="  max_streams: $total
$(scenario_tls_management <<'MORE'
    roles:
      - {identity: dash, role: viewer}
      - {identity: eve, role: viewer}
MORE
)"
export LAB_MANAGEMENT
scenario_lab_up
lab_start_muzzled
probe_bin="$BUILD/tests/lab/grpc_probe"

# hold_start FD NAME WHO KIND N: grpc_probe holding N streams (WHO: a certificate, or local for
# the socket) until file descriptor FD is closed; waits for its `holding` line. HOLD_PID: its pid.
hold_start() {
  local fd="$1" name="$2" who="$3" kind="$4" n="$5" fifo="$LAB_STATE/$2.fifo" i
  mkfifo "$fifo"
  if [[ "$who" == local ]]; then
    "$probe_bin" "unix:$LAB_STATE/muzzled.sock" hold "$kind" "$n" <"$fifo" >"$LAB_STATE/$name.out" 2>&1 3>&- 4>&- 5>&- &
  else
    lab_exec nvr "$probe_bin" --ca "$certs/ca.pem" --cert "$certs/$who.pem" --key "$certs/$who.key" \
      198.18.1.1:7443 hold "$kind" "$n" <"$fifo" >"$LAB_STATE/$name.out" 2>&1 3>&- 4>&- 5>&- &
  fi
  HOLD_PID=$!
  _lab_remember_pid "$HOLD_PID"
  # Only this shell holds the fifo's write end (later probes are started without it), so
  # closing FD is the probe's end of input.
  eval "exec $fd>\"$fifo\""
  for ((i = 0; i < 1200; i++)); do
    grep -q '^holding' "$LAB_STATE/$name.out" && break
    sleep 0.05
  done
  sed 's/^/    /' "$LAB_STATE/$name.out"
}
# hold_end FD NAME: closes the probe's input; waits for it to cancel its streams.
hold_end() {
  local i
  eval "exec $1>&-"
  for ((i = 0; i < 200; i++)); do
    grep -q '^closed' "$LAB_STATE/$2.out" && return 0
    sleep 0.05
  done
  return 1
}
proc_field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$LAB_MUZZLED_PID/status"; }

# Warm up one TLS connection, so the baseline includes what any first client costs.
lab_exec nvr "$probe_bin" --ca "$certs/ca.pem" --cert "$certs/dash.pem" --key "$certs/dash.key" \
  198.18.1.1:7443 status >/dev/null
rss_before="$(proc_field VmRSS)"
threads_before="$(proc_field Threads)"

echo "== one viewer asks for 2000 event streams"
hold_start 3 dash dash events 2000
lab_check "dash gets its $per_client streams" grep -q "accepted=$per_client refused=$((2000 - per_client))" "$LAB_STATE/dash.out"
lab_check "  the rest: RESOURCE_EXHAUSTED (8), naming the limit and how to raise it" \
  grep -q "refusal code=8 message=\"dash already holds $per_client streams open, its limit (management.max_streams_per_client: $per_client in muzzled.yaml); close one first, or raise the limit\"" \
  "$LAB_STATE/dash.out"
rss_after="$(proc_field VmRSS)"
threads_after="$(proc_field Threads)"
echo "    muzzled: VmRSS ${rss_before} -> ${rss_after} kB, threads ${threads_before} -> ${threads_after}"
# Unbounded, 2000 streams cost about 40 MB (20,000 cost 385 MB); 16 held cost far below 16 MB.
lab_check "  muzzled's memory grew by less than 16 MB" test $((rss_after - rss_before)) -lt 16384
lab_check "  and it has at most 8 threads more" test $((threads_after - threads_before)) -le 8

echo "== another identity still gets its own; health Watch streams count too"
hold_start 4 eve eve health 20
eve_pid="$HOLD_PID"
lab_check "eve gets $per_client health streams" grep -q "accepted=$per_client refused=4" "$LAB_STATE/eve.out"

echo "== past max_streams ($total) everyone is refused, local admins too"
hold_start 5 local local events 20
lab_check "the socket gets the $((total - 2 * per_client)) left" \
  grep -q "accepted=$((total - 2 * per_client)) refused=$((20 - total + 2 * per_client))" "$LAB_STATE/local.out"
lab_check "  then RESOURCE_EXHAUSTED naming max_streams" \
  grep -q "refusal code=8 message=\"muzzled already serves $total streams, its limit (management.max_streams: $total in muzzled.yaml)" \
  "$LAB_STATE/local.out"
lab_check "GetStatus still answers while every stream is taken" \
  bash -c "'$probe_bin' 'unix:$LAB_STATE/muzzled.sock' status | grep -q 'role=admin'"

echo "== streams that close give their slots back"
lab_check "dash's probe closed its streams" hold_end 3 dash
# muzzled sees the cancellations shortly after the client sends them: retry within a deadline.
again() {  # again WHO KIND: WHO gets all its streams of KIND again
  local i
  for ((i = 0; i < 100; i++)); do
    lab_exec nvr "$probe_bin" --ca "$certs/ca.pem" --cert "$certs/$1.pem" --key "$certs/$1.key" \
      198.18.1.1:7443 hold "$2" "$per_client" </dev/null >"$LAB_STATE/again.out" 2>&1 || true
    grep -q "accepted=$per_client refused=0" "$LAB_STATE/again.out" && return 0
    sleep 0.1
  done
  cat "$LAB_STATE/again.out"
  return 1
}
lab_check "dash gets $per_client new streams" again dash events
# A client that vanishes without a word (kill -9) gives its slots back too, once muzzled sees
# the connection close.
kill -KILL "$eve_pid"
exec 4>&-
lab_check "after eve's client was killed, eve gets $per_client health streams again" again eve health
hold_end 5 local || true

echo "== server reflection streams hold a thread each: at most 8 threads serve them"
threads_before="$(proc_field Threads)"
hold_start 3 reflection local reflection 30
threads_after="$(proc_field Threads)"
echo "    muzzled: threads ${threads_before} -> ${threads_after}"
lab_check "past the thread bound reflection streams are refused (RESOURCE_EXHAUSTED)" \
  grep -q 'refusal code=8 message="Server Threadpool Exhausted"' "$LAB_STATE/reflection.out"
lab_check "  30 streams cost fewer than 20 threads" test $((threads_after - threads_before)) -lt 20
lab_check "  and the management calls are still served" \
  bash -c "'$probe_bin' 'unix:$LAB_STATE/muzzled.sock' status | grep -q 'role=admin'"
hold_end 3 reflection || true
lab_check "muzzled is still the same process" kill -0 "$LAB_MUZZLED_PID"
lab_summary
