// The overview: what a home user or an installer opens first. New devices awaiting a decision
// come on top (they run on the default profile until someone decides), then the hour's denials,
// the devices by profile, the policy, and the box's health.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "mgmt/web/page_parts.h"
#include "mgmt/web/pages.h"

namespace muzzle::web {

using parts::attr;
using parts::fact;
using parts::number;
using parts::text;

namespace {

constexpr size_t kChartMinutes = 60;

// Not listed by the policy and not placed by a classify rule: the box applies its default
// profile and waits for a person.
bool awaitsDecision(const v1::DeviceInfo& d) {
  return !d.listed() && d.assignment() != "classified";
}

std::string_view labelOf(const v1::DeviceInfo& d) {
  return d.name().empty() ? std::string_view(d.mac()) : std::string_view(d.name());
}

void deviceRow(std::string& out, const v1::DeviceInfo& d, int64_t now) {
  out += "<tr><th scope=\"row\"><a";
  attr(out, "href", parts::devicePath(d.mac()));
  out += '>';
  text(out, labelOf(d));
  out += "</a>";
  if (!d.name().empty()) {
    out += " <span class=\"mac\">";
    text(out, d.mac());
    out += "</span>";
  }
  if (d.quarantined()) out += " <strong class=\"badge quarantined\">quarantined</strong>";
  if (!d.learning().empty()) {
    out += " <span class=\"badge\">";
    text(out, d.learning());
    out += "</span>";
  }
  out += "</th><td>";
  text(out, d.vendor());
  out += "</td><td>";
  for (int i = 0; i < d.ips_size(); ++i) {
    if (i > 0) out += "<br>";
    text(out, d.ips(i));
  }
  out += "</td><td>";
  text(out, d.segment());
  out += "</td><td>";
  parts::timeText(out, d.has_last_seen() ? d.last_seen().seconds() : 0, now);
  out += "</td><td class=\"num\">";
  number(out, d.allowed());
  out += "</td><td class=\"num";
  if (d.denied() > 0) out += " denied";
  out += "\">";
  number(out, d.denied());
  out += "</td></tr>\n";
}

// `caption` is plain text.
void deviceTable(std::string& out, std::string_view caption,
                 const std::vector<const v1::DeviceInfo*>& devices, int64_t now) {
  out += "<div class=\"scroll\"><table class=\"devices\"><caption>";
  text(out, caption);
  out +=
      "</caption><thead><tr><th scope=\"col\">Device</th><th scope=\"col\">Vendor</th>"
      "<th scope=\"col\">Addresses</th><th scope=\"col\">Segment</th>"
      "<th scope=\"col\">Last seen</th><th scope=\"col\" class=\"num\">Allowed</th>"
      "<th scope=\"col\" class=\"num\">Denied</th></tr></thead><tbody>\n";
  for (const v1::DeviceInfo* d : devices) deviceRow(out, *d, now);
  out += "</tbody></table></div>";
}

std::string plural(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

void awaitingSection(std::string& out, const std::vector<const v1::DeviceInfo*>& awaiting,
                     const PageContext& ctx) {
  if (awaiting.empty()) return;
  out += "<section class=\"awaiting\" aria-labelledby=\"awaiting-title\">";
  out += "<h2 id=\"awaiting-title\">New devices awaiting a decision</h2><p>";
  out += plural(awaiting.size(), "device runs", "devices run");
  out +=
      " on the default profile because the policy does not name them. Open one to give it a "
      "profile or to quarantine it.</p>";
  deviceTable(out, "Awaiting a decision", awaiting, ctx.now_unix);
  out += "</section>";
}

void devicesByProfile(std::string& out, const std::vector<const v1::DeviceInfo*>& decided,
                      const PageContext& ctx) {
  std::map<std::string_view, std::vector<const v1::DeviceInfo*>> by_profile;
  for (const v1::DeviceInfo* d : decided) by_profile[d->profile()].push_back(d);
  out += "<section aria-labelledby=\"devices-title\"><h2 id=\"devices-title\">Devices</h2>";
  if (by_profile.empty()) out += "<p>No other device seen yet.</p>";
  for (auto& [profile, devices] : by_profile) {
    std::stable_sort(devices.begin(), devices.end(),
                     [](const auto* a, const auto* b) { return labelOf(*a) < labelOf(*b); });
    const std::string caption = "Profile " + std::string(profile.empty() ? "(none)" : profile) +
                                ": " + plural(devices.size(), "device", "devices");
    deviceTable(out, caption, devices, ctx.now_unix);
  }
  out += "</section>";
}

const v1::Revision* findRevision(const v1::ListRevisionsResponse& list, uint64_t number) {
  for (const v1::Revision& r : list.revisions()) {
    if (r.number() == number) return &r;
  }
  return nullptr;
}

void policySection(std::string& out, const OverviewPage& page, const PageContext& ctx) {
  const uint64_t current =
      page.revisions.current() != 0 ? page.revisions.current() : page.status.policy_revision();
  out += "<section aria-labelledby=\"policy-title\"><h2 id=\"policy-title\">Policy</h2><p>";
  if (current == 0) {
    out += "No revision yet: the box runs its configured policy.";
  } else {
    out += "<a href=\"/policy\">Revision ";
    number(out, current);
    out += "</a> is current";
    if (const v1::Revision* r = findRevision(page.revisions, current)) {
      out += ", applied ";
      parts::timeText(out, r->created().seconds(), ctx.now_unix);
      out += " by ";
      text(out, r->author());
      if (!r->comment().empty()) {
        out += ": <q>";
        text(out, r->comment());
        out += "</q>";
      }
    }
    out += '.';
  }
  out += "</p></section>";
}

std::string uptimeText(uint64_t seconds) {
  const uint64_t days = seconds / 86400, hours = seconds % 86400 / 3600,
                 minutes = seconds % 3600 / 60;
  if (days > 0) return std::to_string(days) + " d " + std::to_string(hours) + " h";
  if (hours > 0) return std::to_string(hours) + " h " + std::to_string(minutes) + " min";
  return std::to_string(minutes) + " min";
}

void queueTable(std::string& out, const v1::GetStatusResponse& status) {
  if (status.queues_size() == 0) return;
  out +=
      "<div class=\"scroll\"><table class=\"queues\"><caption>Packet queues</caption><thead><tr>"
      "<th scope=\"col\">Queues</th><th scope=\"col\" class=\"num\">Packets</th>"
      "<th scope=\"col\" class=\"num\">Allowed</th><th scope=\"col\" class=\"num\">Rejected</th>"
      "<th scope=\"col\" class=\"num\">Dropped</th><th scope=\"col\" class=\"num\">Malformed</th>"
      "<th scope=\"col\" class=\"num\">Overruns</th>"
      "<th scope=\"col\" class=\"num\">Lost in the kernel</th></tr></thead><tbody>";
  for (const v1::QueueStatus& q : status.queues()) {
    out += "<tr><th scope=\"row\">";
    number(out, q.first());
    if (q.count() > 1) {
      out += "–";
      number(out, q.first() + q.count() - 1);
    }
    out += "</th>";
    const uint64_t kernel_lost = q.kernel_queue_dropped() + q.kernel_user_dropped();
    for (const uint64_t v : {q.packets(), q.allowed(), q.rejected(), q.dropped(), q.malformed(),
                             q.socket_overruns(), kernel_lost}) {
      out += "<td class=\"num\">";
      number(out, v);
      out += "</td>";
    }
    out += "</tr>";
    if (q.threads_stalled() > 0) {
      out +=
          "<tr><td colspan=\"8\" class=\"warn\">A queue thread is stalled: these queues' new "
          "flows are dropped until systemd's watchdog restarts muzzled.</td></tr>";
    }
    if (!q.kernel_counters_error().empty()) {
      out += "<tr><td colspan=\"8\" class=\"warn\">Kernel counters: ";
      text(out, q.kernel_counters_error());
      out += "</td></tr>";
    }
  }
  out += "</tbody></table></div>";
}

void stateFacts(std::string& out, const v1::StateStatus& state) {
  fact(out, "State folder",
       state.ok() ? "ok"
                  : (state.writable() ? "has problems"
                                      : "cannot be written: changes "
                                        "are refused"),
       !state.ok());
  if (state.fallback_revision() != 0) {
    fact(out, "Running fallback",
         "revision " + std::to_string(state.fallback_revision()) +
             " (what should run was damaged or does not compile)",
         true);
  }
  for (const v1::StateProblem& p : state.problems()) {
    std::string line = p.kind() + ": " + p.file() + ": " + p.problem();
    if (!p.kept_as().empty()) line += " (kept as " + p.kept_as() + ")";
    fact(out, "Problem", line, true);
  }
  if (state.problems_dropped() > 0) {
    fact(out, "More problems", std::to_string(state.problems_dropped()) + " not listed", true);
  }
}

void accountingFacts(std::string& out, const v1::AccountingStatus& a) {
  if (!a.on()) {
    fact(out, "Traffic accounting", "off");
    return;
  }
  fact(out, "Traffic accounting",
       "every " + std::to_string(a.interval_seconds()) + " s, " + std::to_string(a.groups()) +
           " device-peer groups (room for " + std::to_string(a.room()) + ")");
  fact(out, "Accounting reads",
       std::to_string(a.reads()) + " (" + std::to_string(a.read_errors()) + " failed)",
       a.read_errors() > 0);
  if (!a.last_error().empty()) fact(out, "Last read error", a.last_error(), true);
  if (a.unattributed_bytes() > 0) {
    fact(out, "Not attributed to a device", formatBytes(a.unattributed_bytes()));
  }
  if (a.limit_windows() > 0 || a.blocked_devices() > 0) {
    fact(out, "Volume limits",
         std::to_string(a.limit_windows()) + " counting, " + std::to_string(a.blocked_devices()) +
             " devices blocked",
         a.blocked_devices() > 0);
  }
}

// The flood guard and the connection limit (muzzled.yaml flood_guard), marked when a device met
// either in the last two minutes: the events name it.
void deviceLimitFacts(std::string& out, const v1::GetStatusResponse& s) {
  if (!s.has_flood_guard()) return;
  const v1::FloodGuardStatus& f = s.flood_guard();
  if (f.new_flows_per_second() == 0) {
    fact(out, "Flood guard", "off");
  } else {
    fact(out, "Flood guard",
         std::to_string(f.new_flows_per_second()) + " new flows a second per device, " +
             std::to_string(f.dropped()) + " dropped (" + plural(f.devices(), "device", "devices") +
             " past it in the last 2 minutes)",
         f.devices() > 0);
  }
  // Each device's own bucket comes first: a segment past its bucket holds a device that forges
  // source addresses (a fresh device bucket for each), or many flooding at once.
  if (f.segment_new_flows_per_second() == 0) {
    fact(out, "Segment guard", "off");
  } else {
    std::string text = std::to_string(f.segment_new_flows_per_second()) +
                       " new flows a second per segment, " + std::to_string(f.segment_dropped()) +
                       " dropped (" + plural(f.segments(), "segment", "segments") +
                       " past it in the last 2 minutes";
    if (f.segments() > 0) {
      text += ": a device there forging source addresses, or many flooding at once";
    }
    fact(out, "Segment guard", text + ")", f.segments() > 0);
  }
  if (f.connections() == 0) {
    fact(out, "Connection limit", "off");
  } else {
    fact(out, "Connection limit",
         std::to_string(f.connections()) + " per device, " +
             std::to_string(f.connection_dropped()) + " new flows dropped (" +
             plural(f.connection_devices(), "device", "devices") + " at it in the last 2 minutes)" +
             (f.connections_counted_by().empty() ? ""
                                                 : "; counted by " + f.connections_counted_by()),
         f.connection_devices() > 0);
  }
  if (!f.last_error().empty()) fact(out, "Flood guard read error", f.last_error(), true);
}

// New-device admission (muzzled.yaml devices.new_per_minute), marked while a segment has refused
// new devices: something there forges source MACs, or more devices joined at once than it lets
// in (they get in as their retries find a token).
void deviceAdmissionFacts(std::string& out, const v1::GetStatusResponse& s) {
  if (!s.has_device_admission()) return;
  const v1::DeviceAdmissionStatus& a = s.device_admission();
  fact(out, "New devices",
       std::to_string(a.new_per_minute()) + " a minute per segment after " +
           std::to_string(a.new_burst()) + " at once, " + std::to_string(a.refused()) + " refused",
       a.refused() > 0);
  for (const v1::SegmentAdmission& seg : a.segments()) {
    if (seg.refused() == 0) continue;
    fact(out, "New devices on " + seg.segment(),
         std::to_string(seg.refused()) + " refused, " + std::to_string(seg.tokens()) +
             " more let in now (event=device-flood)",
         seg.tokens() == 0);
  }
}

void healthSection(std::string& out, const v1::GetStatusResponse& s) {
  out += "<section aria-labelledby=\"health-title\"><h2 id=\"health-title\">Health</h2><dl>";
  if (!s.version().empty()) fact(out, "Version", s.version());
  fact(out, "Up for", uptimeText(s.uptime_seconds()));
  fact(out, "Queue mode", s.queue_mode());
  fact(out, "Fail mode",
       s.fail_mode() == "open" ? "open (traffic passes unjudged if muzzled stops)"
                               : s.fail_mode() + " (no traffic passes if muzzled stops)");
  fact(out, "Devices known",
       std::to_string(s.devices_known()) + " (" + std::to_string(s.new_devices()) + " new)");
  fact(out, "Events dropped", std::to_string(s.events_dropped()), s.events_dropped() > 0);
  if (s.log_suppressed() > 0) {
    fact(out, "Log lines suppressed", std::to_string(s.log_suppressed()));
  }
  stateFacts(out, s.state());
  accountingFacts(out, s.accounting());
  deviceLimitFacts(out, s);
  deviceAdmissionFacts(out, s);
  for (const v1::SyslogCollectorStatus& c : s.syslog()) {
    std::string line = c.state() + ", " + std::to_string(c.sent()) + " sent, " +
                       std::to_string(c.dropped()) + " dropped";
    if (!c.last_error().empty()) line += " (last error: " + c.last_error() + ")";
    fact(out, "Log to " + c.target(), line, c.state() == "down" || c.state() == "failing");
  }
  out += "</dl>";
  queueTable(out, s);
  out += "</section>";
}

}  // namespace

std::string renderDenialChart(const std::vector<uint32_t>& per_minute) {
  // The newest 60 minutes; minutes before the box counted are shown empty and said so.
  const size_t given = std::min(per_minute.size(), kChartMinutes);
  const size_t missing = kChartMinutes - given;
  const auto valueAt = [&](size_t bar) -> uint32_t {
    return bar < missing ? 0 : per_minute[per_minute.size() - given + (bar - missing)];
  };
  uint64_t total = 0;
  uint32_t peak = 0;
  for (size_t bar = 0; bar < kChartMinutes; ++bar) {
    total += valueAt(bar);
    peak = std::max(peak, valueAt(bar));
  }
  // A 600 x 150 drawing: 40 units on the left for the axis label, 60 slots of 9 units.
  constexpr int kLeft = 40, kTop = 10, kHeight = 120, kSlot = 9, kBar = 7;
  const uint32_t scale = std::max<uint32_t>(peak, 1);
  const std::string summary = "Denied connections in the last hour: " + std::to_string(total) +
                              " (at most " + std::to_string(peak) + " in one minute)";
  std::string out;
  out.reserve(12 * 1024);
  out += "<figure class=\"chart\"><svg viewBox=\"0 0 600 150\" role=\"img\"";
  attr(out, "aria-label", summary);
  out += " xmlns=\"http://www.w3.org/2000/svg\">";
  out += "<text class=\"axis\" x=\"34\" y=\"18\" text-anchor=\"end\">";
  number(out, peak);
  out +=
      "</text><text class=\"axis\" x=\"34\" y=\"130\" text-anchor=\"end\">0</text>"
      "<line class=\"axis\" x1=\"38\" y1=\"10\" x2=\"38\" y2=\"130\"></line>"
      "<line class=\"axis\" x1=\"38\" y1=\"130\" x2=\"580\" y2=\"130\"></line>"
      "<text class=\"axis\" x=\"40\" y=\"145\">60 min ago</text>"
      "<text class=\"axis\" x=\"580\" y=\"145\" text-anchor=\"end\">now</text>";
  for (size_t bar = 0; bar < kChartMinutes; ++bar) {
    const uint32_t v = valueAt(bar);
    const size_t ago = kChartMinutes - 1 - bar;
    const int x = kLeft + static_cast<int>(bar) * kSlot;
    const int h = static_cast<int>(static_cast<uint64_t>(v) * kHeight / scale);
    out += "<g><title>";
    if (bar < missing) {
      out += std::to_string(ago) + " min ago: not counted";
    } else {
      out += ago == 0 ? std::string("this minute") : std::to_string(ago) + " min ago";
      out += ": " + std::to_string(v) + " denied";
    }
    // A full-height slot behind each bar, so an empty minute can still be pointed at.
    out += "</title><rect class=\"slot\" x=\"" + std::to_string(x) + "\" y=\"" +
           std::to_string(kTop) + "\" width=\"" + std::to_string(kSlot) + "\" height=\"" +
           std::to_string(kHeight) + "\"></rect>";
    out += "<rect class=\"bar\" x=\"" + std::to_string(x + 1) + "\" y=\"" +
           std::to_string(kTop + kHeight - h) + "\" width=\"" + std::to_string(kBar) +
           "\" height=\"" + std::to_string(h) + "\"></rect></g>";
  }
  out += "</svg><figcaption>";
  text(out, summary);
  out += ".</figcaption>";
  // The same numbers as a table, for whoever does not see the bars.
  if (total > 0) {
    out +=
        "<details><summary>Minutes with denials</summary><table class=\"compact\"><thead><tr>"
        "<th scope=\"col\">When</th><th scope=\"col\" class=\"num\">Denied</th></tr></thead>"
        "<tbody>";
    for (size_t bar = kChartMinutes; bar-- > missing;) {
      if (valueAt(bar) == 0) continue;
      const size_t ago = kChartMinutes - 1 - bar;
      out += "<tr><td>";
      out += ago == 0 ? std::string("this minute") : std::to_string(ago) + " min ago";
      out += "</td><td class=\"num\">";
      number(out, valueAt(bar));
      out += "</td></tr>";
    }
    out += "</tbody></table></details>";
  }
  out += "</figure>";
  return out;
}

std::string renderOverview(const OverviewPage& page, const PageContext& ctx) {
  std::vector<const v1::DeviceInfo*> awaiting, decided;
  for (const v1::DeviceInfo& d : page.devices.devices()) {
    (awaitsDecision(d) ? awaiting : decided).push_back(&d);
  }
  std::string body;
  body.reserve(1024 + page.devices.devices_size() * 640);
  body += "<h1>Overview</h1>";
  parts::pendingCommit(body, page.status.pending(), ctx);
  awaitingSection(body, awaiting, ctx);
  body += "<div class=\"columns\"><section aria-labelledby=\"denials-title\">";
  body += "<h2 id=\"denials-title\">Denied in the last hour</h2>";
  body += renderDenialChart(page.denials_per_minute);
  body += "</section>";
  policySection(body, page, ctx);
  body += "</div>";
  devicesByProfile(body, decided, ctx);
  healthSection(body, page.status);
  return parts::layout("Overview", parts::Nav::kOverview, &ctx, body);
}

}  // namespace muzzle::web
