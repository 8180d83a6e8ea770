// HelperMudFetcher with stand-in helpers (small shell scripts that misbehave on purpose) and
// with the real muzzle-mud-fetch, started by the fetcher or behind a socket as systemd runs it:
// what a helper answers becomes a body or a refusal, its output and time are bounded, and it
// gets nothing of the caller's descriptors, environment or capabilities.
#include "fw/mud/mud_helper_fetcher.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "fw/mud/mud_helper_protocol.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::TempDir;

const std::string kUrl = "https://maker.example.com/cam.json";

// A stand-in helper started by the fetcher: `body` is the script after its #! line.
MudHelper script(const TempDir& dir, const std::string& body) {
  const std::string path = (dir / "helper").string();
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  REQUIRE(chmod(path.c_str(), 0700) == 0);
  return {MudHelper::Via::kSpawn, path};
}

MudFailure refused(const std::variant<std::string, MudFailure>& r) {
  REQUIRE(std::holds_alternative<MudFailure>(r));
  return std::get<MudFailure>(r);
}

std::string body(const std::variant<std::string, MudFailure>& r) {
  if (const auto* f = std::get_if<MudFailure>(&r)) FAIL_CHECK("refused: " << f->message);
  REQUIRE(std::holds_alternative<std::string>(r));
  return std::get<std::string>(r);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("the helper gets the request on stdin; its answer is the body") {
  TempDir dir("muzzle-helper");
  const std::string request = (dir / "request").string();
  const std::string ca = (dir / "ca.pem").string();
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  MudFetchLimits limits;
  limits.max_bytes = 1000;
  limits.total_time = std::chrono::milliseconds(4000);
  limits.ca_file = ca;
  HelperMudFetcher fetcher(script(dir, "cat > " + request + "\nprintf 'ok 10\\n{\"mud\": 1}'"),
                           limits);
  CHECK(body(fetcher.get(kUrl)) == "{\"mud\": 1}");
  std::stringstream sent;
  sent << std::ifstream(request).rdbuf();
  auto decoded = decodeHelperRequest(sent.str());
  REQUIRE(decoded.ok());
  CHECK(decoded->url == kUrl);
  CHECK(decoded->max_bytes == 1000);
  CHECK(decoded->total_time == std::chrono::milliseconds(4000));
  CHECK(decoded->ca_pem == "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
}

TEST_CASE("the helper's refusal keeps its reason and message") {
  TempDir dir("muzzle-helper");
  HelperMudFetcher fetcher(
      script(dir, "cat >/dev/null; echo 'refused tls MUD fetch of x failed: certificate expired'"),
      {});
  const MudFailure f = refused(fetcher.get(kUrl));
  CHECK(f.reason == MudRefusal::kTls);
  CHECK(f.message == "MUD fetch of x failed: certificate expired");
}

TEST_CASE("an answer that breaks the protocol is a network failure naming the helper") {
  TempDir dir("muzzle-helper");
  const std::string helper = "the MUD fetch helper " + (dir / "helper").string();
  SUBCASE("something else, with control bytes: shown escaped") {
    HelperMudFetcher fetcher(script(dir, "cat >/dev/null; printf 'bogus\\001\\033[2J'"), {});
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kNetwork);
    CHECK(has(f.message, helper + " answered something else: \"bogus\\x01\\x1b[2J\""));
  }
  SUBCASE("a refusal whose message has control bytes") {
    HelperMudFetcher fetcher(script(dir, "cat >/dev/null; printf 'refused tls bad\\033[2J\\n'"),
                             {});
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kTls);
    CHECK(f.message == "bad\\x1b[2J");
  }
  SUBCASE("a body shorter than announced") {
    HelperMudFetcher fetcher(script(dir, "cat >/dev/null; printf 'ok 10\\nabc'"), {});
    CHECK(has(refused(fetcher.get(kUrl)).message, helper + " announced 10 bytes and sent 3"));
  }
  SUBCASE("nothing, and an exit code") {
    HelperMudFetcher fetcher(script(dir, "echo oops >&2; exit 3"), {});
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kNetwork);
    CHECK(has(f.message, helper + " failed (exit 3): oops"));
  }
  SUBCASE("killed") {
    HelperMudFetcher fetcher(script(dir, "kill -9 $$"), {});
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kNetwork);
    CHECK(has(f.message, "died of signal 9"));
  }
  SUBCASE("missing") {
    HelperMudFetcher fetcher({MudHelper::Via::kSpawn, (dir / "nowhere").string()}, {});
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kNetwork);
    CHECK(has(f.message, "cannot start it"));
    CHECK(has(f.message, "reinstall the muzzle package"));
  }
  SUBCASE("no socket to connect to") {
    HelperMudFetcher fetcher({MudHelper::Via::kSocket, (dir / "no.sock").string()}, {});
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kNetwork);
    CHECK(has(f.message, "cannot connect"));
    CHECK(has(f.message, "muzzle-mud-fetch.socket"));
  }
}

