// The console's overview and device pages, and escapeHtml: every string a device or a client
// wrote comes out as text, and a page shows buttons only to a role that may press them.
#include "mgmt/web/pages.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/unit/mgmt/web/page_checks.h"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

using testing::markupProblems;
using testing::occurrences;

void checkClean(const std::string& html) {
  for (const std::string& problem : markupProblems(html)) FAIL_CHECK(problem);
}

v1::DeviceInfo device(std::string mac, std::string name, std::string profile, bool listed,
                      std::string assignment) {
  v1::DeviceInfo d;
  d.set_mac(std::move(mac));
  d.set_name(std::move(name));
  d.set_profile(std::move(profile));
  d.set_listed(listed);
  d.set_assignment(std::move(assignment));
  d.add_ips("192.0.2.13");
  d.set_segment("cameras");
  d.set_vendor("Hikvision");
  d.mutable_last_seen()->set_seconds(1796306709);  // 2026-12-03 14:05:09 UTC
  d.set_allowed(10);
  d.set_denied(3);
  return d;
}

constexpr int64_t kNow = 1796306889;  // 3 min after the devices were last seen

PageContext context(std::string user, Role role, std::string csrf) {
  PageContext ctx;
  ctx.user = std::move(user);
  ctx.role = role;
  ctx.csrf = std::move(csrf);
  ctx.now_unix = kNow;
  return ctx;
}
PageContext viewer() { return context("vera", Role::kViewer, "tok-123"); }
PageContext operatorCtx() { return context("otto", Role::kOperator, "tok-456"); }

DevicePage devicePage(v1::DeviceInfo d) {
  DevicePage page;
  page.device = std::move(d);
  page.profiles = {"camera", "quarantine", "speaker"};
  page.attempts.push_back({.target = "203.0.113.9:443/tcp",
                           .name = "cloud.example",
                           .allowed = false,
                           .count = 4,
                           .last_unix = 1796306700});
  return page;
}

// ---- escapeHtml

TEST_CASE("escapeHtml escapes each special character") {
  CHECK(escapeHtml("&") == "&amp;");
  CHECK(escapeHtml("<") == "&lt;");
  CHECK(escapeHtml(">") == "&gt;");
  CHECK(escapeHtml("\"") == "&quot;");
  CHECK(escapeHtml("'") == "&#39;");
  CHECK(escapeHtml("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(escapeHtml("&amp;") == "&amp;amp;");  // escaped again: text is never taken as markup
  CHECK(escapeHtml("plain text: 203.0.113.9:443/tcp") == "plain text: 203.0.113.9:443/tcp");
  CHECK(escapeHtml("") == "");
}

TEST_CASE("escapeHtml keeps valid UTF-8") {
  CHECK(escapeHtml("caf\xC3\xA9") == "caf\xC3\xA9");            // é, 2 bytes
  CHECK(escapeHtml("\xE2\x82\xAC") == "\xE2\x82\xAC");          // €, 3 bytes
  CHECK(escapeHtml("\xF0\x9F\x90\xB6") == "\xF0\x9F\x90\xB6");  // 🐶, 4 bytes
  CHECK(escapeHtml("\xF4\x8F\xBF\xBF") == "\xF4\x8F\xBF\xBF");  // U+10FFFF
  CHECK(escapeHtml("\xEF\xBF\xBD") == "\xEF\xBF\xBD");          // U+FFFD itself
}

TEST_CASE("escapeHtml replaces invalid UTF-8 by U+FFFD") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(escapeHtml("a\x80z") == "a" + r + "z");  // a lone continuation byte
  CHECK(escapeHtml("a\xC3") == "a" + r);         // cut short at the end
  CHECK(escapeHtml("\xC3<") == r + "&lt;");      // cut short by an ASCII byte
  CHECK(escapeHtml("\xE2\x82") == r);            // 3-byte sequence missing one: one U+FFFD
  CHECK(escapeHtml("\xFF\xFE") == r + r);        // bytes UTF-8 never uses
  CHECK(escapeHtml("\xF5\x80\x80\x80") == r + r + r + r);  // past U+10FFFF by its lead byte
  CHECK(escapeHtml("\xF4\x90\x80\x80") == r + r + r + r);  // past U+10FFFF
  CHECK(escapeHtml("\xED\xA0\x80") == r + r + r);          // a UTF-16 surrogate (U+D800)
}

TEST_CASE("escapeHtml refuses overlong encodings, which could smuggle a '<'") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(escapeHtml("\xC0\xBC") == r + r);  // '<' in 2 bytes
  CHECK(escapeHtml("\xC1\xBF") == r + r);
  CHECK(escapeHtml("\xE0\x80\xBC") == r + r + r);          // '<' in 3 bytes
  CHECK(escapeHtml("\xE0\x9F\xBF") == r + r + r);          // U+07FF in 3 bytes
  CHECK(escapeHtml("\xF0\x80\x80\xBC") == r + r + r + r);  // '<' in 4 bytes
  CHECK(escapeHtml("\xF0\x8F\xBF\xBF") == r + r + r + r);  // U+FFFF in 4 bytes
}

