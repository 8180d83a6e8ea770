// The console against the real management services (LocalApi: every service on a real gRPC
// server, the engine played by the test's thread), reached in-process as muzzled reaches them:
// logins and sessions, the CSRF check, and — the point — roles and the audit coming from the
// API itself (a viewer's forged change is the API's PERMISSION_DENIED; an operator's is a
// revision by web:NAME). Also the console's own parts: forms, the event tracker, management.web.
#include "mgmt/web/console.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <future>
#include <thread>
#include <mutex>
#include <vector>

#include "fw/engine/event_log.h"
#include "mgmt/server/auth.h"
#include "mgmt/server/web_setup.h"
#include "mgmt/web/tls_identity.h"
#include "muzzle/v1/management.grpc.pb.h"
#include "tests/unit/mgmt/server/local_api.h"

// Requests are written with designated initializers naming only the fields a browser sent.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace muzzle::web {
namespace MUZZLE_UNITY_ID {

using testing::Box;
using testing::LocalApi;
using testing::SeededBox;

constexpr char kMac[] = "44:47:cc:00:00:21";

// A console over a booted box's API, with an operator and a viewer account.
struct ConsoleSite : SeededBox {
  ConsoleSite()
      : api(box, dir.path, clock),
        accounts(dir.path + "/web-users"),
        log(out.get(), clock),
        console(ConsoleOptions{}, "k3y-for-this-test-only-32-bytes-xx", accounts, log, clock) {
    api.auth().setConsoleKey("k3y-for-this-test-only-32-bytes-xx");
    REQUIRE(accounts.set("op", Role::kOperator, "operator-pass").ok());
    REQUIRE(accounts.set("view", Role::kViewer, "viewer-pass").ok());
    console.connect(api.inProcessChannel());
  }
  ~ConsoleSite() { console.stop(); }

  // One request through the console, the test's thread playing the engine until it answers.
  Response send(Request req) {
    if (req.peer.empty()) req.peer = "198.51.100.2";
    std::mutex mu;
    std::optional<Response> got;
    console.handle(std::move(req), [&](Response r) {
      std::lock_guard<std::mutex> lock(mu);
      got = std::move(r);
    });
    REQUIRE(box.engine.runUntil([&] {
      std::lock_guard<std::mutex> lock(mu);
      return got.has_value();
    }));
    return *got;
  }
  // Logs in; the Cookie header and the CSRF token of the new session.
  std::pair<std::string, std::string> login(const std::string& name, const std::string& password) {
    Response r = send(
        {.method = "POST", .path = "/login", .body = "name=" + name + "&password=" + password});
    REQUIRE(r.status == 303);
    std::string cookie;
    for (const auto& [k, v] : r.headers) {
      if (k == "Set-Cookie") cookie = v.substr(0, v.find(';'));
    }
    REQUIRE_FALSE(cookie.empty());
    auto session = console.sessions().find(cookie);
    REQUIRE(session);
    return {cookie, session->csrf};
  }

