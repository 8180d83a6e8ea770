#include "mgmt/fleet/rollout_state.h"

#include <google/protobuf/util/json_util.h>

#include <filesystem>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "fw/common/sha256.h"
#include "mgmt/fleet/fleet_dir.h"
#include "mgmt/fleet/rollout.h"

namespace muzzle::fleet {
namespace {

constexpr const char* kWhatToDo =
    ": move it away, or run `muzzlectl fleet apply` with --restart to start the rollout over";

Status damaged(const std::string& path, const std::string& why) {
  return Status::error(StatusCode::kInvalidArgument,
                       path + ": not a rollout state (" + why + ")" + kWhatToDo);
}

}  // namespace

Result<std::optional<v1::RolloutState>> loadRolloutState(const std::string& path) {
  auto text = readRegularFile(path, kMaxRolloutStateBytes);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<v1::RolloutState>();
    // readRegularFile's message starts with the path and says what is wrong.
    return text.status().withContext("the rollout state ").withCode(
        text.status().code() == StatusCode::kUnknown ? StatusCode::kUnknown
                                                     : StatusCode::kInvalidArgument);
  }
  v1::RolloutState state;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // written by muzzlectl alone: anything else is damage
  const auto parsed = google::protobuf::util::JsonStringToMessage(*text, &state, options);
  if (!parsed.ok()) return damaged(path, std::string(parsed.message()));
  if (static_cast<size_t>(state.boxes_size()) > kMaxBoxes) {
    return damaged(path, std::to_string(state.boxes_size()) + " boxes, over the bound of " +
                             std::to_string(kMaxBoxes));
  }
  for (int i = 0; i < state.boxes_size(); ++i) {
    const v1::RolloutBoxState& b = state.boxes(i);
    if (b.name().empty() || b.wave() == 0) {
      return damaged(path, "boxes[" + std::to_string(i) + "] has no name or no wave");
    }
  }
  return std::optional<v1::RolloutState>(std::move(state));
}

Status saveRolloutState(const std::string& path, const v1::RolloutState& state) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  if (!google::protobuf::util::MessageToJsonString(state, &json, options).ok()) {
    return Status::error(path + ": cannot encode the rollout state");
  }
  const std::filesystem::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  return writeFileAtomically(dir, p.filename().string(), json, 0640)
      .withContext("saving the rollout state: ");
}

std::string desiredSha256(const std::vector<RolloutBox>& boxes) {
  Sha256 hash;
  for (const RolloutBox& b : boxes) {
    for (const std::string* part : {&b.name, &b.desired_text}) {
      hash.update(std::to_string(part->size()));
      hash.update(":");
      hash.update(*part);
    }
  }
  return hash.hexDigest();
}

}  // namespace muzzle::fleet
