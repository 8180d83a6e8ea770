// muzzlectl setup: the box's interfaces, and (admin) its segments and uplink, on a box whose
// muzzled.yaml names none. Without --segment on a terminal it asks; elsewhere it lists the
// interfaces and says what to run.
#include "mgmt/ctl/commands/setup.h"

#include <unistd.h>

#include <iostream>

#include "fw/common/confined_file.h"
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {

Result<v1::SetupSegment> parseSegmentArg(const std::string& arg) {
  v1::SetupSegment seg;
  const size_t eq = arg.find('=');
  if (eq == std::string::npos) {
    seg.set_interface(arg);
  } else {
    seg.set_name(arg.substr(0, eq));
    seg.set_interface(arg.substr(eq + 1));
    if (seg.name().empty()) {
      return Status::error(StatusCode::kInvalidArgument,
                           "--segment \"" + arg + "\": no name before '=' (NAME=IFACE, or IFACE)");
    }
  }
  if (seg.interface().empty()) {
    return Status::error(StatusCode::kInvalidArgument,
                         "--segment \"" + arg + "\": no interface (IFACE, or NAME=IFACE)");
  }
  return seg;
}

std::vector<std::string> wordsOf(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  for (char c : line + " ") {
    if (c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r') {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  return out;
}

std::string interfaceTable(const google::protobuf::RepeatedPtrField<v1::NetworkInterface>& list) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::NetworkInterface& i : list) {
    std::string addresses;
    for (const std::string& a : i.addresses()) addresses += (addresses.empty() ? "" : " ") + a;
    rows.push_back({i.name(), i.kind(), i.up() ? "up" : "DOWN", i.mac().empty() ? "-" : i.mac(),
                    addresses.empty() ? "-" : addresses, i.default_route() ? "default route" : ""});
  }
  return table({"interface", "kind", "link", "mac", "addresses", ""}, rows);
}

namespace {

namespace v1 = muzzle::v1;

struct SetupArgs {
  std::vector<std::string> segments;
  std::vector<std::string> uplinks;
  std::string policy;
  bool dry_run = false;
};

Outcome setup(const Call& call, v1::SetupRequest req) {
  v1::SetupResponse r;
  // The box answers once it enforces: its first policy compile and install take a moment.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(std::max(call.options.timeout_s, 60)));
  v1::SetupService::Stub stub(call.channel);
  const grpc::Status s = stub.Setup(&ctx, req, &r);
  if (!s.ok()) return failed(s);
  Outcome o = answered(r);
  std::string segs;
  for (const auto& sg : r.segments()) segs += (segs.empty() ? "" : " ") + sg.name() + ":" + sg.interface();
  std::string ups;
  for (const auto& u : r.uplinks()) ups += (ups.empty() ? "" : " ") + u;
  std::vector<std::vector<std::string>> rows = {{"segments", segs},
                                                {"uplink", ups.empty() ? "-" : ups},
                                                {"policy", r.policy()},
                                                {req.dry_run() ? "would be kept in" : "kept in",
                                                 r.setup_file()}};
  if (req.dry_run()) {
    rows.push_back({"state", "checked only (--dry-run): nothing stored, nothing enforced"});
  } else {
    rows.push_back({"state", r.enforcing()});
    rows.push_back({"policy revision", std::to_string(r.policy_revision())});
  }
  o.human = table({"setup", "value"}, rows);
  for (const std::string& w : r.warnings()) o.human += "warning: " + w + "\n";
  if (!req.dry_run()) {
    o.human += "\nNext: `muzzlectl devices` shows what appears on the segments; "
               "`muzzlectl learn start MAC --for 24h` learns what a device needs.\n";
  }
  o.summary = req.dry_run() ? "setup checked: " + segs : r.enforcing();
  return o;
}

// Asks on the terminal; returns false when the person gave no segment (nothing is done).
bool askChoice(v1::SetupRequest* req, std::ostream& out) {
  std::string line;
  out << "\nSegment interface(s), where the IoT devices are (NAME=IFACE or IFACE, several "
         "separated by spaces): "
      << std::flush;
  if (!std::getline(std::cin, line)) return false;
  for (const std::string& w : wordsOf(line)) {
    auto seg = parseSegmentArg(w);
    if (!seg.ok()) {
      out << seg.status().message() << "\n";
      return false;
    }
    *req->add_segments() = *seg;
  }
  if (req->segments_size() == 0) return false;
  out << "Uplink interface, towards the rest of the network (empty: none): " << std::flush;
  if (!std::getline(std::cin, line)) return false;
  for (const std::string& w : wordsOf(line)) req->add_uplinks(w);
  out << "Policy file (empty: the shipped starter policy): " << std::flush;
  if (!std::getline(std::cin, line)) return false;
  const auto words = wordsOf(line);
  if (!words.empty()) {
    auto text = readRegularFile(words.front());
    if (!text.ok()) {
      out << text.status().message() << "\n";
      return false;
    }
    req->set_policy_text(*text);
  }
  // Checked by the box first, so the person sees the warnings before saying yes.
  return true;
}

Outcome listOnly(const Call& call, bool prompt) {
  v1::ListInterfacesResponse r;
  Outcome o = ask(call, &v1::SetupService::Stub::ListInterfaces, {}, &r);
  if (!o.status.ok()) return o;
  o.human = interfaceTable(r.interfaces());
  o.summary = std::to_string(r.interfaces_size()) + " interfaces";
  if (!prompt) {
    o.human +=
        "\nTo set the box up (admin): muzzlectl setup --segment IFACE [--segment NAME=IFACE] "
        "--uplink IFACE [--policy FILE]\n";
    return o;
  }
  {
    std::lock_guard<std::mutex> lock(call.out_mu);
    call.out << o.human << std::flush;
  }
  v1::SetupRequest req;
  if (!askChoice(&req, call.out)) {
    Outcome none;
    none.status = grpc::Status::OK;
    none.human = "Nothing set up.\n";
    none.summary = "nothing set up";
    return none;
  }
  req.set_dry_run(true);
  Outcome check = setup(call, req);
  if (!check.status.ok()) return check;
  call.out << "\n" << check.human << "\nEnforce this now? [y/N] " << std::flush;
  std::string yes;
  if (!std::getline(std::cin, yes) || (yes != "y" && yes != "Y" && yes != "yes")) {
    Outcome none;
    none.human = "Nothing set up.\n";
    none.summary = "nothing set up";
    return none;
  }
  req.set_dry_run(false);
  return setup(call, req);
}

}  // namespace

void addSetupCommand(CLI::App& app, Invocation& invocation) {
  auto args = std::make_shared<SetupArgs>();
  auto* cmd = app.add_subcommand(
      "setup",
      "name the segments and the uplink of a box whose config names none (admin); without "
      "--segment: list the interfaces (and ask, on a terminal)");
  cmd->add_option("--segment", args->segments,
                  "an interface the IoT devices sit behind, IFACE or NAME=IFACE; repeat for more");
  cmd->add_option("--uplink", args->uplinks,
                  "the interface towards the rest of the network; never a segment");
  cmd->add_option("--policy", args->policy,
                  "the first policy (default: the shipped starter policy)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--dry-run", args->dry_run, "only check the choice; store and change nothing");
  cmd->callback([&invocation, args] {
    if (args->segments.empty()) {
      if (!args->uplinks.empty() || !args->policy.empty() || args->dry_run) {
        throw CLI::ValidationError("--segment",
                                   "--uplink, --policy and --dry-run go with --segment IFACE");
      }
      const bool prompt = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) &&
                          !invocation.options.json && !invocation.options.fleet();
      invocation.command = [prompt](const Call& call) { return listOnly(call, prompt); };
      return;
    }
    v1::SetupRequest req;
    for (const std::string& s : args->segments) {
      auto seg = parseSegmentArg(s);
      if (!seg.ok()) throw CLI::ValidationError("--segment", seg.status().message());
      *req.add_segments() = *seg;
    }
    for (const std::string& u : args->uplinks) {
      if (u.empty()) throw CLI::ValidationError("--uplink", "an empty interface name");
      req.add_uplinks(u);
    }
    if (!args->policy.empty()) {
      auto text = readRegularFile(args->policy);
      if (!text.ok()) throw CLI::ValidationError("--policy", text.status().message());
      req.set_policy_text(*text);
    }
    req.set_dry_run(args->dry_run);
    invocation.command = [req](const Call& call) { return setup(call, req); };
  });
}

}  // namespace muzzle::ctl
