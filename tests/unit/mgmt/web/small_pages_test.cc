// Log in, events, errors — and the rules of the Content-Security-Policy checked on the output
// of every render function at once.
#include <doctest/doctest.h>

#include <string>

#include "mgmt/web/pages.h"
#include "tests/unit/mgmt/web/page_checks.h"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

using testing::markupProblems;
using testing::occurrences;

PageContext operatorCtx() {
  PageContext ctx;
  ctx.user = "otto \"<b>\"";
  ctx.role = Role::kOperator;
  ctx.csrf = "tok\"<x>";
  ctx.notice = "Quarantined <cam>";
  ctx.now_unix = 1796306889;
  return ctx;
}

TEST_CASE("the login page posts name and password, shows the error, and has no nav") {
  const std::string html = renderLogin("Wrong name or <password>");
  CHECK(html.find("<form method=\"post\" action=\"/login\">") != std::string::npos);
  CHECK(html.find("<label for=\"name\">Name</label><input id=\"name\" name=\"name\"") !=
        std::string::npos);
  CHECK(html.find("<label for=\"password\">Password</label><input id=\"password\" "
                  "name=\"password\" type=\"password\"") != std::string::npos);
  CHECK(html.find("role=\"alert\">Wrong name or &lt;password&gt;</p>") != std::string::npos);
  CHECK(html.find("<nav") == std::string::npos);
  CHECK(html.find("/logout") == std::string::npos);
  CHECK(renderLogin("").find("role=\"alert\"") == std::string::npos);
}

TEST_CASE("the events page has the filter and the list console.js fills") {
  const std::string html = renderEvents(operatorCtx());
  CHECK(html.find("<label for=\"event-filter\">Filter</label>") != std::string::npos);
  CHECK(html.find("<input id=\"event-filter\" type=\"search\"") != std::string::npos);
  CHECK(html.find("<ol id=\"event-list\" class=\"events\" data-stream=\"/events/stream\" "
                  "data-max=\"500\"></ol>") != std::string::npos);
  CHECK(html.find("id=\"event-state\"") != std::string::npos);
  CHECK(html.find("aria-current=\"page\">Events</a>") != std::string::npos);
}

TEST_CASE("an error page escapes its message, with or without a session") {
  std::string html = renderError(404, "No device <44:47:cc:00:00:99>", nullptr);
  CHECK(html.find("<h1>404 Not found</h1>") != std::string::npos);
  CHECK(html.find("No device &lt;44:47:cc:00:00:99&gt;") != std::string::npos);
  CHECK(html.find("<nav") == std::string::npos);
  const PageContext ctx = operatorCtx();
  html = renderError(403, "operator needed", &ctx);
  CHECK(html.find("<h1>403 Not allowed</h1>") != std::string::npos);
  CHECK(html.find("<nav") != std::string::npos);
}

TEST_CASE("the layout escapes the user's name and the CSRF token") {
  const std::string html = renderEvents(operatorCtx());
  CHECK(html.find("<span class=\"user\">otto &quot;&lt;b&gt;&quot;</span>") != std::string::npos);
  CHECK(html.find("name=\"csrf\" value=\"tok&quot;&lt;x&gt;\"") != std::string::npos);
  CHECK(html.find("<p class=\"notice\" role=\"status\">Quarantined &lt;cam&gt;</p>") !=
        std::string::npos);
}

// Every render function, each with data that reaches its every branch, through the check.
TEST_CASE("no page holds a handler attribute, a style attribute or an inline script") {
  const PageContext ctx = operatorCtx();
  const std::string evil = "\"><img src=x onerror=alert(1)> style=\"x\" <script>y</script>";

  OverviewPage overview;
  overview.status.mutable_pending()->set_revision(3);
  overview.status.mutable_pending()->set_author(evil);
  overview.status.add_queues()->set_kernel_counters_error(evil);
  overview.status.mutable_state()->add_problems()->set_problem(evil);
  overview.status.mutable_accounting()->set_on(true);
  overview.status.mutable_accounting()->set_last_error(evil);
  overview.status.add_syslog()->set_target(evil);
  v1::Revision* r = overview.revisions.add_revisions();
  r->set_number(3);
  r->set_author(evil);
  r->set_comment(evil);
  overview.revisions.set_current(3);
  v1::DeviceInfo* d = overview.devices.add_devices();
  d->set_mac(evil);
  d->set_learning(evil);
  d->add_ips(evil);
  d->set_vendor(evil);
  d->set_segment(evil);
  v1::DeviceInfo* listed = overview.devices.add_devices();
  *listed = *d;
  listed->set_listed(true);
  listed->set_name(evil);
  listed->set_profile(evil);
  listed->set_quarantined(true);
  overview.denials_per_minute = {1, 2, 3};

  DevicePage device;
  device.device = *listed;
  device.device.set_dhcp_hostname(evil);
  device.device.set_dhcp_vendor_class(evil);
  device.device.set_mud_url(evil);
  device.device.add_by_class()->set_to(evil);
  device.profiles = {evil, "camera"};
  device.attempts.push_back(
      {.target = evil, .name = evil, .allowed = true, .count = 1, .last_unix = 1});
  DevicePage unquarantined = device;
  unquarantined.device.set_quarantined(false);

  PolicyPage policy;
  policy.revisions = overview.revisions;
  policy.revisions.add_revisions()->set_number(2);
  policy.current = 3;
  policy.pending = overview.status.pending();
  policy.selected = 3;
  policy.diff = "+" + evil + "\n-" + evil + "\n" + evil;

  const std::string pages[] = {
      renderLogin(evil),
      renderLogin(""),
      renderDenialChart({1, 2, 3}),
      renderOverview(overview, ctx),
      renderDevice(device, ctx),
      renderDevice(unquarantined, ctx),
      renderEvents(ctx),
      renderPolicy(policy, ctx),
      renderError(500, evil, &ctx),
      renderError(404, evil, nullptr),
  };
  for (const std::string& html : pages) {
    CAPTURE(html.substr(0, 300));
    for (const std::string& p : markupProblems(html)) FAIL_CHECK(p);
    CHECK(occurrences(html, "<img") == 0);
    CHECK(occurrences(html, "<script") <= 1);
  }
}

}  // namespace
}  // namespace muzzle::web
