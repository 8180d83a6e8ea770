#!/usr/bin/env bash
# Prometheus scrapes a lab box: muzzled serves /metrics (management.metrics) on its uplink
# address 198.51.100.1:9464 to the simulated internet's 198.51.100.2 alone; Debian's prometheus
# server runs in that namespace (storage in a temp folder, killed on exit) and scrapes it every
# second. The camera cam1 sends datagrams of a known size, and prometheus's HTTP API must return
# its bytes each way (counted in the kernel) within 5 %; then it makes denied and allowed flows,
# and the API must return exactly as many more of each for cam1's series. A scraper outside management.metrics.allow (the
# NVR) gets its connection closed unanswered, and counted; a device on the segment gets nothing;
# a listen address that is the segment's, spelled as an IPv4-mapped IPv6 address, stops the start.
set -euo pipefail
# shellcheck source=tests/scenario/common.sh
source "$(dirname "$0")/common.sh"

if ! command -v prometheus >/dev/null || ! command -v curl >/dev/null; then
  echo "skipped: needs Debian's prometheus and curl (tests/setup.sh installs them)"
  exit 77
fi

prom_dir="$(mktemp -d /tmp/muzzle-prometheus.XXXXXX)"
prom_pid=""
# shellcheck disable=SC2317  # called by the trap
stop_prometheus() {
  [[ -n "$prom_pid" ]] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null
  prom_pid=""
  rm -rf "$prom_dir"
}
trap 'stop_prometheus; lab_down' EXIT

LAB_MANAGEMENT='  metrics:
    listen: 198.51.100.1:9464
    allow: [198.51.100.2]'
export LAB_MANAGEMENT
scenario_lab_up
lab_start_muzzled

lab_check "muzzled says where /metrics is" wait_log 'event=management .*metrics=198.51.100.1:9464'

cat >"$prom_dir/prometheus.yml" <<'EOF'
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: muzzle
    static_configs:
      - targets: ['198.51.100.1:9464']
EOF
# In the internet's namespace only, listening on its lab address; nothing leaves the lab.
lab_exec inet prometheus --config.file="$prom_dir/prometheus.yml" \
  --storage.tsdb.path="$prom_dir/data" --web.listen-address=198.51.100.2:9090 \
  >"$prom_dir/prometheus.log" 2>&1 </dev/null &
prom_pid=$!
_lab_remember_pid "$prom_pid"

# query EXPR: the value of the first sample prometheus's HTTP API returns for EXPR ("" if none).
query() {
  lab_exec inet curl -sf --max-time 5 http://198.51.100.2:9090/api/v1/query \
    --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'
}
query_is() { [[ "$(query "$1")" == "$2" ]]; }

lab_check "prometheus scrapes the box (up == 1)" wait_until 60 query_is 'up{job="muzzle"}' 1
lab_check "the metrics server's thread runs in the background, the packet path's do not" \
  thread_priorities muzzle-metrics muzzle-compile
cam1='mac="44:47:cc:00:00:11"'

# Before cam1's other flows, so its byte counts are these datagrams' alone: the box's time
# server (allowed by the camera preset) echoes each; layer-3 bytes are payload + 28 (IPv4).
echo "== cam1's bytes, counted in the kernel: 50 datagrams of 1000 bytes to the box's time server"
up_q="muzzle_device_bytes_total{$cam1,direction=\"upload\"}"
down_q="muzzle_device_bytes_total{$cam1,direction=\"download\"}"
for _ in $(seq 50); do lab_flow cam1 udp 198.18.10.1 123 --size 1000 >/dev/null; done
# query_within EXPR EXPECTED: prometheus's value for EXPR is within 5 % of EXPECTED.
query_within() { awk -v a="$(query "$1")" -v e="$2" 'BEGIN { exit !(a != "" && a >= e * 0.95 && a <= e * 1.05) }'; }
lab_check "prometheus: cam1 upload bytes = 50 x 1028 (within 5 %)" wait_until 30 query_within "$up_q" 51400
lab_check "prometheus: cam1 download bytes = the echoes (within 5 %)" wait_until 30 query_within "$down_q" 51400
echo "    upload $(query "$up_q") bytes, download $(query "$down_q") bytes (sent 51400 each way)"
denied_q="muzzle_device_flows_total{$cam1,verdict=\"denied\"}"
allowed_q="muzzle_device_flows_total{$cam1,verdict=\"allowed\"}"
denied_before="$(query "$denied_q")"
allowed_before="$(query "$allowed_q")"
echo "    before: cam1 denied=${denied_before:-none} allowed=${allowed_before:-none}"

