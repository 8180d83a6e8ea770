// muzzlectl status: version, uptime, revision, queues, pending commit, the state folder, the
// syslog collectors.
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/commands/setup.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

std::string pendingText(const v1::PendingCommit& p) {
  return "revision " + std::to_string(p.revision()) + " awaits confirmation until " +
         timeText(p.deadline()) + " (else back to " + std::to_string(p.rollback_to()) + ")";
}

// One line for the status table; the problems follow the tables, one per line.
std::string stateSummary(const v1::GetStatusResponse& r) {
  if (!r.has_state()) return "-";  // a box older than this field
  const v1::StateStatus& st = r.state();
  if (st.ok()) return "ok";
  std::string out = st.writable() ? "PROBLEMS" : "NOT WRITABLE (changes are refused)";
  if (st.fallback_revision() != 0) {
    out += ", fell back to the text of revision " + std::to_string(st.fallback_revision());
  }
  return out + " (see below)";
}

std::string stateProblems(const v1::StateStatus& st) {
  std::string out;
  for (const auto& p : st.problems()) {
    out += "state " + p.kind() + ": " + p.file() + ": " + p.problem();
    if (!p.kept_as().empty()) out += " (kept as " + p.kept_as() + ")";
    out += "\n";
  }
  if (st.problems_dropped() > 0)
    out += "state: " + std::to_string(st.problems_dropped()) + " more problem(s)\n";
  return out;
}

// The queues' counters, and what the kernel did before muzzled saw the packets: waiting now,
// dropped because a queue was full, dropped because muzzled's socket was full (the last two are
// lost packets); below the tables, a stalled queue thread and the kernel counters that could not
// be read.
std::string queueTables(const v1::GetStatusResponse& r) {
  std::vector<std::vector<std::string>> q;
  std::vector<std::vector<std::string>> k;
  std::string notes;
  for (const auto& x : r.queues()) {
    const std::string range =
        std::to_string(x.first()) + "-" + std::to_string(x.first() + x.count() - 1);
    q.push_back({range, std::to_string(x.packets()), std::to_string(x.allowed()),
                 std::to_string(x.rejected()), std::to_string(x.dropped()),
                 std::to_string(x.malformed()), std::to_string(x.socket_overruns())});
    if (x.threads_stalled() > 0) {
      notes += "queues " + range + ": " + std::to_string(x.threads_stalled()) +
               " queue thread(s) STALLED: their new flows are dropped; muzzled no longer "
               "pings the watchdog, so systemd restarts it (event=queue-stalled)\n";
    } else if (x.stalls() > 0) {
      notes += "queues " + range + ": a queue thread stalled " + std::to_string(x.stalls()) +
               " time(s) since muzzled started (event=queue-stalled, queue-resumed)\n";
    }
    if (!x.kernel_counters_error().empty()) {
      notes += "kernel counters for queues " + range +
               " unavailable: " + x.kernel_counters_error() + "\n";
      continue;
    }
    // The sum, then (with the inspection queue there are several) each queue.
    k.push_back({x.kernel_queues_size() > 1 ? "all" : range, std::to_string(x.kernel_waiting()),
                 std::to_string(x.kernel_queue_dropped()),
                 std::to_string(x.kernel_user_dropped())});
    if (x.kernel_queues_size() > 1) {
      for (const auto& kq : x.kernel_queues()) {
        k.push_back({"  " + std::to_string(kq.queue()), std::to_string(kq.waiting()),
                     std::to_string(kq.queue_dropped()), std::to_string(kq.user_dropped())});
      }
    }
  }
  std::string out =
      "\n" +
      table({"queues", "packets", "allowed", "rejected", "dropped", "malformed", "overruns"}, q);
  if (!k.empty()) {
    out += "\n" +
           table({"kernel queues", "waiting", "dropped (queue full)", "dropped (socket full)"}, k);
  }
  return out + notes;
}

