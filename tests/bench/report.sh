#!/usr/bin/env bash
# Turns the bench's JSON lines into the readable table, the ratios and the targets of issues 6
# and 18.
#
#   tests/bench/report.sh tests/bench/results/latest.jsonl
#
# The JSON lines are flat objects the bench writes itself, so awk reads them without a JSON tool.
# A cell run in several rounds is shown as its median (rate, latencies, CPU), with `lost` and
# `qdrop` summed and RSS the largest seen.
set -euo pipefail

file="${1:?usage: report.sh RESULTS.jsonl}"

awk '
function field(line, key,    re, m) {
  re = "\"" key "\":(\"[^\"]*\"|[^,}]*)"
  if (!match(line, re)) return ""
  m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
  gsub(/"/, "", m)
  return m
}
function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0 || a == "null" || b == "null") ? "-" : sprintf("%.2f", a / b) }
function verdict(ok) { return ok ? "MET   " : "MISSED" }
# The largest sample of one measure ("-" while there is none).
function maxof(name, key,    n, i, hi) {
  n = count[name, key] + 0
  if (n == 0) return "-"
  hi = samples[name, key, 1]
  for (i = 2; i <= n; i++) if (samples[name, key, i] > hi) hi = samples[name, key, i]
  return hi
}
# Samples of one measure of one cell, in rounds; median() of them ("null" while there is none).
function sample(name, key, value) {
  if (value == "" || value == "null") return
  n = ++count[name, key]; samples[name, key, n] = value + 0
}
function median(name, key,    n, i, j, t, a) {
  n = count[name, key] + 0
  if (n == 0) return "null"
  for (i = 1; i <= n; i++) a[i] = samples[name, key, i]
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  t = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  return (t == int(t)) ? sprintf("%d", t) : sprintf("%.1f", t)
}
# The smallest and the largest sample, "min-max" (the spread of a cell over its rounds).
function spread(name, key,    n, i, lo, hi) {
  n = count[name, key] + 0
  if (n == 0) return "-"
  lo = hi = samples[name, key, 1]
  for (i = 2; i <= n; i++) { if (samples[name, key, i] < lo) lo = samples[name, key, i]; if (samples[name, key, i] > hi) hi = samples[name, key, i] }
  return sprintf("%g-%g", lo, hi)
}
# The rounds paired: `a` against `b` on workload `w`, the ratio of measure `m` in each round both
# ran (their cells minutes apart, where the medians of the whole run are up to half an hour
# apart): "median [min-max], `a` ahead in N of K" (ahead: a higher ratio when `high` is 1, a lower
# one when it is 0; "-" without a pair). A slow minute of the VM moves one round of both configs,
# so it moves one ratio, not the comparison.
function paired(m, a, b, w, high,    n, r, x, y, ahead, t, i, j, v) {
  n = 0
  for (r = 1; r <= 50; r++) {
    x = byround[m, a SUBSEP w, r]; y = byround[m, b SUBSEP w, r]
    if (x == "" || y == "" || x == "null" || y == "null" || y + 0 == 0) continue
    v[++n] = x / y
  }
  if (n == 0) return "-"
  for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
  ahead = 0; for (i = 1; i <= n; i++) if (high ? v[i] > 1 : v[i] < 1) ahead++
  t = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  return sprintf("%.2f [%.2f-%.2f], %s ahead in %d of %d", t, v[1], v[n], a, ahead, n)
}
# The softirq a packet of a config whose table costs `t` ns a packet, against the kernel-only config:
# the softirq of that config plus what the table costs over the kernel-only table, as a ratio
# ("-" without either).
function est_ratio(t,    k, kt) {
  k = sirq["kernel" SUBSEP "established-pps"]; kt = table["kernel" SUBSEP "established-pps"]
  if (t == "" || t == "null" || k == "" || k == "null" || k + 0 == 0 || kt == "" || kt == "null") return "-"
  return sprintf("%.3f", (k + t - kt) / k)
}
# What a feature costs: config `with` against `without` on each of `workloads` (space-separated),
# MET at >= 0.97x; `with_cpu` adds the user CPU a judged packet of both; each row also by round.
function cost_rows(with, without, workloads, label, with_cpu,    n, i, w, r, list) {
  n = split(workloads, list, " ")
  for (i = 1; i <= n; i++) {
    w = list[i]; r = ratio(rate[with SUBSEP w], rate[without SUBSEP w])
    printf "  %s %s%-12s: %s x (%s vs %s %s%s; by round %s)\n", verdict(r + 0 >= 0.97), label, w, r, rate[with SUBSEP w],
      rate[without SUBSEP w], unit[w],
      with_cpu ? sprintf("; user CPU %s vs %s us a judged packet", cpu[with SUBSEP w], cpu[without SUBSEP w]) : "",
      paired("rate", with, without, w, 1)
  }
}
# What a feature costs at the fixed rate (workload `a`: udp-fixed or tcp-fixed): the CPU of the whole
# box a flow, config `with` against `without`, MET at <= 1.03x; also the difference in ns a flow, and
# by round.
function fixed_cost(with, without, label, a,    x, y) {
  if (!((with SUBSEP a) in ran) || !((without SUBSEP a) in ran)) return
  x = median("busy", with SUBSEP a); y = median("busy", without SUBSEP a)
  printf "  %s %s%-12s: %s x (%s vs %s us of the box a flow, %+.0f ns; by round %s)\n", verdict(y + 0 > 0 && x / y <= 1.03), label, a,
    ratio(x, y), x, y, (x - y) * 1000, paired("busy", with, without, a, 0)
}
/"meta":1/ { meta = $0; next }
/"workload":"reload"/ { reloads = reloads $0; last_reload = $0; next }
/"workload":"dns-counters"/ { dnsc = $0; next }
/"workload":"accounting-status"/ { overruns += field($0, "event_overruns"); acct_text = field($0, "text"); next }
/"workload":"learn-memory"/ { learnm = $0; next }
/"workload":"reload-10k"/ { site10k = $0; next }
/"workload":"established-walk"/ {
  c = field($0, "config"); walk[c] = sprintf("%s rules, %s expressions (%s)", field($0, "rules"), field($0, "expressions"), field($0, "chains"))
  next
}
{
  c = field($0, "config"); w = field($0, "workload")
  key = c SUBSEP w
  ran[key] = 1
  sample("rate", key, field($0, "rate")); sample("p50", key, field($0, "p50_us")); sample("p99", key, field($0, "p99_us"))
  sample("cpu", key, field($0, "cpu_us_per_pkt")); sample("wake", key, field($0, "pkts_per_wakeup")); sample("da_per_s", key, (field($0, "seconds") + 0 > 0) ? field($0, "dns_answers") / field($0, "seconds") : "")
  sample("sirq", key, field($0, "softirq_ns_per_pkt")); sample("steal", key, field($0, "steal_pct"))
  sample("table", key, field($0, "table_ns_per_pkt")); sample("tflow", key, field($0, "table_ns_per_flow"))
  rd = field($0, "round"); if (rd != "") { byround["rate", key, rd] = field($0, "rate"); byround["p99", key, rd] = field($0, "p99_us") }
  sample("idle", key, field($0, "idle_pct"))
  sample("share", key, (field($0, "busiest_queue_share") ~ /^[0-9.]+$/) ? field($0, "busiest_queue_share") * 100 : "")
  sample("ptraffic", key, field($0, "perf_traffic_pct")); sample("pqueues", key, field($0, "perf_queues_pct")); sample("pidle", key, field($0, "perf_idle_pct"))
  sample("busy", key, field($0, "busy_us_per_flow")); if (rd != "") { byround["busy", key, rd] = field($0, "busy_us_per_flow"); byround["cpu", key, rd] = field($0, "cpu_us_per_pkt") }
  # The accounting event thread, where it ran: its CPU a flow sent (ns), and per second of the cell
  # its wait for a CPU (ms), its wake-ups and the times another task took its CPU.
  secs_cell = field($0, "seconds") + 0
  if (field($0, "event_thread_wakeups") + 0 > 0 && secs_cell > 0) {
    if (field($0, "sent") + 0 > 0) sample("evcpu", key, field($0, "event_thread_cpu_us") * 1000 / field($0, "sent"))
    sample("evwait", key, field($0, "event_thread_wait_us") / 1000 / secs_cell)
    sample("evwake", key, field($0, "event_thread_wakeups") / secs_cell)
    sample("evpre", key, field($0, "event_thread_preempted") / secs_cell)
  }
  sample("steal", "all", field($0, "steal_pct"))
  dq[key] += field($0, "dns_queries"); da[key] += field($0, "dns_answers"); has_dns[key] = has_dns[key] || field($0, "dns_answers") != ""
  lost[key] += field($0, "lost"); sent[key] += field($0, "sent")
  received[key] += field($0, "received"); judged[key] += field($0, "judged")
  r = field($0, "rss_kb") + 0; if (r > rss[key]) rss[key] = r
  qd[key] += field($0, "queue_dropped") + field($0, "user_dropped"); unit[w] = field($0, "unit")
  if (field($0, "ct_early_drop") != "") { has_ctd = 1; ctd[key] += field($0, "ct_early_drop") }
  ctdrop[key] += field($0, "ct_drop")
  if (!(w in seen_w)) { seen_w[w] = 1; workloads[++nw] = w }
  if (!(c in seen_c)) { seen_c[c] = 1; configs[++nc] = c }
  if (c == "muzzled-10k" && w == "swap") swap10k_line = $0
}
END {
  for (k in count) {
    split(k, part, SUBSEP)
    if (part[1] == "rate") rate[part[2], part[3]] = median("rate", part[2] SUBSEP part[3])
    if (part[1] == "p50") p50[part[2], part[3]] = median("p50", part[2] SUBSEP part[3])
    if (part[1] == "p99") p99[part[2], part[3]] = median("p99", part[2] SUBSEP part[3])
    if (part[1] == "cpu") cpu[part[2], part[3]] = median("cpu", part[2] SUBSEP part[3])
    if (part[1] == "wake") wake[part[2], part[3]] = median("wake", part[2] SUBSEP part[3])
    if (part[1] == "sirq") sirq[part[2], part[3]] = median("sirq", part[2] SUBSEP part[3])
    if (part[1] == "table") table[part[2], part[3]] = median("table", part[2] SUBSEP part[3])
    if (part[1] == "tflow") tflow[part[2], part[3]] = median("tflow", part[2] SUBSEP part[3])
  }
  printf "Muzzle benchmark  %s %s cpus=%s load(1/5/15 at end)=%s seconds/cell=%s rounds=%s commit=%s\n",
    field(meta, "date"), field(meta, "kernel"), field(meta, "cpus"), field(meta, "load_at_end"),
    field(meta, "seconds_per_cell"), field(meta, "rounds") == "" ? 1 : field(meta, "rounds"), field(meta, "commit")
  if (field(meta, "dma_latency") != "")
    printf "machine: load(1/5/15) at start %s; CPU steal %s%% over the run (cells: median %s%%, max %s); 0 us cpu_dma_latency during cells: %s (cpuidle %s, %s%% of idle entries polled)\n",
      field(meta, "load_at_start"), field(meta, "steal_pct"), median("steal", "all"), maxof("steal", "all"),
      field(meta, "dma_latency"), field(meta, "cpuidle"), field(meta, "idle_poll_pct")
  print "(each cell: the median of its rounds; lost and qdrop summed over them, rss_MB the largest)\n"
  printf "%-20s %-16s %9s %-7s %9s %9s %7s %6s %8s %7s %7s %6s %6s %6s %6s\n", "workload", "config", "rate", "unit",
    "p50_us", "p99_us", "lost", "qdrop", "cpu_us/p", "p/wake", "rss_MB", "xkern", "xbareP", "xbareB", "xbareM"
  for (i = 1; i <= nw; i++) {
    w = workloads[i]
    for (j = 1; j <= nc; j++) {
      c = configs[j]; key = c SUBSEP w
      # Not "key in rate": the ratios below read rate[] of other configs, which makes elements.
      if (!(key in ran)) continue
      printf "%-20s %-16s %9s %-7s %9s %9s %7s %6s %8s %7s %7s %6s %6s %6s %6s\n", w, c, rate[key], unit[w],
        (key in p50) ? p50[key] : "null", (key in p99) ? p99[key] : "null", lost[key], qd[key],
        (key in cpu) ? cpu[key] : "null", (key in wake) ? wake[key] : "null",
        (c ~ /kernel/) ? "-" : sprintf("%.1f", rss[key] / 1024),
        ratio(rate[key], rate["kernel" SUBSEP w]), ratio(rate[key], rate["bare-per-packet" SUBSEP w]),
        ratio(rate[key], rate["bare-batch" SUBSEP w]), ratio(rate[key], rate["bare-minimal" SUBSEP w])
    }
  }
  print ""
  # A full conntrack table changes what a cell measures (the kernel evicts unreplied flows; a
  # DNS answer whose query was evicted opens a flow of its own): shown, never silently.
  if (has_ctd) {
    list = ""
    for (i = 1; i <= nw; i++) for (j = 1; j <= nc; j++) {
      key = configs[j] SUBSEP workloads[i]
      if (ctd[key] > 0) list = list sprintf("%s %s %d; ", workloads[i], configs[j], ctd[key])
    }
    printf "conntrack early drops during the cells (the table was full): %s\n", list == "" ? "none" : list
    list = ""
    for (i = 1; i <= nw; i++) for (j = 1; j <= nc; j++) {
      key = configs[j] SUBSEP workloads[i]
      if (ctdrop[key] > 0) list = list sprintf("%s %s %d; ", workloads[i], configs[j], ctdrop[key])
    }
    printf "packets conntrack dropped (no room for a new entry, or a clash inserting one): %s\n\n", list == "" ? "none" : list
  }
  printf "DNS in the mixed workload (every 4th flow asks one of 50 names first, then goes to the answer):\n"
  for (j = 1; j <= nc; j++) {
    key = configs[j] SUBSEP "mixed"
    if (!has_dns[key]) continue
    printf "  %-16s %8s queries %8s answers back at the devices (median %.0f/s), lost %s\n", configs[j], dq[key], da[key],
      median("da_per_s", key), lost[key]
  }
  if (dnsc != "")
    printf "  muzzled counters after it: dns_answers=%s dns_learned=%s dns_answers_dropped=%s no_dns=%s\n",
      field(dnsc, "dns_answers"), field(dnsc, "dns_learned"), field(dnsc, "dns_answers_dropped"), field(dnsc, "no_dns")
  print ""
  print "Targets (muzzled; ratios of the medians of this run; \"bare\" = the better of the two bare loops):"
  n = split("udp-churn tcp-churn mixed", nf, " ")
  for (i = 1; i <= n; i++) {
    w = nf[i]; m = rate["muzzled" SUBSEP w]; bp = rate["bare-per-packet" SUBSEP w]; bb = rate["bare-batch" SUBSEP w]
    best = (bp + 0 > bb + 0) ? bp : bb
    printf "  %s new flows/s >= 0.9x bare        %-12s: %s x bare (%s x per-packet, %s x batched)\n", verdict(best > 0 && m / best >= 0.9), w,
      ratio(m, best), ratio(m, bp), ratio(m, bb)
  }
  m = rate["muzzled" SUBSEP "tcp-stream"]; k = rate["kernel" SUBSEP "tcp-stream"]
  printf "  %s established >= 0.95x kernel     %-12s: %s x kernel\n", verdict(k > 0 && m / k >= 0.95), "tcp-stream", ratio(m, k)
  n = split("every-packet every-packet-stream", ep, " ")
  for (i = 1; i <= n; i++) {
    w = ep[i]; m = rate["muzzled" SUBSEP w]; bb = rate["bare-batch" SUBSEP w]
    printf "  %s every packet >= 0.9x batched   %-12s: %s x bare-batch (%s x kernel)\n", verdict(bb > 0 && m / bb >= 0.9), w,
      ratio(m, bb), ratio(m, rate["kernel" SUBSEP w])
  }
  n = split("udp-latency tcp-latency", lt, " ")
  for (i = 1; i <= n; i++) {
    w = lt[i]; m = p99["muzzled" SUBSEP w]; bp = p99["bare-per-packet" SUBSEP w]; bb = p99["bare-batch" SUBSEP w]
    best = (bp + 0 < bb + 0) ? bp : bb
    printf "  %s first-packet p99 <= 1.2x bare  %-12s: %s us = %s x bare (kernel %s us)\n", verdict(best > 0 && m / best <= 1.2), w,
      m, ratio(m, best), p99["kernel" SUBSEP w]
  }
  # Flat in flows: RSS after the cells that only open flows (churn and latency; flows live in
  # conntrack) against RSS after start. The mixed cell also fills the name cache (learned DNS
  # names, bounded by the dns limits): shown, but it is not flow state.
  max_rss = 0; flows_rss = 0; flows = 0
  for (i = 1; i <= nw; i++) { r = rss["muzzled" SUBSEP workloads[i]] + 0; if (r > max_rss) max_rss = r }
  n = split("udp-churn udp-latency tcp-churn tcp-latency", fw, " ")
  for (i = 1; i <= n; i++) {
    r = rss["muzzled" SUBSEP fw[i]] + 0; if (r > flows_rss) flows_rss = r
    flows += sent["muzzled" SUBSEP fw[i]]
  }
  start = field(last_reload, "rss_start_kb") + 0
  printf "  %s RSS <= 24 MB and flat in flows %-12s: %.1f MB after start, %.1f MB after %d new flows; %.1f MB max (mixed: + learned names %s)\n",
    verdict(start > 0 && start <= 24576 && flows_rss - start <= 1024), "", start / 1024, flows_rss / 1024, flows,
    max_rss / 1024, field(dnsc, "dns_learned")
  sw = "muzzled" SUBSEP "swap"
  worst = 0; text = ""
  s = reloads
  while (match(s, /"compile_ms":[0-9.]+,"install_ms":[0-9.]+/)) {
    piece = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
    split(piece, kv, /[:,]/); t = kv[2] + kv[4]
    if (t > worst) worst = t
    sample("swap_ms", "all", t)
    text = text sprintf(" %.1f+%.1f", kv[2], kv[4])
  }
  m = median("swap_ms", "all")
  printf "  %s compile+swap <= 100 ms          %-12s: median %s ms, worst %.1f; compile+install ms:%s\n",
    verdict(text != "" && m + 0 <= 100), "reload", m, worst, text
  # A datagram conntrack itself dropped (no room for its entry: the lab fills the table, its size
  # a host-wide limit) was lost before the table or muzzled saw it; the swap answers for the rest.
  printf "  %s zero lost during the swap       %-12s: %s lost of %s sent, %s dropped by the queue, %s by conntrack (no room for an entry)\n",
    verdict((sw in ran) && lost[sw] <= ctdrop[sw] && qd[sw] == 0), "swap", lost[sw], sent[sw], qd[sw], ctdrop[sw] + 0
  if (learnm != "") {
    # The memory of the learning recorder against its documented bound (fw/learn/README.md: 48 MiB for a
    # full recorder, 65,536 flows), measured as the growth of the RSS of muzzled.
    r0 = field(learnm, "rss_start_kb") + 0; r1 = field(learnm, "rss_one_device_kb") + 0
    r2 = field(learnm, "rss_all_devices_kb") + 0
    printf "  %s learning within 48 MiB         %-12s: %d devices learning; +%.1f MB after %s flows of one device (%s kept), +%.1f MB after %s flows of 999 (%s kept by one of them)\n",
      verdict(r0 > 0 && r2 - r0 <= 48 * 1024 && field(learnm, "one_device_flows_kept") + 0 == 1024), "learn-memory",
      field(learnm, "sessions"), (r1 - r0) / 1024, field(learnm, "one_device_sent"), field(learnm, "one_device_flows_kept"),
      (r2 - r0) / 1024, field(learnm, "all_devices_sent"), field(learnm, "other_device_flows_kept")
  }
  # Looked up by seen_c/seen_w: reading rate[] above made an (empty) element for every pair.
  has_est = ("established-pps" in seen_w)
  if (("bare-minimal" in seen_c) || has_est || site10k != "") {
    print ""
    if (has_est) {
      printf "Kernel cost per established packet: one UDP flow of 64-byte datagrams offered at %s/s for %s s; the softirq time of\n", field(meta, "fixed_pps"), field(meta, "fixed_seconds")
      print "all CPUs over the packets forwarded (tick-sampled); median of the rounds, their spread in brackets:"
      k = sirq["kernel" SUBSEP "established-pps"]
      n = split("kernel bare-minimal bare-per-packet muzzled muzzled-noacct", ec, " ")
      for (i = 1; i <= n; i++) {
        key = ec[i] SUBSEP "established-pps"
        if (!(key in ran)) continue
        # Below the offered rate the generator (or the gateway) was short of CPU: not the fixed
        # rate the comparison assumes.
        printf "  %-16s %6s ns/pkt [%s] %5s x kernel %5s x bare-minimal  %s pkt/s forwarded%s, lost %s, steal %s%%\n", ec[i],
          (key in sirq) ? sirq[key] : "null", spread("sirq", key), ratio(sirq[key], k),
          ratio(sirq[key], sirq["bare-minimal" SUBSEP "established-pps"]), rate[key],
          (rate[key] + 0 < 0.95 * field(meta, "fixed_pps")) ? " (BELOW the offered rate)" : "", lost[key], median("steal", key)
      }
      if (("kernel" SUBSEP "established-pps") in table) {
        print "The CPU of the table itself a packet: perf samples (cpu-clock, all CPUs) in the nf_tables code of the kernel (nft_*), over the"
        print "packets forwarded; the rest of the path (conntrack, forwarding, the sockets) is the same in every config. softirq est:"
        print "the softirq a packet of the kernel-only config plus what the table costs over the kernel-only table:"
        for (i = 1; i <= n; i++) {
          key = ec[i] SUBSEP "established-pps"
          if (!(key in table)) continue
          printf "  %-16s table %4s ns/pkt [%s] %+5d ns vs kernel  softirq est %s x kernel\n", ec[i], table[key], spread("table", key),
            table[key] - table["kernel" SUBSEP "established-pps"], est_ratio(table[key])
        }
      }
      print "What an established packet walks (nft trace of one packet; expressions: of the rules walked, an upper bound):"
      for (i = 1; i <= n; i++) if (ec[i] in walk) printf "  %-16s %s\n", ec[i], walk[ec[i]]
      print ""
    }
    print "Targets of issue 18 (muzzled; \"bareM\" = the bare loop behind the minimal ruleset, same run; spread = min-max of the rounds):"
    n = split("udp-churn tcp-churn mixed", nf, " ")
    for (i = 1; i <= n; i++) {
      w = nf[i]; m = rate["muzzled" SUBSEP w]; bm = rate["bare-minimal" SUBSEP w]
      printf "  %s new flows/s >= 1.0x bareM       %-12s: %s x bareM (%s vs %s %s; spread %s vs %s; by round %s)\n", verdict(bm > 0 && m / bm >= 1.0), w,
        ratio(m, bm), m, bm, unit[w], spread("rate", "muzzled" SUBSEP w), spread("rate", "bare-minimal" SUBSEP w),
        paired("rate", "muzzled", "bare-minimal", w, 1)
    }
    n = split("udp-latency tcp-latency", lt, " ")
    for (i = 1; i <= n; i++) {
      w = lt[i]; m = p99["muzzled" SUBSEP w]; bm = p99["bare-minimal" SUBSEP w]
      printf "  %s first-packet p99 <= 1.0x bareM  %-12s: %s us = %s x bareM (%s us; spread %s vs %s; by round %s)\n", verdict(bm > 0 && m / bm <= 1.0), w,
        m, ratio(m, bm), bm, spread("p99", "muzzled" SUBSEP w), spread("p99", "bare-minimal" SUBSEP w), paired("p99", "muzzled", "bare-minimal", w, 0)
    }
    # Not a target: how much of a new flow is the table, from perf (median [min-max] of the rounds).
    # udp-fixed: the same flows at a fixed rate (no perf there, so no table line).
    n = split("udp-churn tcp-churn mixed udp-fixed", nf, " ")
    for (i = 1; i <= n; i++) {
      w = nf[i]
      if (!(("muzzled" SUBSEP w) in tflow)) continue
      printf "         the table a new flow         %-12s: muzzled %s ns [%s], without accounting %s, bareM %s [%s], kernel %s (perf: nf_tables code over the flows sent)\n", w,
        tflow["muzzled" SUBSEP w], spread("tflow", "muzzled" SUBSEP w), (("muzzled-noacct" SUBSEP w) in tflow) ? tflow["muzzled-noacct" SUBSEP w] : "-",
        tflow["bare-minimal" SUBSEP w], spread("tflow", "bare-minimal" SUBSEP w), tflow["kernel" SUBSEP w]
    }
    for (i = 1; i <= n; i++) {
      w = nf[i]; m = cpu["muzzled" SUBSEP w]; bm = cpu["bare-minimal" SUBSEP w]
      if (!(("muzzled" SUBSEP w) in ran)) continue
      printf "  %s user CPU/flow <= 1.1x bareM     %-12s: %s x bareM (%s vs %s us a judged packet; by round %s)\n", verdict(bm > 0 && m / bm <= 1.1), w,
        ratio(m, bm), m, bm, paired("cpu", "muzzled", "bare-minimal", w, 0)
    }
    m = sirq["muzzled" SUBSEP "established-pps"]; k = sirq["kernel" SUBSEP "established-pps"]
    tm = "muzzled" SUBSEP "established-pps"
    if (tm in table) {
      # The measure of the table decides: the tick-sampled softirq moves tens of percent between rounds.
      e = est_ratio(table[tm])
      printf "  %s established <= 1.03x kernel     %-12s: %s x kernel (table %s vs %s ns a packet over the kernel-only softirq %s ns; tick-sampled %s x)\n",
        verdict(e != "-" && e + 0 <= 1.03), "softirq", e, table[tm], table["kernel" SUBSEP "established-pps"], k, ratio(m, k)
    } else {
      printf "  %s established <= 1.03x kernel     %-12s: %s x kernel (%s vs %s ns of softirq a packet)\n", verdict(k > 0 && m / k <= 1.03),
        "softirq", ratio(m, k), m, k
    }
    if (site10k != "") {
      # The first entry is the load at start, the others the SIGHUPs.
      s = site10k; text = ""; j = 0; first = ""
      while (match(s, /"compile_ms":[0-9.]+,"install_ms":[0-9.]+/)) {
        piece = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
        split(piece, kv, /[:,]/); t = kv[2] + kv[4]
        if (++j == 1) { first = sprintf("%.1f+%.1f", kv[2], kv[4]); continue }
        sample("swap10k_ms", "all", t)
        text = text sprintf(" %.1f+%.1f", kv[2], kv[4])
      }
      m = median("swap10k_ms", "all")
      printf "  %s compile+swap <= 100 ms          %-12s: median %s ms; SIGHUP compile+install ms:%s (at start: %s)\n",
        verdict(text != "" && m + 0 <= 100), "10k devices", m, text, first
      r0 = field(site10k, "rss_start_kb") + 0
      printf "  %s RSS after start <= 32 MB        %-12s: %.1f MB (%.1f MB after the swaps), %s devices, a %s-entry address list%s\n",
        verdict(r0 > 0 && r0 <= 32768), "10k devices", r0 / 1024, field(site10k, "rss_after_kb") / 1024, field(site10k, "devices"),
        field(site10k, "addresses"), (field(site10k, "ct_flushed") != "") ? sprintf("; started on an empty conntrack table (%s entries of the section before flushed)", field(site10k, "ct_flushed")) : ""
      sw = "muzzled-10k" SUBSEP "swap"
      if (sw in ran)
        printf "         first packets during the swaps %-6s: p99 %s us, max %s us over %s one-at-a-time flows (udp-latency p99: muzzled %s us, bareM %s us), %s lost\n",
          "", p99[sw], field(swap10k_line, "max_us"), sent[sw], p99["muzzled" SUBSEP "udp-latency"], p99["bare-minimal" SUBSEP "udp-latency"], lost[sw]
    }
  }
  if (("muzzled-2q" SUBSEP "udp-churn") in rate) {
    print ""
    print "Two flow queues, a thread each (muzzled-2q), against one (muzzled), same run; idle: the share of both CPUs"
    print "left unused over the whole cell, its program'"'"'s start and perf'"'"'s included (median of the rounds)."
    print "busiest queue: muzzled-2q'"'"'s busier flow queue'"'"'s share of the first packets (1.00: all on one queue; the"
    print "queues are fanned out by CPU). CPU (new-flow cells, from their perf samples of both CPUs, muzzled-2q / muzzled):"
    print "the traffic program'"'"'s context (its sends run the kernel'"'"'s half of each first packet), the queue threads,"
    print "idle; 50 % is one core:"
    n = split("udp-churn tcp-churn mixed tcp-stream every-packet every-packet-stream", qw, " ")
    for (i = 1; i <= n; i++) {
      w = qw[i]; k2 = "muzzled-2q" SUBSEP w; k1 = "muzzled" SUBSEP w
      printf "  %-20s %s x (%s vs %s %s); idle %s%% vs %s%%; busiest queue %s", w, ratio(rate[k2], rate[k1]),
        rate[k2], rate[k1], unit[w], median("idle", k2), median("idle", k1),
        (median("share", k2) == "null") ? "-" : sprintf("%.2f", median("share", k2) / 100)
      if (median("ptraffic", k2) != "null")
        printf "; CPU traffic %s / %s %%, queues %s / %s %%, idle %s / %s %%", median("ptraffic", k2), median("ptraffic", k1),
          median("pqueues", k2), median("pqueues", k1), median("pidle", k2), median("pidle", k1)
      printf "\n"
    }
  }
  if (("muzzled-noacct" SUBSEP "udp-churn") in rate) {
    print ""
    print "Per-device accounting: muzzled (counting) against muzzled-noacct (no conntrack counters), same run:"
    cost_rows("muzzled", "muzzled-noacct", "udp-churn tcp-churn tcp-stream", "accounting costs <= 3%    ", 0)
    if (acct_text != "")
      printf "  %-6s no ended connection lost     : %d event overruns over the rounds (muzzlectl status at the last: %s)\n",
        (overruns == 0) ? "MET" : "MISSED", overruns, acct_text
    # Starved or slow: the CPU the thread used a flow against its wait for a CPU.
    n = split("udp-churn tcp-churn", aw, " ")
    for (i = 1; i <= n; i++) {
      k = "muzzled" SUBSEP aw[i]
      if (count["evwake", k] > 0)
        printf "         the event thread         %-12s: %s ns of CPU a flow; a second of the cell: %s ms waiting for a CPU, %s wake-ups, %s preempted\n",
          aw[i], median("evcpu", k), median("evwait", k), median("evwake", k), median("evpre", k)
    }
  }
  # The other features of the wave, each against muzzled in the same run.
  feature["muzzled-learn"] = "Learning mode (every policy device in a session)"
  feature["muzzled-web"] = "The web console (a viewer with its page open)"
  nfe = split("muzzled-learn muzzled-web", fc, " ")
  for (f = 1; f <= nfe; f++) {
    c = fc[f]
    if (!((c SUBSEP "udp-churn") in ran)) continue
    print ""
    printf "%s: %s against muzzled, same run:\n", feature[c], c
    cost_rows(c, "muzzled", "udp-churn tcp-churn mixed", "costs <= 3%               ", 1)
  }
  # The flood guard is on in muzzled: muzzled-noguard is the one without it.
  if (("muzzled-noguard" SUBSEP "udp-churn") in ran) {
    print ""
    print "The flood guard (a bucket update on every first packet): muzzled against muzzled-noguard (the guard off), same run:"
    cost_rows("muzzled", "muzzled-noguard", "udp-churn tcp-churn mixed", "the flood guard <= 3%     ", 1)
  }
  # The connection limit is off in muzzled: muzzled-limit is the one with it, on the cells of 999 devices.
  if (("muzzled-limit" SUBSEP "mixed") in ran) {
    print ""
    print "The connection limit (1,024 a device, counted by muzzled: an increment an allowed new flow, the first packet labelled): muzzled-limit against muzzled"
    print "(the limit off), same run, the traffic of 999 devices:"
    cost_rows("muzzled-limit", "muzzled", "mixed", "the connection limit <= 3%", 1)
    fixed_cost("muzzled-limit", "muzzled", "the connection limit <= 3%", "devices-fixed")
  }
  # The same costs at a fixed offered rate (udp-fixed, tcp-fixed): the CPU a flow (a connection),
  # where the saturated rates above move 20-30 % between rounds of one config.
  nfx = split("udp-fixed tcp-fixed devices-fixed", fx, " "); offered = ""
  for (j = 1; j <= nfx; j++)
    if (("muzzled" SUBSEP fx[j]) in ran)
      offered = offered sprintf("%s%s: %s %s", (offered == "") ? "" : ", ", fx[j], rate["muzzled" SUBSEP fx[j]], unit[fx[j]])
  if (offered != "") {
    print ""
    printf "New flows at a fixed rate (%s offered to every config), the CPU a flow: the whole box\n", offered
    print "(every CPU busy, less the traffic program user time; its system calls, alike in every config, stay in) and the queue program:"
    n = split("kernel bare-minimal muzzled muzzled-noacct muzzled-learn muzzled-web muzzled-noguard muzzled-limit muzzled-2q", fw_, " ")
    for (j = 1; j <= nfx; j++) for (i = 1; i <= n; i++) {
      k = fw_[i] SUBSEP fx[j]
      if (!(k in ran)) continue
      printf "  %-9s %-16s box %s us a flow [%s], queue program %s us a judged packet [%s]; lost %s, qdrop %s, idle %s%%\n", fx[j], fw_[i],
        median("busy", k), spread("busy", k), cpu[k], spread("cpu", k), lost[k], qd[k], median("idle", k)
    }
    for (j = 1; j <= nfx; j++) fixed_cost("muzzled", "muzzled-noacct", "accounting costs <= 3%    ", fx[j])
    for (j = 1; j <= nfx; j++) fixed_cost("muzzled-learn", "muzzled", "learning costs <= 3%      ", fx[j])
    for (j = 1; j <= nfx; j++) fixed_cost("muzzled-web", "muzzled", "the web console <= 3%     ", fx[j])
    for (j = 1; j <= nfx; j++) fixed_cost("muzzled", "muzzled-noguard", "the flood guard <= 3%     ", fx[j])
  }
  if (("muzzled-small" SUBSEP "udp-churn") in ran) {
    print ""
    print "A small box: the queue program alone on one core at half speed (a cgroup: 5 ms every 10 ms on CPU 0), same run;"
    print "each rate also as a share of the same config at full speed (muzzled, bare-minimal):"
    n = split("udp-churn tcp-churn mixed udp-latency", sw_, " ")
    for (i = 1; i <= n; i++) {
      w = sw_[i]; ms = "muzzled-small" SUBSEP w; bs = "bare-minimal-small" SUBSEP w
      dm = ratio(rate[ms], rate["muzzled" SUBSEP w]); db = ratio(rate[bs], rate["bare-minimal" SUBSEP w])
      line = sprintf("%-12s: muzzled-small %s %s (%s of full), bare-minimal-small %s (%s of full), %s x; qdrop %s vs %s, lost %s vs %s, p99 %s vs %s us",
        w, rate[ms], unit[w], dm, rate[bs], db, ratio(rate[ms], rate[bs]), qd[ms], qd[bs], lost[ms], lost[bs], p99[ms], p99[bs])
      if (w == "udp-latency") printf "         %s\n", line
      else printf "  %s degrades no faster than bareM %s\n", verdict(rate[ms] + 0 > 0 && rate[bs] + 0 > 0 && dm + 0 >= 0.95 * db), line
    }
    # One datagram a flow: every flow that arrived had to be judged, so arrivals past the
    # packets the queues took would be flows passed undecided.
    u = received["muzzled-small" SUBSEP "udp-churn"] - judged["muzzled-small" SUBSEP "udp-churn"]
    printf "  %s nothing passes undecided       %-12s: %s flows arrived, %s packets judged (%s arrived unjudged)\n", verdict(u <= 0),
      "udp-churn", received["muzzled-small" SUBSEP "udp-churn"], judged["muzzled-small" SUBSEP "udp-churn"], (u > 0) ? u : 0
  }
}' "$file"
