#include "fw/config/yaml_document.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <sstream>

#include "fw/common/excerpt.h"

namespace muzzle {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

// Thrown from an event handler to stop yaml-cpp's parser at once; caught in parse().
struct Refusal {
  int line;
  std::string what;
};

int lineOf(const YAML::Mark& mark) { return mark.line >= 0 ? mark.line + 1 : 0; }

// Adds, stopping one past `cap` so that a sum can never wrap.
uint32_t add(uint32_t a, uint32_t b, uint32_t cap) {
  const uint64_t sum = uint64_t{a} + b;
  return static_cast<uint32_t>(std::min<uint64_t>(sum, uint64_t{cap} + 1));
}

// Sees whether the text goes on with another document after the first.
class SecondDocument : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { throw Refusal{lineOf(mark), ""}; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

Status YamlDocument::refuse(std::string_view label, int line, std::string what) {
  root_ = -1;
  problem_ = Diagnostic{std::string(label), line, "", std::move(what)};
  return Status::error(problem_.text());
}

Status YamlDocument::parse(std::string_view text, std::string_view label) {
  root_ = -1;
  problem_ = Diagnostic{};
  // yaml-cpp reports everything by exception, and a Refusal stops it; none may leave here.
  try {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    try {
      parser.HandleNextDocument(*this);
    } catch (const Refusal& refusal) {
      return refuse(label, refusal.line, refusal.what);
    }
    if (root_ >= 0 && cycle_line_ != 0) {
      return refuse(label, cycle_line_, "an alias names a node that contains it; that never ends");
    }
    // A second document would be ignored; refuse it rather than apply half of what was sent.
    try {
      SecondDocument probe;
      parser.HandleNextDocument(probe);
    } catch (const Refusal& refusal) {
      return refuse(label, refusal.line,
                    "a second YAML document starts here; a file holds one document (remove this "
                    "\"---\" and what follows, or split the file)");
    } catch (const YAML::Exception& e) {
      return refuse(label, lineOf(e.mark),
                    "a second YAML document starts here, and it is not valid YAML; a file holds "
                    "one document");
    }
    return Status();
  } catch (const YAML::ParserException& e) {
    return refuse(label, lineOf(e.mark), "YAML syntax error: " + excerpt(e.msg, 200));
  } catch (const YAML::Exception& e) {
    return refuse(label, lineOf(e.mark), excerpt(e.msg, 200));
  } catch (const std::exception& e) {
    return refuse(label, 0, excerpt(e.what(), 200));
  } catch (...) {
    return refuse(label, 0, "unexpected error while reading YAML");
  }
}

void YamlDocument::OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) {
  const uint32_t index = push(Kind::kNull, mark, anchor);
  nodes_[index].complete = true;
  nodes_[index].expanded_nodes = 1;
  count(1, 0, lineOf(mark));
}

void YamlDocument::OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) {
  const bool known = anchor < anchors_.size() && anchors_[anchor] != kNone;
  if (!known || !nodes_[anchors_[anchor]].complete) {
    // yaml-cpp's tree would hold a cycle here, which no walk finishes; refuse it instead.
    if (cycle_line_ == 0) cycle_line_ = lineOf(mark);
    OnNull(mark, YAML::NullAnchor);
    return;
  }
  const uint32_t target = anchors_[anchor];
  attach(target);
  count(nodes_[target].expanded_nodes, nodes_[target].expanded_bytes, lineOf(mark));
}

void YamlDocument::OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                            const std::string& value) {
  const uint32_t index = push(Kind::kScalar, mark, anchor);
  NodeData& data = nodes_[index];
  data.first = static_cast<uint32_t>(scalars_.size());
  data.complete = true;
  data.expanded_nodes = 1;
  data.expanded_bytes = add(0, static_cast<uint32_t>(std::min<size_t>(value.size(), kNone - 1)),
                            budget_.max_scalar_bytes);
  scalars_.push_back(value);
  count(1, data.expanded_bytes, lineOf(mark));
}

void YamlDocument::OnSequenceStart(const YAML::Mark& mark, const std::string&,
                                   YAML::anchor_t anchor, YAML::EmitterStyle::value) {
  const uint32_t index = push(Kind::kSequence, mark, anchor);
  open_.push_back({index, pending_.size()});
}

void YamlDocument::OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                              YAML::EmitterStyle::value) {
  const uint32_t index = push(Kind::kMap, mark, anchor);
  open_.push_back({index, pending_.size()});
}

// A new node, attached to the open container (or the document's root).
uint32_t YamlDocument::push(Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
  if (nodes_.size() >= budget_.max_nodes) {
    throw Refusal{lineOf(mark), "the document has more than " + std::to_string(budget_.max_nodes) +
                                    " values, lists and mappings; move long lists of addresses "
                                    "into list files"};
  }
  const auto index = static_cast<uint32_t>(nodes_.size());
  NodeData& data = nodes_.emplace_back();
  data.kind = kind;
  data.line = lineOf(mark);
  if (anchor != YAML::NullAnchor) {
    if (anchor >= anchors_.size()) anchors_.resize(anchor + 1, kNone);
    anchors_[anchor] = index;
  }
  attach(index);
  return index;
}

void YamlDocument::attach(uint32_t index) {
  if (open_.empty()) {
    if (root_ < 0) root_ = index;
    return;
  }
  pending_.push_back(index);
}

// Adds a finished child's expanded size to the open container, refusing the document once the
// container alone passes a budget: every node counts towards the root, so the whole document
// is over it too.
void YamlDocument::count(uint32_t nodes, uint32_t bytes, int line) {
  uint32_t total_nodes = nodes;
  uint32_t total_bytes = bytes;
  if (!open_.empty()) {
    Open& parent = open_.back();
    parent.nodes = total_nodes = add(parent.nodes, nodes, budget_.max_nodes);
    parent.bytes = total_bytes = add(parent.bytes, bytes, budget_.max_scalar_bytes);
  }
  if (total_nodes > budget_.max_nodes) {
    throw Refusal{line, "with its aliases expanded, the document has more than " +
                            std::to_string(budget_.max_nodes) +
                            " values, lists and mappings; an alias counts as a copy of what it "
                            "names, so use fewer or smaller ones"};
  }
  if (total_bytes > budget_.max_scalar_bytes) {
    throw Refusal{line, "with its aliases expanded, the document's values hold more than " +
                            std::to_string(budget_.max_scalar_bytes) +
                            " bytes; an alias counts as a copy of what it names, so use fewer "
                            "or smaller ones"};
  }
}

// Children arrive interleaved with their own children; each container's are collected in
// `pending_` and moved, contiguous, into `children_` when it ends.
void YamlDocument::close() {
  const Open done = open_.back();
  open_.pop_back();
  NodeData& data = nodes_[done.index];
  data.first = static_cast<uint32_t>(children_.size());
  data.count = static_cast<uint32_t>(pending_.size() - done.start);
  data.complete = true;
  data.expanded_nodes = add(done.nodes, 1, budget_.max_nodes);
  data.expanded_bytes = done.bytes;
  children_.insert(children_.end(), pending_.begin() + static_cast<std::ptrdiff_t>(done.start),
                   pending_.end());
  pending_.resize(done.start);
  count(data.expanded_nodes, data.expanded_bytes, data.line);
}

}  // namespace muzzle
