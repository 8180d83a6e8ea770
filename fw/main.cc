// muzzled: wires the data plane together and nothing else (see fw/README.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "fw/config/daemon_config.h"
#include "fw/engine/daemon.h"
#include "fw/engine/service_notifier.h"
#include "fw/nft/ruleset.h"
#include "fw/policy/policy_loader.h"

namespace {

int checkPolicy(const std::string& path) {
  auto compiled = muzzle::compilePolicyFile(path, muzzle::SiteFacts{});
  if (!compiled.ok()) {
    std::cerr << compiled.status().message() << "\n";
    return 1;
  }
  const muzzle::CompiledPolicy& p = **compiled;
  size_t rules = 0;
  for (const auto& profile : p.profiles) rules += profile.egress.size() + profile.inbound.size();
  std::cout << path << ": OK (" << p.profiles.size() << " profiles, " << rules << " rules, "
            << p.devices.size() << " devices)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "muzzled: enforces per-device egress policies for IoT network segments.\n"
      "Runs on the gateway in front of the segments named in its config; needs CAP_NET_ADMIN.\n"
      "Signals: SIGHUP reloads the policy (an invalid file is refused, the running policy stays),\n"
      "SIGUSR1 logs counters, SIGTERM stops (the kernel ruleset stays; fail_mode applies)."};
  std::string config_path = "/etc/muzzle/muzzled.yaml";
  std::string check_path;
  bool remove_ruleset = false;
  bool print_ruleset = false;
  app.add_option("--config,-c", config_path, "daemon config file")->capture_default_str();
  app.add_option("--check-policy", check_path,
                 "validate a policy file and exit; touches no network state");
  app.add_flag("--remove-ruleset", remove_ruleset,
               "delete table inet muzzle (stop enforcing) and exit");
  app.add_flag("--print-ruleset", print_ruleset,
               "print the nft ruleset the config would install and exit");
  app.set_version_flag("--version", "muzzled 0.1.0");
  app.footer(
      "FILES\n"
      "  /etc/muzzle/muzzled.yaml          this config; as shipped it names no segment, and\n"
      "                                    muzzled idles (event=idle) touching nothing\n"
      "  /usr/share/muzzle/policies/       presets and the example site policy to start from\n"
      "  /var/lib/muzzle/                  state: the policy generation, kept across restarts\n"
      "\n"
      "SERVICE\n"
      "  systemctl status muzzled; journalctl -u muzzled. Under systemd (Type=notify) muzzled\n"
      "  reports ready once its ruleset is installed and its queues are bound, and pings the\n"
      "  watchdog from its engine loop.\n"
      "\n"
      "EXIT STATUS\n"
      "  0 stopped by SIGTERM/SIGINT, or a --check/--print/--remove action succeeded;\n"
      "  1 start-up or runtime failure (logged as event=start-failed or event=fatal);\n"
      "  2 the config is invalid (the message names file:line: field).\n"
      "\n"
      "Logs are one logfmt line per event on stderr: event=deny, event=new-device, event=ready, ...");
  CLI11_PARSE(app, argc, argv);

  if (!check_path.empty()) return checkPolicy(check_path);

  if (remove_ruleset) {
    muzzle::Status s = muzzle::makeNftRulesetWriter()->remove();
    if (!s.ok()) {
      std::cerr << "muzzled: " << s.message() << "\n";
      return 1;
    }
    return 0;
  }

  auto config = muzzle::loadDaemonConfig(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  if (print_ruleset) {
    muzzle::RulesetSpec spec;
    for (const auto& seg : config->segments) spec.segment_ifnames.push_back(seg.ifname);
    spec.queue_first = config->queue_first;
    spec.queue_count = config->queue_count;
    spec.fail_open = config->fail_mode == muzzle::FailMode::kOpen;
    // The DoH sets come from the policy; the site facts do not change them, so none are probed.
    if (auto policy = muzzle::compilePolicyFile(config->policy_path, muzzle::SiteFacts{}); policy.ok()) {
      spec.doh = (*policy)->dns.doh_cidrs;
    }
    std::cout << muzzle::describeRuleset(spec);
    return 0;
  }

  muzzle::SystemClock clock;
  muzzle::EventLog log(stderr, clock);
  auto ruleset = muzzle::makeNftRulesetWriter();
  auto host = muzzle::makeSystemHostInfo();
  auto notifier = muzzle::SystemdNotifier::fromEnvironment();
  muzzle::Daemon daemon(std::move(config).value(), *ruleset, *host, &muzzle::openNfqPacketQueue,
                        log, clock);
  daemon.setServiceNotifier(notifier.get());
  muzzle::Status s = daemon.start();
  if (!s.ok()) {
    log.write(muzzle::LogLine("start-failed").add("error", s.message()));
    return 1;
  }
  return daemon.run();
}
