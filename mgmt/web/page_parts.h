// The pieces every console page is built from (internal to muzzle_web_pages): the common
// layout, escaped text, forms that carry the CSRF token, times, and the pending-commit block the
// overview and the policy page share. Pages append to one std::string: an overview of thousands
// of devices is built without a copy per row.
//
// The rule that keeps the pages safe lives here: text goes out through text() (escaped), an
// attribute value through attr() (escaped, always double-quoted), and nothing else from a
// message is appended raw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mgmt/web/pages.h"

namespace muzzle::web::parts {

enum class Nav { kNone, kOverview, kEvents, kPolicy };

// Appends `value` escaped (escapeHtml) without a temporary string.
void text(std::string& out, std::string_view value);
// Appends ` name="value"` with the value escaped.
void attr(std::string& out, std::string_view name, std::string_view value);
void number(std::string& out, uint64_t value);
// One <dt>/<dd> pair of a <dl>, the value escaped; an empty value shows as "—" (the box has
// not learned it: a device page has the same lines for every device); `warn` marks a value that
// needs a look.
void fact(std::string& out, std::string_view name, std::string_view value, bool warn = false);

// The whole document: head (viewport, the stylesheet, the script), header with the box's
// name, nav, the user and the Log out form (when ctx is set), ctx->notice, then `body` inside
// <main>. `title` is plain text (escaped here).
std::string layout(std::string_view title, Nav current, const PageContext* ctx,
                   std::string_view body);

// A POST form of one button, with the CSRF token and at most one more hidden field. `confirm`,
// when not empty, is the question console.js asks before it is sent.
struct PostForm {
  std::string_view action;  // a path the pages build (escaped anyway)
  std::string_view button;
  std::string_view field_name = {};
  std::string_view field_value = {};
  std::string_view confirm = {};
  std::string_view button_class = {};
};
void postForm(std::string& out, const PageContext& ctx, const PostForm& form);
void csrfField(std::string& out, const PageContext& ctx);

// "/devices/<mac>" with anything but [0-9A-Za-z:._~-] percent-encoded, so a MAC as the API
// gives it stays readable and anything else cannot leave the path. Not yet HTML-escaped.
std::string devicePath(std::string_view mac);

// <time datetime="...Z">2026-12-03 14:05:09</time>, then " · 3 min ago" when ctx knows the
// time; "never" for 0.
void timeText(std::string& out, int64_t unix_seconds, int64_t now_unix);

// A unified diff in <pre class="diff">, each line escaped in a span classed by what it is
// (file, hunk, add, del, ctx).
void diffText(std::string& out, std::string_view diff);

// "Revision 7 is not confirmed: it rolls back to 6 at ..." with the countdown console.js runs
// (data-deadline, Unix seconds) and, for operator and up, the Confirm form. Nothing when
// pending.revision is 0.
void pendingCommit(std::string& out, const v1::PendingCommit& pending, const PageContext& ctx);

inline bool mayChange(const PageContext& ctx) { return ctx.role >= Role::kOperator; }

}  // namespace muzzle::web::parts
