// IdleBox: the idle phase of muzzled (mgmt/main.cc) as the management services see it. A box
// whose config names no segment serves the management API all the same; calls that need an
// enforcing box are refused (service_calls.h, Needs), GetStatus says what to configure, and
// SetupService (services_setup.cc) hands a checked, stored choice over through enforce().
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fw/common/status.h"
#include "fw/config/setup_file.h"

namespace muzzle {

// What a setup became: systemd's status line ("enforcing generation 3 on ...") and the policy
// revision the box started from.
struct SetupDone {
  std::string enforcing;
  uint64_t policy_revision = 0;
};

// The starter policy a setup without a policy starts from, in the shipped policies folder.
inline constexpr char kStarterPolicy[] = "starter.yaml";

class IdleBox {
 public:
  virtual ~IdleBox() = default;
  // Engine thread. Why the last setup did not end in enforcing (or why state_dir/setup.yaml
  // was not used at start); empty if nothing went wrong.
  virtual std::string lastSetupError() const = 0;
  // Engine thread. True once enforce() was called: a second setup is refused meanwhile.
  virtual bool handingOver() const = 0;
  // Engine thread, at most once. `choice` is stored in state_dir/setup.yaml already. Ends the
  // idle phase; the box starts enforcing `choice` in this process, and `done` is called once,
  // from some thread, when the ruleset is installed and the queues are bound, or with why not
  // (the box is then idle again, the stored choice removed, and GetStatus says why). `who`
  // (the caller) goes into the log.
  virtual void enforce(SetupChoice choice, std::string who,
                       std::function<void(Result<SetupDone>)> done) = 0;
};

}  // namespace muzzle