TEST_CASE("the helper's output and time are bounded: it is stopped past either") {
  TempDir dir("muzzle-helper");
  MudFetchLimits limits;
  limits.max_bytes = 4096;
  limits.total_time = std::chrono::milliseconds(100);
  SUBCASE("endless output") {
    HelperMudFetcher fetcher(script(dir, "cat >/dev/null; exec yes"), limits);
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kTooLarge);
    CHECK(has(f.message, "over 4096 bytes"));
  }
  SUBCASE("a body announced over max_bytes") {
    HelperMudFetcher fetcher(script(dir, "cat >/dev/null; printf 'ok 4097\\n'"), limits);
    CHECK(refused(fetcher.get(kUrl)).reason == MudRefusal::kTooLarge);
  }
  SUBCASE("exactly max_bytes is a body") {
    HelperMudFetcher fetcher(
        script(dir, "cat >/dev/null; printf 'ok 4096\\n'; head -c 4096 /dev/zero"), limits);
    CHECK(body(fetcher.get(kUrl)).size() == 4096);
  }
  SUBCASE("endless error text is read and dropped, never blocking the answer") {
    HelperMudFetcher fetcher(
        script(dir, "cat >/dev/null; yes | head -c 1000000 >&2; echo 'refused network x'"), limits,
        std::chrono::milliseconds(10000));
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kNetwork);
    CHECK(f.message == "x");
  }
  SUBCASE("no answer") {
    HelperMudFetcher fetcher(script(dir, "exec sleep 30"), limits, std::chrono::milliseconds(200));
    const MudFailure f = refused(fetcher.get(kUrl));
    CHECK(f.reason == MudRefusal::kTimeout);
    CHECK(has(f.message, "no answer within 100 ms"));
  }
  SUBCASE("a request the helper never reads does not block the caller") {
    const std::string ca = (dir / "big.pem").string();
    std::ofstream(ca) << std::string(900 * 1024, 'A');  // more than a socket's buffer
    limits.ca_file = ca;
    HelperMudFetcher fetcher(script(dir, "exec sleep 30"), limits, std::chrono::milliseconds(200));
    CHECK(refused(fetcher.get(kUrl)).reason == MudRefusal::kTimeout);
  }
  SUBCASE("closes its output and lingers") {
    HelperMudFetcher fetcher(script(dir, "exec >&- 2>&- <&-; sleep 30"), limits,
                             std::chrono::milliseconds(200));
    CHECK(refused(fetcher.get(kUrl)).reason == MudRefusal::kTimeout);
  }
}

TEST_CASE("the helper gets none of the caller's descriptors and none of its environment") {
  TempDir dir("muzzle-helper");
  // A descriptor a library opened without O_CLOEXEC, at a number the shell does not use.
  const int leaky = open("/dev/null", O_RDONLY);
  REQUIRE(leaky >= 0);
  REQUIRE(dup2(leaky, 77) == 77);
  setenv("MUZZLE_SECRET", "x", 1);
  HelperMudFetcher fetcher(
      script(dir,
             "cat >/dev/null; out=''; [ -e /proc/$$/fd/77 ] && out=\"${out}fd77 \";"
             "[ -e /proc/$$/fd/3 ] && out=\"${out}fd3 \"; [ -n \"$MUZZLE_SECRET\" ] && "
             "out=\"${out}env \"; out=\"${out}end\"; printf 'ok %d\\n%s' ${#out} \"$out\""),
      {});
  auto r = fetcher.get(kUrl);
  close(77);
  close(leaky);
  unsetenv("MUZZLE_SECRET");
  CHECK(body(r) == "end");
}

