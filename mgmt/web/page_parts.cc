#include "mgmt/web/page_parts.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace muzzle::web {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the valid UTF-8 sequence at text[i], or 0 when the bytes there are not one
// (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short).
// `*consumed` is how many bytes the invalid part covers (the lead byte and the continuation
// bytes that could still have belonged to it), so one bad sequence becomes one U+FFFD.
size_t utf8Length(std::string_view text, size_t i, size_t* consumed) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // below: overlong
    if (lead == 0xED) high = 0x9F;  // above: surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // below: overlong
    if (lead == 0xF4) high = 0x8F;  // above: past U+10FFFF
  } else {
    *consumed = 1;  // ASCII is handled by the caller; C0, C1, F5..FF, continuation bytes
    return 0;
  }
  size_t k = 1;
  for (; k < length && i + k < text.size(); ++k) {
    const unsigned char b = byte(i + k);
    const unsigned char lo = k == 1 ? low : 0x80, hi = k == 1 ? high : 0xBF;
    if (b < lo || b > hi) break;
  }
  *consumed = k;
  return k == length ? length : 0;
}

}  // namespace

std::string escapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  parts::text(out, text);
  return out;
}

std::string formatUtc(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "?";
  char buf[32];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return std::string(buf, n);
}

std::string formatAgo(int64_t then_unix, int64_t now_unix) {
  const bool ahead = then_unix > now_unix;
  const int64_t d = ahead ? then_unix - now_unix : now_unix - then_unix;
  if (d < 45) return ahead ? "in a moment" : "just now";
  std::string amount;
  if (d < 90 * 60) {
    amount = std::to_string((d + 30) / 60) + " min";
  } else if (d < 36 * 3600) {
    amount = std::to_string((d + 1800) / 3600) + " h";
  } else {
    const int64_t days = (d + 43200) / 86400;
    amount = std::to_string(days) + " days";  // from 36 h on: at least 2
  }
  return ahead ? "in " + amount : amount + " ago";
}

std::string formatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  if (bytes < 1000) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1000;
  size_t unit = 0;
  while (value >= 999.95 && unit + 1 < std::size(kUnits)) {
    value /= 1000;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return buf;
}

namespace parts {

void text(std::string& out, std::string_view value) {
  size_t i = 0;
  while (i < value.size()) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    // Runs of ordinary ASCII go out in one append: most text is only that.
    size_t run = i;
    while (run < value.size()) {
      const unsigned char r = static_cast<unsigned char>(value[run]);
      if (r < 0x20 || r >= 0x7F || r == '&' || r == '<' || r == '>' || r == '"' || r == '\'') {
        break;
      }
      ++run;
    }
    if (run > i) {
      out.append(value.substr(i, run - i));
      i = run;
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        ++i;
        continue;
      case '<':
        out += "&lt;";
        ++i;
        continue;
      case '>':
        out += "&gt;";
        ++i;
        continue;
      case '"':
        out += "&quot;";
        ++i;
        continue;
      case '\'':
        out += "&#39;";
        ++i;
        continue;
      case '\n':
      case '\t':
        out += static_cast<char>(c);
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x80) {  // the other C0 controls and DEL: a device name must not carry them
      out += kReplacement;
      ++i;
      continue;
    }
    size_t consumed = 0;
    const size_t length = utf8Length(value, i, &consumed);
    if (length > 0) {
      out.append(value.substr(i, length));
      i += length;
    } else {
      out += kReplacement;
      i += consumed;
    }
  }
}

void attr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  text(out, value);
  out += '"';
}

void number(std::string& out, uint64_t value) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, result.ptr);
}

void fact(std::string& out, std::string_view name, std::string_view value, bool warn) {
  out += "<dt>";
  text(out, name);
  out += warn ? "</dt><dd class=\"warn\">" : "</dt><dd>";
  if (value.empty()) {
    out += "<span class=\"none\">—</span>";
  } else {
    text(out, value);
  }
  out += "</dd>";
}

namespace {

void navLink(std::string& out, std::string_view href, std::string_view label, bool current) {
  out += "<li><a";
  attr(out, "href", href);
  if (current) out += " aria-current=\"page\"";
  out += '>';
  out += label;
  out += "</a></li>";
}

void header(std::string& out, Nav current, const PageContext& ctx) {
  out += "<header class=\"top\"><a class=\"brand\" href=\"/\">Muzzle</a>";
  out += "<nav aria-label=\"Console\"><ul>";
  navLink(out, "/", "Overview", current == Nav::kOverview);
  navLink(out, "/events", "Events", current == Nav::kEvents);
  navLink(out, "/policy", "Policy", current == Nav::kPolicy);
  out += "</ul></nav><div class=\"who\"><span class=\"user\">";
  text(out, ctx.user);
  out += "</span> <span class=\"role\">";
  out += roleName(ctx.role);
  out += "</span>";
  postForm(out, ctx, {.action = "/logout", .button = "Log out", .button_class = "link"});
  out += "</div></header>";
}

}  // namespace

