// The management API's roles, shared by the gRPC handlers (auth.h) and the web console
// (mgmt/web/), which uses the same roles for its accounts. No gRPC here.
#pragma once

#include <string>

#include "fw/common/status.h"

namespace muzzle {

// Ordered: a role may do everything the ones below it may.
enum class Role { kNone = 0, kViewer = 1, kOperator = 2, kAdmin = 3 };

inline const char* roleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kViewer:
      return "viewer";
    case Role::kNone:
      break;
  }
  return "none";
}

inline Result<Role> parseRole(const std::string& name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "operator") return Role::kOperator;
  if (name == "viewer") return Role::kViewer;
  return Status::error(StatusCode::kInvalidArgument,
                       "\"" + name + "\" is not a role (admin, operator or viewer)");
}

}  // namespace muzzle
