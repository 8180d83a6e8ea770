// muzzlectl: manages one Muzzle box, or a fleet (--targets), through the management API.
// Exit codes: see output.h and README.md.
#include <CLI/CLI.hpp>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <ctime>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "fw/common/confined_file.h"
#include "mgmt/ctl/client.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace v1 = muzzle::v1;
using muzzle::ctl::Box;

namespace {

struct Outcome {
  grpc::Status status;
  std::string human;    // full output for one box
  std::string summary;  // one line for a fleet row
  std::string json;
  int exit = -1;  // overrides the status-derived code when >= 0
};

using Command = std::function<Outcome(const std::shared_ptr<grpc::Channel>&, const Box&)>;

struct Options {
  std::string socket = "/run/muzzle/muzzled.sock";
  std::string target;
  std::string targets_file;
  muzzle::ctl::TlsFiles tls;
  bool json = false;
  int timeout_s = 10;
};
Options opt;

std::chrono::system_clock::time_point deadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(opt.timeout_s);
}

void prepare(grpc::ClientContext& ctx) { ctx.set_deadline(deadline()); }

std::string timeText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  std::time_t s = t.seconds();
  std::tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string pendingText(const v1::PendingCommit& p) {
  return "revision " + std::to_string(p.revision()) + " awaits confirmation until " + timeText(p.deadline()) +
         " (else back to " + std::to_string(p.rollback_to()) + ")";
}

Outcome failed(const grpc::Status& s) {
  Outcome o;
  o.status = s;
  o.summary = std::string(muzzle::ctl::codeName(s.error_code())) + ": " + s.error_message() +
              muzzle::ctl::hintFor(s);
  o.human = "error: " + o.summary + "\n";
  return o;
}

// Seconds from "90", "90s", "5m", "1h".
uint32_t parseDuration(const std::string& text) {
  if (text.empty()) return 0;
  char unit = text.back();
  uint64_t mult = 1;
  std::string digits = text;
  if (unit == 's' || unit == 'm' || unit == 'h') {
    mult = unit == 'm' ? 60 : unit == 'h' ? 3600 : 1;
    digits.pop_back();
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
    throw CLI::ValidationError("--confirm", "\"" + text + "\" is not a duration like 90s, 5m or 1h");
  }
  return static_cast<uint32_t>(std::stoull(digits) * mult);
}

std::string readPolicyFile(const std::string& path) {
  auto text = muzzle::readRegularFile(path);
  if (!text.ok()) throw CLI::ValidationError("FILE", text.status().message());
  return *text;
}

// --- commands ---------------------------------------------------------------------------------

// One line for the status table; the problems follow the tables, one per line.
std::string stateSummary(const v1::GetStatusResponse& r) {
  if (!r.has_state()) return "-";  // a box older than this field
  const v1::StateStatus& st = r.state();
  if (st.ok()) return "ok";
  std::string out = st.writable() ? "PROBLEMS" : "NOT WRITABLE (changes are refused)";
  if (st.fallback_revision() != 0) {
    out += ", fell back to the text of revision " + std::to_string(st.fallback_revision());
  }
  return out + " (see below)";
}

std::string stateProblems(const v1::StateStatus& st) {
  std::string out;
  for (const auto& p : st.problems()) {
    out += "state " + p.kind() + ": " + p.file() + ": " + p.problem();
    if (!p.kept_as().empty()) out += " (kept as " + p.kept_as() + ")";
    out += "\n";
  }
  if (st.problems_dropped() > 0)
    out += "state: " + std::to_string(st.problems_dropped()) + " more problem(s)\n";
  return out;
}

