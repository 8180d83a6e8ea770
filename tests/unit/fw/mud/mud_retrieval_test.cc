// retrieveMud with a fake web (MudFetcher) and a ManualClock: a signed file becomes an import and
// is cached for its cache-validity; every failure is refused with its reason and caches nothing.
#include "fw/mud/mud_retrieval.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <fstream>
#include <map>
#include <vector>

#include "fw/mud/mud_curl_fetcher.h"
#include "tests/unit/fw/mud/mud_pki.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using test::TestIdentity;

const std::string kUrl = "https://maker.example.com/cam.json";

std::string camFile(const std::string& url = kUrl, const std::string& extra = "") {
  return test::camMudFile(url, extra);
}

// Answers from a table; counts what was asked.
class FakeWeb : public MudFetcher {
 public:
  std::variant<std::string, MudFailure> get(const std::string& url) override {
    asked.push_back(url);
    auto it = pages.find(url);
    if (it == pages.end()) return MudFailure{MudRefusal::kHttpError, url + ": 404"};
    return it->second;
  }
  std::map<std::string, std::variant<std::string, MudFailure>> pages;
  std::vector<std::string> asked;
};

struct Site {
  TestIdentity ca{"Lab MUD CA", nullptr, true};
  TestIdentity signer{"maker.example.com", &ca, false};
  testing::TempDir dir{"muzzle-mud-cache"};
  ManualClock clock;
  MudCache cache{dir.path + "/mud", clock};
  FakeWeb web;

  void publish(const std::string& file, const std::string& sig_url = "https://maker.example.com/cam.p7s") {
    web.pages[kUrl] = file;
    web.pages[sig_url] = signer.signDetached(file);
  }
  std::variant<RetrievedMud, MudFailure> retrieve() {
    return retrieveMud(kUrl, ca.certPem(), web, &cache);
  }
};

MudRefusal refused(const std::variant<RetrievedMud, MudFailure>& r) {
  REQUIRE_MESSAGE(std::holds_alternative<MudFailure>(r), "expected a refusal");
  return std::get<MudFailure>(r).reason;
}

RetrievedMud ok(const std::variant<RetrievedMud, MudFailure>& r) {
  REQUIRE_MESSAGE(std::holds_alternative<RetrievedMud>(r),
                  (std::holds_alternative<MudFailure>(r) ? std::get<MudFailure>(r).message : ""));
  return std::get<RetrievedMud>(r);
}

TEST_CASE("a signed file is fetched with its .p7s, verified and imported") {
  Site s;
  s.publish(camFile());
  const RetrievedMud r = ok(s.retrieve());
  CHECK(!r.from_cache);
  CHECK(r.cache_error.empty());
  CHECK(r.import.profile_name == "cam");
  REQUIRE(r.import.profile.egress_size() == 1);
  CHECK(r.import.profile.egress(0).allow(0) == "cloud.maker.example.com");
  CHECK(r.import.profile.egress(0).ports(0) == "443");
  CHECK(s.web.asked == std::vector<std::string>{kUrl, "https://maker.example.com/cam.p7s"});
}

TEST_CASE("the signature is fetched from the file's mud-signature when it names one") {
  Site s;
  const std::string sig_url = "https://sig.maker.example.com/x/cam-signature.p7s";
  s.publish(camFile(kUrl, R"("mud-signature": ")" + sig_url + R"(", )"), sig_url);
  ok(s.retrieve());
  CHECK(s.web.asked.back() == sig_url);
}

TEST_CASE("a cached file is used while fresh, re-verified, and fetched again when it expires") {
  Site s;
  s.publish(camFile(kUrl, R"("cache-validity": 2, )"));
  ok(s.retrieve());
  s.web.asked.clear();
  s.clock.advance(std::chrono::minutes(119));
  CHECK(ok(s.retrieve()).from_cache);
  CHECK(s.web.asked.empty());
  s.clock.advance(std::chrono::minutes(2));  // past 2 hours
  CHECK(!ok(s.retrieve()).from_cache);
  CHECK(s.web.asked.size() == 2);
}

