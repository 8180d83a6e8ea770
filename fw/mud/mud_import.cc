#include "fw/mud/mud_import.h"

#include <set>
#include <utility>

#include "fw/common/excerpt.h"
#include "fw/mud/mud_ace.h"
#include "fw/mud/mud_json.h"
#include "fw/mud/mud_values.h"

namespace muzzle {
namespace {

using nlohmann::json;
using mud::bad;

constexpr std::string_view kMud = "ietf-mud:mud";
constexpr std::string_view kAcls = "ietf-access-control-list:acls";
constexpr std::string_view kDraftAcls = "ietf-access-control-list:access-lists";

struct Acl {
  std::string name, path;
  int family = 0;  // 4, 6, 0: both (mixed) or not said
  const json* aces = nullptr;
  std::string aces_path;
  bool used = false;
};

// "https://lighting.example.com/lightbulb2000" -> "lighting.example.com".
std::string authorityOf(std::string_view url) {
  std::string_view rest = mud::withoutScheme(url);
  rest = rest.substr(0, rest.find('/'));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos && rest.find(']') == rest.npos)
    rest = rest.substr(0, colon);
  return std::string(rest);
}

Status readMetadata(const json& mud, MudImport* out) {
  MudMetadata& md = out->metadata;
  for (const auto& [key, value] : mud.items()) {
    const std::string at = joinPath(kMud, key);
    std::string* field = nullptr;
    if (key == "mud-url") field = &md.mud_url;
    if (key == "last-update") field = &md.last_update;
    if (key == "systeminfo") field = &md.systeminfo;
    if (key == "mfg-name") field = &md.mfg_name;
    if (key == "model-name") field = &md.model_name;
    if (key == "firmware-rev") field = &md.firmware_rev;
    if (key == "software-rev") field = &md.software_rev;
    if (key == "documentation") field = &md.documentation;
    if (key == "mud-signature") field = &md.mud_signature;
    if (field != nullptr) {
      auto v = mud::text(value, at);
      if (!v.ok()) return v.status();
      *field = *v;
    } else if (key == "mud-version") {
      auto v = mud::integer(value, at, 1, 255, "a MUD version");
      if (!v.ok()) return v.status();
      md.mud_version = *v;
    } else if (key == "cache-validity") {
      auto v = mud::integer(value, at, 1, 168, "a cache validity (1-168 hours)");
      if (!v.ok()) return v.status();
      md.cache_validity_hours = *v;
    } else if (key == "is-supported") {
      if (!value.is_boolean()) return bad(at, "expected true or false");
      md.is_supported = value.get<bool>();
    } else if (key == "extensions") {
      if (!value.is_array()) return bad(at, "expected a list of names");
      for (size_t i = 0; i < value.size(); ++i) {
        auto v = mud::text(value[i], indexPath(at, i));
        if (!v.ok()) return v.status();
        md.extensions.push_back(*v);
      }
    } else if (key != "from-device-policy" && key != "to-device-policy") {
      out->reports.push_back({MudReportKind::kNotImported, at,
                              "not used by Muzzle (" + quotedExcerpt(key) + ")"});
    }
  }
  if (md.mud_url.empty()) return bad(std::string(kMud), "no mud-url");
  return Status();
}

Result<std::vector<Acl>> readAcls(const json& doc, MudImport* out) {
  const bool rfc = doc.contains(kAcls), draft = doc.contains(kDraftAcls);
  std::vector<Acl> acls;
  if (rfc && draft) {
    return bad("(top level)", "both " + std::string(kAcls) + " and " + std::string(kDraftAcls) +
                                  ": a MUD file has one");
  }
  if (!rfc && !draft) return acls;
  out->dialect = rfc ? "rfc8520" : "draft";
  const std::string_view top = rfc ? kAcls : kDraftAcls;
  const json& container = doc[std::string(top)];
  if (!container.is_object()) return bad(std::string(top), "expected an object");
  for (const auto& [key, value] : container.items()) {
    if (key != "acl") {
      out->reports.push_back({MudReportKind::kNotImported, joinPath(top, key),
                              "not used by Muzzle (" + quotedExcerpt(key) + ")"});
    }
  }
  if (!container.contains("acl")) return acls;
  const std::string list_path = joinPath(top, "acl");
  const json& list = container["acl"];
  if (!list.is_array()) return bad(list_path, "expected a list of ACLs");
  if (list.size() > kMaxMudAcls) {
    return bad(list_path, std::to_string(list.size()) + " ACLs; at most " +
                              std::to_string(kMaxMudAcls) + " are imported");
  }
  size_t aces = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    Acl acl;
    acl.path = indexPath(list_path, i);
    const json& a = list[i];
    if (!a.is_object()) return bad(acl.path, "expected an object (an ACL)");
    for (const char* key : {"name", "acl-name"}) {
      if (a.contains(key)) {
        auto v = mud::text(a[key], joinPath(acl.path, key));
        if (!v.ok()) return v.status();
        acl.name = *v;
      }
    }
    if (acl.name.empty()) return bad(acl.path, "an ACL without a name");
    for (const Acl& other : acls) {
      if (other.name == acl.name) return bad(acl.path, "a second ACL named " + quotedExcerpt(acl.name));
    }
    const char* type_key = a.contains("type") ? "type" : "acl-type";
    if (a.contains(type_key)) {
      const std::string at = joinPath(acl.path, type_key);
      auto v = mud::text(a[type_key], at);
      if (!v.ok()) return v.status();
      std::string_view t = mud::withoutModule(*v);
      if (t == "ipv4-acl-type" || t == "ipv4-acl") {
        acl.family = 4;
      } else if (t == "ipv6-acl-type" || t == "ipv6-acl") {
        acl.family = 6;
      } else if (t == "mixed-eth-ipv4-ipv6-acl-type" || t == "mixed-eth-ipv4-acl-type" ||
                 t == "mixed-eth-ipv6-acl-type") {
        acl.family = t == "mixed-eth-ipv4-acl-type" ? 4 : t == "mixed-eth-ipv6-acl-type" ? 6 : 0;
      } else if (t == "eth-acl-type") {
        out->reports.push_back({MudReportKind::kNotImported, at,
                                "Ethernet ACLs: Muzzle rules match IP traffic; not imported"});
        continue;
      } else {
        return bad(at, quotedExcerpt(*v) + " is not an ACL type (ipv4-acl-type, ipv6-acl-type, "
                                     "mixed-eth-ipv4-ipv6-acl-type, eth-acl-type)");
      }
    }
    const char* entries_key = a.contains("aces") ? "aces" : "access-list-entries";
    if (a.contains(entries_key)) {
      const std::string at = joinPath(acl.path, entries_key);
      const json& e = a[entries_key];
      if (!e.is_object()) return bad(at, "expected an object");
      if (e.contains("ace")) {
        acl.aces_path = joinPath(at, "ace");
        acl.aces = &e["ace"];
        if (!acl.aces->is_array()) return bad(acl.aces_path, "expected a list of entries");
        aces += acl.aces->size();
        if (aces > kMaxMudAces) {
          return bad(acl.aces_path, "more than " + std::to_string(kMaxMudAces) +
                                        " access-control entries in the file");
        }
      }
    }
    acls.push_back(std::move(acl));
  }
  return acls;
}