  LocalApi api;
  Accounts accounts;
  testing::MemoryFile out;
  EventLog log;
  Console console;
};

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_CASE_FIXTURE(ConsoleSite, "logins: a wrong password is 401, a right one a session cookie") {
  Response wrong = send({.method = "POST", .path = "/login", .body = "name=op&password=nope-nope"});
  CHECK(wrong.status == 401);
  CHECK(wrong.body.find("Wrong name or password.") != std::string::npos);
  CHECK(header(wrong, "Set-Cookie").empty());
  Response unknown = send({.method = "POST", .path = "/login", .body = "name=ghost&password=x"});
  CHECK(unknown.status == 401);
  // Without a session every page sends the browser to the login page; the stream is refused.
  CHECK(header(send({.method = "GET", .path = "/"}), "Location") == "/login");
  CHECK(send({.method = "GET", .path = "/events/stream"}).status == 401);

  auto [cookie, csrf] = login("op", "operator-pass");
  // (The test box's fake engine holds no compiled policy, so the pages that list devices are
  // left to the scenario, tests/scenario/web_console.sh.)
  Response events = send({.method = "GET", .path = "/events", .cookie = cookie});
  CHECK(events.status == 200);
  CHECK(events.body.find(csrf) != std::string::npos);  // the logout form carries it
  // Logged out: the cookie is cleared and no longer opens anything.
  Response out =
      send({.method = "POST", .path = "/logout", .cookie = cookie, .body = "csrf=" + csrf});
  CHECK(out.status == 303);
  CHECK(header(out, "Set-Cookie").find("Max-Age=0") != std::string::npos);
  CHECK(header(send({.method = "GET", .path = "/events", .cookie = cookie}), "Location") ==
        "/login");
}

TEST_CASE_FIXTURE(ConsoleSite, "a password is checked off the server's thread") {
  // handle() runs on the server's thread; the answer to a login comes from the login worker.
  std::promise<std::thread::id> answered_on;
  console.handle({.method = "POST", .path = "/login", .peer = "198.51.100.2",
                  .body = "name=op&password=operator-pass"},
                 [&](Response r) {
                   CHECK(r.status == 303);
                   answered_on.set_value(std::this_thread::get_id());
                 });
  CHECK(answered_on.get_future().get() != std::this_thread::get_id());
}

TEST_CASE_FIXTURE(ConsoleSite, "past five wrong passwords from one address, it waits (429)") {
  for (int i = 0; i < 5; ++i) {
    CHECK(send({.method = "POST", .path = "/login", .body = "name=op&password=wrong"}).status ==
          401);
  }
  Response limited =
      send({.method = "POST", .path = "/login", .body = "name=op&password=operator-pass"});
  CHECK(limited.status == 429);
  CHECK_FALSE(header(limited, "Retry-After").empty());
  // Another address is not held back.
  CHECK(send({.method = "POST",
              .path = "/login",
              .peer = "198.51.100.3",
              .body = "name=op&password=operator-pass"})
            .status == 303);
  v1::WebConsoleStatus status;
  console.status(&status);
  CHECK(status.logins_refused() == 6);
}

TEST_CASE_FIXTURE(ConsoleSite, "a change needs the session's CSRF token") {
  auto [cookie, csrf] = login("op", "operator-pass");
  for (const char* body : {"", "csrf=", "csrf=guess"}) {
    CAPTURE(body);
    Response r = send({.method = "POST",
                       .path = std::string("/devices/") + kMac + "/quarantine",
                       .cookie = cookie,
                       .body = body});
    CHECK(r.status == 403);
    CHECK(r.body.find("CSRF token") != std::string::npos);
  }
  CHECK(box.store.latest() == 1);  // nothing reached the API
}

TEST_CASE_FIXTURE(ConsoleSite,
                  "roles are the API's: a viewer's change is refused there, an operator's audited "
                  "as web:NAME") {
  const std::string assign = std::string("/devices/") + kMac + "/assign";
  auto viewer = login("view", "viewer-pass");
  Response refused = send({.method = "POST",
                           .path = assign,
                           .cookie = viewer.first,
                           .body = "csrf=" + viewer.second + "&profile=quarantine"});
  CHECK(refused.status == 403);
  CHECK(refused.body.find("role viewer (web:view) may not change devices; it needs operator") !=
        std::string::npos);
  CHECK(box.store.latest() == 1);

  auto op = login("op", "operator-pass");
  Response done = send({.method = "POST",
                        .path = assign,
                        .cookie = op.first,
                        .body = "csrf=" + op.second + "&profile=quarantine"});
  CHECK_MESSAGE(done.status == 303, done.body);
  CHECK(header(done, "Location") == std::string("/devices/") + kMac + "?notice=assigned");
  CHECK(box.store.latest() == 2);
  CHECK(box.audit.last()->who() == "web:op");
  CHECK(box.audit.last()->comment() == "web console");
  CHECK(box.store.content(2)->find(kMac) != std::string::npos);
  // The API's own refusals reach the page as they are: this one is already quarantined.
  Response again = send({.method = "POST",
                         .path = std::string("/devices/") + kMac + "/quarantine",
                         .cookie = op.first,
                         .body = "csrf=" + op.second});
  CHECK(again.status == 409);
  CHECK(again.body.find("is already quarantined") != std::string::npos);
}

TEST_CASE_FIXTURE(ConsoleSite, "a console call with another key is refused by the API") {
  auto stub = v1::StatusService::NewStub(api.inProcessChannel());
  v1::GetStatusResponse r;
  grpc::Status st = api.call([&](grpc::ClientContext& ctx) {
    ctx.AddMetadata(kConsoleKeyHeader, "not-the-key");
    ctx.AddMetadata(kConsoleUserHeader, "mallory");
    ctx.AddMetadata(kConsoleRoleHeader, "admin");
    return stub->GetStatus(&ctx, {}, &r);
  });
  CHECK(st.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(st.error_message() == "a console call with a key that is not this muzzled's");
}

TEST_CASE_FIXTURE(ConsoleSite, "static files, unknown pages, an address outside the allow list") {
  Response css = send({.method = "GET", .path = "/static/console.css"});
  CHECK(css.status == 200);
  CHECK(css.content_type.find("text/css") == 0);
  CHECK(send({.method = "GET", .path = "/static/../web-users"}).status == 404);
  auto [cookie, csrf] = login("op", "operator-pass");
  CHECK(send({.method = "GET", .path = "/nothing-here", .cookie = cookie}).status == 404);
  CHECK(send({.method = "DELETE", .path = "/", .cookie = cookie}).status == 405);
}

// A server-sent-events answer the test reads instead of a connection.
class CapturedStream : public EventStream {
 public:
  bool push(std::string chunk) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    chunks_.push_back(std::move(chunk));
    return true;
  }
  void close() override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  bool closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  std::vector<std::string> chunks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return chunks_;
  }