TEST_CASE("a cached file is checked against today's trust file, not the one it was cached under") {
  Site s;
  s.publish(camFile());
  ok(s.retrieve());
  TestIdentity other{"Other CA", nullptr, true};
  auto r = retrieveMud(kUrl, other.certPem(), s.web, &s.cache);
  CHECK(refused(r) == MudRefusal::kUntrustedSigner);
}

TEST_CASE("a tampered file is refused as bad-signature and not cached") {
  Site s;
  s.publish(camFile());
  std::string tampered = camFile();
  tampered.replace(tampered.find("443"), 3, "444");
  s.web.pages[kUrl] = tampered;
  auto r = s.retrieve();
  CHECK(refused(r) == MudRefusal::kBadSignature);
  CHECK(std::get<MudFailure>(r).message.find(kUrl) != std::string::npos);
  CHECK(!s.cache.lookup(kUrl).has_value());
}

TEST_CASE("a file signed by a stranger is refused as untrusted-signer") {
  Site s;
  TestIdentity stranger{"stranger", nullptr, false};
  s.web.pages[kUrl] = camFile();
  s.web.pages["https://maker.example.com/cam.p7s"] = stranger.signDetached(camFile());
  CHECK(refused(s.retrieve()) == MudRefusal::kUntrustedSigner);
}

TEST_CASE("the fetcher's refusals pass through: TLS, too large, HTTP error, not https") {
  for (MudRefusal why : {MudRefusal::kTls, MudRefusal::kTooLarge, MudRefusal::kHttpError,
                         MudRefusal::kNotHttps, MudRefusal::kTimeout}) {
    Site s;
    s.web.pages[kUrl] = MudFailure{why, "refused"};
    CHECK(refused(s.retrieve()) == why);
    CHECK(s.web.asked.size() == 1);  // no signature fetched for a file that never came
  }
  Site s;  // the signature's own fetch failing
  s.publish(camFile());
  s.web.pages["https://maker.example.com/cam.p7s"] = MudFailure{MudRefusal::kTooLarge, "big"};
  auto r = s.retrieve();
  CHECK(refused(r) == MudRefusal::kTooLarge);
  CHECK(std::get<MudFailure>(r).message.find("signature") != std::string::npos);
}

TEST_CASE("a malformed file, or one naming another mud-url, is refused as malformed") {
  Site s;
  s.publish("{\"ietf-mud:mud\": ");
  CHECK(refused(s.retrieve()) == MudRefusal::kMalformed);
  Site t;
  t.publish(camFile("https://maker.example.com/other-model.json"));
  auto r = t.retrieve();
  CHECK(refused(r) == MudRefusal::kMalformed);
  CHECK(std::get<MudFailure>(r).message.find("another mud-url") != std::string::npos);
}

TEST_CASE("a signature that is not CMS is refused as not-cms; an empty trust file clearly") {
  Site s;
  s.publish(camFile());
  s.web.pages["https://maker.example.com/cam.p7s"] = std::string("<html>Not found</html>");
  CHECK(refused(s.retrieve()) == MudRefusal::kNotCms);
  Site t;
  t.publish(camFile());
  CHECK(refused(retrieveMud(kUrl, "", t.web, &t.cache)) == MudRefusal::kNoTrustAnchors);
}

TEST_CASE("cache-validity is capped at 168 hours and defaults to 48") {
  CHECK(mudCacheHours(std::nullopt) == 48);
  CHECK(mudCacheHours(1000) == 168);
  CHECK(mudCacheHours(0) == 1);
  Site s;
  s.publish(camFile(kUrl, R"("cache-validity": 168, )"));
  ok(s.retrieve());
  s.clock.advance(std::chrono::hours(167));
  CHECK(s.cache.lookup(kUrl).has_value());
  s.clock.advance(std::chrono::hours(1));
  CHECK(!s.cache.lookup(kUrl).has_value());
}

