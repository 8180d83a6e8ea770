#include "fw/mud/mud_curl_fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <mutex>

#include "fw/common/excerpt.h"

namespace muzzle {

namespace {

// Where libcurl would connect: refused unless public (see isPublicAddress); what was refused
// is kept for the message.
struct AddressGuard {
  std::string refused;  // the last address refused, as text
};

curl_socket_t openPublicSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* guard = static_cast<AddressGuard*>(user);
  if (purpose == CURLSOCKTYPE_IPCXN) {
    char text[INET6_ADDRSTRLEN] = {};
    bool ok = false;
    if (address->family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
      ok = isPublicAddress(reinterpret_cast<const uint8_t*>(&in->sin_addr), 4);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    } else if (address->family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address->addr);
      ok = isPublicAddress(in6->sin6_addr.s6_addr, 16);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    }
    if (!ok) {
      guard->refused = text[0] != '\0' ? text : "an address of family " + std::to_string(address->family);
      return CURL_SOCKET_BAD;
    }
  }
  return socket(address->family, address->socktype, address->protocol);
}

struct CurlFree { void operator()(CURL* c) const { curl_easy_cleanup(c); } };

struct Body {
  std::string bytes;
  size_t max_bytes;
  bool over = false;
};

size_t onData(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  const size_t n = size * count;
  if (body->bytes.size() + n > body->max_bytes) {
    body->over = true;
    return 0;  // libcurl stops with CURLE_WRITE_ERROR
  }
  body->bytes.append(data, n);
  return n;
}

MudRefusal reasonOf(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL: return MudRefusal::kNotHttps;  // a redirect to http://
    case CURLE_OPERATION_TIMEDOUT: return MudRefusal::kTimeout;
    case CURLE_FILESIZE_EXCEEDED: return MudRefusal::kTooLarge;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED: return MudRefusal::kTls;
    default: return MudRefusal::kNetwork;
  }
}

}  // namespace

CurlMudFetcher::CurlMudFetcher(MudFetchLimits limits) : limits_(std::move(limits)) {
  // curl_global_init is not thread-safe; once per process, before the first handle.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::variant<std::string, MudFailure> CurlMudFetcher::get(const std::string& url) {
  const std::string shown = "\"" + excerpt(url, 255) + "\"";
  if (!isHttpsUrl(url)) return notHttpsFailure(url);
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return MudFailure{MudRefusal::kNetwork, "libcurl could not make a handle"};
  Body body{{}, limits_.max_bytes};
  char error[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(limits_.total_time.count()));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limits_.max_bytes));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!limits_.ca_pem.empty()) {
    curl_blob pem{limits_.ca_pem.data(), limits_.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &pem);
  } else if (!limits_.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, limits_.ca_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM from the resolver on a worker thread
  curl_easy_setopt(c, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "muzzled-mud/1");
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  AddressGuard guard;
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, openPublicSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &guard);

  const CURLcode code = curl_easy_perform(c);
  if (body.over || code == CURLE_FILESIZE_EXCEEDED) {
    return tooLargeFailure(url, limits_.max_bytes);
  }
  if (code != CURLE_OK && !guard.refused.empty()) {
    return MudFailure{MudRefusal::kPrivateAddress,
                      "MUD fetch of " + shown + ": its server is at " + guard.refused +
                          ", a private or local address; Muzzle fetches devices' MUD files "
                          "only from public servers (import a file from elsewhere with "
                          "`muzzlectl mud import FILE`)"};
  }
  if (code != CURLE_OK) {
    std::string detail = error[0] != '\0' ? excerpt(error, 200) : curl_easy_strerror(code);
    return MudFailure{reasonOf(code), "MUD fetch of " + shown + " failed: " + detail};
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    return MudFailure{MudRefusal::kHttpError,
                      "MUD fetch of " + shown + ": the server answered HTTP " +
                          std::to_string(status)};
  }
  return std::move(body.bytes);
}

}  // namespace muzzle
