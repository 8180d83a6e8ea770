// The learning proposal page: what a device's recorded flows would allow, before anyone applies
// it. Everything shown came from the device (names, addresses) or the policy: all escaped.
#include "mgmt/web/page_parts.h"
#include "mgmt/web/pages.h"

namespace muzzle::web {

using parts::attr;
using parts::number;
using parts::text;

namespace {

void findings(std::string& out, const v1::ProposeProfileResponse& p) {
  if (p.findings_size() == 0) {
    out += "<p>No findings: nothing it did needs a second look.</p>";
    return;
  }
  out +=
      "<div class=\"table\"><table><caption>Findings: never allowed without a decision"
      "</caption><thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Target</th>"
      "<th scope=\"col\">Port</th><th scope=\"col\" class=\"num\">Times</th><th scope=\"col\">"
      "Why</th></tr></thead><tbody>";
  for (const v1::LearnFinding& f : p.findings()) {
    out += "<tr><td>";
    text(out, f.kind());
    out += "</td><td>";
    text(out, f.target());
    out += "</td><td>";
    text(out, f.proto() + (f.port() != 0 ? "/" + std::to_string(f.port()) : std::string()));
    out += "</td><td class=\"num\">";
    number(out, f.count());
    out += "</td><td>";
    text(out, f.why());
    out += "</td></tr>";
  }
  out += "</tbody></table></div>";
}

void violations(std::string& out, const v1::ProposeProfileResponse& p) {
  if (p.valid()) return;
  out += "<p class=\"notice error\">The proposal does not compile:</p><ul>";
  for (const v1::Violation& v : p.violations()) {
    out += "<li>";
    text(out, v.field().empty() ? v.message() : v.field() + ": " + v.message());
    out += "</li>";
  }
  out += "</ul>";
}

}  // namespace

std::string renderProposal(const ProposalPage& page, const PageContext& ctx) {
  const v1::DeviceInfo& d = page.device;
  const std::string label = d.name().empty() ? d.mac() : d.name();
  const std::string base = parts::devicePath(d.mac());
  std::string body;
  body += "<p class=\"crumbs\"><a href=\"/\">Overview</a> › <a";
  attr(body, "href", base);
  body += '>';
  text(body, label);
  body += "</a> › proposal</p><h1>What ";
  text(body, label);
  body += " would be allowed</h1>";
  // The profile to write: the device's own, or one named here (a device on the default profile
  // needs a profile of its own).
  body += "<form method=\"get\" class=\"profile-name\"";
  attr(body, "action", base + "/proposal");
  body += "><label for=\"profile\">Profile to write</label> <input id=\"profile\" name=\"profile\"";
  attr(body, "value", page.profile.empty() ? d.profile() : page.profile);
  body += "> <button type=\"submit\">Propose</button></form>";
  if (!page.problem.empty()) {
    body += "<p class=\"notice error\">";
    text(body, page.problem);
    body += "</p>";
    return parts::layout("Proposal", parts::Nav::kNone, &ctx, body);
  }
  const v1::ProposeProfileResponse& p = page.proposal;
  body += "<p>Profile <strong>";
  text(body, p.profile());
  body += p.replaced() ? "</strong> (replaced)" : "</strong> (new)";
  body += ", from revision ";
  number(body, p.base_revision());
  body += ": ";
  number(body, p.flows_used());
  body += " recorded flows became rules, ";
  number(body, p.flows_covered());
  body += " were already allowed.</p>";
  findings(body, p);
  violations(body, p);
  if (p.diff().empty()) {
    body += "<p>The policy would not change.</p>";
  } else {
    parts::diffText(body, p.diff());
  }
  if (ctx.role >= Role::kAdmin && p.valid() && !p.diff().empty()) {
    body += "<form method=\"post\" class=\"apply\"";
    attr(body, "action", base + "/proposal/apply");
    attr(body, "data-confirm", "Apply this profile as a new revision?");
    body += '>';
    parts::csrfField(body, ctx);
    body += "<input type=\"hidden\" name=\"profile\"";
    attr(body, "value", p.profile());
    body += "><input type=\"hidden\" name=\"base\"";
    attr(body, "value", std::to_string(p.base_revision()));
    body += "><button type=\"submit\" class=\"primary\">Apply as a new revision</button></form>";
  } else if (ctx.role < Role::kAdmin) {
    body += "<p>Only an admin applies a proposal.</p>";
  }
  return parts::layout("Proposal", parts::Nav::kNone, &ctx, body);
}

}  // namespace muzzle::web