TEST_CASE("an http:// URL is refused without starting the helper; an unreadable CA file too") {
  TempDir dir("muzzle-helper");
  const std::string ran = (dir / "ran").string();
  HelperMudFetcher fetcher(script(dir, "touch " + ran), {});
  CHECK(refused(fetcher.get("http://maker.example.com/cam.json")).reason == MudRefusal::kNotHttps);
  MudFetchLimits limits;
  limits.ca_file = (dir / "missing.pem").string();
  HelperMudFetcher no_ca(script(dir, "touch " + ran), limits);
  const MudFailure f = refused(no_ca.get(kUrl));
  CHECK(f.reason == MudRefusal::kTls);
  CHECK(has(f.message, "management.mud_server_ca"));
  CHECK(access(ran.c_str(), F_OK) != 0);
}

TEST_CASE("the helper sheds every capability and sets no_new_privs") {
  const pid_t child = fork();  // shedding is for good: in a child
  REQUIRE(child >= 0);
  if (child == 0) {
    if (!shedHelperPrivileges().ok()) _exit(3);
    std::ifstream status("/proc/self/status");
    std::string line;
    int checked = 0;
    while (std::getline(status, line)) {
      for (const char* field : {"CapInh:", "CapPrm:", "CapEff:", "CapAmb:"}) {
        if (line.rfind(field, 0) != 0) continue;
        if (line.find("0000000000000000") == std::string::npos) _exit(4);
        ++checked;
      }
      if (line.rfind("NoNewPrivs:", 0) == 0) {
        if (line.back() != '1') _exit(5);
        ++checked;
      }
    }
    _exit(checked == 5 ? 0 : 6);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

#ifdef MUZZLE_MUD_FETCH_HELPER
TEST_CASE("the real muzzle-mud-fetch, started by the fetcher") {
  HelperMudFetcher fetcher({MudHelper::Via::kSpawn, MUZZLE_MUD_FETCH_HELPER}, {});
  // Refused in libcurl's socket callback: nothing is sent anywhere.
  const MudFailure f = refused(fetcher.get("https://127.0.0.1:9/cam.json"));
  CHECK(f.reason == MudRefusal::kPrivateAddress);
  CHECK(
      has(f.message, "MUD fetch of \"https://127.0.0.1:9/cam.json\": its server is at 127.0.0.1"));

  MudFetchLimits bad;
  bad.max_bytes = 0;  // "max-bytes 0": the helper refuses the request, saying why
  HelperMudFetcher misused({MudHelper::Via::kSpawn, MUZZLE_MUD_FETCH_HELPER}, bad);
  const MudFailure m = refused(misused.get(kUrl));
  CHECK(m.reason == MudRefusal::kNetwork);
  CHECK(has(m.message, "MUD fetch request: no max-bytes line"));
}

TEST_CASE("the real muzzle-mud-fetch behind a socket, one per connection as systemd runs it") {
  TempDir dir("muzzle-helper");
  const std::string path = (dir / "fetch.sock").string();
  const int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  REQUIRE(bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(listen(listener, 4) == 0);
  // systemd's Accept=yes with StandardInput=socket and StandardOutput=socket.
  std::thread acceptor([listener] {
    const int connection = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, connection, 0);
    posix_spawn_file_actions_adddup2(&actions, connection, 1);
    char* argv[] = {const_cast<char*>(MUZZLE_MUD_FETCH_HELPER), nullptr};
    char* envp[] = {nullptr};
    pid_t pid = -1;
    if (posix_spawn(&pid, MUZZLE_MUD_FETCH_HELPER, &actions, nullptr, argv, envp) == 0) {
      waitpid(pid, nullptr, 0);
    }
    posix_spawn_file_actions_destroy(&actions);
    close(connection);
  });
  HelperMudFetcher fetcher({MudHelper::Via::kSocket, path}, {});
  const MudFailure f = refused(fetcher.get("https://[::1]:9/cam.json"));
  acceptor.join();
  close(listener);
  CHECK(f.reason == MudRefusal::kPrivateAddress);
  CHECK(has(f.message, "its server is at ::1"));
}
#endif

}  // namespace
}  // namespace muzzle
