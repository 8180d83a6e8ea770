// grpc_probe: a small gRPC client independent of muzzlectl, for scenario tests that check the
// management API is the contract (any client can drive a box), not just muzzlectl's habits.
//
//   grpc_probe TARGET health   standard health service: prints status=SERVING|... (exit 0 iff
//                              SERVING). Hand-encoded bytes through a generic stub: no code
//                              generated from health.proto, as a foreign client would see it.
//   grpc_probe TARGET status   muzzle.v1.StatusService/GetStatus through the generated stub:
//                              prints key=value fields.
// TARGET is a gRPC target such as unix:/run/muzzle/muzzled.sock.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
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
  std::printf("version=%s generation=%u revision=%llu queue_mode=%s fail_mode=%s devices_known=%llu role=%s\n",
              r.version().c_str(), r.policy_generation(),
              static_cast<unsigned long long>(r.policy_revision()), r.queue_mode().c_str(),
              r.fail_mode().c_str(), static_cast<unsigned long long>(r.devices_known()), r.role().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: grpc_probe TARGET health|status\n");
    return kUsage;
  }
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  const std::string what = argv[2];
  if (what == "health") return health(channel);
  if (what == "status") return status(channel);
  std::fprintf(stderr, "grpc_probe: unknown call %s\n", argv[2]);
  return kUsage;
}