// One of from-device-policy / to-device-policy: its ACLs, in order, mapped.
Status mapPolicy(const json& mud, bool from_device, std::vector<Acl>& acls, mud::AceMapper& mapper,
                 std::set<int>* families, size_t* mapped) {
  const std::string key = from_device ? "from-device-policy" : "to-device-policy";
  if (!mud.contains(key)) return Status();
  std::string at = joinPath(kMud, key);
  const json& policy = mud[key];
  if (!policy.is_object()) return bad(at, "expected an object");
  if (!policy.contains("access-lists")) return Status();
  at = joinPath(at, "access-lists");
  const json& lists = policy["access-lists"];
  if (!lists.is_object()) return bad(at, "expected an object");
  if (!lists.contains("access-list")) return Status();
  at = joinPath(at, "access-list");
  const json& refs = lists["access-list"];
  if (!refs.is_array()) return bad(at, "expected a list");
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string ref_path = indexPath(at, i);
    if (!refs[i].is_object()) return bad(ref_path, "expected an object");
    std::string name;
    for (const char* k : {"name", "acl-name"}) {
      if (refs[i].contains(k)) {
        auto v = mud::text(refs[i][k], joinPath(ref_path, k));
        if (!v.ok()) return v.status();
        name = *v;
      }
    }
    Acl* acl = nullptr;
    for (Acl& a : acls) {
      if (a.name == name) acl = &a;
    }
    if (acl == nullptr) return bad(ref_path, "no ACL named " + quotedExcerpt(name) + " in the file");
    acl->used = true;
    families->insert(acl->family);
    if (acl->aces == nullptr) continue;
    *mapped += acl->aces->size();
    if (*mapped > kMaxMudAces) {
      return bad(ref_path, "the policies name more than " + std::to_string(kMaxMudAces) +
                               " access-control entries (an ACL named twice counts twice)");
    }
    for (size_t j = 0; j < acl->aces->size(); ++j) {
      Status s = mapper.map((*acl->aces)[j], indexPath(acl->aces_path, j), from_device, acl->family);
      if (!s.ok()) return s;
    }
  }
  return Status();
}

}  // namespace

