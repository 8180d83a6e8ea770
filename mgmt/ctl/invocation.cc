#include "mgmt/ctl/invocation.h"

#include <ctime>

#include "mgmt/ctl/output.h"

namespace muzzle::ctl {

Outcome failed(const grpc::Status& s) {
  Outcome o;
  o.status = s;
  o.summary = std::string(codeName(s.error_code())) + ": " + s.error_message() + hintFor(s);
  o.human = "error: " + o.summary + "\n";
  return o;
}

std::string timeText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  std::time_t s = t.seconds();
  std::tm tm;
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace muzzle::ctl
