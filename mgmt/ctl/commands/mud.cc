// muzzlectl mud proposals / mud apply MAC [--confirm 10m] [--expect N]: the profiles muzzled
// made from devices' fetched MUD files (policy `mud: {fetch: true}`), and one applied.
// muzzlectl mud import FILE [--profile NAME] [--apply [--confirm 10m] [--expect N]]: a MUD file
// (RFC 8520) read here and sent to the box, which places its profile in the current policy and
// answers the diff, what the file says of itself and what the profile does not say as the file
// does. Without --apply nothing changes (a viewer may preview); with it, a new revision (admin).
#include "fw/common/confined_file.h"
#include "mgmt/ctl/commands/apply_flags.h"
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/mud.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

// The box reads at most this much (fw/mud/mud_json.h, kMaxMudBytes); a larger file is refused
// here, before it travels.
constexpr size_t kMaxMudFileBytes = 256 * 1024;

struct MudArgs {
  std::string file, profile;
  ApplyFlags flags;
};

const char* kindName(v1::MudReport::Kind k) {
  switch (k) {
    case v1::MudReport::NOT_IMPORTED: return "not-imported";
    case v1::MudReport::WIDENED: return "widened";
    case v1::MudReport::IMPLIED: return "implied";
    default: return "?";
  }
}

std::string describe(const v1::ImportMudResponse& r) {
  const v1::MudMetadata& m = r.metadata();
  std::string out = "MUD file " + m.mud_url() + " (" + r.dialect() + ")\n";
  auto line = [&out](const char* key, const std::string& value) {
    if (!value.empty()) out += std::string("  ") + key + ": " + value + "\n";
  };
  line("mfg-name", m.mfg_name());
  line("model-name", m.model_name());
  line("systeminfo", m.systeminfo());
  line("documentation", m.documentation());
  line("firmware-rev", m.firmware_rev());
  line("software-rev", m.software_rev());
  line("last-update", m.last_update());
  line("cache-validity",
       m.cache_validity_hours() ? std::to_string(m.cache_validity_hours()) + " h" : "");
  line("is-supported", m.has_is_supported() ? (m.is_supported() ? "yes" : "no (the maker no "
                                                                           "longer updates it)")
                                            : "");
  out += "profile " + r.profile() + (r.replaced() ? " (replaced)" : " (added)") + "\n";
  if (r.site_groups_size() > 0) {
    out += "address groups the site fills:";
    for (const std::string& g : r.site_groups()) {
      bool added = false;
      for (const std::string& a : r.groups_added()) added = added || a == g;
      out += " " + g + (added ? " (added empty)" : "");
    }
    out += "\n";
  }
  if (r.reports_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& x : r.reports()) rows.push_back({kindName(x.kind()), x.path(), x.message()});
    out += "reports:\n" + table({"kind", "where", "what"}, rows);
  }
  if (!r.violations().empty()) {
    out += "the result does not compile:\n";
    for (const auto& v : r.violations()) {
      out += "  " + v.file() + (v.line() ? ":" + std::to_string(v.line()) : "") + ": " +
             (v.field().empty() ? "" : v.field() + ": ") + v.message() + "\n";
    }
  }
  out += r.diff();
  return out;
}

Outcome importMud(const Call& call, const std::string& bytes, uint32_t confirm_s,
                  const MudArgs& a) {
  grpc::ClientContext ctx;
  call.prepare(ctx);
  v1::ImportMudRequest req;
  req.set_mud_file(bytes);
  req.set_profile(a.profile);
  req.set_apply(a.flags.apply);
  req.set_expected_revision(a.flags.expect);
  req.set_confirm_timeout_seconds(confirm_s);
  req.set_comment(a.flags.comment);
  v1::ImportMudResponse r;
  grpc::Status s = v1::MudService::NewStub(call.channel)->ImportMud(&ctx, req, &r);
  if (!s.ok()) return failed(s);
  Outcome o = answered(r);
  summarizeApply(r, a.flags, "profile " + r.profile() + " does not compile", &o);
  o.human = describe(r) + o.summary + "\n";
  return o;
}