const char* mudReportKindName(MudReportKind kind) {
  switch (kind) {
    case MudReportKind::kNotImported: return "not-imported";
    case MudReportKind::kWidened: return "widened";
    case MudReportKind::kImplied: return "implied";
  }
  return "?";
}

std::string defaultMudProfileName(const MudMetadata& metadata) {
  std::string base = metadata.model_name;
  if (base.empty()) {
    std::string_view path = mud::withoutScheme(metadata.mud_url);
    path = path.substr(std::min(path.size(), path.find('/')));
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    base = std::string(path.substr(path.rfind('/') + 1));
  }
  std::string name = mud::groupSafe(base);
  return name.empty() ? "mud-device" : name;
}

Result<MudImport> importMud(std::string_view bytes, std::string_view profile_name) {
  auto doc = parseMudJson(bytes);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return bad("(top level)", "a MUD file is a JSON object");
  if (!doc->contains(kMud)) return bad("(top level)", "no " + std::string(kMud) + " container");
  const json& mud = (*doc)[std::string(kMud)];
  if (!mud.is_object()) return bad(std::string(kMud), "expected an object");

  MudImport out;
  out.dialect = "rfc8520";
  if (Status s = readMetadata(mud, &out); !s.ok()) return s;
  for (const auto& [key, value] : doc->items()) {
    if (key != kMud && key != kAcls && key != kDraftAcls) {
      out.reports.push_back({MudReportKind::kNotImported, key,
                             "not used by Muzzle (" + quotedExcerpt(key) + ")"});
    }
  }
  auto acls = readAcls(*doc, &out);
  if (!acls.ok()) return acls.status();

  out.profile_name =
      profile_name.empty() ? defaultMudProfileName(out.metadata) : std::string(profile_name);
  mud::AceMapper mapper(out, authorityOf(out.metadata.mud_url), out.profile_name);
  std::set<int> from_families, to_families;
  size_t mapped = 0;
  if (Status s = mapPolicy(mud, true, *acls, mapper, &from_families, &mapped); !s.ok()) return s;
  if (Status s = mapPolicy(mud, false, *acls, mapper, &to_families, &mapped); !s.ok()) return s;
  mapper.finish();

  for (const Acl& acl : *acls) {
    if (!acl.used) {
      out.reports.push_back({MudReportKind::kNotImported, acl.path,
                             "no from-device-policy or to-device-policy names ACL " +
                                 quotedExcerpt(acl.name) + ": not imported"});
    }
  }
  // Muzzle's rules for names, groups and built-ins hold for IPv4 and IPv6 alike; a file that
  // speaks of one family only says nothing of the other.
  std::set<int> families = from_families;
  families.insert(to_families.begin(), to_families.end());
  if (families.size() == 1 && *families.begin() != 0) {
    const int f = *families.begin();
    out.reports.push_back(
        {MudReportKind::kWidened, out.dialect == "draft" ? std::string(kDraftAcls) : std::string(kAcls),
         std::string("the file's ACLs are IPv") + (f == 4 ? "4" : "6") +
             " only; Muzzle rules naming DNS names, groups or built-ins also match IPv" +
             (f == 4 ? "6" : "4")});
  }
  return out;
}

}  // namespace muzzle