 private:
  mutable std::mutex mu_;
  bool closed_ = false;
  std::vector<std::string> chunks_;
};

TEST_CASE_FIXTURE(ConsoleSite,
                  "live events: each carries its resume id, and Last-Event-ID resumes after it") {
  for (int i = 1; i <= 3; ++i) {
    v1::Event e;
    e.set_kind(v1::EVENT_KIND_DENY);
    e.set_name("deny");
    e.set_text("event=deny n=" + std::to_string(i) + " hostname=\"<script>\"");
    api.events().push(e);
  }
  const std::string epoch = std::to_string(api.events().epoch());
  auto [cookie, csrf] = login("view", "viewer-pass");
  Response r = send({.method = "GET", .path = "/events/stream", .cookie = cookie});
  REQUIRE(r.on_stream);
  CHECK(r.content_type == "text/event-stream");
  auto stream = std::make_shared<CapturedStream>();
  r.on_stream(stream);
  REQUIRE(box.engine.runUntil([&] { return stream->chunks().size() >= 3; }));
  const auto chunks = stream->chunks();
  CHECK(chunks[0].rfind("id: " + epoch + ":1\ndata: {", 0) == 0);
  CHECK(chunks[0].find("event=deny n=1") != std::string::npos);
  CHECK(chunks[0].ends_with("}\n\n"));
  // A device's text stays inside the JSON string: quotes and angle brackets escaped, one line.
  CHECK_MESSAGE(chunks[0].find(R"(hostname=\"\u003cscript\u003e\")") != std::string::npos,
                chunks[0]);
  CHECK(std::count(chunks[0].begin(), chunks[0].end(), '\n') == 3);

  // The browser reconnects after the second: it gets the third only.
  Response again = send({.method = "GET", .path = "/events/stream", .cookie = cookie,
                         .last_event_id = epoch + ":2"});
  REQUIRE(again.on_stream);
  auto resumed = std::make_shared<CapturedStream>();
  again.on_stream(resumed);
  REQUIRE(box.engine.runUntil([&] { return !resumed->chunks().empty(); }));
  CHECK(resumed->chunks()[0].find("event=deny n=3") != std::string::npos);
  CHECK(resumed->chunks()[0].rfind("id: " + epoch + ":3\n", 0) == 0);
  stream->close();
  resumed->close();
}