Outcome cmdStatus(const std::shared_ptr<grpc::Channel>& ch, const Box&) {
  auto stub = v1::StatusService::NewStub(ch);
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::GetStatusResponse r;
  grpc::Status s = stub->GetStatus(&ctx, {}, &r);
  if (!s.ok()) return failed(s);
  Outcome o;
  o.json = muzzle::ctl::toJson(r);
  o.summary = "revision " + std::to_string(r.policy_revision()) + ", " + r.queue_mode() + ", up " +
              std::to_string(r.uptime_seconds()) + "s" +
              (r.has_pending() ? ", commit pending" : "") +
              (r.has_state() && !r.state().ok() ? ", STATE FOLDER PROBLEMS" : "");
  std::string segs;
  for (const auto& sg : r.segments()) segs += (segs.empty() ? "" : " ") + sg;
  std::vector<std::vector<std::string>> rows = {
      {"version", r.version()},
      {"uptime", std::to_string(r.uptime_seconds()) + " s"},
      {"policy revision", std::to_string(r.policy_revision()) + " (generation " + std::to_string(r.policy_generation()) + ")"},
      {"pending commit", r.has_pending() ? pendingText(r.pending()) : "none"},
      {"state folder", stateSummary(r)},
      {"queue mode", r.queue_mode()},
      {"fail mode", r.fail_mode()},
      {"segments", segs},
      {"devices known", std::to_string(r.devices_known())},
      {"last event", std::to_string(r.last_event_sequence())},
      // Lost event lines: over the log's rate limit, or while delivery was behind.
      {"events lost", std::to_string(r.log_suppressed()) + " rate-limited, " +
                          std::to_string(r.events_dropped()) + " dropped (buffer full)"},
      {"your role", r.role()}};
  o.human = muzzle::ctl::table({"what", "value"}, rows);
  std::vector<std::vector<std::string>> q;
  // What the kernel did before muzzled saw the packets: waiting now, dropped because a queue was
  // full, dropped because muzzled's socket was full (the last two are lost packets).
  std::vector<std::vector<std::string>> k;
  std::string kernel_errors;
  for (const auto& x : r.queues()) {
    const std::string range = std::to_string(x.first()) + "-" + std::to_string(x.first() + x.count() - 1);
    q.push_back({range, std::to_string(x.packets()), std::to_string(x.allowed()), std::to_string(x.rejected()),
                 std::to_string(x.dropped()), std::to_string(x.malformed()), std::to_string(x.socket_overruns())});
    if (!x.kernel_counters_error().empty()) {
      kernel_errors += "kernel counters for queues " + range + " unavailable: " + x.kernel_counters_error() + "\n";
      continue;
    }
    // The sum, then (with the inspection queue there are several) each queue.
    k.push_back({x.kernel_queues_size() > 1 ? "all" : range, std::to_string(x.kernel_waiting()), std::to_string(x.kernel_queue_dropped()),
                 std::to_string(x.kernel_user_dropped())});
    if (x.kernel_queues_size() > 1) {
      for (const auto& kq : x.kernel_queues()) {
        k.push_back({"  " + std::to_string(kq.queue()), std::to_string(kq.waiting()), std::to_string(kq.queue_dropped()),
                     std::to_string(kq.user_dropped())});
      }
    }
  }
  o.human += "\n" + muzzle::ctl::table({"queues", "packets", "allowed", "rejected", "dropped", "malformed", "overruns"}, q);
  if (!k.empty()) o.human += "\n" + muzzle::ctl::table({"kernel queues", "waiting", "dropped (queue full)", "dropped (socket full)"}, k);
  o.human += kernel_errors;
  if (r.has_state() && !r.state().ok()) o.human += "\n" + stateProblems(r.state());
  return o;
}

std::vector<std::string> deviceRow(const v1::DeviceInfo& d) {
  std::string ips;
  for (const auto& ip : d.ips()) ips += (ips.empty() ? "" : ",") + ip;
  // Why the device has its profile: listed by name, classified by which rule, or the default.
  std::string why = d.assignment().empty() ? "-" : d.assignment();
  if (!d.assigned_by().empty() && d.assignment() == "classified") why += " (" + d.assigned_by() + ")";
  std::string vendor = d.randomised_mac() ? "(randomised MAC)" : d.vendor().empty() ? "-" : d.vendor();
  if (vendor.size() > 28) vendor = vendor.substr(0, 25) + "...";
  return {d.mac(), d.name().empty() ? "(unlisted)" : d.name(), d.profile() + (d.quarantined() ? " (q)" : ""),
          why, vendor, ips.empty() ? "-" : ips, timeText(d.last_seen()), std::to_string(d.allowed()),
          std::to_string(d.denied())};
}
const std::vector<std::string> kDeviceHeader = {"mac", "name", "profile", "why", "vendor", "ips",
                                                "last seen", "allowed", "denied"};

