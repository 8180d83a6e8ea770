// The dns section: resolvers devices may use, the name cache's size and grace, the DoH list.
#include "fw/policy/policy_compiler.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {

void PolicyCompiler::compileDns(const v1::Policy& policy, CompiledPolicy* out) {
  if (!policy.has_dns()) return;
  const v1::Dns& dns = policy.dns();
  CompiledDns& compiled = out->dns;
  compiled.enabled = true;
  if (dns.resolvers_size() == 0) {
    fail("dns.resolvers", "list the resolvers devices may use, e.g. [gateway]");
  }
  for (int i = 0; i < dns.resolvers_size(); ++i) {
    const std::string& target = dns.resolvers(i);
    const std::string path = "dns.resolvers[" + std::to_string(i) + "]";
    if (target == "gateway") {
      compiled.resolver_builtins |= kTargetGateway;
    } else if (target == "local" || target == "internet") {
      fail(path, inQuotes(target) + " is too wide for a resolver; name gateway, a group or an IP");
    } else if (auto group = groups_.find(target); group != groups_.end()) {
      if (group_names_.count(target) != 0) {
        fail(path, "address group " + inQuotes(target) +
                       " holds DNS names; a resolver is reached by address: name its IPs");
      }
      if (spend(addresses_, group->second.count, path) && group->second.count != 0) {
        compiled.resolvers.add(*groupSet(group->second));
      }
    } else if (auto cidr = Cidr::parse(target)) {
      if (spend(addresses_, 1, path)) compiled.resolvers.add(*cidr);
    } else {
      fail(path, inQuotes(target) + " is not gateway, an address group, an IP or a CIDR");
    }
  }
  compiled.resolvers.finalize();
  if (dns.has_cache_per_device()) {
    if (dns.cache_per_device() < 16 || dns.cache_per_device() > 1000000) {
      fail("dns.cache_per_device",
           std::to_string(dns.cache_per_device()) + " is not in 16..1000000");
    }
    compiled.cache_per_device = dns.cache_per_device();
  }
  if (dns.has_ttl_grace_seconds()) {
    if (dns.ttl_grace_seconds() > 3600) {
      fail("dns.ttl_grace_seconds",
           std::to_string(dns.ttl_grace_seconds()) + " is more than an hour");
    }
    compiled.ttl_grace_seconds = dns.ttl_grace_seconds();
  }
  if (!dns.doh_list().empty()) loadDohList(dns.doh_list(), &compiled);
  compiled.doh.finalize();
}

void PolicyCompiler::loadDohList(const std::string& name, CompiledDns* dns) {
  dns->doh.addAll(readListFile(name, "dns.doh_list", kMaxDohEntries, &doh_text_));
}

}  // namespace muzzle
