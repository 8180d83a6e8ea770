#include "mgmt/ctl/client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>

#include "fw/common/confined_file.h"

namespace muzzle::ctl {

Result<std::vector<Box>> readTargets(const std::string& path) {
  auto text = readRegularFile(path);
  if (!text.ok()) return text.status().withCode(StatusCode::kInvalidArgument);
  std::vector<Box> boxes;
  std::istringstream in(*text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    Box b;
    if (!(words >> b.name)) continue;
    std::string extra;
    if (!(words >> b.target) || (words >> extra)) {
      return Status::error(StatusCode::kInvalidArgument,
                           path + ":" + std::to_string(n) + ": expected \"NAME TARGET\" (TARGET: unix:/path or host:port)");
    }
    boxes.push_back(std::move(b));
  }
  if (boxes.empty()) return Status::error(StatusCode::kInvalidArgument, path + ": no boxes listed");
  return boxes;
}

Result<std::shared_ptr<grpc::Channel>> connect(const Box& box, const TlsFiles& tls) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  if (box.target.rfind("unix:", 0) == 0) {
    return grpc::CreateCustomChannel(box.target, grpc::InsecureChannelCredentials(), args);
  }
  if (tls.ca.empty()) {
    return Status::error(StatusCode::kInvalidArgument,
                         box.name + ": TCP target " + box.target + " needs --ca (and --cert/--key): the API is mutual TLS only");
  }
  grpc::SslCredentialsOptions ssl;
  for (auto [path, out] : {std::pair{&tls.ca, &ssl.pem_root_certs}, {&tls.cert, &ssl.pem_cert_chain},
                           {&tls.key, &ssl.pem_private_key}}) {
    if (path->empty()) continue;  // no client cert: the box will say UNAUTHENTICATED
    auto text = readRegularFile(*path);
    if (!text.ok()) return text.status().withCode(StatusCode::kInvalidArgument);
    *out = *text;
  }
  if (!tls.server_name.empty()) args.SetSslTargetNameOverride(tls.server_name);
  return grpc::CreateCustomChannel(box.target, grpc::SslCredentials(ssl), args);
}

}  // namespace muzzle::ctl