echo "== cam1: 3 denied flows to the cloud and 2 allowed flows to the NVR, in IPv4 and IPv6"
lab_table_header
for _ in 1 2 3; do
  lab_expect rejected cam1 cloud1 tcp 443 4
  lab_expect rejected cam1 cloud1 tcp 443 6
done
for _ in 1 2; do
  lab_expect allowed cam1 nvr tcp 554 4
  lab_expect allowed cam1 nvr tcp 554 6
done
lab_check "prometheus: cam1 denied = before + 6" \
  wait_until 30 query_is "$denied_q" "$((${denied_before:-0} + 6))"
lab_check "prometheus: cam1 allowed = before + 4" \
  wait_until 30 query_is "$allowed_q" "$((${allowed_before:-0} + 4))"
echo "    after: cam1 denied=$(query "$denied_q") allowed=$(query "$allowed_q")"
lab_check "cam1's series carry its labels (policy name, profile, segment)" \
  query_is "count(muzzle_device_flows_total{$cam1,name=\"lobby-cam\",profile=\"camera\",segment=\"cameras\"})" 2
lab_check "prometheus: verdicts by reason, policy revision, build info" \
  bash -c "[[ -n \"\$1\" && -n \"\$2\" && \"\$3\" == 1 ]]" _ \
  "$(query 'muzzle_verdicts_total{verdict="rejected"}')" "$(query 'muzzle_policy_revision')" \
  "$(query 'muzzle_build_info{version="0.1.0"}')"

echo "== who else may scrape"
refused_q='muzzle_metrics_connections_total{outcome="refused-peer"}'
refused_before="$(query "$refused_q")"
nvr_out="$(lab_exec nvr curl -s --max-time 5 http://198.51.100.1:9464/metrics 2>&1 || echo "curl-exit=$?")"
echo "    from the NVR (198.18.1.10): ${nvr_out:0:80}"
lab_check "the NVR (outside allow) gets no answer" grep -q '^curl-exit=' <<<"$nvr_out"
lab_check "  counted as refused-peer" \
  wait_until 30 query_is "$refused_q" "$((${refused_before:-0} + 1))"
for to in 198.51.100.1 198.18.10.1; do
  cam_out="$(lab_exec cam1 curl -s --max-time 5 "http://$to:9464/metrics" 2>&1 || echo "curl-exit=$?")"
  echo "    from cam1 to $to: ${cam_out:0:80}"
  lab_check "cam1 on the segment gets no answer from $to" grep -q '^curl-exit=' <<<"$cam_out"
done
echo "== one real scrape, from inside the allow list (excerpt)"
lab_exec inet curl -s --max-time 5 -w '    (%{size_download} bytes in %{time_total} s)\n' \
  -o "$LAB_STATE/scrape.txt" http://198.51.100.1:9464/metrics
grep -E '^muzzle_(build_info|verdicts_total|policy_|commit_pending|inventory|device_flows_total\{mac="44:47:cc:00:00:11")' \
  "$LAB_STATE/scrape.txt" | sed 's/^/    /'
lab_check "the scrape is the 0.0.4 text format with HELP and TYPE" \
  grep -q '^# TYPE muzzle_device_flows_total counter$' "$LAB_STATE/scrape.txt"
lab_check "  with the gateway's connection table, read and of its size" \
  grep -q "^muzzle_conntrack_max $(lab_exec gw cat /proc/sys/net/netfilter/nf_conntrack_max)$" \
  "$LAB_STATE/scrape.txt"
lab_check "  and its entries (cam1's flows among them)" \
  grep -q '^muzzle_conntrack_entries [1-9][0-9]*$' "$LAB_STATE/scrape.txt"

echo "== a segment address in another spelling stops the start"
lab_stop_muzzled
LAB_MANAGEMENT='  metrics:
    listen: "[::ffff:198.18.10.1]:9464"
    allow: [198.51.100.2]'
if lab_start_muzzled 2>/dev/null; then
  lab_fail "muzzled started with /metrics on the segment's address"
else
  lab_check "  naming the file, line and field" \
    grep -Eq 'muzzled.yaml:[0-9]+: management.metrics.listen: .*an address of a managed segment' \
    "$LAB_STATE/muzzled.log"
fi

stop_prometheus
lab_summary
