// grpc_probe: a small gRPC client independent of muzzlectl, for scenario tests that check the
// management API is the contract (any client can drive a box), not just muzzlectl's habits.
//
//   grpc_probe TARGET health   standard health service: prints status=SERVING|... (exit 0 iff
//                              SERVING). Hand-encoded bytes through a generic stub: no code
//                              generated from health.proto, as a foreign client would see it.
//   grpc_probe TARGET status   muzzle.v1.StatusService/GetStatus through the generated stub:
//                              prints key=value fields (rejected: summed over the queues).
//   grpc_probe TARGET services server reflection's list of services (hand-encoded request
//                              through a generic bidi stream), one per line.
//   grpc_probe TARGET stall SECONDS
//                              a slow watcher: follows WatchEvents with an 8 KiB receive window,
//                              reads one event (prints result=stalling), stops reading until it
//                              gets SIGUSR1 or SECONDS passed, then drains and prints how the
//                              stream ended (result=ended code=N message=...).
//   grpc_probe TARGET hold events|health|reflection N
//                              opens N streams one after the other (WatchEvents following from
//                              the start; grpc.health.v1.Health/Watch or a server reflection
//                              stream asking for the service list, by hand-encoded bytes),
//                              reads the first message of each, and prints
//                              `opened=N accepted=A refused=R` and the first refusal
//                              (`refusal code=N message="..."`), then `holding`. Keeps the
//                              accepted streams open until its standard input ends, then
//                              cancels them and prints `closed`.
// TARGET is a gRPC target such as unix:/run/muzzle/muzzled.sock, or host:port for TCP with TLS:
// then `--ca FILE` (the box's CA) and, to present a client certificate, `--cert FILE --key FILE`
// come first. Without a certificate the box must refuse every call, health and reflection too.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "muzzle/v1/management.grpc.pb.h"

namespace {

constexpr int kUsage = 64;

int health(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // HealthCheckRequest{service: ""} encodes to zero bytes.
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) {
    std::printf("status=error code=%d message=\"%s\"\n", status.error_code(),
                status.error_message().c_str());
    return 1;
  }
  std::vector<grpc::Slice> slices;
  response.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status: SERVING (1)} is field 1, varint: 0x08 0x01.
  const bool serving = bytes == std::string("\x08\x01", 2);
  std::printf("status=%s bytes=%zu\n", serving ? "SERVING" : "NOT_SERVING", bytes.size());
  return serving ? 0 : 1;
}

// ServerReflectionRequest{list_services: ""} is field 7, length-delimited, empty: 0x3a 0x00.
// The response lists service names as strings; printing the printable runs is enough to see them.
int services(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok = false;
  auto step = [&](void* want) { return cq.Next(&tag, &ok) && tag == want && ok; };
  grpc::Status status;
  auto fail = [&] {
    call->Finish(&status, reinterpret_cast<void*>(5));
    while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(5)) {
    }
    std::printf("status=error code=%d message=\"%s\"\n", status.error_code(),
                status.error_message().c_str());
    return 1;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  if (!step(reinterpret_cast<void*>(1))) return fail();
  grpc::Slice request_bytes(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&request_bytes, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  if (!step(reinterpret_cast<void*>(2))) return fail();
  call->WritesDone(reinterpret_cast<void*>(3));
  if (!step(reinterpret_cast<void*>(3))) return fail();
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  if (!step(reinterpret_cast<void*>(4))) return fail();
  call->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  std::vector<grpc::Slice> slices;
  response.Dump(&slices);
  std::string bytes, run;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  for (char c : bytes + '\0') {
    if (c >= 0x20 && c < 0x7f) {
      run += c;
    } else {
      if (run.size() >= 8) std::printf("%s\n", run.c_str());
      run.clear();
    }
  }
  return status.ok() ? 0 : 1;
}

int status(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = muzzle::v1::StatusService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  muzzle::v1::GetStatusResponse r;
  grpc::Status s = stub->GetStatus(&ctx, muzzle::v1::GetStatusRequest(), &r);
  if (!s.ok()) {
    std::printf("status=error code=%d message=\"%s\"\n", s.error_code(), s.error_message().c_str());
    return 1;
  }
  unsigned long long rejected = 0;
  for (const auto& q : r.queues()) rejected += q.rejected();
  std::printf("version=%s generation=%u revision=%llu queue_mode=%s fail_mode=%s devices_known=%llu role=%s "
              "rejected=%llu log_suppressed=%llu events_dropped=%llu last_event_sequence=%llu\n",
              r.version().c_str(), r.policy_generation(),
              static_cast<unsigned long long>(r.policy_revision()), r.queue_mode().c_str(),
              r.fail_mode().c_str(), static_cast<unsigned long long>(r.devices_known()), r.role().c_str(),
              rejected, static_cast<unsigned long long>(r.log_suppressed()),
              static_cast<unsigned long long>(r.events_dropped()),
              static_cast<unsigned long long>(r.last_event_sequence()));
  return 0;
}

// One stream held open: its context must outlive the reader.
struct HeldStream {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<muzzle::v1::Event>> events;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> health;
  grpc::CompletionQueue cq;
};

// Opens a health Watch (`request` empty: HealthCheckRequest{service: ""}) or a reflection
// stream (`request` list_services; the stream stays open for more) through a generic stream, and
// reads its first message.
bool openGeneric(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                 const std::string& request_bytes, bool last, HeldStream* h, grpc::Status* status) {
  grpc::GenericStub stub(channel);
  h->health = stub.PrepareCall(&h->ctx, method, &h->cq);
  void* tag;
  bool ok = false;
  auto step = [&](intptr_t want) {
    return h->cq.Next(&tag, &ok) && tag == reinterpret_cast<void*>(want) && ok;
  };
  h->health->StartCall(reinterpret_cast<void*>(1));
  bool fine = step(1);
  if (fine) {
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer request(&slice, 1);
    if (last) {
      h->health->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(2));
    } else {
      h->health->Write(request, reinterpret_cast<void*>(2));
    }
    fine = step(2);
  }
  if (fine) {
    grpc::ByteBuffer response;
    h->health->Read(&response, reinterpret_cast<void*>(3));
    if (step(3)) return true;
  }
  h->health->Finish(status, reinterpret_cast<void*>(4));
  while (h->cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(4)) {
  }
  return false;
}

