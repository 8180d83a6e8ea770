// muzzlectl events [--follow] [--after [EPOCH:]N]: denials, new devices, policy changes, printed
// as they come (prefixed with the box's name in fleet mode). EPOCH:N is the resume token (the
// run of muzzled that numbered event N: `muzzlectl status` shows the current one, --json every
// event's); with it, a resume across a restart of muzzled starts with a gap marked restarted.
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/event_text.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

Outcome events(const Call& call, uint64_t epoch, uint64_t after, bool follow) {
  auto stub = v1::EventService::NewStub(call.channel);
  grpc::ClientContext ctx;
  if (!follow) call.prepare(ctx);
  v1::WatchEventsRequest req;
  req.set_after_sequence(after);
  req.set_epoch(epoch);
  req.set_follow(follow);
  auto reader = stub->WatchEvents(&ctx, req);
  v1::Event e;
  uint64_t n = 0, last = after;
  uint64_t run = epoch;
  const std::string prefix = call.options.fleet() ? "[" + call.box.name + "] " : "";
  while (reader->Read(&e)) {
    run = e.epoch();
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
  o.summary =
      std::to_string(n) + " events, last " + std::to_string(run) + ":" + std::to_string(last);
  return o;
}

struct EventsArgs {
  bool follow = false;
  std::string after = "0";
};

}  // namespace

void addEventsCommand(CLI::App& app, Invocation& invocation) {
  auto args = std::make_shared<EventsArgs>();
  auto* sub = app.add_subcommand("events", "denials, new devices, policy changes");
  sub->add_flag("--follow,-f", args->follow, "keep streaming new events");
  sub->add_option("--after", args->after,
                  "only events after this one (resume): EPOCH:SEQUENCE, or SEQUENCE of this run")
      ->check(CLI::Validator(
          [](std::string& text) {
            return parseResumeToken(text) ? std::string()
                                          : "expected SEQUENCE or EPOCH:SEQUENCE (decimal)";
          },
          "[EPOCH:]SEQUENCE"));
  sub->callback([&invocation, args] {
    invocation.streams = true;
    // Named, not a structured binding: clang before 16 cannot capture one.
    const auto [epoch_value, after_value] = *parseResumeToken(args->after);
    invocation.command = [epoch = epoch_value, after = after_value,
                          follow = args->follow](const Call& call) {
      return events(call, epoch, after, follow);
    };
  });
}

}  // namespace muzzle::ctl
