// The web console's pages: pure functions from the management API's own messages to HTML, so
// a page shows exactly what the API answers, and can be tested and timed without a box.
// Everything a device or a client wrote (DHCP hostnames, DNS names, vendor classes, device
// names, comments, policy text) goes through escapeHtml: a device announcing itself as
// "<script>" is shown as text. The pages hold no inline script or style: the Content-Security-
// Policy (https_server.h) allows only /static/ files, and the JavaScript there is small
// (live events, the confirm countdown) — every page works without it.
//
// Routes the pages link and post to (console.cc serves them):
//   GET  /                         overview        GET  /devices/<MAC>   one device
//   GET  /events                   live events     GET  /events/stream   server-sent events
//   GET  /policy[?revision=N]      revisions, the diff of N against its parent
//   GET  /login, POST /login (name, password), POST /logout
//   POST /devices/<MAC>/quarantine, /devices/<MAC>/release, /devices/<MAC>/assign (profile)
//   POST /devices/<MAC>/learn (seconds), /devices/<MAC>/learn/stop
//   GET  /devices/<MAC>/proposal[?profile=P], POST /devices/<MAC>/proposal/apply (profile, base)
//   POST /policy/confirm, POST /policy/rollback (revision)
//   GET  /static/<file>            the assets below
// Every form that changes something carries the hidden field `csrf` (PageContext::csrf).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mgmt/server/role.h"
#include "muzzle/v1/learn.pb.h"
#include "muzzle/v1/management.pb.h"

namespace muzzle::web {

// Who looks at the page. Buttons for a change appear only for a role the API lets make it
// (operator and up: device actions, confirm, roll back).
struct PageContext {
  std::string user;
  Role role = Role::kNone;
  std::string csrf;
  std::string notice;  // one line shown on top (the outcome of the last change), may be ""
  bool notice_is_error = false;
  // The box's clock when the page is made (Unix seconds), for "3 min ago" and for the commit
  // countdown to follow the box's clock rather than the browser's; 0: unknown (times are shown
  // without it). The pages never read a clock themselves, so a test sets it.
  int64_t now_unix = 0;
};

// & < > " ' escaped; bytes that are not valid UTF-8 and control characters replaced by U+FFFD.
std::string escapeHtml(std::string_view text);

// Times as the pages show them: UTC, no locale ("2026-12-03 14:05:09"), and how long ago
// ("just now", "3 min ago", "2 h ago", "5 days ago"; "in 4 min" for a time ahead).
std::string formatUtc(int64_t unix_seconds);
std::string formatAgo(int64_t then_unix, int64_t now_unix);
// Byte counts in decimal units ("980 B", "1.2 MB"), as a home user reads them.
std::string formatBytes(uint64_t bytes);

std::string renderLogin(std::string_view error);  // error "" for none

// Denied flows per minute over the last hour, oldest first (at most 60 values), as an inline
// SVG bar chart with its numbers as text (title elements) for screen readers.
std::string renderDenialChart(const std::vector<uint32_t>& per_minute);

struct OverviewPage {
  v1::GetStatusResponse status;
  v1::ListDevicesResponse devices;
  v1::ListRevisionsResponse revisions;
  std::vector<uint32_t> denials_per_minute;
};
// Devices grouped by profile, new devices awaiting a decision (not listed, not classified)
// first; the denial chart; the revision and a pending commit with a Confirm button and its
// countdown; health (queues, drops, fail mode).
std::string renderOverview(const OverviewPage& page, const PageContext& ctx);

// One destination a device tried: from the events (deny, and allow lines of rules with log).
struct Attempt {
  std::string target;  // "203.0.113.9:443/tcp" as the event's dst= says
  std::string name;    // the DNS name the device used, "" when none
  bool allowed = false;
  uint64_t count = 0;
  int64_t last_unix = 0;  // seconds
};
struct DevicePage {
  v1::DeviceInfo device;
  std::vector<Attempt> attempts;      // most recent first
  std::vector<std::string> profiles;  // the policy's profile names, for "assign"
};
// Vendor, addresses, DHCP facts, profile and why; what it tried to reach; buttons to assign a
// profile, quarantine, release.
std::string renderDevice(const DevicePage& page, const PageContext& ctx);

// A learning proposal for one device (learn.proto): the profile the recorded flows make, as a
// diff of the current policy, with its findings (hard-coded addresses, DNS bypass, ...); Apply
// for an admin (POST /devices/<MAC>/proposal/apply with `profile` and `base`), and a form to
// name the profile (GET ?profile=NAME) for a device on the default profile.
struct ProposalPage {
  v1::DeviceInfo device;
  std::string profile;  // asked for ("" : the device's own)
  v1::ProposeProfileResponse proposal;
  std::string problem;  // why there is no proposal (the API's refusal), "" when there is one
};
std::string renderProposal(const ProposalPage& page, const PageContext& ctx);

// The live events page: a filter box, and /static/console.js fills the list from
// /events/stream.
std::string renderEvents(const PageContext& ctx);

struct PolicyPage {
  v1::ListRevisionsResponse revisions;  // as the API lists them
  uint64_t current = 0;
  v1::PendingCommit pending;            // revision 0: none
  uint64_t selected = 0;                // the revision whose diff is shown, 0: none
  std::string diff;                     // unified diff of `selected` against its parent
};
// Revisions (number, time, author, comment), the selected one's diff, Roll back buttons, and
// the commit-confirmed countdown with Confirm.
std::string renderPolicy(const PolicyPage& page, const PageContext& ctx);

// A page for an error (404, 403, 500, ...) with one escaped line.
std::string renderError(int status, std::string_view message, const PageContext* ctx);

// The files under /static/, compiled in (nothing is read from disk, so no URL can name a file).
struct Asset {
  std::string_view content_type;
  std::string_view body;
};
// nullptr for any other path.
const Asset* findAsset(std::string_view path);

}  // namespace muzzle::web
