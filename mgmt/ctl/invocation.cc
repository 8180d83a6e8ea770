#include "mgmt/ctl/invocation.h"

#include <ctime>

#include "mgmt/ctl/output.h"

namespace muzzle::ctl {

Outcome failed(const grpc::Status& s) {
  Outcome o;
  o.status = s;
  const std::string code = codeName(s.error_code());
  if (auto violations = violationsOf(s); violations && violations->violations_size() > 0) {
    // The box's errors one by one, as validate prints them; --json prints them as they came.
    const int n = violations->violations_size();
    o.summary = code + ": " + std::to_string(n) + " error(s) in the policy, first: " +
                violationLine(violations->violations(0));
    o.human = "error: " + code + ": the policy has " + std::to_string(n) +
              " error(s); nothing was changed\n";
    for (const auto& v : violations->violations()) o.human += violationLine(v) + "\n";
    o.result = std::make_shared<v1::PolicyViolations>(std::move(*violations));
    return o;
  }
  o.summary = code + ": " + s.error_message() + hintFor(s);
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
