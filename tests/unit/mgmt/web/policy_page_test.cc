// The policy page: revisions with the current one marked, Roll back for operator and up on
// every other revision, the selected diff with its lines classed, and the pending commit.
#include <doctest/doctest.h>

#include <string>

#include "mgmt/web/pages.h"
#include "tests/unit/mgmt/web/page_checks.h"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

using testing::markupProblems;
using testing::occurrences;

PageContext context(Role role) {
  PageContext ctx;
  ctx.user = "otto";
  ctx.role = role;
  ctx.csrf = "tok-9";
  ctx.now_unix = 1796306889;
  return ctx;
}

PolicyPage policyPage() {
  PolicyPage page;
  for (uint64_t n = 7; n >= 5; --n) {  // newest first, as the API lists them
    v1::Revision* r = page.revisions.add_revisions();
    r->set_number(n);
    r->set_parent(n - 1);
    r->set_author(n == 6 ? "ops <script>" : "local");
    r->set_comment(n == 7 ? "cams: \"NVR\" only & more" : "");
    r->mutable_created()->set_seconds(1796306000 + static_cast<int64_t>(n));
  }
  page.revisions.set_current(7);
  page.current = 7;
  return page;
}

TEST_CASE("the policy page marks the current revision and offers Roll back on the others") {
  const std::string html = renderPolicy(policyPage(), context(Role::kOperator));
  for (const std::string& p : markupProblems(html)) FAIL_CHECK(p);
  CHECK(occurrences(html, "<tr class=\"current\" aria-current=\"true\">") == 1);
  CHECK(html.find("<tr class=\"current\" aria-current=\"true\"><th scope=\"row\">7 ") !=
        std::string::npos);
  CHECK(occurrences(html, "action=\"/policy/rollback\"") == 2);
  CHECK(html.find("name=\"revision\" value=\"6\"") != std::string::npos);
  CHECK(html.find("name=\"revision\" value=\"5\"") != std::string::npos);
  CHECK(html.find("name=\"revision\" value=\"7\"") == std::string::npos);
  CHECK(occurrences(html, "<input type=\"hidden\" name=\"csrf\" value=\"tok-9\">") == 3);
  CHECK(html.find("href=\"/policy?revision=6\"") != std::string::npos);
  CHECK(html.find("ops &lt;script&gt;") != std::string::npos);
  CHECK(html.find("cams: &quot;NVR&quot; only &amp; more") != std::string::npos);
  CHECK(html.find("aria-current=\"page\">Policy</a>") != std::string::npos);
}

TEST_CASE("a viewer sees the revisions without Roll back or Confirm") {
  PolicyPage page = policyPage();
  page.pending.set_revision(7);
  page.pending.set_rollback_to(6);
  page.pending.mutable_deadline()->set_seconds(1796307000);
  const std::string html = renderPolicy(page, context(Role::kViewer));
  CHECK(html.find("/policy/rollback") == std::string::npos);
  CHECK(html.find("/policy/confirm") == std::string::npos);
  CHECK(occurrences(html, "<form") == 1);  // Log out
  CHECK(html.find("data-deadline=\"1796307000\"") != std::string::npos);
}

TEST_CASE("the policy page shows a pending commit with Confirm for an operator") {
  PolicyPage page = policyPage();
  page.pending.set_revision(7);
  page.pending.set_rollback_to(6);
  page.pending.set_author("otto");
  page.pending.mutable_deadline()->set_seconds(1796307009);
  const std::string html = renderPolicy(page, context(Role::kAdmin));
  for (const std::string& p : markupProblems(html)) FAIL_CHECK(p);
  CHECK(html.find("Revision 7 is not confirmed: it rolls back to 6 at <time "
                  "datetime=\"2026-12-03T14:10:09Z\">2026-12-03 14:10:09</time> UTC") !=
        std::string::npos);
  CHECK(html.find("data-deadline=\"1796307009\"") != std::string::npos);
  CHECK(html.find("<form method=\"post\" action=\"/policy/confirm\">") != std::string::npos);
  CHECK(html.find(">Confirm revision 7</button>") != std::string::npos);
}

