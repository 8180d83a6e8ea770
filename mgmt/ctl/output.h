// muzzlectl's output: aligned tables for people, JSON for scripts, and the exit codes.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include "muzzle/v1/management.pb.h"

#include <optional>
#include <string>
#include <vector>

namespace muzzle::ctl {

// Exit codes (documented in README.md, "Managing boxes").
enum Exit : int {
  kExitOk = 0,
  kExitError = 1,          // anything not listed below
  kExitUsage = 2,          // bad command line
  kExitInvalid = 3,        // INVALID_ARGUMENT: bad policy or request
  kExitConflict = 4,       // ABORTED / FAILED_PRECONDITION: stale revision, commit pending
  kExitDenied = 5,         // UNAUTHENTICATED / PERMISSION_DENIED
  kExitUnreachable = 6,    // UNAVAILABLE / DEADLINE_EXCEEDED
  kExitNotFound = 7,       // NOT_FOUND
  kExitTooLarge = 8,       // RESOURCE_EXHAUSTED
  kExitAuditBroken = 9,    // audit --verify found a broken chain
  kExitFleetFailed = 10,   // --targets, fleet: at least one box failed
  kExitRolloutHalted = 11,  // fleet apply: the rollout halted (a gate or an apply failed)
  kExitDrift = 12,          // fleet plan --fail-on-drift: some box does not run its desired policy
};
int exitCodeOf(const grpc::Status& s);
// What a person can do about a connection the box refused before any call ran (gRPC's own
// message names only the socket error); empty when there is nothing to add.
std::string hintFor(const grpc::Status& s);
const char* codeName(grpc::StatusCode code);

std::string toJson(const google::protobuf::Message& m, bool pretty = true);

// One policy error as a line: "policy.yaml:9: devices[0].mac: message" (line and field when known).
std::string violationLine(const v1::Violation& v);
// The policy errors a refusal carries in its error details (ApplyPolicy, Rollback: gRPC's richer
// error model); none when it carries none or they cannot be read.
std::optional<v1::PolicyViolations> violationsOf(const grpc::Status& s);

// A byte count for people: "0 B", "950 B", "12.3 kB", "4.0 MB", "1.2 GB" (powers of 1000).
std::string byteText(uint64_t bytes);

// Columns padded to their widest cell.
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace muzzle::ctl
