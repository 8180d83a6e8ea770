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
// TARGET is a gRPC target such as unix:/run/muzzle/muzzled.sock.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <condition_variable>
#include <cstdlib>
#include <cstdio>
#include <mutex>
#include <string>

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
    std::printf("status=error code=%d message=\"%s\"\n", status.error_code(), status.error_message().c_str());
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
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok = false;
  auto step = [&](void* want) { return cq.Next(&tag, &ok) && tag == want && ok; };
  call->StartCall(reinterpret_cast<void*>(1));
  if (!step(reinterpret_cast<void*>(1))) return 1;
  grpc::Slice request_bytes(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&request_bytes, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  if (!step(reinterpret_cast<void*>(2))) return 1;
  call->WritesDone(reinterpret_cast<void*>(3));
  if (!step(reinterpret_cast<void*>(3))) return 1;
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  if (!step(reinterpret_cast<void*>(4))) return 1;
  grpc::Status status;
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

int stall(const std::string& target, int seconds) {
  // A small stream window (and no window growth from bandwidth probing) makes the server's
  // writes stall after a few KiB, the way a stuck client on a slow link looks from the box.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8192);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
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
  std::printf("result=ended code=%d read=%zu message=\"%s\"\n", s.error_code(), read, s.error_message().c_str());
  return 0;
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
  if (argc == 4 && std::string(argv[2]) == "stall") return stall(argv[1], std::atoi(argv[3]));
  if (argc != 3) {
    std::fprintf(stderr, "usage: grpc_probe TARGET health|status|services|stall SECONDS\n");
    return kUsage;
  }
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  const std::string what = argv[2];
  if (what == "health") return health(channel);
  if (what == "status") return status(channel);
  if (what == "services") return services(channel);
  std::fprintf(stderr, "grpc_probe: unknown call %s\n", argv[2]);
  return kUsage;
}