TEST_CASE("escapeHtml replaces control characters but keeps newline and tab") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(escapeHtml("a\nb\tc") == "a\nb\tc");
  CHECK(escapeHtml(std::string("a\0b", 3)) == "a" + r + "b");
  CHECK(escapeHtml("\x1B[31mred") == r + "[31mred");  // a terminal escape from a hostname
  CHECK(escapeHtml("\r") == r);
  CHECK(escapeHtml("\x7F") == r);
  CHECK(escapeHtml("\x01\x1F") == r + r);
}

TEST_CASE("formatUtc, formatAgo and formatBytes") {
  CHECK(formatUtc(1796306709) == "2026-12-03 14:05:09");
  CHECK(formatUtc(0) == "1970-01-01 00:00:00");
  CHECK(formatAgo(1000, 1010) == "just now");
  CHECK(formatAgo(1000, 1000 + 180) == "3 min ago");
  CHECK(formatAgo(1000, 1000 + 2 * 3600) == "2 h ago");
  CHECK(formatAgo(1000, 1000 + 86400) == "24 h ago");
  CHECK(formatAgo(1000, 1000 + 40 * 3600) == "2 days ago");
  CHECK(formatAgo(1000, 1000 + 5 * 86400) == "5 days ago");
  CHECK(formatAgo(1000 + 299, 1000) == "in 5 min");
  CHECK(formatBytes(980) == "980 B");
  CHECK(formatBytes(1234) == "1.2 kB");
  CHECK(formatBytes(1200000) == "1.2 MB");
  CHECK(formatBytes(999999) == "1.0 MB");
  CHECK(formatBytes(45600000000) == "46 GB");
}

// ---- the markup check itself: it must see what it is meant to catch.

TEST_CASE("the markup check finds handlers, style, inline script and unquoted values") {
  CHECK(markupProblems("<p>ok</p><script src=\"/static/console.js\" defer></script>").empty());
  CHECK(markupProblems("<p title=\"x onerror=alert(1)\">onclick=</p>").empty());
  CHECK(markupProblems("<img src=\"x\" onerror=\"alert(1)\">").size() == 1);
  CHECK(markupProblems("<p style=\"color:red\">").size() == 1);
  CHECK(markupProblems("<script>alert(1)</script>").size() == 2);
  CHECK(markupProblems("<a href=/x>").size() == 1);
  CHECK(markupProblems("<style>p{}</style>").size() == 1);
}

// ---- device page