// The syslog collectors: where each stands and what it lost; the last errors follow the table.
std::string syslogTable(const v1::GetStatusResponse& r) {
  if (r.syslog_size() == 0) return "";
  std::vector<std::vector<std::string>> rows;
  std::string errors;
  for (const auto& c : r.syslog()) {
    rows.push_back({c.target(), c.state(), std::to_string(c.sent()), std::to_string(c.dropped()),
                    std::to_string(c.queued())});
    if (!c.last_error().empty())
      errors += "syslog " + c.target() + ": last error: " + c.last_error() + "\n";
  }
  return "\n" + table({"syslog collectors", "state", "sent", "dropped", "queued"}, rows) + errors;
}

// New-device admission: "60 a minute per segment after 64 at once, 35 refused (cameras: 35
// refused, 0 left now)"; "off" when muzzled.yaml turned it off.
std::string admissionText(const v1::GetStatusResponse& r) {
  if (!r.has_device_admission()) return "off (every new device is recorded)";
  const v1::DeviceAdmissionStatus& a = r.device_admission();
  std::string text = std::to_string(a.new_per_minute()) + " a minute per segment after " +
                     std::to_string(a.new_burst()) + " at once, " + std::to_string(a.refused()) +
                     " refused";
  std::string segments;
  for (const v1::SegmentAdmission& s : a.segments()) {
    // A segment that never refused and has its whole burst says nothing worth a column.
    if (s.refused() == 0 && s.tokens() == a.new_burst()) continue;
    segments += (segments.empty() ? "" : "; ") + s.segment() + ": " + std::to_string(s.refused()) +
                " refused, " + std::to_string(s.tokens()) + " left now";
  }
  if (!segments.empty()) text += " (" + segments + ")";
  if (a.refused() > 0) text += " (`muzzlectl events` shows event=device-flood)";
  return text;
}

// "1234 of 262144 connections", with what the table being full cost when it did.
std::string conntrackText(const v1::GetStatusResponse& r) {
  if (!r.has_conntrack()) return "unknown";
  const v1::ConntrackTableStatus& c = r.conntrack();
  if (!c.error().empty()) return "UNREADABLE: " + c.error();
  std::string text =
      std::to_string(c.entries()) + " of " + std::to_string(c.max()) + " connections";
  if (c.early_drops() > 0) {
    text += ", " + std::to_string(c.early_drops()) + " without a reply evicted to make room";
  }
  if (c.drops() > 0) {
    text += ", FULL: " + std::to_string(c.drops()) +
            " packets dropped for want of room (raise net.netfilter.nf_conntrack_max; "
            "`conntrack -L` shows whose connections fill it)";
  }
  return text;
}

// "500 new flows a second per device (burst 1000), 1234 dropped, 1 device past it in the last
// 2 min (...)".
std::string floodGuardText(const v1::GetStatusResponse& r) {
  const v1::FloodGuardStatus& f = r.flood_guard();
  if (f.new_flows_per_second() == 0) return "off";
  std::string text = std::to_string(f.new_flows_per_second()) +
                     " new flows a second per device (burst " + std::to_string(f.burst()) + "), " +
                     std::to_string(f.dropped()) + " dropped";
  if (f.devices() > 0) {
    text += ", " + std::to_string(f.devices()) + (f.devices() == 1 ? " device" : " devices") +
            " past it in the last 2 min (`muzzlectl events` names them)";
  }
  return text;
}

// "2000 new flows a second per segment (burst 4000), 1234 dropped (cameras 1234), 1 segment past
// it in the last 2 min: ...". Each device has its own bucket first, so a segment past its own is
// a device forging source addresses (a fresh bucket for each), or many devices flooding at once.
std::string segmentGuardText(const v1::GetStatusResponse& r) {
  const v1::FloodGuardStatus& f = r.flood_guard();
  if (f.segment_new_flows_per_second() == 0) return "off";
  std::string text = std::to_string(f.segment_new_flows_per_second()) +
                     " new flows a second per segment (burst " + std::to_string(f.segment_burst()) +
                     "), " + std::to_string(f.segment_dropped()) + " dropped";
  std::string by_segment;
  for (const v1::SegmentGuardDrops& d : f.segment_drops()) {
    by_segment += (by_segment.empty() ? "" : ", ") + d.segment() +
                  (d.segment() == d.interface() ? "" : " (" + d.interface() + ")") + " " +
                  std::to_string(d.dropped());
  }
  if (!by_segment.empty()) text += " (" + by_segment + ")";
  if (f.segments() > 0) {
    text += ", " + std::to_string(f.segments()) + (f.segments() == 1 ? " segment" : " segments") +
            " past it in the last 2 min: a device there forging source addresses, or many "
            "flooding at once";
  }
  return text;
}