std::string layout(std::string_view title, Nav current, const PageContext* ctx,
                   std::string_view body) {
  std::string out;
  out.reserve(body.size() + 2048);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>";
  text(out, title);
  out +=
      " · Muzzle</title>"
      "<link rel=\"stylesheet\" href=\"/static/console.css\">"
      "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"
      "<script src=\"/static/console.js\" defer></script></head>\n<body>";
  if (ctx != nullptr) header(out, current, *ctx);
  out += "<main>";
  if (ctx != nullptr && !ctx->notice.empty()) {
    out += ctx->notice_is_error ? "<p class=\"notice error\" role=\"alert\">"
                                : "<p class=\"notice\" role=\"status\">";
    text(out, ctx->notice);
    out += "</p>";
  }
  out += body;
  out += "</main></body></html>\n";
  return out;
}

void csrfField(std::string& out, const PageContext& ctx) {
  out += "<input type=\"hidden\" name=\"csrf\"";
  attr(out, "value", ctx.csrf);
  out += '>';
}

void postForm(std::string& out, const PageContext& ctx, const PostForm& form) {
  out += "<form method=\"post\"";
  attr(out, "action", form.action);
  if (!form.confirm.empty()) attr(out, "data-confirm", form.confirm);
  out += '>';
  csrfField(out, ctx);
  if (!form.field_name.empty()) {
    out += "<input type=\"hidden\"";
    attr(out, "name", form.field_name);
    attr(out, "value", form.field_value);
    out += '>';
  }
  out += "<button type=\"submit\"";
  if (!form.button_class.empty()) attr(out, "class", form.button_class);
  out += '>';
  text(out, form.button);
  out += "</button></form>";
}

std::string devicePath(std::string_view mac) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string path = "/devices/";
  for (const char ch : mac) {
    const unsigned char c = static_cast<unsigned char>(ch);
    const bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c == ':' || c == '.' || c == '_' || c == '~' || c == '-';
    if (plain) {
      path += ch;
    } else {
      path += '%';
      path += kHex[c >> 4];
      path += kHex[c & 0xF];
    }
  }
  return path;
}

void timeText(std::string& out, int64_t unix_seconds, int64_t now_unix) {
  if (unix_seconds == 0) {
    out += "never";
    return;
  }
  const std::string utc = formatUtc(unix_seconds);
  out += "<time datetime=\"";
  out.append(utc, 0, 10);
  out += 'T';
  if (utc.size() > 11) out.append(utc, 11);
  out += "Z\">";
  out += utc;
  out += "</time>";
  if (now_unix != 0) {
    out += " <span class=\"ago\">";
    out += formatAgo(unix_seconds, now_unix);
    out += "</span>";
  }
}

void pendingCommit(std::string& out, const v1::PendingCommit& pending, const PageContext& ctx) {
  if (pending.revision() == 0) return;
  const int64_t deadline = pending.deadline().seconds();
  out += "<section class=\"pending\" aria-labelledby=\"pending-title\">";
  out += "<h2 id=\"pending-title\">A change awaits confirmation</h2><p>Revision ";
  number(out, pending.revision());
  out += " is not confirmed: it rolls back to ";
  number(out, pending.rollback_to());
  out += " at ";
  timeText(out, deadline, 0);
  out += " UTC";
  if (!pending.author().empty()) {
    out += " (applied by ";
    text(out, pending.author());
    out += ')';
  }
  out += ".</p><p class=\"countdown\" aria-live=\"polite\"";
  attr(out, "data-deadline", std::to_string(deadline));
  if (ctx.now_unix != 0) attr(out, "data-now", std::to_string(ctx.now_unix));
  out += '>';
  if (ctx.now_unix != 0) {
    out += deadline > ctx.now_unix ? "Rolls back " + formatAgo(deadline, ctx.now_unix) + "."
                                   : std::string("The deadline has passed.");
  }
  out += "</p>";
  if (mayChange(ctx)) {
    const std::string button = "Confirm revision " + std::to_string(pending.revision());
    postForm(out, ctx, {.action = "/policy/confirm", .button = button, .button_class = "primary"});
  } else {
    out += "<p>An operator or an admin can confirm it.</p>";
  }
  out += "</section>";
}

}  // namespace parts

namespace {

std::string_view diffClass(std::string_view line) {
  if (line.starts_with("+++") || line.starts_with("---")) return "file";
  if (line.starts_with("@@")) return "hunk";
  if (line.starts_with("+")) return "add";
  if (line.starts_with("-")) return "del";
  return "ctx";
}

}  // namespace

namespace parts {

void diffText(std::string& out, std::string_view diff) {
  out += "<pre class=\"diff\">";
  while (!diff.empty()) {
    const size_t end = diff.find('\n');
    const std::string_view line = diff.substr(0, end);
    out += "<span class=\"";
    out += diffClass(line);
    out += "\">";
    text(out, line);
    out += "</span>\n";
    diff = end == std::string_view::npos ? std::string_view() : diff.substr(end + 1);
  }
  out += "</pre>";
}

}  // namespace parts
}  // namespace muzzle::web
