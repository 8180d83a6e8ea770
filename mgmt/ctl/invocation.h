// What one run of muzzlectl does, as plain values: the global options, the command chosen on the
// command line, and what a command returns for one box. The command line (command_line.h) fills
// an Invocation; run.h carries it out. Nothing here is global: each run owns its Invocation.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>

#include "mgmt/ctl/client.h"

namespace muzzle::ctl {

// The options every command takes, before or after the command's name.
struct GlobalOptions {
  std::string socket = "/run/muzzle/muzzled.sock";
  std::string target;        // one remote box, host:port
  std::string targets_file;  // a fleet file; when set, the command runs on every box listed
  TlsFiles tls;
  bool json = false;
  int timeout_s = 10;

  bool fleet() const { return !targets_file.empty(); }
};

// What a command did on one box.
struct Outcome {
  grpc::Status status;
  std::string human;    // full output for one box
  std::string summary;  // one line for a fleet row
  // The box's answer, printed as JSON with --json; null when the command has none (a failure,
  // or a stream that printed as it went). A policy refused for its errors has them here
  // (muzzle.v1.PolicyViolations).
  std::shared_ptr<const google::protobuf::Message> result;
  int exit = -1;  // overrides the status-derived code when >= 0
};

// One command run on one box. Commands may run on several boxes at once (one thread each): they
// write to `out` only while holding `out_mu`.
struct Call {
  std::shared_ptr<grpc::Channel> channel;
  const Box& box;
  const GlobalOptions& options;
  std::ostream& out;
  std::mutex& out_mu;

  // Gives a unary call the --timeout deadline.
  void prepare(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(options.timeout_s));
  }
};

using Command = std::function<Outcome(const Call&)>;

// A command that reaches its boxes itself rather than once per box (`muzzlectl fleet ...`, which
// reads a fleet directory): it prints what it has to say and returns the exit code.
using WholeCommand =
    std::function<int(const GlobalOptions& options, std::ostream& out, std::ostream& err)>;

struct Invocation {
  GlobalOptions options;
  Command command;       // set by the subcommand's callback once the command line is parsed
  WholeCommand whole;    // set instead of `command` by a command that runs itself
  bool streams = false;  // the command prints as it goes (events): nothing left to print at the end
};

// The Outcome of a failed call: the code's name, the box's message and what to do; for a policy
// that does not compile, its errors one by one from the error details.
Outcome failed(const grpc::Status& s);

// A successful Outcome holding `result`; the caller adds the text.
template <typename M>
Outcome answered(const M& result) {
  Outcome o;
  o.result = std::make_shared<M>(result);
  return o;
}

// One unary call to the box with the --timeout deadline. `rpc` is a method of a service's
// generated Stub, e.g. &v1::PolicyService::Stub::GetPolicy. Returns failed() when the call
// fails, else answered(*response) for the command to add its text to.
template <typename Stub, typename Request, typename Response>
Outcome ask(const Call& call,
            grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Request&, Response*),
            const Request& request, Response* response) {
  grpc::ClientContext ctx;
  call.prepare(ctx);
  Stub stub(call.channel);
  const grpc::Status s = (stub.*rpc)(&ctx, request, response);
  return s.ok() ? answered(*response) : failed(s);
}

// "2026-01-02T03:04:05Z", or "-" for an unset time.
std::string timeText(const google::protobuf::Timestamp& t);

}  // namespace muzzle::ctl
