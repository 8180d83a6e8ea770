// muzzlectl events [--follow] [--after N]: denials, new devices, policy changes, printed as they
// come (prefixed with the box's name in fleet mode).
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

std::string eventLine(const v1::Event& e, bool json) {
  std::string line;
  if (json) {
    line = toJson(e, false);
  } else if (e.has_gap()) {
    line = "gap: events " + std::to_string(e.gap().first_missing()) + ".." +
           std::to_string(e.gap().first_available() - 1) + " are lost (" + e.gap().reason() + ")";
  } else {
    line = std::to_string(e.sequence()) + " " + timeText(e.time()) + " " + e.text();
  }
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

Outcome events(const Call& call, uint64_t after, bool follow) {
  auto stub = v1::EventService::NewStub(call.channel);
  grpc::ClientContext ctx;
  if (!follow) call.prepare(ctx);
  v1::WatchEventsRequest req;
  req.set_after_sequence(after);
  req.set_follow(follow);
  auto reader = stub->WatchEvents(&ctx, req);
  v1::Event e;
  uint64_t n = 0, last = after;
  const std::string prefix = call.options.fleet() ? "[" + call.box.name + "] " : "";
  while (reader->Read(&e)) {
    if (!e.has_gap()) {
      last = e.sequence();
      ++n;
    }
    const std::string line = eventLine(e, call.options.json);
    std::lock_guard<std::mutex> lock(call.out_mu);
    call.out << prefix << line << std::endl;
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return failed(s);
  Outcome o;
  o.summary = std::to_string(n) + " events, last " + std::to_string(last);
  return o;
}

struct EventsArgs {
  bool follow = false;
  uint64_t after = 0;
};

}  // namespace

void addEventsCommand(CLI::App& app, Invocation& invocation) {
  auto args = std::make_shared<EventsArgs>();
  auto* sub = app.add_subcommand("events", "denials, new devices, policy changes");
  sub->add_flag("--follow,-f", args->follow, "keep streaming new events");
  sub->add_option("--after", args->after, "only events after this sequence number (resume)");
  sub->callback([&invocation, args] {
    invocation.streams = true;
    invocation.command = [a = *args](const Call& call) { return events(call, a.after, a.follow); };
  });
}

}  // namespace muzzle::ctl