TEST_CASE("a damaged cache entry is a miss, not an error") {
  Site s;
  s.publish(camFile());
  ok(s.retrieve());
  for (const auto& e : std::filesystem::directory_iterator(s.dir.path + "/mud")) {
    if (e.path().extension() == ".meta") {
      std::ofstream(e.path()) << "garbage";
    }
  }
  CHECK(!s.cache.lookup(kUrl).has_value());
  CHECK(!ok(s.retrieve()).from_cache);
}

TEST_CASE("an http:// URL is refused before any connection") {
  CurlMudFetcher curl(MudFetchLimits{});
  auto r = curl.get("http://maker.example.com/cam.json");
  REQUIRE(std::holds_alternative<MudFailure>(r));
  CHECK(std::get<MudFailure>(r).reason == MudRefusal::kNotHttps);
  CHECK(isHttpsUrl("HTTPS://maker.example.com/x"));
  CHECK(!isHttpsUrl("https:///x"));
  CHECK(!isHttpsUrl("ftp://maker.example.com/x"));
  CHECK(!isHttpsUrl("https://"));
}

TEST_CASE("CurlMudFetcher connects to public addresses only") {
  auto v4 = [](uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    const uint8_t x[4] = {a, b, c, d};
    return isPublicAddress(x, 4);
  };
  CHECK(v4(203, 0, 113, 80));
  CHECK(v4(8, 8, 8, 8));
  CHECK(v4(172, 32, 0, 1));   // just past 172.16.0.0/12
  CHECK(v4(198, 20, 0, 1));   // just past 198.18.0.0/15
  CHECK(v4(100, 128, 0, 1));  // just past 100.64.0.0/10
  CHECK_FALSE(v4(127, 0, 0, 1));
  CHECK_FALSE(v4(0, 0, 0, 0));
  CHECK_FALSE(v4(10, 1, 2, 3));
  CHECK_FALSE(v4(172, 31, 255, 255));
  CHECK_FALSE(v4(192, 168, 1, 1));
  CHECK_FALSE(v4(169, 254, 169, 254));
  CHECK_FALSE(v4(100, 64, 0, 1));
  CHECK_FALSE(v4(198, 18, 10, 1));
  CHECK_FALSE(v4(198, 19, 255, 1));
  CHECK_FALSE(v4(224, 0, 0, 251));
  CHECK_FALSE(v4(255, 255, 255, 255));
  CHECK_FALSE(v4(192, 0, 0, 170));
  auto v6 = [](const char* text) {
    in6_addr a{};
    REQUIRE(inet_pton(AF_INET6, text, &a) == 1);
    return isPublicAddress(a.s6_addr, 16);
  };
  CHECK(v6("2001:db8:cafe::80"));
  CHECK(v6("2a00:1450::1"));
  CHECK(v6("::ffff:203.0.113.80"));
  CHECK_FALSE(v6("::"));
  CHECK_FALSE(v6("::1"));
  CHECK_FALSE(v6("fd00:10::1"));
  CHECK_FALSE(v6("fc00::1"));
  CHECK_FALSE(v6("fe80::1"));
  CHECK_FALSE(v6("ff02::1"));
  CHECK_FALSE(v6("::ffff:127.0.0.1"));
  CHECK_FALSE(v6("::ffff:192.168.0.1"));
  CHECK_FALSE(v6("64:ff9b::10.0.0.1"));
  CHECK_FALSE(v6("::127.0.0.1"));
  const uint8_t odd[5] = {};
  CHECK_FALSE(isPublicAddress(odd, 5));

  // Through libcurl: the socket is refused before it exists, so nothing is sent anywhere.
  CurlMudFetcher curl(MudFetchLimits{});
  for (const char* url : {"https://127.0.0.1:9/cam.json", "https://[::1]:9/cam.json",
                          "https://localhost:9/cam.json"}) {
    CAPTURE(url);
    auto r = curl.get(url);
    REQUIRE(std::holds_alternative<MudFailure>(r));
    CHECK(std::get<MudFailure>(r).reason == MudRefusal::kPrivateAddress);
    CHECK(std::get<MudFailure>(r).message.find("private or local address") != std::string::npos);
    CHECK(std::string(mudRefusalName(std::get<MudFailure>(r).reason)) == "private-address");
  }
}

}  // namespace
}  // namespace muzzle
