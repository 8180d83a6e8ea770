// Address groups: entries written in the policy, or a list file it names.
#include <algorithm>
#include <string_view>

#include "fw/common/confined_file.h"
#include "fw/common/excerpt.h"
#include "fw/common/sha256.h"
#include "fw/policy/address_list.h"
#include "fw/policy/policy_compiler.h"
#include "fw/policy/policy_syntax.h"

namespace muzzle {

void PolicyCompiler::compileGroups(const v1::Policy& policy) {
  // Sorted, so errors come out in the same order every run; pointers, as a group can hold a
  // long list.
  std::vector<std::pair<std::string_view, const v1::AddressGroup*>> sorted;
  sorted.reserve(policy.addresses().size());
  for (const auto& [name, group] : policy.addresses()) sorted.emplace_back(name, &group);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [name_view, group] : sorted) {
    const std::string name(name_view);
    const std::string path = "addresses." + name;
    if (!isValidName(name)) {
      fail(path,
           inQuotes(name) + " is not a valid address group name (use letters, digits, _ . -)");
      continue;
    }
    if (isReservedGroupName(name)) {
      fail(path, inQuotes(name) +
                     " is a built-in target and cannot name an address group; choose another "
                     "name");
      continue;
    }
    GroupAddresses& addresses = groups_[name];
    if (!group->file().empty()) {
      if (group->entries_size() > 0) {
        fail(path,
             "a group lists its entries or names a file, not both; move the entries "
             "into the file");
        continue;
      }
      IncludedFile& included = group_files_.emplace_back();
      included.name = group->file();
      readGroupFile(group->file(), path + ".file", &included.text, &addresses);
      continue;
    }
    std::vector<Cidr>& cidrs = addresses.cidrs;
    cidrs.reserve(group->entries_size());
    for (int i = 0; i < group->entries_size(); ++i) {
      const std::string& text = group->entries(i);
      const std::string entry_path = path + "[" + std::to_string(i) + "]";
      if (auto cidr = Cidr::parse(text)) {
        if (!spend(addresses_, 1, entry_path)) break;
        cidrs.push_back(*cidr);
      } else if (text.find('/') == std::string::npos && looksLikeDomain(text)) {
        // A group of names: a vendor's cloud hosts, named once and used by many profiles.
        if (auto pattern = parseNamePattern(text)) {
          group_names_[name].push_back(std::move(*pattern));
        } else {
          fail(entry_path, inQuotes(text) +
                               " is not a valid DNS name (host.example.com or "
                               "*.example.com; letters, digits, - and _)");
        }
      } else {
        fail(entry_path, cidrProblem(text));
      }
    }
    addresses.count = cidrs.size();
  }
}

bool PolicyCompiler::readNamedFile(const std::string& name, const std::string& field,
                                   std::string* text) {
  auto contents = readConfinedFile(folders_, name);
  if (!contents.ok()) {
    fail(field, contents.status().message());
    return false;
  }
  if (!spend(file_bytes_, contents->size(), field)) return false;
  *text = std::move(contents).value();
  return true;
}

bool PolicyCompiler::readListText(const std::string& name, const std::string& field,
                                  std::string* text) {
  if (!readNamedFile(name, field, text)) return false;
  // The digest has always seen every line newline-terminated (the DoH list was read by lines).
  if (!text->empty() && text->back() != '\n') text->push_back('\n');
  return true;
}

std::vector<Cidr> PolicyCompiler::readListFile(const std::string& name, const std::string& field,
                                               size_t max_entries, std::string* text) {
  if (!readListText(name, field, text)) return {};
  return parseListText(name, field, max_entries, *text);
}

std::vector<Cidr> PolicyCompiler::parseListText(const std::string& name, const std::string& field,
                                                size_t max_entries, const std::string& text,
                                                bool* clean) {
  AddressList list = parseAddressList(text, max_entries);
  if (clean != nullptr) *clean = false;
  const std::string shown = excerpt(name);
  for (const int line : list.bad_lines) {
    fail(field, shown + ":" + std::to_string(line) +
                    ": not an IP address or CIDR (one a line, e.g. 198.18.1.4 or "
                    "198.18.1.0/24 with no host bits set; # starts a comment)");
  }
  if (list.bad_count > kMaxListErrors) {
    fail(field, shown + ": " + std::to_string(list.bad_count - kMaxListErrors) +
                    " more lines are not an IP address or CIDR; is it a list of addresses, one "
                    "a line?");
  }
  if (list.over_limit) {
    fail(field, shown + " lists more than " + std::to_string(max_entries) +
                    " addresses, the most one list may hold; split it");
  }
  if (!spend(addresses_, list.cidrs.size(), field)) return {};
  if (clean != nullptr) *clean = list.bad_count == 0 && !list.over_limit;
  return std::move(list.cidrs);
}

void PolicyCompiler::readGroupFile(const std::string& name, const std::string& field,
                                   std::string* text, GroupAddresses* group) {
  if (!readListText(name, field, text)) return;
  std::string digest;
  if (lists_ != nullptr) {
    digest = sha256Hex(*text);
    if (auto cached = lists_->find(digest)) {
      // This text parsed without a bad line and within kMaxGroupEntries before; what it counts
      // against the whole policy's addresses is this policy's to bound.
      if (!spend(addresses_, cached->entries, field)) return;
      group->set = std::move(cached->set);
      group->count = cached->entries;
      return;
    }
  }
  bool clean = false;
  std::vector<Cidr> cidrs = parseListText(name, field, kMaxGroupEntries, *text, &clean);
  if (cidrs.empty()) return;
  auto set = std::make_shared<AddressSet>();
  set->addAll(cidrs);
  set->finalize();
  group->count = cidrs.size();
  group->set = set;
  if (lists_ != nullptr && clean) {
    lists_->remember(digest, ListCache::Set{std::move(set), group->count});
  }
}

}  // namespace muzzle
