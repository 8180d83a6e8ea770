#include "mgmt/ctl/output.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/support/error_details.h>

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "google/rpc/status.pb.h"

namespace muzzle::ctl {

int exitCodeOf(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK: return kExitOk;
    case grpc::StatusCode::INVALID_ARGUMENT: return kExitInvalid;
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION: return kExitConflict;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED: return kExitDenied;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED: return kExitUnreachable;
    case grpc::StatusCode::NOT_FOUND: return kExitNotFound;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return kExitTooLarge;
    default: return kExitError;
  }
}

std::string hintFor(const grpc::Status& s) {
  if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return "";
  const std::string& m = s.error_message();
  auto has = [&](const char* text) { return m.find(text) != std::string::npos; };
  // muzzled checks a local caller's credentials as it accepts, and closes the connection at
  // once when they are not allowed: the client sees its first write fail.
  if (has("unix:") && (has("Broken pipe") || has("Socket closed") || has("Connection reset"))) {
    return " (the box closed the connection at once: this user may not use its management socket; "
           "root, group muzzle and the users in management.socket_access may)";
  }
  if (has("handshake") || has("Handshake")) {
    return " (the box refused the TLS handshake, or its certificate does not chain to --ca or "
           "does not name the target: check --ca, --server-name, and that --cert/--key are a "
           "pair signed by the box's client CA)";
  }
  return "";
}

const char* codeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    default: return "UNKNOWN";
  }
}

std::string toJson(const google::protobuf::Message& m, bool pretty) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

std::string violationLine(const v1::Violation& v) {
  return v.file() + (v.line() ? ":" + std::to_string(v.line()) : "") + ": " +
         (v.field().empty() ? "" : v.field() + ": ") + v.message();
}

std::optional<v1::PolicyViolations> violationsOf(const grpc::Status& s) {
  if (s.error_details().empty()) return std::nullopt;
  google::rpc::Status rich;
  if (!grpc::ExtractErrorDetails(s, &rich).ok()) return std::nullopt;
  for (const auto& any : rich.details()) {
    v1::PolicyViolations violations;
    if (any.UnpackTo(&violations)) return violations;
  }
  return std::nullopt;
}

std::string byteText(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  if (bytes < 1000) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 999.95 && unit + 1 < std::size(kUnits)) {
    v /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", v, kUnits[unit]);
  return text;
}

std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) l += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    out += l + "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

}  // namespace muzzle::ctl
