#include "mgmt/ctl/command_line.h"

#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"

namespace muzzle::ctl {

CommandLine::CommandLine()
    : app_(
          "muzzlectl: manage Muzzle boxes through their management API.\n"
          "A new box idles until `muzzlectl setup` names its segments and uplink.\n"
          "Talks to the local box's unix socket by default; --target host:port with "
          "--cert/--key/--ca\n"
          "for a remote box; --targets FILE (lines \"NAME TARGET\") runs the command on every box\n"
          "listed, concurrently, and prints one row per box. These options may also follow the\n"
          "command, as in `muzzlectl devices --json`.\n"
          "Exit codes: 0 ok, 1 other error, 2 usage, 3 invalid policy or request, 4 conflict "
          "(stale\n"
          "revision, commit pending), 5 not allowed (certificate, role), 6 box unreachable,\n"
          "7 not found, 8 message too large, 9 audit chain broken, 10 some boxes of a fleet "
          "failed,\n"
          "11 a fleet rollout halted (fleet apply), 12 drift (fleet plan --fail-on-drift).") {
  GlobalOptions& opt = invocation_.options;
  app_.require_subcommand(1);
  // Subcommands inherit this when they are added: an option they do not know goes to their
  // parent, up to the global options here.
  app_.fallthrough();
  app_.add_option("--socket", opt.socket, "the box's unix socket")->capture_default_str();
  app_.add_option("--target", opt.target, "a remote box, host:port (mutual TLS)");
  app_.add_option("--targets", opt.targets_file, "a fleet file: one \"NAME TARGET\" per line");
  app_.add_option("--cert", opt.tls.cert, "client certificate (PEM)");
  app_.add_option("--key", opt.tls.key, "client key (PEM)");
  app_.add_option("--ca", opt.tls.ca, "CA that signed the boxes' certificates (PEM)");
  app_.add_option("--server-name", opt.tls.server_name, "name expected in the box's certificate");
  app_.add_flag("--json", opt.json, "JSON output for scripts");
  app_.add_option("--timeout", opt.timeout_s, "seconds to wait for each box")
      ->capture_default_str();

  addStatusCommand(app_, invocation_);
  addSetupCommand(app_, invocation_);
  addDeviceCommands(app_, invocation_);
  addPolicyCommands(app_, invocation_);
  addEventsCommand(app_, invocation_);
  addAuditCommand(app_, invocation_);
  addMudCommands(app_, invocation_);
  addLearnCommands(app_, invocation_);
  addWebCommands(app_, invocation_);
  addFleetCommands(app_, invocation_);
  addCompletionCommand(app_, invocation_);  // last: it lists the commands above
}

std::optional<int> CommandLine::parse(int argc, const char* const* argv, std::ostream& out,
                                      std::ostream& err) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app_.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app_.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    app_.exit(e, out, err);
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace muzzle::ctl
