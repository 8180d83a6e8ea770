// muzzle-mud-fetch: one MUD fetch, in a process of its own, for muzzled. HelperMudFetcher
// (fw/mud/mud_helper_fetcher.h) says why; mud_helper_protocol.h says what goes in and out.
// muzzled starts it (its stdin and stdout a socket pair), or systemd does, once per connection
// to muzzle-mud-fetch.socket (stdin and stdout that connection). Not for people, but for one
// check: `--check-socket SOCKET URL` asks the helper behind SOCKET for URL as muzzled would and
// prints `ok BYTES` (exit 0) or `refused REASON MESSAGE` (exit 1); the boot self-test uses it.
#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "fw/mud/mud_curl_fetcher.h"
#include "fw/mud/mud_helper_fetcher.h"
#include "fw/mud/mud_helper_protocol.h"

namespace {

// The answer on stdout, whole (stdout is the socket muzzled reads).
bool writeAll(const std::string& text) {
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(STDOUT_FILENO, text.data() + written, text.size() - written);
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

// The request on stdin, to its end; past kMaxHelperRequestBytes it is refused unread.
bool readRequest(std::string& text) {
  char buffer[16384];
  while (true) {
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
    if (n == 0) return true;
    if (n < 0) return false;
    if (text.size() + static_cast<size_t>(n) > muzzle::kMaxHelperRequestBytes) return false;
    text.append(buffer, static_cast<size_t>(n));
  }
}

int checkSocket(const std::string& socket, const std::string& url) {
  muzzle::HelperMudFetcher fetcher({muzzle::MudHelper::Via::kSocket, socket}, {});
  auto outcome = fetcher.get(url);
  if (const auto* body = std::get_if<std::string>(&outcome)) {
    std::cout << "ok " << body->size() << "\n";
    return 0;
  }
  const auto& failure = std::get<muzzle::MudFailure>(outcome);
  std::cout << "refused " << muzzle::mudRefusalName(failure.reason) << " " << failure.message
            << "\n";
  return 1;
}

int serve() {
  std::string text;
  if (!readRequest(text)) {
    writeAll(muzzle::encodeHelperAnswer(muzzle::MudFailure{
        muzzle::MudRefusal::kNetwork, "muzzle-mud-fetch: the request could not be read"}));
    return 2;
  }
  auto request = muzzle::decodeHelperRequest(text);
  if (!request.ok()) {
    std::fprintf(stderr, "muzzle-mud-fetch: %s\n", request.status().message().c_str());
    writeAll(muzzle::encodeHelperAnswer(
        muzzle::MudFailure{muzzle::MudRefusal::kNetwork, request.status().message()}));
    return 2;
  }
  muzzle::MudFetchLimits limits;
  limits.max_bytes = request->max_bytes;
  limits.total_time = request->total_time;
  limits.ca_pem = std::move(request->ca_pem);
  std::string answer;
  {
    muzzle::CurlMudFetcher fetcher(std::move(limits));
    answer = muzzle::encodeHelperAnswer(fetcher.get(request->url));
  }
  curl_global_cleanup();
  return writeAll(answer) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any input is read: nothing below runs with a capability.
  if (muzzle::Status s = muzzle::shedHelperPrivileges(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  if (argc == 4 && std::string_view(argv[1]) == "--check-socket")
    return checkSocket(argv[2], argv[3]);
  if (argc != 1) {
    std::fputs(
        "usage: muzzle-mud-fetch (a request on stdin; see fw/mud/mud_helper_protocol.h)\n"
        "       muzzle-mud-fetch --check-socket SOCKET URL\n",
        stderr);
    return 2;
  }
  return serve();
}
