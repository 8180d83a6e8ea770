// The request and answer between muzzled and muzzle-mud-fetch (fw/mud/mud_helper_protocol.h):
// what one side writes the other reads back exactly; anything else is refused, never trusted.
#include "fw/mud/mud_helper_protocol.h"

#include <doctest/doctest.h>

namespace muzzle {
namespace MUZZLE_UNITY_ID {

const std::string kUrl = "https://maker.example.com/cam.json";
const std::string kWho = "the MUD fetch helper H";

MudHelperRequest request() {
  return MudHelperRequest{kUrl, 4096, std::chrono::milliseconds(2500), "PEM\nTEXT\n"};
}

TEST_CASE("a request reads back as it was written") {
  auto back = decodeHelperRequest(encodeHelperRequest(request()));
  REQUIRE(back.ok());
  CHECK(back->url == kUrl);
  CHECK(back->max_bytes == 4096);
  CHECK(back->total_time == std::chrono::milliseconds(2500));
  CHECK(back->ca_pem == "PEM\nTEXT\n");
  MudHelperRequest no_ca = request();
  no_ca.ca_pem.clear();
  REQUIRE(decodeHelperRequest(encodeHelperRequest(no_ca)).ok());
}

TEST_CASE("a malformed request is refused, saying what is wrong") {
  const std::string good = encodeHelperRequest(request());
  const auto refusal = [](const std::string& text) {
    auto r = decodeHelperRequest(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    return r.status().message();
  };
  CHECK(refusal("").find("does not start with") != std::string::npos);
  CHECK(refusal("muzzle-mud-fetch 2\n" + good.substr(19)).find("does not start") !=
        std::string::npos);
  CHECK(refusal(good.substr(0, 19)).find("no url line") != std::string::npos);
  auto without = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  CHECK(refusal(without("max-bytes 4096", "max-bytes 0")).find("no max-bytes") !=
        std::string::npos);
  CHECK(refusal(without("max-bytes 4096", "max-bytes 99999999999")).find("no max-bytes") !=
        std::string::npos);
  CHECK(refusal(without("timeout-ms 2500", "timeout-ms -1")).find("no timeout-ms") !=
        std::string::npos);
  CHECK(refusal(without("timeout-ms 2500", "timeout-ms 600001")).find("no timeout-ms") !=
        std::string::npos);
  CHECK(refusal(without("url https", "url\x01https")).find("no url line") != std::string::npos);
  CHECK(refusal(without("ca-pem 9", "ca-pem 2000000")).find("no ca-pem") != std::string::npos);
  CHECK(refusal(good + "x").find("ca-pem says 9 bytes, 10 follow") != std::string::npos);
  CHECK(refusal(good.substr(0, good.size() - 1)).find("ca-pem says 9 bytes, 8 follow") !=
        std::string::npos);
}

TEST_CASE("answers: a body, each refusal, and what breaks the protocol") {
  const auto decode = [](const std::string& text, size_t max = 4096) {
    return decodeHelperAnswer(text, max, kUrl, kWho);
  };
  auto ok = decode(encodeHelperAnswer(std::string("{\n\"x\": 1}")));
  REQUIRE(std::holds_alternative<std::string>(ok));
  CHECK(std::get<std::string>(ok) == "{\n\"x\": 1}");
  auto empty = decode(encodeHelperAnswer(std::string()));
  REQUIRE(std::holds_alternative<std::string>(empty));
  CHECK(std::get<std::string>(empty).empty());

  for (MudRefusal reason :
       {MudRefusal::kNotHttps, MudRefusal::kTls, MudRefusal::kNetwork, MudRefusal::kTimeout,
        MudRefusal::kHttpError, MudRefusal::kTooLarge, MudRefusal::kPrivateAddress}) {
    auto back = decode(encodeHelperAnswer(MudFailure{reason, "said\nso"}));
    REQUIRE(std::holds_alternative<MudFailure>(back));
    CHECK(std::get<MudFailure>(back).reason == reason);
    CHECK(std::get<MudFailure>(back).message == "said so");  // one line
  }

  const auto broken = [&](const std::string& text) {
    auto r = decode(text);
    REQUIRE(std::holds_alternative<MudFailure>(r));
    CHECK(std::get<MudFailure>(r).reason == MudRefusal::kNetwork);
    return std::get<MudFailure>(r).message;
  };
  CHECK(broken("") == "MUD fetch of \"" + kUrl + "\": " + kWho + " answered nothing");
  CHECK(broken("refused made-up reason\n").find("answered something else") != std::string::npos);
  CHECK(broken("refused tls\n").find("answered something else") != std::string::npos);
  CHECK(broken("refused tls x\nmore").find("answered something else") != std::string::npos);
  CHECK(broken("ok x\n").find("a body of no size") != std::string::npos);
  CHECK(broken("ok 3\nab").find("announced 3 bytes and sent 2") != std::string::npos);
  CHECK(broken("ok 3\nabcd").find("announced 3 bytes and sent 4") != std::string::npos);
  auto big = decode("ok 5000\n", 4096);
  REQUIRE(std::holds_alternative<MudFailure>(big));
  CHECK(std::get<MudFailure>(big).reason == MudRefusal::kTooLarge);
  auto long_message = decode("refused tls " + std::string(700, 'm') + "\n");
  REQUIRE(std::holds_alternative<MudFailure>(long_message));
  CHECK(std::get<MudFailure>(long_message).message.size() < 700);  // cut short
}

}  // namespace
}  // namespace muzzle
