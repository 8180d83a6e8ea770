#include "fw/mud/mud_helper_protocol.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "fw/common/excerpt.h"

namespace muzzle {

namespace {

constexpr std::string_view kHello = "muzzle-mud-fetch 1\n";
constexpr size_t kMaxRequestBytesCap = 16u << 20;
constexpr long long kMaxTimeoutMs = 600'000;

constexpr MudRefusal kAllRefusals[] = {
    MudRefusal::kNotHttps,       MudRefusal::kTls,          MudRefusal::kNetwork,
    MudRefusal::kTimeout,        MudRefusal::kHttpError,    MudRefusal::kTooLarge,
    MudRefusal::kNotCms,         MudRefusal::kBadSignature, MudRefusal::kUntrustedSigner,
    MudRefusal::kNoTrustAnchors, MudRefusal::kMalformed,    MudRefusal::kPrivateAddress,
};

std::optional<long long> number(std::string_view text, long long max) {
  long long n = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (error != std::errc() || end != text.data() + text.size() || n < 0 || n > max) {
    return std::nullopt;
  }
  return n;
}

// "NAME VALUE\n" at the front of `text`, consumed; nothing when the line is not that.
std::optional<std::string_view> field(std::string_view& text, std::string_view name) {
  const size_t end = text.find('\n');
  if (end == std::string_view::npos) return std::nullopt;
  const std::string_view line = text.substr(0, end);
  if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
      line[name.size()] != ' ') {
    return std::nullopt;
  }
  text.remove_prefix(end + 1);
  return line.substr(name.size() + 1);
}

Status bad(std::string what) {
  return Status::error(StatusCode::kInvalidArgument, "MUD fetch request: " + std::move(what));
}

bool printableLine(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

std::string encodeHelperRequest(const MudHelperRequest& r) {
  return std::string(kHello) + "url " + r.url + "\nmax-bytes " + std::to_string(r.max_bytes) +
         "\ntimeout-ms " + std::to_string(r.total_time.count()) + "\nca-pem " +
         std::to_string(r.ca_pem.size()) + "\n" + r.ca_pem;
}

Result<MudHelperRequest> decodeHelperRequest(std::string_view text) {
  if (text.substr(0, kHello.size()) != kHello) {
    return bad("it does not start with \"" + excerpt(kHello.substr(0, kHello.size() - 1)) + "\"");
  }
  text.remove_prefix(kHello.size());
  MudHelperRequest r;
  const auto url = field(text, "url");
  if (!url || url->empty() || !printableLine(*url)) return bad("no url line");
  r.url = std::string(*url);
  const auto max_bytes = field(text, "max-bytes");
  const auto max = max_bytes ? number(*max_bytes, kMaxRequestBytesCap) : std::nullopt;
  if (!max || *max == 0) return bad("no max-bytes line of 1 to 16 MiB");
  r.max_bytes = static_cast<size_t>(*max);
  const auto timeout = field(text, "timeout-ms");
  const auto ms = timeout ? number(*timeout, kMaxTimeoutMs) : std::nullopt;
  if (!ms || *ms == 0) return bad("no timeout-ms line of 1 to 600000");
  r.total_time = std::chrono::milliseconds(*ms);
  const auto ca = field(text, "ca-pem");
  const auto ca_bytes = ca ? number(*ca, static_cast<long long>(kMaxHelperCaBytes)) : std::nullopt;
  if (!ca_bytes) return bad("no ca-pem line of 0 to 1 MiB");
  if (text.size() != static_cast<size_t>(*ca_bytes)) {
    return bad("ca-pem says " + std::to_string(*ca_bytes) + " bytes, " +
               std::to_string(text.size()) + " follow");
  }
  r.ca_pem = std::string(text);
  return r;
}

std::string encodeHelperAnswer(const std::variant<std::string, MudFailure>& outcome) {
  if (const auto* body = std::get_if<std::string>(&outcome)) {
    return "ok " + std::to_string(body->size()) + "\n" + *body;
  }
  const MudFailure& f = std::get<MudFailure>(outcome);
  std::string message = f.message;
  std::replace(message.begin(), message.end(), '\n', ' ');
  return "refused " + std::string(mudRefusalName(f.reason)) + " " + message + "\n";
}

std::variant<std::string, MudFailure> decodeHelperAnswer(std::string_view text, size_t max_bytes,
                                                         std::string_view url,
                                                         std::string_view who) {
  const auto failed = [&](std::string what) {
    return MudFailure{MudRefusal::kNetwork, "MUD fetch of \"" + excerpt(url, 255) +
                                                "\": " + std::string(who) + " " + std::move(what)};
  };
  std::string_view rest = text;
  if (const auto size = field(rest, "ok")) {
    const auto n = number(*size, kMaxRequestBytesCap);
    if (!n) return failed("answered a body of no size");
    if (static_cast<size_t>(*n) > max_bytes) return tooLargeFailure(url, max_bytes);
    if (rest.size() != static_cast<size_t>(*n)) {
      return failed("announced " + std::to_string(*n) + " bytes and sent " +
                    std::to_string(rest.size()));
    }
    return std::string(rest);
  }
  if (const auto refusal = field(rest, "refused"); refusal && rest.empty()) {
    const size_t space = refusal->find(' ');
    const std::string_view name = refusal->substr(0, space);
    const std::string_view message =
        space == std::string_view::npos ? std::string_view() : refusal->substr(space + 1);
    for (MudRefusal r : kAllRefusals) {
      if (name != mudRefusalName(r) || message.empty()) continue;
      if (printableLine(message) && message.size() <= kMaxHelperMessageBytes) {
        return MudFailure{r, std::string(message)};
      }
      return MudFailure{r, excerpt(message, kMaxHelperMessageBytes)};
    }
  }
  if (text.empty()) return failed("answered nothing");
  return failed("answered something else: \"" + excerpt(text, 120) + "\"");
}

}  // namespace muzzle