Command cmdDevices(std::string mac) {
  return [mac](const std::shared_ptr<grpc::Channel>& ch, const Box&) {
    auto stub = v1::DeviceService::NewStub(ch);
    grpc::ClientContext ctx;
    prepare(ctx);
    Outcome o;
    if (!mac.empty()) {
      v1::GetDeviceRequest req;
      req.set_mac(mac);
      v1::DeviceInfo d;
      grpc::Status s = stub->GetDevice(&ctx, req, &d);
      if (!s.ok()) return failed(s);
      o.json = muzzle::ctl::toJson(d);
      o.human = muzzle::ctl::table(kDeviceHeader, {deviceRow(d)});
      o.summary = d.name() + " " + d.profile();
      return o;
    }
    v1::ListDevicesResponse r;
    grpc::Status s = stub->ListDevices(&ctx, {}, &r);
    if (!s.ok()) return failed(s);
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : r.devices()) rows.push_back(deviceRow(d));
    o.json = muzzle::ctl::toJson(r);
    o.human = muzzle::ctl::table(kDeviceHeader, rows);
    o.summary = std::to_string(r.devices_size()) + " devices";
    return o;
  };
}

Outcome deviceChange(const grpc::Status& s, const v1::DeviceChangeResponse& r) {
  if (!s.ok()) return failed(s);
  Outcome o;
  o.json = muzzle::ctl::toJson(r);
  o.summary = r.device().mac() + " -> " + r.device().profile() + " (revision " + std::to_string(r.revision().number()) + ")";
  o.human = muzzle::ctl::table(kDeviceHeader, {deviceRow(r.device())}) + "revision " +
            std::to_string(r.revision().number()) + "\n";
  return o;
}

Outcome cmdValidate(const std::shared_ptr<grpc::Channel>& ch, const std::string& text, bool diff_only) {
  auto stub = v1::PolicyService::NewStub(ch);
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::ValidatePolicyRequest req;
  req.set_content(text);
  v1::ValidatePolicyResponse r;
  grpc::Status s = stub->ValidatePolicy(&ctx, req, &r);
  if (!s.ok()) return failed(s);
  Outcome o;
  o.json = muzzle::ctl::toJson(r);
  if (!r.valid()) {
    for (const auto& v : r.violations()) {
      o.human += v.file() + (v.line() ? ":" + std::to_string(v.line()) : "") + ": " +
                 (v.field().empty() ? "" : v.field() + ": ") + v.message() + "\n";
    }
    o.summary = std::to_string(r.violations_size()) + " error(s), first: " +
                (r.violations_size() ? r.violations(0).message() : "");
    o.exit = muzzle::ctl::kExitInvalid;
    return o;
  }
  o.summary = r.diff().empty() ? "valid, same as revision " + std::to_string(r.base_revision())
                               : "valid, differs from revision " + std::to_string(r.base_revision());
  o.human = diff_only ? (r.diff().empty() ? "no difference from revision " + std::to_string(r.base_revision()) + "\n" : r.diff())
                      : o.summary + "\n" + r.diff();
  return o;
}

Outcome cmdApply(const std::shared_ptr<grpc::Channel>& ch, const std::string& text, uint64_t expect, uint32_t confirm,
                 const std::string& comment) {
  auto stub = v1::PolicyService::NewStub(ch);
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::ApplyPolicyRequest req;
  req.set_content(text);
  req.set_expected_revision(expect);
  req.set_confirm_timeout_seconds(confirm);
  req.set_comment(comment);
  v1::ApplyPolicyResponse r;
  grpc::Status s = stub->ApplyPolicy(&ctx, req, &r);
  if (!s.ok()) return failed(s);
  Outcome o;
  o.json = muzzle::ctl::toJson(r);
  if (r.unchanged()) {
    o.summary = "unchanged (revision " + std::to_string(r.revision().number()) + ")";
  } else {
    o.summary = "revision " + std::to_string(r.previous_revision()) + " -> " + std::to_string(r.revision().number());
    if (r.has_pending()) o.summary += ", confirm by " + timeText(r.pending().deadline());
  }
  o.human = o.summary + "\n";
  return o;
}

