// One YAML document as the YAML -> protobuf walk (yaml_walker.h) needs it: each node's kind,
// line, scalar text and children, built from yaml-cpp's parser events.
//
// Built from events rather than with YAML::Load, whose node tree costs ~60 bytes of heap per
// byte of input (12 MB for the bench's 200 KB policy, all of it transient garbage that fragments
// the heap the compiled policy then lands in) and a fifth of the parse time. An alias shares the
// node its anchor names, as in yaml-cpp's tree, so the document itself stays as small as the
// text; but every walk over it visits a shared node once per alias, so an 11 KB file of nested
// aliases ("billion laughs") would be walked as billions of nodes. The document therefore counts
// each node's expanded size (nodes, and bytes of scalar text, with every alias counted as the
// node it names) as it is built, and refuses the text as soon as either passes its budget,
// without reading further. It also refuses an alias that names a node containing it (a cycle:
// no walk ends), and a text that holds a second document (it would be silently ignored).
//
// Not thread-safe; one document per parse. Never throws: yaml-cpp's exceptions stay inside.
#pragma once

#include <yaml-cpp/eventhandler.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fw/common/status.h"
#include "fw/config/diagnostics.h"

namespace muzzle {

// Bounds on what one document may expand to. Far above the bench's site policy (1,000 devices,
// 100 profiles of 22 rules, a 10,000-entry inline list: about 60,000 nodes and 400 KB of
// values), low enough that walking and compiling a document at the limit (50,000 rules of 9
// nodes each) takes about a second and some 60 MB.
inline constexpr uint32_t kMaxYamlNodes = 500'000;
inline constexpr uint32_t kMaxYamlScalarBytes = 16u << 20;

struct YamlBudget {
  uint32_t max_nodes = kMaxYamlNodes;
  uint32_t max_scalar_bytes = kMaxYamlScalarBytes;
};

class YamlDocument : public YAML::EventHandler {
 public:
  enum class Kind : uint8_t { kNull, kScalar, kSequence, kMap };

  struct NodeData {
    Kind kind = Kind::kNull;
    bool complete = false;  // a container's end was seen
    int line = 0;           // 1-based; 0 when unknown
    uint32_t first = 0;     // scalar: index into scalars_; container: into children_
    uint32_t count = 0;     // container: children (a map's are key, value, key, value, ...)
    // With aliases expanded, saturating just past the budget: nodes, and bytes of scalars.
    uint32_t expanded_nodes = 0;
    uint32_t expanded_bytes = 0;
  };

  explicit YamlDocument(YamlBudget budget = {}) : budget_(budget) {}

  // Parses the first document of `text`. Errors are "label:line: what" (syntax, budget, cycle,
  // a second document). `root()` is -1 after an error or when the text held no document.
  Status parse(std::string_view text, std::string_view label);
  // After parse() failed: the same error, structured (no field: it is about the text itself).
  const Diagnostic& problem() const { return problem_; }

  int64_t root() const { return root_; }
  const NodeData& node(uint32_t index) const { return nodes_[index]; }
  const std::string& scalar(uint32_t index) const { return scalars_[nodes_[index].first]; }
  uint32_t child(uint32_t index, uint32_t i) const { return children_[nodes_[index].first + i]; }
  // Nodes built from events so far (an alias adds none): how far the parse got.
  size_t nodeCount() const { return nodes_.size(); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override;
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override;
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override;
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    uint32_t index;  // the container
    size_t start;    // its first entry in pending_
    // Expanded size of its children so far.
    uint32_t nodes = 0;
    uint32_t bytes = 0;
  };

  uint32_t push(Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor);
  void attach(uint32_t index);
  void count(uint32_t nodes, uint32_t bytes, int line);
  void close();
  // Records the problem and returns it as a Status.
  Status refuse(std::string_view label, int line, std::string what);

  YamlBudget budget_;
  std::vector<NodeData> nodes_;
  std::vector<std::string> scalars_;
  std::vector<uint32_t> children_;
  std::vector<uint32_t> pending_;
  std::vector<Open> open_;
  std::vector<uint32_t> anchors_;  // anchor -> node
  int64_t root_ = -1;
  int cycle_line_ = 0;
  Diagnostic problem_;
};

// A node of a YamlDocument: what the walk asks of it. Cheap to copy; valid while the document
// lives.
class YamlNode {
 public:
  YamlNode(const YamlDocument& doc, uint32_t index) : doc_(&doc), index_(index) {}

  bool IsNull() const { return data().kind == YamlDocument::Kind::kNull; }
  bool IsScalar() const { return data().kind == YamlDocument::Kind::kScalar; }
  bool IsSequence() const { return data().kind == YamlDocument::Kind::kSequence; }
  bool IsMap() const { return data().kind == YamlDocument::Kind::kMap; }
  const std::string& Scalar() const { return doc_->scalar(index_); }
  int line() const { return data().line; }
  // Sequence items, or a map's pairs.
  uint32_t size() const { return IsMap() ? data().count / 2 : data().count; }
  YamlNode item(uint32_t i) const { return YamlNode(*doc_, doc_->child(index_, i)); }
  YamlNode key(uint32_t i) const { return YamlNode(*doc_, doc_->child(index_, 2 * i)); }
  YamlNode value(uint32_t i) const { return YamlNode(*doc_, doc_->child(index_, 2 * i + 1)); }

 private:
  const YamlDocument::NodeData& data() const { return doc_->node(index_); }
  const YamlDocument* doc_;
  uint32_t index_;
};

}  // namespace muzzle
