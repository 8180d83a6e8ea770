// muzzlectl devices [MAC], device set, quarantine, release: the devices a box knows, and the
// edits of the policy's devices list (each a new revision); device release-limits: lifts the
// blocks of volume limits (no revision).
#include "mgmt/ctl/commands/commands.h"
#include "mgmt/ctl/output.h"
#include "muzzle/v1/management.grpc.pb.h"

namespace muzzle::ctl {
namespace {

namespace v1 = muzzle::v1;

// "12.3 MB" or, while it moves, "12.3 MB (45.0 kB/s)".
std::string trafficText(const v1::Traffic& t) {
  std::string text = byteText(t.bytes());
  if (t.bytes_per_second() > 0) text += " (" + byteText(t.bytes_per_second()) + "/s)";
  return text;
}

std::vector<std::string> deviceRow(const v1::DeviceInfo& d) {
  std::string ips;
  for (const auto& ip : d.ips()) ips += (ips.empty() ? "" : ",") + ip;
  // Why the device has its profile: listed by name, classified by which rule, or the default.
  std::string why = d.assignment().empty() ? "-" : d.assignment();
  if (!d.assigned_by().empty() && d.assignment() == "classified")
    why += " (" + d.assigned_by() + ")";
  std::string vendor = d.randomised_mac()   ? "(randomised MAC)"
                       : d.vendor().empty() ? "-"
                                            : d.vendor();
  if (vendor.size() > 28) vendor = vendor.substr(0, 25) + "...";
  return {d.mac(), d.name().empty() ? "(unlisted)" : d.name(),
          // Learning is marked beside the profile; observe loudly: the profile is not enforced.
          d.profile() + (d.quarantined() ? " (q)" : "") +
              (d.learning() == "observe"    ? " (OBSERVE: learning, only explicit denies hold)"
               : d.learning() == "learning" ? " (learning)"
                                            : ""),
          why, vendor, ips.empty() ? "-" : ips, timeText(d.last_seen()),
          std::to_string(d.allowed()), std::to_string(d.denied()), std::to_string(d.connections()),
          trafficText(d.upload()), trafficText(d.download())};
}

// Where its traffic went: one row per traffic class.
std::string classTable(const v1::DeviceInfo& d) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::ClassTraffic& c : d.by_class()) {
    rows.push_back({c.to(), trafficText(c.upload()), trafficText(c.download())});
  }
  return table({"to", "upload", "download"}, rows);
}

// `connections`: held now, as the connection limit counts them (0 when the kernel counts).
const std::vector<std::string> kDeviceHeader = {"mac",    "name",        "profile",   "why",
                                                "vendor", "ips",         "last seen", "allowed",
                                                "denied", "connections", "upload",    "download"};

Outcome devices(const Call& call, const std::string& mac) {
  if (!mac.empty()) {
    v1::GetDeviceRequest req;
    req.set_mac(mac);
    v1::DeviceInfo d;
    Outcome o = ask(call, &v1::DeviceService::Stub::GetDevice, req, &d);
    if (!o.status.ok()) return o;
    o.human = table(kDeviceHeader, {deviceRow(d)});
    if (d.by_class_size() > 0) o.human += "\n" + classTable(d);
    o.summary = d.name() + " " + d.profile();
    return o;
  }
  v1::ListDevicesResponse r;
  Outcome o = ask(call, &v1::DeviceService::Stub::ListDevices, {}, &r);
  if (!o.status.ok()) return o;
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : r.devices()) rows.push_back(deviceRow(d));
  o.human = table(kDeviceHeader, rows);
  o.summary = std::to_string(r.devices_size()) + " devices";
  return o;
}

// A device change's text, added to `o` (what ask() returned for `r`).
Outcome deviceChange(Outcome o, const v1::DeviceChangeResponse& r) {
  if (!o.status.ok()) return o;
  o.summary = r.device().mac() + " -> " + r.device().profile() + " (revision " +
              std::to_string(r.revision().number()) + ")";
  o.human = table(kDeviceHeader, {deviceRow(r.device())}) + "revision " +
            std::to_string(r.revision().number()) + "\n";
  return o;
}

struct DeviceArgs {
  std::string mac, name, profile, comment;
};

Outcome setDevice(const Call& call, const DeviceArgs& a) {
  v1::SetDeviceRequest req;
  req.set_mac(a.mac);
  req.set_name(a.name);
  req.set_profile(a.profile);
  req.set_comment(a.comment);
  v1::DeviceChangeResponse r;
  return deviceChange(ask(call, &v1::DeviceService::Stub::SetDevice, req, &r), r);
}

Outcome quarantineOrRelease(const Call& call, const DeviceArgs& a, bool quarantine) {
  v1::DeviceChangeResponse r;
  if (quarantine) {
    v1::QuarantineRequest req;
    req.set_mac(a.mac);
    req.set_comment(a.comment);
    return deviceChange(ask(call, &v1::DeviceService::Stub::Quarantine, req, &r), r);
  }
  v1::ReleaseRequest req;
  req.set_mac(a.mac);
  req.set_comment(a.comment);
  return deviceChange(ask(call, &v1::DeviceService::Stub::Release, req, &r), r);
}

Outcome releaseLimits(const Call& call, const std::string& mac) {
  v1::ReleaseLimitsRequest req;
  req.set_mac(mac);
  v1::DeviceInfo d;
  Outcome o = ask(call, &v1::DeviceService::Stub::ReleaseLimits, req, &d);
  if (!o.status.ok()) return o;
  o.human = table(kDeviceHeader, {deviceRow(d)});
  o.summary = d.mac() + " released from its volume limits";
  return o;
}

}  // namespace

void addDeviceCommands(CLI::App& app, Invocation& invocation) {
  auto args = std::make_shared<DeviceArgs>();

  auto* list = app.add_subcommand("devices", "devices seen or listed (one, with MAC)");
  list->add_option("MAC", args->mac, "one device");
  list->callback([&invocation, args] {
    invocation.command = [mac = args->mac](const Call& call) { return devices(call, mac); };
  });

  auto* device = app.add_subcommand("device", "change a device")->require_subcommand(1);
  auto* set = device->add_subcommand("set", "name a device or give it a profile (a new revision)");
  set->add_option("MAC", args->mac)->required();
  set->add_option("--name", args->name);
  set->add_option("--profile", args->profile);
  set->add_option("--comment", args->comment);
  set->callback([&invocation, args] {
    invocation.command = [a = *args](const Call& call) { return setDevice(call, a); };
  });

  auto* release_limits = device->add_subcommand(
      "release-limits", "let a device's traffic that a volume limit blocks pass again (no revision)");
  release_limits->add_option("MAC", args->mac)->required();
  release_limits->callback([&invocation, args] {
    invocation.command = [mac = args->mac](const Call& call) { return releaseLimits(call, mac); };
  });

  for (const bool quarantine : {true, false}) {
    auto* sub = app.add_subcommand(
        quarantine ? "quarantine" : "release",
        quarantine ? "put a device in the quarantine profile (a new revision)"
                   : "give a quarantined device its profile back (a new revision)");
    sub->add_option("MAC", args->mac)->required();
    sub->add_option("--comment", args->comment);
    sub->callback([&invocation, args, quarantine] {
      invocation.command = [a = *args, quarantine](const Call& call) {
        return quarantineOrRelease(call, a, quarantine);
      };
    });
  }
}

}  // namespace muzzle::ctl