std::string describe(const v1::ListMudProposalsResponse& r) {
  if (r.proposals_size() == 0) return "no MUD proposals\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : r.proposals()) {
    rows.push_back({p.device(), p.profile(), std::to_string(p.base_revision()),
                    p.assign_device() ? "yes" : "no", std::to_string(p.reports_size()), p.url()});
  }
  std::string out = table({"device", "profile", "base", "assigns", "reports", "url"}, rows);
  for (const auto& p : r.proposals()) {
    out += "\n" + p.device() + " <- " + p.url() + (p.from_cache() ? " (cached)" : "") + "\n";
    for (const auto& x : p.reports()) {
      out += "  " + std::string(kindName(x.kind())) + " " + x.path() + ": " + x.message() + "\n";
    }
    out += p.diff();
  }
  return out;
}

Outcome listProposals(const Call& call) {
  v1::ListMudProposalsResponse r;
  Outcome o =
      ask(call, &v1::MudService::Stub::ListMudProposals, v1::ListMudProposalsRequest{}, &r);
  if (!o.status.ok()) return o;
  o.summary = std::to_string(r.proposals_size()) + " MUD proposal(s)";
  o.human = describe(r);
  return o;
}

Outcome applyProposal(const Call& call, const std::string& device, uint32_t confirm_s,
                      const ApplyFlags& flags) {
  v1::ApplyMudProposalRequest req;
  req.set_device(device);
  req.set_expected_revision(flags.expect);
  req.set_confirm_timeout_seconds(confirm_s);
  req.set_comment(flags.comment);
  v1::ApplyMudProposalResponse r;
  Outcome o = ask(call, &v1::MudService::Stub::ApplyMudProposal, req, &r);
  if (!o.status.ok()) return o;
  if (r.unchanged()) {
    o.summary = "unchanged (revision " + std::to_string(r.revision().number()) + ")";
  } else {
    o.summary = "profile " + r.profile() + (r.assigned() ? " (and " + device + " assigned to it)" : "") +
                ": revision " + std::to_string(r.previous_revision()) + " -> " +
                std::to_string(r.revision().number());
    if (r.has_pending()) o.summary += ", confirm by " + timeText(r.pending().deadline());
  }
  o.human = o.summary + "\n";
  return o;
}

}  // namespace

void addMudCommands(CLI::App& app, Invocation& invocation) {
  auto args = std::make_shared<MudArgs>();
  auto* mud = app.add_subcommand("mud", "MUD files (RFC 8520)")->require_subcommand(1);
  auto* import_cmd = mud->add_subcommand(
      "import", "turn a MUD file into a profile: show the diff, or apply it as a revision");
  import_cmd->add_option("FILE", args->file)->required()->check(CLI::ExistingFile);
  import_cmd->add_option("--profile", args->profile,
                         "the profile to add or replace (default: from the file's model-name)");
  auto* confirm_opt =
      addApplyFlags(import_cmd, &args->flags, "make the result a new revision (role admin)");
  import_cmd->callback([&invocation, args, confirm_opt] {
    const uint32_t confirm_s = confirmSeconds(confirm_opt, args->flags);
    auto bytes = readRegularFile(args->file, kMaxMudFileBytes);
    if (!bytes.ok()) throw CLI::ValidationError("FILE", bytes.status().message());
    invocation.command = [bytes = std::move(bytes).value(), confirm_s,
                          a = *args](const Call& call) { return importMud(call, bytes, confirm_s, a); };
  });

  auto* list_cmd = mud->add_subcommand(
      "proposals", "the profiles made from devices' fetched MUD files, with their diffs");
  list_cmd->callback([&invocation] { invocation.command = listProposals; });

  auto apply_args = std::make_shared<MudArgs>();
  apply_args->flags.apply = true;
  auto* apply_cmd = mud->add_subcommand(
      "apply", "apply a device's MUD proposal as a revision, assigning the device (role admin)");
  apply_cmd->add_option("MAC", apply_args->file, "the device's Ethernet address")->required();
  auto* apply_confirm = addApplyFlags(apply_cmd, &apply_args->flags, "");
  apply_cmd->callback([&invocation, apply_args, apply_confirm] {
    const uint32_t confirm_s = confirmSeconds(apply_confirm, apply_args->flags);
    invocation.command = [confirm_s, a = *apply_args](const Call& call) {
      return applyProposal(call, a.file, confirm_s, a.flags);
    };
  });
}

}  // namespace muzzle::ctl
