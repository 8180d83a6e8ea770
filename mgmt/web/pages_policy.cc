// The policy page: the kept revisions, the changes one of them made, Roll back, and the
// commit-confirmed countdown with Confirm.
#include <string>

#include "mgmt/web/page_parts.h"
#include "mgmt/web/pages.h"

namespace muzzle::web {

using parts::attr;
using parts::number;
using parts::text;

namespace {

void revisionRow(std::string& out, const v1::Revision& r, uint64_t current,
                 const PageContext& ctx) {
  const bool is_current = r.number() == current;
  const std::string n = std::to_string(r.number());
  out += is_current ? "<tr class=\"current\" aria-current=\"true\">" : "<tr>";
  out += "<th scope=\"row\">";
  out += n;
  if (is_current) out += " <strong class=\"badge\">current</strong>";
  out += "</th><td>";
  parts::timeText(out, r.has_created() ? r.created().seconds() : 0, ctx.now_unix);
  out += "</td><td>";
  text(out, r.author());
  out += "</td><td>";
  text(out, r.comment());
  out += "</td><td>";
  if (r.parent() != 0) number(out, r.parent());
  out += "</td><td class=\"actions\"><a";
  attr(out, "href", "/policy?revision=" + n);
  out += ">Changes</a>";
  if (parts::mayChange(ctx) && !is_current) {
    const std::string button = "Roll back to " + n;
    const std::string question =
        "Make the text of revision " + n + " current again? It becomes a new revision at once.";
    parts::postForm(out, ctx,
                    {.action = "/policy/rollback",
                     .button = button,
                     .field_name = "revision",
                     .field_value = n,
                     .confirm = question});
  }
  out += "</td></tr>\n";
}

void diffSection(std::string& out, const PolicyPage& page) {
  if (page.selected == 0) return;
  out += "<section aria-labelledby=\"diff-title\"><h2 id=\"diff-title\">Changes in revision ";
  number(out, page.selected);
  for (const v1::Revision& r : page.revisions.revisions()) {
    if (r.number() == page.selected && r.parent() != 0) {
      out += " against ";
      number(out, r.parent());
    }
  }
  out += "</h2>";
  if (page.diff.empty()) {
    out += "<p>No change to the policy text.</p></section>";
    return;
  }
  parts::diffText(out, page.diff);
  out += "</section>";
}

}  // namespace

std::string renderPolicy(const PolicyPage& page, const PageContext& ctx) {
  std::string body;
  body.reserve(8192 + page.diff.size() * 2);
  body += "<h1>Policy</h1>";
  parts::pendingCommit(body, page.pending, ctx);
  diffSection(body, page);
  body += "<section aria-labelledby=\"revisions-title\"><h2 id=\"revisions-title\">Revisions</h2>";
  if (page.revisions.revisions_size() == 0) {
    body += "<p>No revision yet: the box runs its configured policy.</p>";
  } else {
    body +=
        "<p>The box keeps the last 50. Rolling back makes an earlier text current again, as a "
        "new revision.</p><div class=\"scroll\"><table class=\"revisions\"><thead><tr>"
        "<th scope=\"col\">Revision</th><th scope=\"col\">Created</th>"
        "<th scope=\"col\">Author</th><th scope=\"col\">Comment</th>"
        "<th scope=\"col\">Parent</th><th scope=\"col\">Actions</th></tr></thead><tbody>\n";
    for (const v1::Revision& r : page.revisions.revisions()) {
      revisionRow(body, r, page.current, ctx);
    }
    body += "</tbody></table></div>";
  }
  body += "</section>";
  return parts::layout("Policy", parts::Nav::kPolicy, &ctx, body);
}

}  // namespace muzzle::web
