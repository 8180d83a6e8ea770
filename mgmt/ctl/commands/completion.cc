// muzzlectl completion bash: a bash completion script made from the command line itself (every
// command, subcommand and option CLI11 knows), so it never falls behind the commands. The
// package installs its output as /usr/share/bash-completion/completions/muzzlectl.
#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"

namespace muzzle::ctl {
namespace {

struct Level {
  std::set<std::string> commands;  // subcommands at this path
  std::set<std::string> options;   // "--json", "-h" ...
};

// Every command path ("", "/policy", "/policy/apply") with what may follow it; `valued`
// collects the options that take a value (the word after one is not a command).
void walk(const CLI::App& app, const std::string& path, std::map<std::string, Level>& levels,
          std::set<std::string>& valued) {
  Level& level = levels[path];
  for (const CLI::Option* opt : app.get_options()) {
    if (!opt->nonpositional()) continue;
    for (const std::string& l : opt->get_lnames()) {
      level.options.insert("--" + l);
      if (opt->get_expected_max() > 0) valued.insert("--" + l);
    }
    for (const std::string& s : opt->get_snames()) {
      level.options.insert("-" + s);
      if (opt->get_expected_max() > 0) valued.insert("-" + s);
    }
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue;
    level.commands.insert(sub->get_name());
    walk(*sub, path + "/" + sub->get_name(), levels, valued);
  }
}

std::string words(const std::set<std::string>& a, const std::set<std::string>& b = {}) {
  std::string out;
  for (const auto* set : {&a, &b}) {
    for (const std::string& w : *set) out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

}  // namespace

std::string bashCompletion(const CLI::App& app) {
  std::map<std::string, Level> levels;
  std::set<std::string> valued;
  walk(app, "", levels, valued);
  const std::set<std::string>& global = levels[""].options;  // accepted at any depth
  std::string valued_pattern;
  for (const std::string& v : valued) valued_pattern += (valued_pattern.empty() ? "" : "|") + v;
  if (valued_pattern.empty()) valued_pattern = "--never-an-option";
  std::ostringstream out;
  out << "# bash completion for muzzlectl; made by `muzzlectl completion bash` from its own\n"
         "# command line, so it lists exactly the commands and options this muzzlectl has.\n"
         "_muzzlectl() {\n"
         "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" word i skip=0 commands options\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    word=\"${COMP_WORDS[i]}\"\n"
         "    if ((skip)); then skip=0; continue; fi\n"
         "    case \"$word\" in\n"
         "      "
      << valued_pattern
      << ")\n"
         "        skip=1 ;;\n"
         "      -*) ;;\n"
         "      *)\n"
         "        case \"$path/$word\" in\n";
  for (const auto& [path, level] : levels) {
    if (path.empty()) continue;
    out << "          \"" << path << "\") path=\"" << path << "\" ;;\n";
  }
  out << "        esac ;;\n"
         "    esac\n"
         "  done\n"
         "  case \"$path\" in\n";
  for (const auto& [path, level] : levels) {
    out << "    \"" << path << "\") commands=\"" << words(level.commands) << "\"; options=\""
        << words(level.options, path.empty() ? std::set<std::string>{} : global) << "\" ;;\n";
  }
  out << "  esac\n"
         "  if [[ \"$cur\" == -* ]]; then\n"
         "    mapfile -t COMPREPLY < <(compgen -W \"$options\" -- \"$cur\")\n"
         "  elif ((skip == 0)) && [[ -n \"$commands\" ]]; then\n"
         "    mapfile -t COMPREPLY < <(compgen -W \"$commands\" -- \"$cur\")\n"
         "  fi\n"
         "}\n"
         "complete -o default -F _muzzlectl muzzlectl\n";
  return out.str();
}

void addCompletionCommand(CLI::App& app, Invocation& invocation) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "completion", "print a completion script for SHELL (bash): source it, or install it as "
                    "/usr/share/bash-completion/completions/muzzlectl");
  cmd->add_option("shell", *shell, "the shell")->required()->check(CLI::IsMember({"bash"}));
  const CLI::App* root = &app;
  cmd->callback([&invocation, root, shell] {
    invocation.whole = [root](const GlobalOptions&, std::ostream& out, std::ostream&) {
      out << bashCompletion(*root);
      return static_cast<int>(kExitOk);
    };
  });
}

}  // namespace muzzle::ctl