TEST_CASE(
    "forms: percent-escapes and '+' decoded, the last value wins, pairs without '=' skipped") {
  auto form = parseForm("name=a%2Fb+c&x&name=d%3C&empty=&bad=%zz%4");
  CHECK(form["name"] == "d<");
  CHECK(form["empty"].empty());
  CHECK(form["bad"] == "%zz%4");
  CHECK(form.count("x") == 0);
  CHECK(percentDecode("44%3A47%3acc") == "44:47:cc");
}

TEST_CASE("numbers, Last-Event-ID, the device in a path and names: exactly what they say") {
  CHECK(parseDecimal("0") == 0u);
  CHECK(parseDecimal("007") == 7u);
  CHECK(parseDecimal("18446744073709551615") == UINT64_MAX);
  // sscanf("%lu") took all of these: a sign wrapped, a space and a tail were skipped, and a
  // number past 64 bits was undefined.
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "12abc", "0x10", "1.5",
                          "18446744073709551616", "000000000000000000001"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseDecimal(bad));
  }
  auto id = parseEventId("7:42");
  REQUIRE(id);
  CHECK(id->epoch == 7u);
  CHECK(id->sequence == 42u);
  for (const char* bad : {"", "7", "7:", ":42", "-1:-1", "7:42:1", "7:42junk"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseEventId(bad));
  }

  auto target = parseDeviceTarget("/devices/44%3A47%3ACC%3A00%3A00%3A21/learn/stop");
  REQUIRE(target);
  CHECK(target->mac == kMac);  // canonical, whatever spelling the browser sent
  CHECK(target->action == "learn/stop");
  target = parseDeviceTarget("/devices/44-47-cc-00-00-21");
  REQUIRE(target);
  CHECK(target->mac == kMac);
  CHECK(target->action.empty());
  for (const char* bad :
       {"/devices/", "/devices/nope", "/devices/44:47:cc:00:00:21%0D%0ASet-Cookie:x",
        "/devices/%FF/quarantine", "/device/44:47:cc:00:00:21"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseDeviceTarget(bad));
  }

  CHECK(formName("camera") == "camera");
  CHECK(formName("") == "");
  CHECK(formName("kamera-\xc3\xa9t\xc3\xa9") == "kamera-\xc3\xa9t\xc3\xa9");  // UTF-8 passes
  for (const std::string& bad :
       {std::string("\xff\xfe"), std::string("a\rb"), std::string("a\0b", 3),
        std::string("\xc2\x85"), std::string(kMaxFormName + 1, 'a')}) {
    CHECK_FALSE(formName(bad));
  }
}

TEST_CASE_FIXTURE(ConsoleSite,
                  "a refused login's name is logged escaped, and watchers still read it") {
  // The name a client sends may be any bytes. It reaches the event ring in a log line; a proto
  // `string` field that is not UTF-8 fails to parse, so one raw byte broke every event watcher's
  // stream at that event (the console's own, `muzzlectl events`).
  log.addConsumer(api.events());
  Response r = send({.method = "POST",
                     .path = "/login",
                     .body = "name=%FF%FEop%0D%0Aevent%3Dforged&password=not-the-password"});
  CHECK(r.status == 401);
  REQUIRE(log.flush());
  log.removeConsumer(api.events());
  auto stub = api.stub<v1::EventService>();
  std::vector<v1::Event> got;
  grpc::Status st = api.call([&](grpc::ClientContext& ctx) {
    auto reader = stub->WatchEvents(&ctx, v1::WatchEventsRequest{});
    v1::Event e;
    while (reader->Read(&e)) got.push_back(e);
    return reader->Finish();
  });
  CHECK_MESSAGE(st.ok(), st.error_message());
  auto refused = std::find_if(got.begin(), got.end(),
                              [](const v1::Event& e) { return e.name() == "web-login-refused"; });
  REQUIRE(refused != got.end());
  CHECK(refused->fields().at("user") == "\\xff\\xfeop\\x0d\\x0aevent=forged");
  CHECK(refused->text().find('\r') == std::string::npos);
}