TEST_CASE("device strings a device chose render as text") {
  v1::DeviceInfo d =
      device("44:47:cc:00:00:13", "cam \"><img src=x onerror=alert(1)>", "camera", true, "listed");
  d.set_dhcp_hostname("<script>alert(1)</script>");
  d.set_dhcp_vendor_class("udhcp 1.30 <b>");
  d.set_mud_url("https://mud.example/\"onmouseover=\"x");
  d.set_vendor("Acme & Sons");
  DevicePage page = devicePage(d);
  page.attempts[0].name = "<svg/onload=alert(1)>.example";
  for (const PageContext& ctx : {viewer(), operatorCtx()}) {
    const std::string html = renderDevice(page, ctx);
    checkClean(html);
    CHECK(occurrences(html, "<script") == 1);  // the layout's console.js
    CHECK(occurrences(html, "<script src=\"/static/console.js\" defer></script>") == 1);
    CHECK(occurrences(html, "<img") == 0);
    CHECK(occurrences(html, "<svg") == 0);
    CHECK(occurrences(html, "<b>") == 0);
    CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
    CHECK(html.find("cam &quot;&gt;&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
    CHECK(html.find("&lt;svg/onload=alert(1)&gt;.example") != std::string::npos);
    CHECK(html.find("udhcp 1.30 &lt;b&gt;") != std::string::npos);
    CHECK(html.find("Acme &amp; Sons") != std::string::npos);
  }
}

TEST_CASE("a viewer's device page has no form but Log out") {
  const std::string html =
      renderDevice(devicePage(device("44:47:cc:00:00:13", "", "camera", true, "listed")), viewer());
  checkClean(html);
  CHECK(occurrences(html, "<form") == 1);
  CHECK(html.find("action=\"/logout\"") != std::string::npos);
  CHECK(html.find("quarantine\"") == std::string::npos);
  CHECK(html.find("<select") == std::string::npos);
  // The same facts as the operator sees.
  CHECK(html.find("Hikvision") != std::string::npos);
  CHECK(html.find("203.0.113.9:443/tcp") != std::string::npos);
  CHECK(html.find("cloud.example") != std::string::npos);
}

TEST_CASE("an operator's device page has assign and quarantine, release only when quarantined") {
  const PageContext ctx = operatorCtx();
  v1::DeviceInfo d = device("44:47:cc:00:00:13", "hall cam", "camera", true, "listed");
  std::string html = renderDevice(devicePage(d), ctx);
  checkClean(html);
  CHECK(html.find("action=\"/devices/44:47:cc:00:00:13/assign\"") != std::string::npos);
  CHECK(html.find("<select id=\"profile\" name=\"profile\">") != std::string::npos);
  CHECK(html.find("<option value=\"camera\" selected>camera</option>") != std::string::npos);
  CHECK(html.find("<option value=\"speaker\">speaker</option>") != std::string::npos);
  CHECK(html.find("action=\"/devices/44:47:cc:00:00:13/quarantine\"") != std::string::npos);
  CHECK(html.find("/release\"") == std::string::npos);
  CHECK(html.find("data-confirm=\"Quarantine hall cam?") != std::string::npos);
  // Learning: start it (a day by default), and the proposal's page.
  CHECK(html.find("action=\"/devices/44:47:cc:00:00:13/learn\"") != std::string::npos);
  CHECK(html.find("<option value=\"86400\" selected>a day</option>") != std::string::npos);
  CHECK(html.find("href=\"/devices/44:47:cc:00:00:13/proposal\"") != std::string::npos);
  CHECK(html.find("/learn/stop\"") == std::string::npos);
  // Every form carries the session's token (logout, assign, quarantine, learn).
  CHECK(occurrences(html, "<form") == 4);
  CHECK(occurrences(html, "<input type=\"hidden\" name=\"csrf\" value=\"tok-456\">") == 4);
  d.set_learning("learning");
  html = renderDevice(devicePage(d), ctx);
  CHECK(html.find("action=\"/devices/44:47:cc:00:00:13/learn/stop\"") != std::string::npos);
  CHECK(html.find("action=\"/devices/44:47:cc:00:00:13/learn\"") == std::string::npos);
  d.set_learning("");

  d.set_quarantined(true);
  d.set_profile("quarantine");
  html = renderDevice(devicePage(d), ctx);
  checkClean(html);
  CHECK(html.find("action=\"/devices/44:47:cc:00:00:13/release\"") != std::string::npos);
  CHECK(html.find("/quarantine\"") == std::string::npos);
  CHECK(html.find("class=\"badge quarantined\"") != std::string::npos);
}

TEST_CASE("a MAC that is not one cannot leave the device's path") {
  v1::DeviceInfo d = device("../x\"?a=<b>", "", "camera", true, "listed");
  const std::string html = renderDevice(devicePage(d), operatorCtx());
  checkClean(html);
  CHECK(html.find("action=\"/devices/..%2Fx%22%3Fa%3D%3Cb%3E/quarantine\"") != std::string::npos);
}

TEST_CASE("the device page shows what the box learned, and when") {
  v1::DeviceInfo d = device("44:47:cc:00:00:13", "", "default", false, "default");
  d.set_randomised_mac(true);
  d.set_dhcp_hostname("robot-vac");
  d.set_learning("observe");
  d.mutable_first_seen()->set_seconds(1796306709 - 86400);
  d.mutable_upload()->set_bytes(1200000);
  auto* c = d.add_by_class();
  c->set_to("internet");
  c->mutable_download()->set_bytes(45600000000);
  const std::string html = renderDevice(devicePage(d), viewer());
  checkClean(html);
  CHECK(html.find("randomised") != std::string::npos);
  CHECK(html.find("robot-vac") != std::string::npos);
  CHECK(html.find("observing") != std::string::npos);
  CHECK(html.find("the default: the policy does not name it") != std::string::npos);
  CHECK(html.find("awaits a decision") != std::string::npos);
  CHECK(html.find("<time datetime=\"2026-12-03T14:05:09Z\">2026-12-03 14:05:09</time>") !=
        std::string::npos);
  CHECK(html.find("3 min ago") != std::string::npos);
  CHECK(html.find("1.2 MB") != std::string::npos);
  CHECK(html.find("internet") != std::string::npos);
  CHECK(html.find("46 GB") != std::string::npos);
}

// ---- overview

OverviewPage overview() {
  OverviewPage page;
  page.status.set_policy_revision(7);
  page.status.set_queue_mode("compat");
  page.status.set_fail_mode("closed");
  page.status.set_events_dropped(2);
  page.status.mutable_state()->set_ok(true);
  page.status.mutable_state()->set_writable(true);
  auto* q = page.status.add_queues();
  q->set_first(0);
  q->set_count(2);
  q->set_packets(12345);
  q->set_socket_overruns(1);
  page.revisions.set_current(7);
  auto* r = page.revisions.add_revisions();
  r->set_number(7);
  r->set_author("otto <ops>");
  r->set_comment("cameras: NVR only");
  r->mutable_created()->set_seconds(1796306000);
  *page.devices.add_devices() = device("44:47:cc:00:00:01", "hall cam", "camera", true, "listed");
  *page.devices.add_devices() =
      device("44:47:cc:00:00:02", "", "camera", false, "classified");  // a rule decided
  *page.devices.add_devices() =
      device("aa:bb:cc:00:00:03", "", "default", false, "default");  // awaits
  v1::DeviceInfo q3 = device("aa:bb:cc:00:00:04", "vacuum", "quarantine", true, "listed");
  q3.set_quarantined(true);
  *page.devices.add_devices() = q3;
  page.denials_per_minute = {1, 0, 2};
  return page;
}

TEST_CASE("new devices are listed on top, awaiting a decision, and not twice") {
  const std::string html = renderOverview(overview(), viewer());
  checkClean(html);
  const size_t awaiting = html.find("New devices awaiting a decision");
  const size_t devices = html.find("<h2 id=\"devices-title\">");
  REQUIRE(awaiting != std::string::npos);
  REQUIRE(devices != std::string::npos);
  CHECK(awaiting < devices);
  CHECK(occurrences(html, "href=\"/devices/aa:bb:cc:00:00:03\"") == 1);
  const size_t new_one = html.find("href=\"/devices/aa:bb:cc:00:00:03\"");
  CHECK(new_one > awaiting);
  CHECK(new_one < devices);
  // Classified and listed devices are in their profile's table, once each.
  CHECK(occurrences(html, "href=\"/devices/44:47:cc:00:00:02\"") == 1);
  CHECK(html.find("href=\"/devices/44:47:cc:00:00:02\"") > devices);
  CHECK(html.find("<caption>Profile camera: 2 devices</caption>") != std::string::npos);
  CHECK(html.find("<caption>Profile quarantine: 1 device</caption>") != std::string::npos);
  CHECK(html.find("Profile default") == std::string::npos);
}

TEST_CASE(
    "the overview's health shows the flood guard, the segment guard and the connection limit") {
  OverviewPage page = overview();
  auto* f = page.status.mutable_flood_guard();
  f->set_new_flows_per_second(500);
  f->set_burst(1000);
  f->set_dropped(4321);
  f->set_devices(0);
  f->set_connections(1024);
  f->set_connection_dropped(37);
  f->set_connection_devices(1);
  f->set_segment_new_flows_per_second(2000);
  f->set_segment_dropped(5000);
  f->set_segments(1);
  std::string html = renderOverview(page, viewer());
  checkClean(html);
  // A segment past its rate now: marked, and why it may be.
  CHECK(html.find("Segment guard</dt><dd class=\"warn\">2000 new flows a second per segment, "
                  "5000 dropped (1 segment past it in the last 2 minutes: a device there forging "
                  "source addresses, or many flooding at once)</dd>") != std::string::npos);
  // Quiet in the last two minutes: not marked.
  CHECK(html.find("Flood guard</dt><dd>500 new flows a second per device, 4321 dropped (0 "
                  "devices past it in the last 2 minutes)</dd>") != std::string::npos);
  // A device at its limit now: marked.
  CHECK(html.find("Connection limit</dt><dd class=\"warn\">1024 per device, 37 new flows "
                  "dropped (1 device at it in the last 2 minutes)</dd>") != std::string::npos);
  // Who counts, as muzzlectl status says it.
  f->set_connections_counted_by("kernel");
  html = renderOverview(page, viewer());
  CHECK(html.find("Connection limit</dt><dd class=\"warn\">1024 per device, 37 new flows "
                  "dropped (1 device at it in the last 2 minutes); counted by kernel</dd>") !=
        std::string::npos);
  f->set_new_flows_per_second(0);
  f->set_connections(0);
  f->set_segment_new_flows_per_second(0);
  f->set_last_error("nftables: reading set flood-dropped of inet muzzle: <garbled>");
  html = renderOverview(page, viewer());
  CHECK(html.find("Flood guard</dt><dd>off</dd>") != std::string::npos);
  CHECK(html.find("Connection limit</dt><dd>off</dd>") != std::string::npos);
  CHECK(html.find("Segment guard</dt><dd>off</dd>") != std::string::npos);
  CHECK(html.find("read error</dt><dd class=\"warn\">nftables: reading set flood-dropped of "
                  "inet muzzle: &lt;garbled&gt;</dd>") != std::string::npos);
  // Idle (no segments): neither row.
  page.status.clear_flood_guard();
  html = renderOverview(page, viewer());
  CHECK(html.find("Flood guard") == std::string::npos);
}

TEST_CASE("the overview's health shows new-device admission, marked while a segment refuses") {
  OverviewPage page = overview();
  std::string html = renderOverview(page, viewer());
  CHECK(html.find("New devices</dt>") == std::string::npos);  // off, idle or an older box
  auto* a = page.status.mutable_device_admission();
  a->set_new_per_minute(60);
  a->set_new_burst(64);
  auto* cams = a->add_segments();
  cams->set_segment("cams<1>");
  cams->set_admitted(3);
  cams->set_tokens(61);
  html = renderOverview(page, viewer());
  checkClean(html);
  CHECK(html.find("New devices</dt><dd>60 a minute per segment after 64 at once, 0 refused</dd>") !=
        std::string::npos);
  CHECK(html.find("New devices on") == std::string::npos);  // no segment refused
  a->set_refused(35);
  cams->set_refused(35);
  cams->set_tokens(0);
  html = renderOverview(page, viewer());
  CHECK(html.find("New devices</dt><dd class=\"warn\">60 a minute per segment after 64 at once, "
                  "35 refused</dd>") != std::string::npos);
  CHECK(html.find("New devices on cams&lt;1&gt;</dt><dd class=\"warn\">35 refused, 0 more let "
                  "in now (event=device-flood)</dd>") != std::string::npos);
}

TEST_CASE("the overview marks quarantined devices and shows the box's health") {
  const std::string html = renderOverview(overview(), viewer());
  CHECK(occurrences(html, "<strong class=\"badge quarantined\">quarantined</strong>") == 1);
  CHECK(html.find("compat") != std::string::npos);
  CHECK(html.find("Events dropped</dt><dd class=\"warn\">2</dd>") != std::string::npos);
  CHECK(html.find("12345") != std::string::npos);
  CHECK(html.find("otto &lt;ops&gt;") != std::string::npos);
  CHECK(html.find("Revision 7</a> is current") != std::string::npos);
  CHECK(html.find("<h1>Overview</h1>") != std::string::npos);
  CHECK(html.find("<meta name=\"viewport\"") != std::string::npos);
  CHECK(html.find("<span class=\"user\">vera</span> <span class=\"role\">viewer</span>") !=
        std::string::npos);
}

TEST_CASE("a stalled queue thread is said under its queues, and only then") {
  CHECK(renderOverview(overview(), viewer()).find("queue thread is stalled") == std::string::npos);
  OverviewPage page = overview();
  page.status.mutable_queues(0)->set_threads_stalled(1);
  const std::string html = renderOverview(page, viewer());
  checkClean(html);
  CHECK(html.find("<td colspan=\"8\" class=\"warn\">A queue thread is stalled") !=
        std::string::npos);
}

TEST_CASE("a pending commit shows its deadline, the countdown and, for an operator, Confirm") {
  OverviewPage page = overview();
  auto* pending = page.status.mutable_pending();
  pending->set_revision(7);
  pending->set_rollback_to(6);
  pending->mutable_deadline()->set_seconds(1796307009);
  const std::string op = renderOverview(page, operatorCtx());
  checkClean(op);
  CHECK(op.find("Revision 7 is not confirmed: it rolls back to 6 at") != std::string::npos);
  CHECK(op.find("data-deadline=\"1796307009\"") != std::string::npos);
  CHECK(op.find("data-now=\"1796306889\"") != std::string::npos);
  CHECK(op.find("Rolls back in 2 min.") != std::string::npos);
  CHECK(op.find("<form method=\"post\" action=\"/policy/confirm\">") != std::string::npos);
  const std::string view = renderOverview(page, viewer());
  CHECK(view.find("data-deadline=\"1796307009\"") != std::string::npos);
  CHECK(view.find("/policy/confirm") == std::string::npos);
  // Nothing pending: no block.
  CHECK(renderOverview(overview(), operatorCtx()).find("data-deadline") == std::string::npos);
}

TEST_CASE("the notice is shown on top, an error styled apart") {
  PageContext ctx = viewer();
  ctx.notice = "Revision 8 <applied>";
  std::string html = renderOverview(overview(), ctx);
  CHECK(html.find("<p class=\"notice\" role=\"status\">Revision 8 &lt;applied&gt;</p>") !=
        std::string::npos);
  ctx.notice_is_error = true;
  html = renderOverview(overview(), ctx);
  CHECK(html.find("<p class=\"notice error\" role=\"alert\">") != std::string::npos);
}

// ---- the chart

TEST_CASE("the denial chart has 60 bars, the hour's total and its numbers as text") {
  std::vector<uint32_t> minutes(60, 0);
  minutes[59] = 3;  // this minute
  minutes[0] = 5;   // 59 min ago
  minutes[30] = 12;
  const std::string svg = renderDenialChart(minutes);
  checkClean(svg);
  CHECK(occurrences(svg, "<rect class=\"bar\"") == 60);
  CHECK(occurrences(svg, "<title>") == 60);
  CHECK(svg.find("role=\"img\"") != std::string::npos);
  CHECK(svg.find("aria-label=\"Denied connections in the last hour: 20 (at most 12 in one "
                 "minute)\"") != std::string::npos);
  CHECK(svg.find("<title>this minute: 3 denied</title>") != std::string::npos);
  CHECK(svg.find("<title>59 min ago: 5 denied</title>") != std::string::npos);
  CHECK(svg.find("<title>29 min ago: 12 denied</title>") != std::string::npos);
  CHECK(svg.find(">12</text>") != std::string::npos);  // the y axis's maximum
  // The tallest bar fills the height; an empty minute has none.
  CHECK(svg.find("y=\"10\" width=\"7\" height=\"120\"") != std::string::npos);
  CHECK(occurrences(svg, "height=\"0\"") == 57);
}

TEST_CASE("the denial chart takes the newest 60 minutes and says which were not counted") {
  std::string svg = renderDenialChart({4, 4});
  CHECK(occurrences(svg, "<rect class=\"bar\"") == 60);
  CHECK(occurrences(svg, "not counted") == 58);
  CHECK(svg.find("last hour: 8 (") != std::string::npos);
  std::vector<uint32_t> long_series(90, 1);
  long_series[0] = 1000;  // older than an hour: not shown
  svg = renderDenialChart(long_series);
  CHECK(occurrences(svg, "<rect class=\"bar\"") == 60);
  CHECK(svg.find("last hour: 60 (at most 1 ") != std::string::npos);
  CHECK(renderDenialChart({}).find("last hour: 0 (") != std::string::npos);
}

}  // namespace
}  // namespace muzzle::web