std::string revisionRow(const v1::Revision& r, uint64_t current) {
  return std::to_string(r.number()) + (r.number() == current ? "*" : "");
}

Outcome cmdHistory(const std::shared_ptr<grpc::Channel>& ch) {
  auto stub = v1::PolicyService::NewStub(ch);
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::ListRevisionsResponse r;
  grpc::Status s = stub->ListRevisions(&ctx, {}, &r);
  if (!s.ok()) return failed(s);
  Outcome o;
  o.json = muzzle::ctl::toJson(r);
  std::vector<std::vector<std::string>> rows;
  for (const auto& x : r.revisions()) {
    rows.push_back({revisionRow(x, r.current()), timeText(x.created()), x.author(), std::to_string(x.parent()),
                    x.sha256().substr(0, 12), x.comment()});
  }
  o.human = muzzle::ctl::table({"revision", "created", "author", "parent", "sha256", "comment"}, rows);
  o.summary = "current " + std::to_string(r.current()) + ", " + std::to_string(r.revisions_size()) + " kept";
  return o;
}

Outcome cmdShow(const std::shared_ptr<grpc::Channel>& ch, uint64_t n) {
  auto stub = v1::PolicyService::NewStub(ch);
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::GetPolicyRequest req;
  req.set_revision(n);
  v1::GetPolicyResponse r;
  grpc::Status s = stub->GetPolicy(&ctx, req, &r);
  if (!s.ok()) return failed(s);
  Outcome o;
  o.json = muzzle::ctl::toJson(r);
  o.human = r.content();
  o.summary = "revision " + std::to_string(r.revision().number()) + " sha256 " + r.revision().sha256().substr(0, 12);
  return o;
}

Outcome cmdAudit(const std::shared_ptr<grpc::Channel>& ch, bool verify) {
  auto stub = v1::PolicyService::NewStub(ch);
  grpc::ClientContext ctx;
  prepare(ctx);
  v1::GetAuditLogResponse r;
  grpc::Status s = stub->GetAuditLog(&ctx, {}, &r);
  if (!s.ok()) return failed(s);
  Outcome o;
  o.json = muzzle::ctl::toJson(r);
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : r.entries()) {
    rows.push_back({std::to_string(e.sequence()), timeText(e.time()), e.who(), e.peer(), e.action(),
                    std::to_string(e.old_revision()) + " -> " + std::to_string(e.new_revision()), e.comment()});
  }
  o.human = verify ? "" : muzzle::ctl::table({"#", "time", "who", "from", "action", "revision", "comment"}, rows);
  if (r.chain_ok()) {
    o.summary = "chain verifies (" + std::to_string(r.entries_size()) + " entries)";
  } else {
    o.summary = "chain BROKEN: " + r.chain_error();
    if (verify) o.exit = muzzle::ctl::kExitAuditBroken;
  }
  if (verify || !r.chain_ok()) o.human += o.summary + "\n";
  return o;
}

