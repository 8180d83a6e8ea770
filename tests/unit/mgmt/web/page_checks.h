// What every console page must keep, checked on the markup itself: the Content-Security-Policy
// (https_server.h) forbids inline script and style, so a page with an on*= handler, a style
// attribute or a <script> without src would break in the browser — and would be the first
// step of an injection. The tags are read one by one (attribute values always double-quoted),
// so escaped text such as "onerror=" inside a value or between tags is not mistaken for one.
#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace muzzle::web::testing {

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Every problem found; empty when the page keeps the rules.
inline std::vector<std::string> markupProblems(std::string_view html) {
  std::vector<std::string> problems;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string_view::npos) {
    if (html.substr(i, 4) == "<!--") {
      problems.push_back("a comment");
      i += 4;
      continue;
    }
    size_t k = i + 1;
    if (k < html.size() && (html[k] == '/' || html[k] == '!')) {  // end tag, doctype
      i = html.find('>', k);
      if (i == std::string_view::npos) break;
      continue;
    }
    size_t name_end = k;
    while (name_end < html.size() && std::isalnum(static_cast<unsigned char>(html[name_end]))) {
      ++name_end;
    }
    const std::string tag = lower(html.substr(k, name_end - k));
    if (tag.empty()) {
      problems.push_back("a bare '<' at " + std::to_string(i));
      ++i;
      continue;
    }
    bool has_src = false;
    k = name_end;
    while (k < html.size() && html[k] != '>') {
      if (std::isspace(static_cast<unsigned char>(html[k]))) {
        ++k;
        continue;
      }
      size_t a = k;
      while (a < html.size() && !std::isspace(static_cast<unsigned char>(html[a])) &&
             html[a] != '=' && html[a] != '>') {
        ++a;
      }
      const std::string attr = lower(html.substr(k, a - k));
      if (attr.rfind("on", 0) == 0) problems.push_back("handler " + attr + " on <" + tag + ">");
      if (attr == "style") problems.push_back("style attribute on <" + tag + ">");
      if (attr == "src") has_src = true;
      k = a;
      if (k < html.size() && html[k] == '=') {
        if (k + 1 >= html.size() || html[k + 1] != '"') {
          problems.push_back("unquoted value of " + attr + " on <" + tag + ">");
          ++k;
          continue;
        }
        const size_t close = html.find('"', k + 2);
        if (close == std::string_view::npos) {
          problems.push_back("unclosed value of " + attr);
          return problems;
        }
        k = close + 1;
      }
    }
    if (tag == "style") problems.push_back("a <style> element");
    if (tag == "script") {
      if (!has_src) problems.push_back("an inline <script>");
      if (html.substr(k, 10) != "></script>") problems.push_back("a <script> with content");
    }
    i = k;
  }
  return problems;
}

inline size_t occurrences(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace muzzle::web::testing
