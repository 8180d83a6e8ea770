// MudService: a MUD file turned into a profile of the site policy (fw/mud), shown as a diff and,
// for an admin, applied through the PolicyCommitter like any policy change (revision, audit,
// commit-confirmed). The file is read on the gRPC thread — pure code under fw/mud's bounds
// (256 KiB, nesting, 500 entries: about 6 ms at the bounds), touching no engine state; every
// caller that reaches a handler passed the socket's credential check or TcpCallGate, and any
// role may preview, so reading before serveLater's role check costs no one anything they could
// not ask for. Placing the profile in the current text (about 7 ms at the bounds) and the
// commit run on the engine thread; the compile runs on the committer's compile thread.
// ListMudProposals and ApplyMudProposal serve what the MudManager (mud_manager.h) made from
// devices' fetched files: listed by a viewer, applied by an admin, on the engine thread.
#include "fw/mud/mud_import.h"
#include "fw/mud/policy_text.h"
#include "fw/policy/policy_syntax.h"
#include "mgmt/revisions/device_edits.h"
#include "mgmt/revisions/text_diff.h"
#include "mgmt/server/mud_manager.h"
#include "mgmt/server/service_calls.h"
#include "muzzle/v1/mud.grpc.pb.h"

namespace muzzle {
namespace {

v1::MudMetadata toProto(const MudMetadata& m) {
  v1::MudMetadata out;
  out.set_mud_url(m.mud_url);
  out.set_mud_version(static_cast<uint32_t>(m.mud_version.value_or(0)));
  out.set_last_update(m.last_update);
  out.set_cache_validity_hours(static_cast<uint32_t>(m.cache_validity_hours.value_or(0)));
  if (m.is_supported) out.set_is_supported(*m.is_supported);
  out.set_systeminfo(m.systeminfo);
  out.set_mfg_name(m.mfg_name);
  out.set_model_name(m.model_name);
  out.set_firmware_rev(m.firmware_rev);
  out.set_software_rev(m.software_rev);
  out.set_documentation(m.documentation);
  out.set_mud_signature(m.mud_signature);
  for (const std::string& e : m.extensions) out.add_extensions(e);
  return out;
}

v1::MudReport::Kind toProto(MudReportKind kind) {
  switch (kind) {
    case MudReportKind::kNotImported: return v1::MudReport::NOT_IMPORTED;
    case MudReportKind::kWidened: return v1::MudReport::WIDENED;
    case MudReportKind::kImplied: return v1::MudReport::IMPLIED;
  }
  return v1::MudReport::KIND_UNSPECIFIED;
}

void fillReports(const MudImport& m, google::protobuf::RepeatedPtrField<v1::MudReport>* out) {
  for (const MudReport& r : m.reports) {
    v1::MudReport* x = out->Add();
    x->set_kind(toProto(r.kind));
    x->set_path(r.path);
    x->set_message(r.message);
  }
}

v1::MudProposal toProto(const MudProposal& p) {
  v1::MudProposal out;
  out.set_device(p.mac.toString());
  out.set_url(p.url);
  out.set_profile(p.import.profile_name);
  out.set_base_revision(p.base_revision);
  out.set_diff(*p.diff);
  out.set_assign_device(p.assign);
  out.set_from_cache(p.from_cache);
  *out.mutable_metadata() = toProto(p.import.metadata);
  fillReports(p.import, out.mutable_reports());
  for (const std::string& g : p.import.site_groups) out.add_site_groups(g);
  return out;
}

Status noManager() {
  return Status::error(StatusCode::kUnavailable,
                       "this muzzled fetches no MUD files (it manages no segment)");
}

void fillImport(const MudImport& m, v1::ImportMudResponse* resp) {
  resp->set_profile(m.profile_name);
  resp->set_dialect(m.dialect);
  *resp->mutable_metadata() = toProto(m.metadata);
  fillReports(m, resp->mutable_reports());
  for (const std::string& g : m.site_groups) resp->add_site_groups(g);
}

class MudServiceImpl final : public v1::MudService::CallbackService {
 public:
  explicit MudServiceImpl(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* ImportMud(grpc::CallbackServerContext* ctx,
                                      const v1::ImportMudRequest* req,
                                      v1::ImportMudResponse* resp) override {
    const bool apply = req->apply();
    auto import = std::make_shared<Result<MudImport>>(importMud(req->mud_file(), req->profile()));
    if (import->ok() && !isValidName((*import)->profile_name)) {
      *import = Status::error(StatusCode::kInvalidArgument,
                              "profile: " + inQuotes((*import)->profile_name) +
                                  " is not a profile name (letters, digits, '_', '.', '-')");
    }
    return serveLater(
        deps_, ctx, roleToImportMud(apply),
        apply ? "apply MUD files" : "preview MUD imports",
        [this, req, resp, import, apply](const Principal& p, Finish finish) {
          if (!import->ok()) return finish(import->status());
          const MudImport& m = **import;
          RevisionStore& store = deps_.commits.store();
          const uint64_t base = store.current();
          auto current = store.content(base);
          if (!current.ok()) return finish(current.status());
          auto placed = withProfile(*current, mudProfileText(m));
          if (!placed.ok()) return finish(placed.status());
          fillImport(m, resp);
          resp->set_replaced(placed->replaced);
          for (const std::string& g : placed->groups_added) resp->add_groups_added(g);
          resp->set_base_revision(base);
          resp->set_diff(unifiedDiff(*current, placed->text, "revision " + std::to_string(base),
                                     "with profile " + m.profile_name));
          previewOrApply(deps_, p, *req, apply, placed->text, base,
                         "MUD import of " + m.metadata.mud_url, resp, finish);
        });
  }

  grpc::ServerUnaryReactor* ListMudProposals(grpc::CallbackServerContext* ctx,
                                             const v1::ListMudProposalsRequest*,
                                             v1::ListMudProposalsResponse* resp) override {
    return serve(deps_, ctx, roleToListMudProposals(), "list MUD proposals", [this, resp](const Principal&) {
      if (deps_.mud == nullptr) return noManager();
      for (const MudProposal* p : deps_.mud->proposals()) *resp->add_proposals() = toProto(*p);
      return Status();
    });
  }

  grpc::ServerUnaryReactor* ApplyMudProposal(grpc::CallbackServerContext* ctx,
                                             const v1::ApplyMudProposalRequest* req,
                                             v1::ApplyMudProposalResponse* resp) override {
    return serveLater(
        deps_, ctx, roleToApplyMudProposal(), "apply MUD proposals",
        [this, req, resp](const Principal& p, Finish finish) {
          if (deps_.mud == nullptr) return finish(noManager());
          auto mac = parseDeviceMac(req->device());
          if (!mac.ok()) return finish(mac.status());
          const MudProposal* proposal = deps_.mud->proposal(*mac);
          if (proposal != nullptr) {
            resp->set_profile(proposal->import.profile_name);
            resp->set_assigned(proposal->assign);
          }
          deps_.mud->applyProposal(*mac, req->expected_revision(), req->confirm_timeout_seconds(),
                                   req->comment(), callerOf(p),
                                   [resp, finish](CommitReply reply) {
                                     finishApply(reply, resp, finish);
                                   });
        });
  }

 private:
  ServiceDeps& deps_;
};

}  // namespace

Role roleToImportMud(bool apply) { return apply ? Role::kAdmin : Role::kViewer; }
Role roleToListMudProposals() { return Role::kViewer; }
Role roleToApplyMudProposal() { return Role::kAdmin; }

std::unique_ptr<grpc::Service> makeMudService(ServiceDeps& deps) {
  return std::make_unique<MudServiceImpl>(deps);
}

}  // namespace muzzle
