// One device: what the box knows about it, why it has its profile, what it tried to reach,
// and — for operator and up — the buttons to decide.
#include <string>

#include "mgmt/web/page_parts.h"
#include "mgmt/web/pages.h"

namespace muzzle::web {

using parts::attr;
using parts::fact;
using parts::number;
using parts::text;

namespace {

std::string whyProfile(const v1::DeviceInfo& d) {
  if (d.quarantined()) return "quarantined";
  if (d.assignment() == "listed") return "named in the policy";
  if (d.assignment() == "classified") {
    return d.assigned_by().empty() ? "classified" : "classified by rule " + d.assigned_by();
  }
  if (d.assignment() == "default") return "the default: the policy does not name it";
  return d.assignment();
}

std::string learningText(std::string_view learning) {
  if (learning == "learning") return "learning: its traffic is recorded, judged by its profile";
  if (learning == "observe") {
    return "observing: its traffic is recorded, and allowed unless its profile denies it";
  }
  return std::string(learning);
}

void identity(std::string& out, const v1::DeviceInfo& d) {
  out += "<section aria-labelledby=\"identity-title\"><h2 id=\"identity-title\">Identity</h2><dl>";
  fact(out, "Vendor", d.vendor());
  fact(out, "MAC", d.randomised_mac() ? d.mac() + " (randomised: a private address)" : d.mac());
  out += "<dt>Addresses</dt><dd>";
  if (d.ips_size() == 0) out += "<span class=\"none\">—</span>";
  for (int i = 0; i < d.ips_size(); ++i) {
    if (i > 0) out += "<br>";
    text(out, d.ips(i));
  }
  out += "</dd>";
  fact(out, "Segment", d.segment());
  fact(out, "DHCP hostname", d.dhcp_hostname());
  fact(out, "DHCP vendor class", d.dhcp_vendor_class());
  // Shown as text, not a link: the device chose this URL.
  fact(out, "MUD URL", d.mud_url());
  out += "</dl></section>";
}

void profileFacts(std::string& out, const v1::DeviceInfo& d, int64_t now) {
  out += "<section aria-labelledby=\"profile-title\"><h2 id=\"profile-title\">Profile</h2><dl>";
  fact(out, "Profile", d.profile());
  fact(out, "Why", whyProfile(d));
  fact(out, "Learning", d.learning().empty() ? "off" : learningText(d.learning()));
  out += "<dt>First seen</dt><dd>";
  parts::timeText(out, d.has_first_seen() ? d.first_seen().seconds() : 0, now);
  out += "</dd><dt>Last seen</dt><dd>";
  parts::timeText(out, d.has_last_seen() ? d.last_seen().seconds() : 0, now);
  out += "</dd><dt>Connections</dt><dd>";
  number(out, d.allowed());
  out += " allowed, <span";
  if (d.denied() > 0) out += " class=\"denied\"";
  out += '>';
  number(out, d.denied());
  out += " denied</span></dd></dl></section>";
}

void trafficCells(std::string& out, const v1::Traffic& t) {
  out += "<td class=\"num\">";
  out += formatBytes(t.bytes());
  out += "</td><td class=\"num\">";
  out += formatBytes(t.bytes_per_second());
  out += "/s</td>";
}

void traffic(std::string& out, const v1::DeviceInfo& d) {
  out +=
      "<section aria-labelledby=\"traffic-title\"><h2 id=\"traffic-title\">Traffic</h2>"
      "<p>Allowed traffic since first seen, counted by the box; the rate is over the last "
      "counting interval.</p><div class=\"scroll\"><table><thead><tr>"
      "<th scope=\"col\">To</th><th scope=\"col\" class=\"num\">Upload</th>"
      "<th scope=\"col\" class=\"num\">Rate</th><th scope=\"col\" class=\"num\">Download</th>"
      "<th scope=\"col\" class=\"num\">Rate</th></tr></thead><tbody><tr><th scope=\"row\">"
      "Everywhere</th>";
  trafficCells(out, d.upload());
  trafficCells(out, d.download());
  out += "</tr>";
  for (const v1::ClassTraffic& c : d.by_class()) {
    out += "<tr><th scope=\"row\">";
    text(out, c.to());
    out += "</th>";
    trafficCells(out, c.upload());
    trafficCells(out, c.download());
    out += "</tr>";
  }
  out += "</tbody></table></div></section>";
}

void attempts(std::string& out, const std::vector<Attempt>& list, int64_t now) {
  out +=
      "<section aria-labelledby=\"attempts-title\"><h2 id=\"attempts-title\">What it tried to "
      "reach</h2>";
  if (list.empty()) {
    out += "<p>Nothing recorded yet: denied attempts, and allowed ones a rule logs, show here.</p>";
    out += "</section>";
    return;
  }
  out +=
      "<div class=\"scroll\"><table class=\"attempts\"><thead><tr>"
      "<th scope=\"col\">Destination</th><th scope=\"col\">Name</th>"
      "<th scope=\"col\">Verdict</th><th scope=\"col\" class=\"num\">Times</th>"
      "<th scope=\"col\">Last</th></tr></thead><tbody>\n";
  for (const Attempt& a : list) {
    out += "<tr><td>";
    text(out, a.target);
    out += "</td><td>";
    text(out, a.name);
    out += a.allowed ? "</td><td class=\"allowed\">allowed" : "</td><td class=\"denied\">denied";
    out += "</td><td class=\"num\">";
    number(out, a.count);
    out += "</td><td>";
    parts::timeText(out, a.last_unix, now);
    out += "</td></tr>\n";
  }
  out += "</tbody></table></div></section>";
}

void assignForm(std::string& out, const DevicePage& page, const PageContext& ctx,
                const std::string& base) {
  if (page.profiles.empty()) return;
  out += "<form method=\"post\" class=\"assign\"";
  attr(out, "action", base + "/assign");
  out += '>';
  parts::csrfField(out, ctx);
  out += "<label for=\"profile\">Profile</label> <select id=\"profile\" name=\"profile\">";
  for (const std::string& p : page.profiles) {
    out += "<option";
    attr(out, "value", p);
    if (p == page.device.profile()) out += " selected";
    out += '>';
    text(out, p);
    out += "</option>";
  }
  out += "</select> <button type=\"submit\">Assign</button></form>";
}

// Learning mode: start a session (an hour, a day, a week), or stop it; the proposal its
// flows make is reviewed on its own page.
void learning(std::string& out, const DevicePage& page, const PageContext& ctx,
              const std::string& base) {
  out += "<div class=\"learning\"><h3>Learning</h3>";
  if (page.device.learning().empty()) {
    out += "<form method=\"post\" class=\"learn\"";
    attr(out, "action", base + "/learn");
    out += '>';
    parts::csrfField(out, ctx);
    out +=
        "<label for=\"seconds\">Record what it does for</label> <select id=\"seconds\" "
        "name=\"seconds\"><option value=\"3600\">an hour</option><option value=\"86400\" "
        "selected>a day</option><option value=\"604800\">a week</option></select> "
        "<button type=\"submit\">Start learning</button></form>";
  } else {
    out += "<p>Learning now (";
    text(out, page.device.learning());
    out += ").</p>";
    parts::postForm(out, ctx, {.action = base + "/learn/stop", .button = "Stop learning"});
  }
  out += "<p><a";
  attr(out, "href", base + "/proposal");
  out += ">Review the profile its recorded flows propose</a></p></div>";
}

void actions(std::string& out, const DevicePage& page, const PageContext& ctx,
             std::string_view label) {
  const v1::DeviceInfo& d = page.device;
  const std::string base = parts::devicePath(d.mac());
  out += "<section aria-labelledby=\"decide-title\"><h2 id=\"decide-title\">Decide</h2>";
  assignForm(out, page, ctx, base);
  out += "<div class=\"buttons\">";
  if (d.quarantined()) {
    const std::string action = base + "/release";
    parts::postForm(out, ctx, {.action = action, .button = "Release"});
  } else {
    const std::string action = base + "/quarantine";
    const std::string question =
        "Quarantine " + std::string(label) + "? It will reach nothing until released.";
    parts::postForm(
        out, ctx,
        {.action = action, .button = "Quarantine", .confirm = question, .button_class = "danger"});
  }
  out += "</div>";
  learning(out, page, ctx, base);
  out += "</section>";
}

}  // namespace

std::string renderDevice(const DevicePage& page, const PageContext& ctx) {
  const v1::DeviceInfo& d = page.device;
  const std::string label = d.name().empty() ? d.mac() : d.name();
  std::string body;
  body.reserve(8192 + page.attempts.size() * 256);
  body += "<p class=\"crumbs\"><a href=\"/\">Overview</a> › devices</p><h1>";
  text(body, label);
  if (d.quarantined()) body += " <strong class=\"badge quarantined\">quarantined</strong>";
  body += "</h1>";
  if (!d.listed() && d.assignment() != "classified") {
    body +=
        "<p class=\"notice\">This device awaits a decision: the policy does not name it, so it "
        "runs on the default profile.</p>";
  }
  if (parts::mayChange(ctx)) actions(body, page, ctx, label);
  body += "<div class=\"columns\">";
  identity(body, d);
  profileFacts(body, d, ctx.now_unix);
  body += "</div>";
  attempts(body, page.attempts, ctx.now_unix);
  traffic(body, d);
  return parts::layout(label, parts::Nav::kOverview, &ctx, body);
}

}  // namespace muzzle::web