TEST_CASE_FIXTURE(ConsoleSite,
                  "what a form or a path names is checked before the API: devices, profiles, "
                  "seconds") {
  auto [cookie, csrf] = login("op", "operator-pass");
  // No Ethernet address in the path: the page says so, nothing is asked of the API.
  const std::pair<const char*, const char*> strays[] = {{"GET", "/devices/%FF"},
                                                        {"POST", "/devices/nope/quarantine"}};
  for (const auto& stray : strays) {
    const char* path = stray.second;
    CAPTURE(path);
    Response r =
        send({.method = stray.first, .path = path, .cookie = cookie, .body = "csrf=" + csrf});
    CHECK(r.status == 404);
    CHECK(r.body.find("names no Ethernet address") != std::string::npos);
  }
  const std::string device = std::string("/devices/") + kMac;
  Response profile = send({.method = "POST",
                           .path = device + "/assign",
                           .cookie = cookie,
                           .body = "csrf=" + csrf + "&profile=%FF%FE"});
  CHECK(profile.status == 400);
  CHECK(box.store.latest() == 1);
  // 2^32 + 1 seconds once wrapped to a one-second session; it is refused as too long now.
  Response learn = send({.method = "POST",
                         .path = device + "/learn",
                         .cookie = cookie,
                         .body = "csrf=" + csrf + "&seconds=4294967297"});
  CHECK(learn.status == 400);
  CHECK(learn.body.find("at most") != std::string::npos);
  // A spelling of the MAC in capitals and dashes is the same device; the redirect names it
  // canonically.
  Response ok = send({.method = "POST",
                      .path = "/devices/44-47-CC-00-00-21/learn",
                      .cookie = cookie,
                      .body = "csrf=" + csrf + "&seconds=3600"});
  CHECK_MESSAGE(ok.status == 303, ok.body);
  CHECK(header(ok, "Location") == device + "?notice=learning");
}

v1::Event event(v1::EventKind kind, int64_t when, const std::string& mac, const std::string& dst,
                const std::string& name = "") {
  v1::Event e;
  e.set_kind(kind);
  e.mutable_time()->set_seconds(when);
  (*e.mutable_fields())["mac"] = mac;
  (*e.mutable_fields())["dst"] = dst;
  if (!name.empty()) (*e.mutable_fields())["name"] = name;
  return e;
}

TEST_CASE("the tracker: denials per minute over the last hour, and what each device tried") {
  EventTracker t;
  const int64_t now = 1'800'000'000;  // a minute boundary
  t.add(event(v1::EVENT_KIND_DENY, now - 3, kMac, "203.0.113.9:443/tcp", "relay.p2p.example"));
  t.add(event(v1::EVENT_KIND_DENY, now - 2, kMac, "203.0.113.9:443/tcp", "relay.p2p.example"));
  t.add(event(v1::EVENT_KIND_DENY, now - 61 * 60, kMac, "203.0.113.1:80/tcp"));  // over an hour
  t.add(event(v1::EVENT_KIND_ALLOW, now - 1, kMac, "198.18.1.10:554/tcp"));
  t.add(event(v1::EVENT_KIND_NEW_DEVICE, now, kMac, ""));  // not an attempt
  auto per_minute = t.denialsPerMinute(now);
  REQUIRE(per_minute.size() == 60);
  CHECK(per_minute[59] == 0);  // the minute that starts now
  CHECK(per_minute[58] == 2);
  uint32_t total = 0;
  for (uint32_t n : per_minute) total += n;
  CHECK(total == 2);
  auto tried = t.attempts(kMac);
  REQUIRE(tried.size() == 3);
  CHECK(tried[0].target == "198.18.1.10:554/tcp");  // most recent first
  CHECK(tried[0].allowed);
  CHECK(tried[1].name == "relay.p2p.example");
  CHECK(tried[1].count == 2);
  CHECK(t.attempts("44:47:cc:00:00:99").empty());
}

