// DeviceService: the devices the engine saw merged with the policy's list, and SetDevice,
// Quarantine and Release as policy edits. The rules live in mgmt/revisions/device_edits.h; the
// handlers only translate.
#include "mgmt/revisions/device_edits.h"
#include "mgmt/server/service_calls.h"

namespace muzzle {
namespace {

class DeviceService final : public v1::DeviceService::CallbackService {
 public:
  explicit DeviceService(ServiceDeps& deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* ListDevices(grpc::CallbackServerContext* ctx,
                                        const v1::ListDevicesRequest*,
                                        v1::ListDevicesResponse* resp) override {
    return serve(deps_, ctx, Role::kViewer, "list devices",
                 [this, resp](const Principal&) -> Status {
                   auto policy = deps_.engine.installedPolicy();
                   const auto seen = deps_.engine.devicesSeen();
                   const auto now = deps_.clock.now();
                   for (const DeviceView& v : mergeDevices(*policy, seen)) {
                     *resp->add_devices() = toDevice(*policy, v.seen, v.listed, now);
                   }
                   return Status();
                 });
  }

  grpc::ServerUnaryReactor* GetDevice(grpc::CallbackServerContext* ctx,
                                      const v1::GetDeviceRequest* req,
                                      v1::DeviceInfo* resp) override {
    return serve(deps_, ctx, Role::kViewer, "read devices",
                 [this, req, resp](const Principal&) -> Status {
                   auto found = lookup(req->mac());
                   if (!found.ok()) return found.status();
                   *resp = *found;
                   return Status();
                 });
  }

  grpc::ServerUnaryReactor* SetDevice(grpc::CallbackServerContext* ctx,
                                      const v1::SetDeviceRequest* req,
                                      v1::DeviceChangeResponse* resp) override {
    return serveLater(
        deps_, ctx, Role::kOperator, "change devices",
        [this, req, resp](const Principal& p, Finish finish) {
          change(req->mac(), "device-set", req->comment(), p, resp, finish,
                 [req](v1::Device* d) { return setDevice(d, req->name(), req->profile()); });
        });
  }

  grpc::ServerUnaryReactor* Quarantine(grpc::CallbackServerContext* ctx,
                                       const v1::QuarantineRequest* req,
                                       v1::DeviceChangeResponse* resp) override {
    return serveLater(deps_, ctx, Role::kOperator, "quarantine devices",
                      [this, req, resp](const Principal& p, Finish finish) {
                        change(req->mac(), "quarantine", req->comment(), p, resp, finish,
                               [req](v1::Device* d) { return quarantineDevice(d, req->mac()); });
                      });
  }

  grpc::ServerUnaryReactor* Release(grpc::CallbackServerContext* ctx, const v1::ReleaseRequest* req,
                                    v1::DeviceChangeResponse* resp) override {
    return serveLater(deps_, ctx, Role::kOperator, "release devices",
                      [this, req, resp](const Principal& p, Finish finish) {
                        change(req->mac(), "release", req->comment(), p, resp, finish,
                               [req](v1::Device* d) { return releaseDevice(d, req->mac()); });
                      });
  }

  grpc::ServerUnaryReactor* ReleaseLimits(grpc::CallbackServerContext* ctx,
                                          const v1::ReleaseLimitsRequest* req,
                                          v1::DeviceInfo* resp) override {
    return serve(deps_, ctx, Role::kOperator, "release volume limits",
                 [this, req, resp](const Principal&) -> Status {
                   auto mac = parseDeviceMac(req->mac());
                   if (!mac.ok()) return mac.status();
                   if (Status s = deps_.engine.releaseVolumeLimits(*mac); !s.ok()) return s;
                   auto found = lookup(req->mac());
                   if (found.ok()) *resp = *found;
                   return Status();
                 });
  }

 private:
  Result<v1::DeviceInfo> lookup(const std::string& mac_text) {
    auto mac = parseDeviceMac(mac_text);
    if (!mac.ok()) return mac.status();
    auto policy = deps_.engine.installedPolicy();
    const auto seen = deps_.engine.devicesSeen();
    auto found = findDevice(*policy, seen, *mac);
    if (!found.ok()) return found.status();
    return toDevice(*policy, found->seen, found->listed, deps_.clock.now());
  }

  // Edits the policy entry for `mac` (adding one if needed) as a new revision, and finishes with
  // the device as it is then. `edit` runs on the compile thread (PolicyCommitter::edit).
  void change(const std::string& mac_text, const std::string& action, const std::string& comment,
              const Principal& p, v1::DeviceChangeResponse* resp, const Finish& finish,
              std::function<Status(v1::Device*)> edit) {
    auto mac = parseDeviceMac(mac_text);
    if (!mac.ok()) return finish(mac.status());
    const MacAddress m = *mac;
    deps_.commits.edit(
        [this, m, edit](const std::string& text) {
          // A device listed only in a device file gets an entry of its own that starts from
          // its line there (name, profile), not from a new device's.
          return editDeviceText(text, PolicyCommitter::kLabel, m, edit,
                                listedDevice(deps_.engine.installedPolicy().get(), m));
        },
        action, comment, 0, callerOf(p),
                       [this, m, resp, finish](CommitReply reply) {
                         const Result<CommitOutcome>& c = reply.outcome;
                         if (!c.ok()) return finish(c.status());
                         *resp->mutable_revision() = c->revision;
                         auto d = lookup(m.toString());
                         if (d.ok()) *resp->mutable_device() = *d;
                         finish(Status());
                       });
  }

  ServiceDeps& deps_;
};

}  // namespace

std::unique_ptr<grpc::Service> makeDeviceService(ServiceDeps& deps) {
  return std::make_unique<DeviceService>(deps);
}

}  // namespace muzzle