int hold(const std::shared_ptr<grpc::Channel>& channel, const std::string& kind, int n) {
  auto stub = muzzle::v1::EventService::NewStub(channel);
  std::vector<std::unique_ptr<HeldStream>> held;
  int accepted = 0, refused = 0;
  for (int i = 0; i < n; ++i) {
    auto h = std::make_unique<HeldStream>();
    grpc::Status status;
    bool ok = false;
    if (kind == "health") {
      ok = openGeneric(channel, "/grpc.health.v1.Health/Watch", "", true, h.get(), &status);
    } else if (kind == "reflection") {
      ok = openGeneric(channel, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                       std::string("\x3a\x00", 2), false, h.get(), &status);
    } else {
      muzzle::v1::WatchEventsRequest req;
      req.set_follow(true);
      h->events = stub->WatchEvents(&h->ctx, req);
      muzzle::v1::Event event;
      ok = h->events->Read(&event);
      if (!ok) status = h->events->Finish();
    }
    if (ok) {
      ++accepted;
      held.push_back(std::move(h));
      continue;
    }
    if (refused++ == 0) {
      std::printf("refusal code=%d message=\"%s\"\n", status.error_code(),
                  status.error_message().c_str());
    }
  }
  std::printf("opened=%d accepted=%d refused=%d\nholding\n", n, accepted, refused);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  for (auto& h : held) h->ctx.TryCancel();
  for (auto& h : held) {
    if (h->events) {
      muzzle::v1::Event event;
      while (h->events->Read(&event)) {
      }
      h->events->Finish();
    } else {
      grpc::Status status;
      void* tag;
      bool ok;
      h->health->Finish(&status, reinterpret_cast<void*>(5));
      while (h->cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(5)) {
      }
      h->cq.Shutdown();
      while (h->cq.Next(&tag, &ok)) {
      }
    }
  }
  std::printf("closed\n");
  return 0;
}

int stall(const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& creds,
          int seconds) {
  // A small stream window (and no window growth from bandwidth probing) makes the server's
  // writes stall after a few KiB, the way a stuck client on a slow link looks from the box.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8192);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto channel = grpc::CreateCustomChannel(target, creds, args);
  auto stub = muzzle::v1::EventService::NewStub(channel);
  grpc::ClientContext ctx;
  muzzle::v1::WatchEventsRequest req;
  req.set_follow(true);
  auto reader = stub->WatchEvents(&ctx, req);
  muzzle::v1::Event event;
  size_t read = reader->Read(&event) ? 1 : 0;
  std::printf("result=stalling first_sequence=%llu\n", static_cast<unsigned long long>(event.sequence()));
  // SIGUSR1 is blocked in every thread (main), so it waits here until the test has seen what it
  // needs, however long that takes on a loaded machine.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  const timespec limit{seconds, 0};
  const bool released = sigtimedwait(&usr1, nullptr, &limit) == SIGUSR1;
  std::printf("result=resumed by=%s\n", released ? "SIGUSR1" : "timeout");
  while (reader->Read(&event)) ++read;
  grpc::Status s = reader->Finish();
  std::printf("result=ended code=%d read=%zu message=\"%s\"\n", s.error_code(), read,
              s.error_message().c_str());
  return 0;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "grpc_probe: cannot read %s\n", path.c_str());
    std::exit(kUsage);
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  // Tests read the output while the probe runs: never hold a line back.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Before gRPC starts its threads, which inherit the mask: only stall() takes SIGUSR1.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
  std::vector<std::string> args(argv + 1, argv + argc);
  grpc::SslCredentialsOptions tls;
  bool use_tls = false;
  while (args.size() >= 2 && args[0].rfind("--", 0) == 0) {
    const std::string text = readFile(args[1]);
    if (args[0] == "--ca") {
      tls.pem_root_certs = text;
    } else if (args[0] == "--cert") {
      tls.pem_cert_chain = text;
    } else if (args[0] == "--key") {
      tls.pem_private_key = text;
    } else {
      std::fprintf(stderr, "grpc_probe: unknown option %s\n", args[0].c_str());
      return kUsage;
    }
    use_tls = true;
    args.erase(args.begin(), args.begin() + 2);
  }
  auto creds = use_tls ? grpc::SslCredentials(tls) : grpc::InsecureChannelCredentials();
  if (args.size() == 3 && args[1] == "stall")
    return stall(args[0], creds, std::atoi(args[2].c_str()));
  auto channel = grpc::CreateChannel(args.empty() ? "" : args[0], creds);
  if (args.size() == 4 && args[1] == "hold")
    return hold(channel, args[2], std::atoi(args[3].c_str()));
  if (args.size() != 2) {
    std::fprintf(stderr,
                 "usage: grpc_probe [--ca FILE --cert FILE --key FILE] TARGET "
                 "health|status|services|stall SECONDS|hold events|health|reflection N\n");
    return kUsage;
  }
  const std::string& what = args[1];
  if (what == "health") return health(channel);
  if (what == "status") return status(channel);
  if (what == "services") return services(channel);
  std::fprintf(stderr, "grpc_probe: unknown call %s\n", what.c_str());
  return kUsage;
}