TEST_CASE("the tracker is bounded: destinations per device, and devices") {
  EventTracker t;
  for (size_t i = 0; i < EventTracker::kMaxAttempts + 5; ++i) {
    t.add(event(v1::EVENT_KIND_DENY, 1000 + static_cast<int64_t>(i), kMac,
                "203.0.113." + std::to_string(i) + ":443/tcp"));
  }
  auto tried = t.attempts(kMac);
  CHECK(tried.size() == EventTracker::kMaxAttempts);
  CHECK(tried.back().target == "203.0.113.5:443/tcp");  // the oldest five went first
  char mac[18];
  for (size_t i = 0; i <= EventTracker::kMaxTrackedDevices; ++i) {
    std::snprintf(mac, sizeof(mac), "02:00:00:00:%02zx:%02zx", i / 256, i % 256);
    t.add(event(v1::EVENT_KIND_DENY, 5000 + static_cast<int64_t>(i), mac, "203.0.113.1:80/tcp"));
  }
  CHECK(t.attempts(kMac).empty());  // the least recently seen device was forgotten
  CHECK(t.attempts("02:00:00:00:10:00").size() == 1);
}

TEST_CASE("management.web: the listen address checked, a certificate made once, errors located") {
  testing::TempDir dir;
  auto config = [&](const std::string& web) {
    auto c = parseDaemonConfig(
        "segments: [{name: cameras, interface: br-cam}]\npolicy: p.yaml\n"
        "state_dir: " +
            dir.path + "\nmanagement:\n  web:\n" + web,
        "muzzled.yaml", "/etc/muzzle");
    REQUIRE_MESSAGE(c.ok(), c.status().message());
    return *c;
  };
  const std::vector<std::string> segment = {"198.18.10.1"};
  auto refused = webSetupOf(config("    listen: \"::ffff:198.18.10.1:8443\"\n"), segment);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().rfind("muzzled.yaml:6: management.web.listen: ", 0) == 0);

  auto first =
      webSetupOf(config("    listen: 198.51.100.1:8443\n    allow: [198.51.100.0/24]\n"), segment);
  REQUIRE_MESSAGE(first.ok(), first.status().message());
  CHECK(first->on);
  CHECK(first->server.listen == "198.51.100.1:8443");
  CHECK(first->console.url == "https://198.51.100.1:8443/");
  CHECK(first->console.certificate_made_here);
  CHECK(first->console.fingerprint.size() == 95);
  CHECK(first->console.allow.contains(*IpAddress::parse("198.51.100.7")));
  CHECK_FALSE(first->console.allow.contains(*IpAddress::parse("198.18.10.7")));
  auto again = webSetupOf(config("    listen: 198.51.100.1:8443\n"), segment);
  REQUIRE(again.ok());
  CHECK(again->console.fingerprint == first->console.fingerprint);  // kept, not made again

  auto off = parseDaemonConfig("policy: p.yaml\n", "muzzled.yaml", "/etc/muzzle");
  REQUIRE(off.ok());
  CHECK_FALSE(webSetupOf(*off, segment)->on);

  auto bad = [](const std::string& web) {
    auto c = parseDaemonConfig("policy: p.yaml\nmanagement:\n  web:\n" + web, "muzzled.yaml",
                               "/etc/muzzle");
    REQUIRE_FALSE(c.ok());
    return c.status().message();
  };
  CHECK(bad("    listen: 198.51.100.1:8443\n    cert: web.pem\n") ==
        "muzzled.yaml:3: management.web.key: missing: set both cert and key, or neither (the box "
        "then makes its own certificate)");
  CHECK(bad("    listen: 198.51.100.1:8443\n    allow: [everyone]\n") ==
        "muzzled.yaml:5: management.web.allow[0]: \"everyone\" is not an address or a CIDR (e.g. "
        "198.18.0.0/24, fd00:1::/64)");
  CHECK(bad("    listen: 198.51.100.1:8443\n    session_idle_minutes: 0\n") ==
        "muzzled.yaml:5: management.web.session_idle_minutes: 0 is out of range (1..1440 minutes)");
  CHECK(bad("    allow: [198.51.100.2]\n").find("management.web.listen: missing") !=
        std::string::npos);
}

}  // namespace
}  // namespace muzzle::web