// "1024 per device, 12 new flows dropped, 1 device at it in the last 2 min (...); counted by
// muzzled".
std::string connectionLimitText(const v1::GetStatusResponse& r) {
  const v1::FloodGuardStatus& f = r.flood_guard();
  if (f.connections() == 0) return "off";
  std::string text = std::to_string(f.connections()) + " per device, " +
                     std::to_string(f.connection_dropped()) + " new flows dropped";
  // Said after the rest, so the row still begins as it did.
  const std::string by =
      f.connections_counted_by().empty() ? "" : "; counted by " + f.connections_counted_by();
  if (f.connection_devices() > 0) {
    text += ", " + std::to_string(f.connection_devices()) +
            (f.connection_devices() == 1 ? " device" : " devices") +
            " at it in the last 2 min (`muzzlectl events` names them)";
  }
  return text + by;
}

// The reads of both: "", or their failures.
std::string deviceDropReadsText(const v1::GetStatusResponse& r) {
  const v1::FloodGuardStatus& f = r.flood_guard();
  std::string text;
  if (f.read_errors() > 0) text += std::to_string(f.read_errors()) + " failed reads";
  if (!f.last_error().empty()) text += (text.empty() ? "" : ", ") + ("FAILING: " + f.last_error());
  return text;
}

// "every 10 s, 12 groups (room 65536)", with its failures and losses when there are any.
std::string accountingText(const v1::AccountingStatus& a) {
  if (!a.on()) return "off";
  std::string text = "every " + std::to_string(a.interval_seconds()) + " s, " +
                     std::to_string(a.groups()) + " groups (room " + std::to_string(a.room()) +
                     "), " + std::to_string(a.tracked_connections()) + " connections followed";
  if (a.untracked() > 0) {
    text += ", " + std::to_string(a.untracked()) +
            " times a connection beyond the room (counted when it ends)";
  }
  if (a.event_overruns() > 0) {
    text += ", ended connections' counts lost " + std::to_string(a.event_overruns()) + " times";
  }
  if (a.uncounted() > 0) {
    text += ", " + std::to_string(a.uncounted()) +
            " connections without counters (is net.netfilter.nf_conntrack_acct 1?)";
  }
  if (a.lost_bytes() > 0) text += ", " + byteText(a.lost_bytes()) + " beyond the room";
  if (a.unattributed_bytes() > 0)
    text += ", " + byteText(a.unattributed_bytes()) + " from addresses of no known device";
  if (a.limit_windows() > 0) {
    text += ", " + std::to_string(a.limit_windows()) + " volume limit windows";
  }
  if (a.blocked_devices() > 0) {
    text += ", " + std::to_string(a.blocked_devices()) + " devices blocked by a volume limit";
  }
  if (a.read_errors() > 0) text += ", " + std::to_string(a.read_errors()) + " failed reads";
  if (!a.last_error().empty()) text += ", FAILING: " + a.last_error();
  return text;
}

// An idle box: healthy, enforcing nothing; what to configure and the interfaces to choose from.
Outcome idleStatus(const v1::GetStatusResponse& r, Outcome o) {
  const v1::IdleStatus& idle = r.idle();
  o.summary = "IDLE: no segment configured, nothing judged; run muzzlectl setup";
  std::vector<std::vector<std::string>> rows = {
      {"version", r.version()},
      {"uptime", std::to_string(r.uptime_seconds()) + " s"},
      {"state", "IDLE: no segment configured; nothing is judged and nftables is untouched"},
      {"web console", r.has_web() ? r.web().url() : "off"},
      {"your role", r.role()}};
  o.human = table({"what", "value"}, rows);
  o.human += "\nTo configure (muzzlectl setup --segment IFACE --uplink IFACE [--policy FILE]):\n";
  for (const std::string& line : idle.to_configure()) o.human += "  " + line + "\n";
  if (!idle.last_setup_error().empty()) {
    o.human += "\nlast setup failed: " + idle.last_setup_error() + "\n";
  }
  o.human += "\n" + interfaceTable(idle.interfaces());
  return o;
}

