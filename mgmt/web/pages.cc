// The small pages: log in, the live events (filled by /static/console.js), and errors.
#include "mgmt/web/pages.h"

#include <string>

#include "mgmt/web/page_parts.h"

namespace muzzle::web {

using parts::text;

std::string renderLogin(std::string_view error) {
  std::string body;
  body +=
      "<div class=\"login\"><h1>Muzzle</h1><p>Log in to the box's console.</p>"
      "<form method=\"post\" action=\"/login\">";
  if (!error.empty()) {
    body += "<p class=\"notice error\" role=\"alert\">";
    text(body, error);
    body += "</p>";
  }
  body +=
      "<p><label for=\"name\">Name</label><input id=\"name\" name=\"name\" type=\"text\" "
      "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required "
      "autofocus></p><p><label for=\"password\">Password</label><input id=\"password\" "
      "name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>"
      "<p><button type=\"submit\" class=\"primary\">Log in</button></p></form>"
      "<p class=\"hint\">An admin adds accounts on the box with <code>muzzlectl web user "
      "add</code>.</p></div>";
  return parts::layout("Log in", parts::Nav::kNone, nullptr, body);
}

std::string renderEvents(const PageContext& ctx) {
  // The list starts empty; console.js fills it from /events/stream and keeps the newest 500.
  std::string body =
      "<h1>Events</h1><p>What the box does as it happens: denied attempts, new devices, "
      "policy changes. <code>muzzlectl events</code> shows the same.</p>"
      "<div class=\"filter\"><label for=\"event-filter\">Filter</label> <input "
      "id=\"event-filter\" type=\"search\" autocomplete=\"off\" spellcheck=\"false\" "
      "placeholder=\"deny, a MAC, a name\"> <span id=\"event-count\" class=\"hint\"></span></div>"
      "<p id=\"event-state\" class=\"stream-state\" role=\"status\">The live list needs "
      "JavaScript.</p><ol id=\"event-list\" class=\"events\" data-stream=\"/events/stream\" "
      "data-max=\"500\"></ol>";
  return parts::layout("Events", parts::Nav::kEvents, &ctx, body);
}

namespace {

std::string_view statusText(int status) {
  switch (status) {
    case 400:
      return "Bad request";
    case 401:
      return "Not logged in";
    case 403:
      return "Not allowed";
    case 404:
      return "Not found";
    case 405:
      return "Method not allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Too large";
    case 429:
      return "Too many requests";
    case 500:
      return "Internal error";
    case 503:
      return "Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

std::string renderError(int status, std::string_view message, const PageContext* ctx) {
  const std::string title = std::to_string(status) + " " + std::string(statusText(status));
  std::string body = "<h1>";
  text(body, title);
  body += "</h1><p class=\"notice error\">";
  text(body, message);
  body += "</p><p><a href=\"/\">Back to the overview</a></p>";
  return parts::layout(title, parts::Nav::kNone, ctx, body);
}

}  // namespace muzzle::web