// Streams events; prints each as it comes, prefixed with the box name in fleet mode.
Outcome cmdEvents(const std::shared_ptr<grpc::Channel>& ch, const Box& box, uint64_t after, bool follow, bool prefix) {
  static std::mutex out_mu;
  auto stub = v1::EventService::NewStub(ch);
  grpc::ClientContext ctx;
  if (!follow) prepare(ctx);
  v1::WatchEventsRequest req;
  req.set_after_sequence(after);
  req.set_follow(follow);
  auto reader = stub->WatchEvents(&ctx, req);
  v1::Event e;
  uint64_t n = 0, last = after;
  while (reader->Read(&e)) {
    std::string line;
    if (e.has_gap()) {
      line = "gap: events " + std::to_string(e.gap().first_missing()) + ".." +
             std::to_string(e.gap().first_available() - 1) + " are lost (" + e.gap().reason() + ")";
    } else {
      line = std::to_string(e.sequence()) + " " + timeText(e.time()) + " " + e.text();
      last = e.sequence();
      ++n;
    }
    if (opt.json) line = muzzle::ctl::toJson(e, false);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    std::lock_guard<std::mutex> lock(out_mu);
    std::cout << (prefix ? "[" + box.name + "] " : "") << line << std::endl;
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return failed(s);
  Outcome o;
  o.summary = std::to_string(n) + " events, last " + std::to_string(last);
  return o;
}

// --- running on one box or many ---------------------------------------------------------------

// Pretty JSON has newlines only between tokens (strings escape theirs).
std::string oneLine(std::string json) {
  for (char& c : json) c = c == '\n' ? ' ' : c;
  while (!json.empty() && json.back() == ' ') json.pop_back();
  return json;
}

std::string jsonEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

int runOn(const std::vector<Box>& boxes, bool fleet, const Command& command, bool streams) {
  std::vector<Outcome> outcomes(boxes.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < boxes.size(); ++i) {
    threads.emplace_back([&, i] {
      auto ch = muzzle::ctl::connect(boxes[i], opt.tls);
      if (!ch.ok()) {
        outcomes[i] = failed(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, ch.status().message()));
        return;
      }
      outcomes[i] = command(*ch, boxes[i]);
    });
  }
  for (auto& t : threads) t.join();
  auto codeOf = [](const Outcome& o) { return o.exit >= 0 ? o.exit : muzzle::ctl::exitCodeOf(o.status); };
  if (!fleet) {
    const Outcome& o = outcomes[0];
    if (!streams || !o.status.ok()) {
      if (opt.json && !o.json.empty()) {
        std::cout << o.json;
      } else {
        (o.status.ok() && o.exit <= 0 ? std::cout : std::cerr) << o.human;
      }
    }
    return codeOf(o);
  }
  std::vector<std::vector<std::string>> rows;
  int failures = 0;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const Outcome& o = outcomes[i];
    const int code = codeOf(o);
    if (code != 0) ++failures;
    if (opt.json) {
      std::cout << "{\"box\":\"" << boxes[i].name << "\",\"exit\":" << code << ",\"code\":\""
                << muzzle::ctl::codeName(o.status.error_code()) << "\",\"result\":"
                << (o.json.empty() ? std::string("null") : oneLine(o.json)) << ",\"detail\":\""
                << jsonEscape(o.summary) << "\"}\n";
      continue;
    }
    rows.push_back({boxes[i].name, boxes[i].target, code == 0 ? "ok" : "FAILED(" + std::to_string(code) + ")", o.summary});
  }
  if (!opt.json) std::cout << muzzle::ctl::table({"box", "target", "result", "detail"}, rows);
  return failures ? muzzle::ctl::kExitFleetFailed : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "muzzlectl: manage Muzzle boxes through their management API.\n"
      "Talks to the local box's unix socket by default; --target host:port with --cert/--key/--ca\n"
      "for a remote box; --targets FILE (lines \"NAME TARGET\") runs the command on every box\n"
      "listed, concurrently, and prints one row per box.\n"
      "Exit codes: 0 ok, 1 other error, 2 usage, 3 invalid policy or request, 4 conflict (stale\n"
      "revision, commit pending), 5 not allowed (certificate, role), 6 box unreachable,\n"
      "7 not found, 8 message too large, 9 audit chain broken, 10 some boxes of a fleet failed."};
  app.require_subcommand(1);
  app.add_option("--socket", opt.socket, "the box's unix socket")->capture_default_str();
  app.add_option("--target", opt.target, "a remote box, host:port (mutual TLS)");
  app.add_option("--targets", opt.targets_file, "a fleet file: one \"NAME TARGET\" per line");
  app.add_option("--cert", opt.tls.cert, "client certificate (PEM)");
  app.add_option("--key", opt.tls.key, "client key (PEM)");
  app.add_option("--ca", opt.tls.ca, "CA that signed the boxes' certificates (PEM)");
  app.add_option("--server-name", opt.tls.server_name, "name expected in the box's certificate");
  app.add_flag("--json", opt.json, "JSON output for scripts");
  app.add_option("--timeout", opt.timeout_s, "seconds to wait for each box")->capture_default_str();

  Command command;
  bool streams = false;

  app.add_subcommand("status", "version, uptime, revision, queues, pending commit")
      ->callback([&] { command = cmdStatus; });

  std::string mac;
  auto* devices = app.add_subcommand("devices", "devices seen or listed (one, with MAC)");
  devices->add_option("MAC", mac, "one device");
  devices->callback([&] { command = cmdDevices(mac); });

  std::string name, profile, comment;
  auto* device = app.add_subcommand("device", "change a device")->require_subcommand(1);
  auto* device_set = device->add_subcommand("set", "name a device or give it a profile (a new revision)");
  device_set->add_option("MAC", mac)->required();
  device_set->add_option("--name", name);
  device_set->add_option("--profile", profile);
  device_set->add_option("--comment", comment);
  device_set->callback([&] {
    command = [&](const std::shared_ptr<grpc::Channel>& ch, const Box&) {
      grpc::ClientContext ctx;
      prepare(ctx);
      v1::SetDeviceRequest req;
      req.set_mac(mac);
      req.set_name(name);
      req.set_profile(profile);
      req.set_comment(comment);
      v1::DeviceChangeResponse r;
      grpc::Status s = v1::DeviceService::NewStub(ch)->SetDevice(&ctx, req, &r);
      return deviceChange(s, r);
    };
  });
  for (const char* verb : {"quarantine", "release"}) {
    const bool q = std::string(verb) == "quarantine";
    auto* sub = app.add_subcommand(verb, q ? "put a device in the quarantine profile (a new revision)"
                                           : "give a quarantined device its profile back (a new revision)");
    sub->add_option("MAC", mac)->required();
    sub->add_option("--comment", comment);
    sub->callback([&, q] {
      command = [&, q](const std::shared_ptr<grpc::Channel>& ch, const Box&) {
        grpc::ClientContext ctx;
        prepare(ctx);
        v1::DeviceChangeResponse r;
        auto stub = v1::DeviceService::NewStub(ch);
        grpc::Status s;
        if (q) {
          v1::QuarantineRequest req;
          req.set_mac(mac);
          req.set_comment(comment);
          s = stub->Quarantine(&ctx, req, &r);
        } else {
          v1::ReleaseRequest req;
          req.set_mac(mac);
          req.set_comment(comment);
          s = stub->Release(&ctx, req, &r);
        }
        return deviceChange(s, r);
      };
    });
  }

  auto* policy = app.add_subcommand("policy", "policies and revisions")->require_subcommand(1);
  std::string file, confirm;
  uint64_t expect = 0, revision = 0;
  auto* validate = policy->add_subcommand("validate", "dry run: check FILE against the box, show the diff");
  validate->add_option("FILE", file)->required()->check(CLI::ExistingFile);
  auto* diff = policy->add_subcommand("diff", "show how FILE differs from the box's current revision");
  diff->add_option("FILE", file)->required()->check(CLI::ExistingFile);
  for (auto* sub : {validate, diff}) {
    const bool only_diff = sub == diff;
    sub->callback([&, only_diff] {
      std::string text = readPolicyFile(file);
      command = [text, only_diff](const std::shared_ptr<grpc::Channel>& ch, const Box&) {
        return cmdValidate(ch, text, only_diff);
      };
    });
  }
  auto* apply = policy->add_subcommand("apply", "make FILE the current policy (a new revision)");
  apply->add_option("FILE", file)->required()->check(CLI::ExistingFile);
  apply->add_option("--confirm", confirm, "roll back by itself unless confirmed within this (90s, 5m, 1h)");
  apply->add_option("--expect", expect, "refuse (exit 4) unless the box is at this revision");
  apply->add_option("--comment", comment, "why, for the audit log");
  apply->callback([&] {
    std::string text = readPolicyFile(file);
    uint32_t seconds = parseDuration(confirm);
    command = [text, seconds, &expect, &comment](const std::shared_ptr<grpc::Channel>& ch, const Box&) {
      return cmdApply(ch, text, expect, seconds, comment);
    };
  });
  auto* confirm_cmd = policy->add_subcommand("confirm", "confirm the pending commit");
  confirm_cmd->add_option("REVISION", revision, "refuse unless this revision is the pending one");
  confirm_cmd->callback([&] {
    command = [&](const std::shared_ptr<grpc::Channel>& ch, const Box&) {
      grpc::ClientContext ctx;
      prepare(ctx);
      v1::ConfirmCommitRequest req;
      req.set_revision(revision);
      v1::ConfirmCommitResponse r;
      grpc::Status s = v1::PolicyService::NewStub(ch)->ConfirmCommit(&ctx, req, &r);
      if (!s.ok()) return failed(s);
      Outcome o;
      o.json = muzzle::ctl::toJson(r);
      o.summary = "revision " + std::to_string(r.revision().number()) + " confirmed";
      o.human = o.summary + "\n";
      return o;
    };
  });
  auto* rollback = policy->add_subcommand("rollback", "go back to REVISION (default: the previous one)");
  rollback->add_option("REVISION", revision);
  rollback->add_option("--expect", expect, "refuse (exit 4) unless the box is at this revision");
  rollback->add_option("--comment", comment);
  rollback->callback([&] {
    command = [&](const std::shared_ptr<grpc::Channel>& ch, const Box&) {
      grpc::ClientContext ctx;
      prepare(ctx);
      v1::RollbackRequest req;
      req.set_revision(revision);
      req.set_expected_revision(expect);
      req.set_comment(comment);
      v1::RollbackResponse r;
      grpc::Status s = v1::PolicyService::NewStub(ch)->Rollback(&ctx, req, &r);
      if (!s.ok()) return failed(s);
      Outcome o;
      o.json = muzzle::ctl::toJson(r);
      o.summary = "revision " + std::to_string(r.previous_revision()) + " -> " + std::to_string(r.revision().number()) +
                  " (" + r.revision().comment() + ")";
      o.human = o.summary + "\n";
      return o;
    };
  });
  policy->add_subcommand("history", "the kept revisions, newest first (* = current)")->callback([&] {
    command = [](const std::shared_ptr<grpc::Channel>& ch, const Box&) { return cmdHistory(ch); };
  });
  auto* show = policy->add_subcommand("show", "print a revision's text (default: the current one)");
  show->add_option("REVISION", revision);
  show->callback([&] {
    command = [&](const std::shared_ptr<grpc::Channel>& ch, const Box&) { return cmdShow(ch, revision); };
  });

  bool follow = false, verify = false;
  uint64_t after = 0;
  auto* events = app.add_subcommand("events", "denials, new devices, policy changes");
  events->add_flag("--follow,-f", follow, "keep streaming new events");
  events->add_option("--after", after, "only events after this sequence number (resume)");
  events->callback([&] {
    streams = true;
    command = [&](const std::shared_ptr<grpc::Channel>& ch, const Box& box) {
      return cmdEvents(ch, box, after, follow, !opt.targets_file.empty());
    };
  });
  auto* audit = app.add_subcommand("audit", "the audit log of every change");
  audit->add_flag("--verify", verify, "check the hash chain only (exit 9 if broken)");
  audit->callback([&] {
    command = [&](const std::shared_ptr<grpc::Channel>& ch, const Box&) { return cmdAudit(ch, verify); };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return muzzle::ctl::kExitUsage;
  }

  std::vector<Box> boxes;
  const bool fleet = !opt.targets_file.empty();
  if (fleet) {
    auto list = muzzle::ctl::readTargets(opt.targets_file);
    if (!list.ok()) {
      std::cerr << "muzzlectl: " << list.status().message() << "\n";
      return muzzle::ctl::kExitUsage;
    }
    boxes = std::move(list).value();
  } else if (!opt.target.empty()) {
    boxes.push_back(Box{opt.target, opt.target});
  } else {
    boxes.push_back(Box{"local", "unix:" + opt.socket});
  }
  return runOn(boxes, fleet, command, streams);
}
