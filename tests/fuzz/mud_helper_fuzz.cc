// libFuzzer target for what muzzled and muzzle-mud-fetch read from each other
// (fw/mud/mud_helper_protocol.h): the first byte picks the reader, the rest is the message.
//   even: a request, as the helper reads it from muzzled (or from whoever reaches its socket)
//   odd:  an answer, as muzzled reads it from the helper, with max_bytes 2^(byte/2 % 20)
// Oracle: the sanitizers, and: a request that decodes encodes and decodes to the same fields;
// a body is at most max_bytes and reads back the same through encodeHelperAnswer; a refusal's
// message is non-empty, one printable line, and bounded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fw/mud/mud_helper_protocol.h"

namespace {

bool printable(const std::string& text) {
  for (char c : text) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

void request(std::string_view text) {
  auto decoded = muzzle::decodeHelperRequest(text);
  if (!decoded.ok()) {
    if (decoded.status().message().empty()) std::abort();
    return;
  }
  auto again = muzzle::decodeHelperRequest(muzzle::encodeHelperRequest(*decoded));
  if (!again.ok() || again->url != decoded->url || again->max_bytes != decoded->max_bytes ||
      again->total_time != decoded->total_time || again->ca_pem != decoded->ca_pem) {
    std::abort();
  }
}

void answer(std::string_view text, size_t max_bytes) {
  const std::string url = "https://maker.example.com/cam.json";
  auto outcome = muzzle::decodeHelperAnswer(text, max_bytes, url, "the helper");
  if (const auto* body = std::get_if<std::string>(&outcome)) {
    if (body->size() > max_bytes) std::abort();
    auto back = muzzle::decodeHelperAnswer(muzzle::encodeHelperAnswer(*body), max_bytes, url, "h");
    if (!std::holds_alternative<std::string>(back) || std::get<std::string>(back) != *body) {
      std::abort();
    }
    return;
  }
  const auto& failure = std::get<muzzle::MudFailure>(outcome);
  if (failure.message.empty() || !printable(failure.message)) std::abort();
  if (failure.message.size() > 4 * muzzle::kMaxHelperMessageBytes + 600) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    request(text);
  } else {
    answer(text, size_t{1} << (data[0] / 2 % 20));
  }
  return 0;
}