Outcome status(const Call& call) {
  v1::GetStatusResponse r;
  Outcome o = ask(call, &v1::StatusService::Stub::GetStatus, {}, &r);
  if (!o.status.ok()) return o;
  if (r.has_idle()) return idleStatus(r, std::move(o));
  o.summary = "revision " + std::to_string(r.policy_revision()) + ", " + r.queue_mode() + ", up " +
              std::to_string(r.uptime_seconds()) + "s" +
              (r.has_pending() ? ", commit pending" : "") +
              (r.has_state() && !r.state().ok() ? ", STATE FOLDER PROBLEMS" : "");
  for (const auto& q : r.queues()) {
    if (q.threads_stalled() > 0) o.summary += ", QUEUE THREAD STALLED";
  }
  std::string segs;
  for (const auto& sg : r.segments()) segs += (segs.empty() ? "" : " ") + sg;
  std::vector<std::vector<std::string>> rows = {
      {"version", r.version()},
      {"uptime", std::to_string(r.uptime_seconds()) + " s"},
      {"policy revision", std::to_string(r.policy_revision()) + " (generation " +
                              std::to_string(r.policy_generation()) + ")"},
      {"pending commit", r.has_pending() ? pendingText(r.pending()) : "none"},
      {"state folder", stateSummary(r)},
      {"queue mode", r.queue_mode()},
      {"fail mode", r.fail_mode()},
      {"segments", r.segments_from().empty() ? segs : segs + " (from " + r.segments_from() + ")"},
      {"devices known", std::to_string(r.devices_known())},
      {"new devices", admissionText(r)},
      {"accounting", accountingText(r.accounting())},
      {"connection table", conntrackText(r)},
      {"flood guard", floodGuardText(r)},
      {"segment guard", segmentGuardText(r)},
      {"connection limit", connectionLimitText(r)},
      // The resume token of the newest event (`muzzlectl events --after`).
      {"last event",
       std::to_string(r.event_epoch()) + ":" + std::to_string(r.last_event_sequence())},
      // Lost event lines: over the log's rate limit, or while delivery was behind.
      {"events lost", std::to_string(r.log_suppressed()) + " rate-limited, " +
                          std::to_string(r.events_dropped()) + " dropped (buffer full)"},
      {"web console", r.has_web()
                          ? r.web().url() + " (" + std::to_string(r.web().accounts()) +
                                " accounts, " + std::to_string(r.web().sessions()) + " sessions)"
                          : "off"},
      {"your role", r.role()}};
  if (std::string reads = deviceDropReadsText(r); !reads.empty()) {
    // After the two rows their reads serve.
    const auto limit_row = std::find_if(rows.begin(), rows.end(), [](const auto& row) {
      return row.front() == "connection limit";
    });
    rows.insert(limit_row + 1, {"device drop reads", reads});
  }
  o.human = table({"what", "value"}, rows) + queueTables(r) + syslogTable(r);
  // Whole, on a line of its own: what the browser's certificate warning is checked against.
  if (r.has_web()) {
    o.human += "\nweb console certificate SHA-256: " + r.web().fingerprint() +
               (r.web().certificate_made_here() ? " (made by the box)" : "") + "\n";
  }
  if (r.has_state() && !r.state().ok()) o.human += "\n" + stateProblems(r.state());
  return o;
}

}  // namespace

void addStatusCommand(CLI::App& app, Invocation& invocation) {
  app.add_subcommand("status", "version, uptime, revision, queues, pending commit")->callback([&] {
    invocation.command = status;
  });
}

}  // namespace muzzle::ctl
