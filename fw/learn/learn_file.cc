// learn.state, the recorder's saved form: a text file a person can read, one line per session
// and one per flow, the flows under their session, most recently seen first:
//
//   # muzzle learning state 1
//   session 44:47:cc:12:34:56 start=1790000000 end=1790086400 observe=no active=yes evictions=0
//   flow egress tcp 443 name=cam.example.com count=3 first=1790000010 last=1790000400 verdict=allow rule=yes via=203.0.113.10 lateral=no
//   flow egress udp 123 addr=192.0.2.123 count=1 first=... last=... verdict=reject rule=no via=192.0.2.123 lateral=no
//
// Everything in it is checked as untrusted (the disk may be torn or tampered with): a line that
// does not read is an error naming the file and line, and nothing is taken from the file then.
// Names are read back only if they are names the recorder itself would keep (isRecordableName).
#include <charconv>
#include <type_traits>

#include "fw/common/excerpt.h"
#include "fw/common/text_lines.h"
#include "fw/learn/flow_recorder.h"

namespace muzzle {
namespace {

constexpr std::string_view kHeader = "# muzzle learning state 1";

// The writers below append to one buffer: the Daemon saves every minute, a session at a time
// under the Judge's lock, and building each field as a string of its own (inet_ntop goes through
// snprintf) cost ~7,000 instructions a flow, 0.1 s for a full recorder.
template <typename T>
void appendNumber(std::string& out, T n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void appendAddress(std::string& out, const IpAddress& ip) {
  if (ip.v6) {
    out += ip.toString();
    return;
  }
  for (int i = 0; i < 4; ++i) {
    if (i > 0) out += '.';
    appendNumber(out, unsigned{ip.bytes[i]});
  }
}

// A protocol's word in the file, where it has one (otherwise the file holds its number).
const char* protocolWord(uint8_t p) {
  switch (p) {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    case 58: return "icmpv6";
    default: return nullptr;
  }
}

const char* yesNoText(bool b) { return b ? "yes" : "no"; }

// " key=value": a number, an address or a word after its key.
template <typename T>
void appendField(std::string& out, std::string_view key, const T& value) {
  out += key;
  if constexpr (std::is_same_v<T, IpAddress>) {
    appendAddress(out, value);
  } else if constexpr (std::is_arithmetic_v<T>) {
    appendNumber(out, value);
  } else {
    out += value;
  }
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

template <typename T>
bool number(std::string_view text, T* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// The value of `word` if it is "key=value".
std::optional<std::string_view> field(std::string_view word, std::string_view key) {
  if (word.size() <= key.size() || !word.starts_with(key) || word[key.size()] != '=')
    return std::nullopt;
  return word.substr(key.size() + 1);
}

std::optional<bool> yesNo(std::string_view v) {
  if (v == "yes") return true;
  if (v == "no") return false;
  return std::nullopt;
}

std::optional<uint8_t> protocolOf(std::string_view v) {
  if (v == "tcp") return 6;
  if (v == "udp") return 17;
  if (v == "icmp") return 1;
  if (v == "icmpv6") return 58;
  unsigned n = 0;
  if (number(v, &n) && n <= 255) return static_cast<uint8_t>(n);
  return std::nullopt;
}

std::optional<Action> verdictOf(std::string_view v) {
  if (v == "allow") return Action::kAllow;
  if (v == "reject") return Action::kReject;
  if (v == "drop") return Action::kDrop;
  return std::nullopt;
}

}  // namespace

void FlowRecorder::appendHeader(std::string& out) {
  out += kHeader;
  out += '\n';
}

size_t FlowRecorder::serializedSizeHint() const {
  // ~130 bytes a flow line (more with a long name): one allocation for most files.
  return kHeader.size() + 1 + devices_.size() * 96 + storage_.table.size() * 140;
}

std::string FlowRecorder::serialize() const {
  std::string out;
  out.reserve(serializedSizeHint());
  appendHeader(out);
  for (MacAddress mac : sessionMacs()) appendSession(mac, out);
  return out;
}

bool FlowRecorder::appendSession(MacAddress mac, std::string& out) const {
  auto it = devices_.find(mac.value);
  if (it == devices_.end()) return false;
  const LearnSession& s = it->second.session;
  out += "session ";
  out += s.mac.toString();
  appendField(out, " start=", s.start_unix);
  appendField(out, " end=", s.end_unix);
  appendField(out, " observe=", yesNoText(s.observe));
  appendField(out, " active=", yesNoText(s.active));
  appendField(out, " evictions=", s.evictions);
  out += '\n';
  storage_.forEach(it->second, [&out](const LearnedFlow& f) {
    out += "flow ";
    out += directionName(f.key.direction);
    out += ' ';
    if (const char* word = protocolWord(f.key.protocol)) {
      out += word;
    } else {
      appendNumber(out, unsigned{f.key.protocol});
    }
    out += ' ';
    appendNumber(out, f.key.port);
    if (f.key.name.empty()) {
      appendField(out, " addr=", f.key.address);
    } else {
      appendField(out, " name=", f.key.name);
    }
    appendField(out, " count=", f.count);
    appendField(out, " first=", f.first_seen_unix);
    appendField(out, " last=", f.last_seen_unix);
    appendField(out, " verdict=", actionName(f.verdict));
    appendField(out, " rule=", yesNoText(f.allowed_by_rule));
    appendField(out, " via=", f.last_address);
    appendField(out, " lateral=", yesNoText(f.to_device));
    out += '\n';
  });
  return true;
}

Status FlowRecorder::load(std::string_view text, std::string_view file_name) {
  const std::vector<std::string_view> lines = splitLines(text);
  size_t line_no = 0;
  auto bad = [&](const std::string& what) {
    return Status::error(StatusCode::kInvalidArgument,
                         std::string(file_name) + ":" + std::to_string(line_no) + ": " + what +
                             "; the learning sessions start empty");
  };
  if (text.size() > kLearnMaxFileBytes) {
    return Status::error(StatusCode::kInvalidArgument,
                         std::string(file_name) + ": larger than " +
                             std::to_string(kLearnMaxFileBytes) + " bytes");
  }
  if (lines.empty() || lines[0] != kHeader) {
    line_no = 1;
    return bad("not a learning state file (its first line must be \"" + std::string(kHeader) +
               "\")");
  }
  // Built aside, swapped in only when the whole file reads.
  MacMap<DeviceFlows> loaded;
  Storage storage;
  uint64_t dropped = 0;
  DeviceFlows* current = nullptr;  // the session the flow lines belong to; null: skipped
  bool in_session = false;
  for (line_no = 2; line_no <= lines.size(); ++line_no) {
    const std::string_view line = lines[line_no - 1];
    if (line.empty() || line.front() == '#') continue;
    const std::vector<std::string_view> w = words(line);
    if (w.empty()) continue;  // spaces alone: a blank line
    if (w[0] == "session") {
      if (w.size() != 7) return bad("a session line has 7 words, this one " + std::to_string(w.size()));
      LearnSession s;
      auto mac = MacAddress::parse(w[1]);
      if (!mac) return bad("\"" + excerpt(w[1]) + "\" is not an Ethernet address");
      s.mac = *mac;
      auto start = field(w[2], "start");
      auto end = field(w[3], "end");
      auto observe = field(w[4], "observe");
      auto active = field(w[5], "active");
      auto evictions = field(w[6], "evictions");
      if (!start || !number(*start, &s.start_unix)) return bad("start= must be a number of seconds");
      if (!end || !number(*end, &s.end_unix)) return bad("end= must be a number of seconds");
      std::optional<bool> o = observe ? yesNo(*observe) : std::nullopt;
      std::optional<bool> a = active ? yesNo(*active) : std::nullopt;
      if (!o) return bad("observe= must be yes or no");
      if (!a) return bad("active= must be yes or no");
      if (!evictions || !number(*evictions, &s.evictions)) return bad("evictions= must be a number");
      s.observe = *o;
      s.active = *a;
      if (loaded.count(s.mac.value) != 0) return bad("a second session for " + s.mac.toString());
      in_session = true;
      if (loaded.size() >= limits_.sessions) {
        ++dropped;
        current = nullptr;
        continue;
      }
      current = &loaded[s.mac.value];
      current->session = s;
      continue;
    }
    if (w[0] != "flow") return bad("a line starts with \"session\" or \"flow\", not \"" + excerpt(w[0]) + "\"");
    if (!in_session) return bad("a flow line before any session line");
    if (w.size() != 12) return bad("a flow line has 12 words, this one " + std::to_string(w.size()));
    LearnedFlow f;
    if (w[1] == "egress") {
      f.key.direction = Direction::kEgress;
    } else if (w[1] == "inbound") {
      f.key.direction = Direction::kInbound;
    } else {
      return bad("the direction must be egress or inbound");
    }
    auto proto = protocolOf(w[2]);
    if (!proto) return bad("\"" + excerpt(w[2]) + "\" is not a protocol");
    f.key.protocol = *proto;
    if (!number(w[3], &f.key.port)) return bad("the port must be a number from 0 to 65535");
    if (auto name = field(w[4], "name")) {
      if (!isRecordableName(*name)) return bad("\"" + excerpt(*name) + "\" is not a DNS name");
      f.key.name.assign(*name);
    } else if (auto addr = field(w[4], "addr")) {
      auto ip = IpAddress::parse(*addr);
      if (!ip) return bad("\"" + excerpt(*addr) + "\" is not an IP address");
      f.key.address = *ip;
    } else {
      return bad("the fifth word must be name=NAME or addr=ADDRESS");
    }
    auto count = field(w[5], "count");
    auto first = field(w[6], "first");
    auto last = field(w[7], "last");
    auto verdict = field(w[8], "verdict");
    auto by_rule = field(w[9], "rule");
    auto via = field(w[10], "via");
    auto lateral = field(w[11], "lateral");
    if (!count || !number(*count, &f.count)) return bad("count= must be a number");
    if (!first || !number(*first, &f.first_seen_unix)) return bad("first= must be a number of seconds");
    if (!last || !number(*last, &f.last_seen_unix)) return bad("last= must be a number of seconds");
    std::optional<Action> v = verdict ? verdictOf(*verdict) : std::nullopt;
    if (!v) return bad("verdict= must be allow, reject or drop");
    f.verdict = *v;
    std::optional<bool> r = by_rule ? yesNo(*by_rule) : std::nullopt;
    if (!r) return bad("rule= must be yes or no");
    f.allowed_by_rule = *r;
    std::optional<IpAddress> via_ip = via ? IpAddress::parse(*via) : std::nullopt;
    if (!via_ip) return bad("via= must be an IP address");
    f.last_address = *via_ip;
    std::optional<bool> l = lateral ? yesNo(*lateral) : std::nullopt;
    if (!l) return bad("lateral= must be yes or no");
    f.to_device = *l;
    if (current == nullptr || current->count >= limits_.per_device ||
        storage.table.size() >= limits_.total) {
      ++dropped;
      continue;
    }
    const uint32_t tag = tagOf(current->session.mac, viewOf(f.key));
    if (storage.find(*current, tag, viewOf(f.key)) != kNoSlot) {
      return bad("the same flow twice in one session");
    }
    const uint32_t i = storage.take();
    Slot& slot = storage.at(i);
    slot.flow = std::move(f);
    slot.tag = tag;
    storage.pushBack(*current, i);  // the file lists a session's flows most recent first
    storage.index(i);
  }
  // Swapped, not moved: the slots point at the DeviceFlows in `loaded`'s nodes, which swap
  // hands over as they are.
  devices_.swap(loaded);
  storage_ = std::move(storage);
  regroup();
  load_dropped_ = dropped;
  return Status();
}

}  // namespace muzzle
