#include "mgmt/ctl/commands/apply_flags.h"

#include "mgmt/ctl/duration.h"

namespace muzzle::ctl {

CLI::Option* addApplyFlags(CLI::App* cmd, ApplyFlags* flags, const std::string& apply_help) {
  if (!apply_help.empty()) cmd->add_flag("--apply", flags->apply, apply_help);
  auto* confirm = cmd->add_option("--confirm", flags->confirm,
                                  "with --apply: roll back unless confirmed within this (5m, 1h)");
  cmd->add_option("--expect", flags->expect,
                  "with --apply: refuse (exit 4) unless the box is at this revision");
  cmd->add_option("--comment", flags->comment, "why, for the audit log");
  return confirm;
}

uint32_t confirmSeconds(const CLI::Option* confirm, const ApplyFlags& flags) {
  if (confirm->count() == 0) return 0;
  if (!flags.apply) throw CLI::ValidationError("--confirm", "only with --apply");
  auto seconds = parseDuration("--confirm", flags.confirm);
  if (!seconds.ok()) throw CLI::ValidationError(seconds.status().message());
  return *seconds;
}

}  // namespace muzzle::ctl
