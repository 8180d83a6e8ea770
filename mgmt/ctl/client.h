// How muzzlectl reaches a box: a unix socket (local admin) or TCP with mutual TLS.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "fw/common/status.h"

namespace muzzle::ctl {

struct TlsFiles {
  std::string cert, key, ca;
  std::string server_name;  // expected name in the box's certificate, when not the target host
};

struct Box {
  std::string name;    // for fleet rows
  std::string target;  // "unix:/run/muzzle/muzzled.sock" or "host:port"
};

// Reads a fleet file: one box per line, "NAME TARGET"; blank lines and # comments ignored.
Result<std::vector<Box>> readTargets(const std::string& path);

// A channel to `box`. TCP targets need all three TLS files (the API has no plaintext TCP).
Result<std::shared_ptr<grpc::Channel>> connect(const Box& box, const TlsFiles& tls);

}  // namespace muzzle::ctl
