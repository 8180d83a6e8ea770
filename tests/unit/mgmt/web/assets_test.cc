// The files under /static/: the three the pages name, and nothing for any other path.
#include <doctest/doctest.h>

#include <string>

#include "mgmt/web/pages.h"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

TEST_CASE("findAsset serves the stylesheet, the script and the icon") {
  const Asset* css = findAsset("/static/console.css");
  REQUIRE(css != nullptr);
  CHECK(css->content_type == "text/css; charset=utf-8");
  CHECK(css->body.find("@media (max-width: 700px)") != std::string_view::npos);
  const Asset* js = findAsset("/static/console.js");
  REQUIRE(js != nullptr);
  CHECK(js->content_type == "text/javascript; charset=utf-8");
  CHECK(js->body.find("new EventSource(") != std::string_view::npos);
  CHECK(js->body.find("textContent") != std::string_view::npos);
  CHECK(js->body.find("innerHTML") == std::string_view::npos);
  CHECK(js->body.find("eval(") == std::string_view::npos);
  CHECK(js->body.find("http") == std::string_view::npos);  // nothing fetched from elsewhere
  const Asset* icon = findAsset("/static/favicon.svg");
  REQUIRE(icon != nullptr);
  CHECK(icon->content_type == "image/svg+xml");
  CHECK(icon->body.starts_with("<svg"));
}

TEST_CASE("findAsset names nothing else") {
  for (const char* path :
       {"/static/../x", "/static/%2e%2e/", "/static/", "/static", "/static/console.css/",
        "/static//console.css", "/static/./console.css", "/static/Console.css",
        "/static/console.css?v=1", "/static/console.css%00", "static/console.css",
        "/STATIC/console.css", "/static/console.css/..", "/static/..%2fconsole.css",
        "//static/console.css", "", "/", "/etc/passwd", "/static/pages.cc"}) {
    CAPTURE(path);
    CHECK(findAsset(path) == nullptr);
  }
  CHECK(findAsset(std::string_view("/static/console.css\0", 20)) == nullptr);
}

}  // namespace
}  // namespace muzzle::web