TEST_CASE("the selected revision's diff is escaped, one classed span a line") {
  PolicyPage page = policyPage();
  page.selected = 7;
  page.diff =
      "--- revision 6\n+++ revision 7\n@@ -1,3 +1,3 @@\n devices:\n-  - name: <old>\n"
      "+  - name: \"new\" & <b>bold</b>\n";
  const std::string html = renderPolicy(page, context(Role::kViewer));
  for (const std::string& p : markupProblems(html)) FAIL_CHECK(p);
  CHECK(html.find("<h2 id=\"diff-title\">Changes in revision 7 against 6</h2>") !=
        std::string::npos);
  CHECK(html.find("<span class=\"file\">--- revision 6</span>\n") != std::string::npos);
  CHECK(html.find("<span class=\"file\">+++ revision 7</span>\n") != std::string::npos);
  CHECK(html.find("<span class=\"hunk\">@@ -1,3 +1,3 @@</span>\n") != std::string::npos);
  CHECK(html.find("<span class=\"ctx\"> devices:</span>\n") != std::string::npos);
  CHECK(html.find("<span class=\"del\">-  - name: &lt;old&gt;</span>\n") != std::string::npos);
  CHECK(html.find("<span class=\"add\">+  - name: &quot;new&quot; &amp; &lt;b&gt;bold&lt;/b&gt;"
                  "</span>\n") != std::string::npos);
  CHECK(occurrences(html, "<b>") == 0);
  const size_t pre = html.find("<pre class=\"diff\">");
  REQUIRE(pre != std::string::npos);
  const std::string diff = html.substr(pre, html.find("</pre>", pre) - pre);
  CHECK(occurrences(diff, "<span class=\"") == 6);
  CHECK(occurrences(diff, "</span>\n") == 6);
}

TEST_CASE("no diff section without a selected revision; an empty diff says so") {
  PolicyPage page = policyPage();
  CHECK(renderPolicy(page, context(Role::kViewer)).find("<pre") == std::string::npos);
  page.selected = 5;
  const std::string html = renderPolicy(page, context(Role::kViewer));
  CHECK(html.find("No change to the policy text.") != std::string::npos);
}

ProposalPage proposalPage() {
  ProposalPage page;
  page.device.set_mac("44:47:cc:00:00:13");
  page.device.set_name("hall cam");
  page.device.set_profile("camera");
  v1::ProposeProfileResponse& p = page.proposal;
  p.set_profile("camera");
  p.set_replaced(true);
  p.set_base_revision(7);
  p.set_flows_used(3);
  p.set_flows_covered(1);
  p.set_valid(true);
  p.set_diff("--- current\n+++ proposed\n@@ -1 +1 @@\n-  camera: {}\n+  camera: {egress: [{allow: [\"<evil>.example\"]}]}\n");
  v1::LearnFinding* f = p.add_findings();
  f->set_kind("hard-coded-ip");
  f->set_target("203.0.113.9");
  f->set_proto("tcp");
  f->set_port(443);
  f->set_count(2);
  f->set_why("an address no DNS answer gave <it>");
  return page;
}

TEST_CASE("a learning proposal: its findings and diff escaped, Apply for an admin only") {
  const std::string admin = renderProposal(proposalPage(), context(Role::kAdmin));
  CHECK(markupProblems(admin).empty());
  CHECK(admin.find("action=\"/devices/44:47:cc:00:00:13/proposal/apply\"") != std::string::npos);
  CHECK(admin.find("name=\"base\" value=\"7\"") != std::string::npos);
  CHECK(admin.find("name=\"csrf\" value=\"tok-9\"") != std::string::npos);
  CHECK(admin.find("&lt;evil&gt;.example") != std::string::npos);
  CHECK(admin.find("<evil>") == std::string::npos);
  CHECK(admin.find("no DNS answer gave &lt;it&gt;") != std::string::npos);
  CHECK(admin.find("<span class=\"add\">") != std::string::npos);
  CHECK(admin.find("3 recorded flows became rules, 1 were already allowed") != std::string::npos);

  const std::string op = renderProposal(proposalPage(), context(Role::kOperator));
  CHECK(op.find("/proposal/apply") == std::string::npos);
  CHECK(op.find("Only an admin applies a proposal.") != std::string::npos);

  // No proposal (nothing recorded yet): the API's reason, escaped, and the form to try again.
  ProposalPage none = proposalPage();
  none.proposal.Clear();
  none.problem = "44:47:cc:00:00:13 has no learning session <yet>";
  const std::string missing = renderProposal(none, context(Role::kAdmin));
  CHECK(missing.find("has no learning session &lt;yet&gt;") != std::string::npos);
  CHECK(missing.find("/proposal/apply") == std::string::npos);
  CHECK(missing.find("action=\"/devices/44:47:cc:00:00:13/proposal\"") != std::string::npos);
}

}  // namespace
}  // namespace muzzle::web
