#include "fw/mud/mud_json.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "fw/common/excerpt.h"

namespace muzzle {
namespace {

using nlohmann::json;

// Builds the tree as nlohmann's own DOM builder does, but keeps the path of what it is building
// (for errors) and stops at the first bound: returning false from a callback ends the parse.
class BoundedBuilder {
 public:
  explicit BoundedBuilder(json* root) : root_(root) {}

  bool null() { return value(json(nullptr)); }
  bool boolean(bool v) { return value(json(v)); }
  bool number_integer(json::number_integer_t v) { return value(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return value(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return value(json(v)); }
  bool string(json::string_t& v) { return value(json(std::move(v))); }
  bool binary(json::binary_t&) { return fail("binary values are not JSON"); }
  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(json::string_t& k) {
    if (stack_.back().node->contains(k)) {
      path_ = joinPath(path_, k);
      return fail("key " + quotedExcerpt(k) + " given twice in one object");
    }
    pending_key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    if (error_.empty()) {
      error_position_ = position;
      // nlohmann's text: "[json.exception.parse_error.101] parse error at line 1, column 2:
      // syntax error while parsing value - invalid literal; last read: 'x'". Its last part
      // quotes the input: keep the reason only.
      std::string what = e.what();
      if (auto colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
      if (auto quote = what.find("; last read"); quote != std::string::npos) what.resize(quote);
      error_ = "not valid JSON: " + what;
    }
    return false;
  }

  const std::string& error() const { return error_; }
  size_t errorPosition() const { return error_position_; }
  std::string path() const { return path_; }

 private:
  struct Level {
    json* node;
    size_t next_index = 0;
    size_t path_length;  // path_ before this level's own segment was appended
  };

  bool fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  // Places `v` in the node being built; returns where it went, or nullptr after a failure.
  json* place(json v) {
    if (++values_ > kMaxMudValues) {
      fail("more than " + std::to_string(kMaxMudValues) + " JSON values");
      return nullptr;
    }
    if (stack_.empty()) {
      *root_ = std::move(v);
      return root_;
    }
    Level& top = stack_.back();
    if (top.node->is_array()) {
      segment_ = "[" + std::to_string(top.next_index++) + "]";
      top.node->push_back(std::move(v));
      return &top.node->back();
    }
    segment_ = pending_key_;
    json& slot = (*top.node)[pending_key_];
    slot = std::move(v);
    return &slot;
  }
  std::string childPath() const {
    if (segment_.empty()) return path_;
    if (segment_[0] == '[') return path_ + segment_;
    return path_.empty() ? segment_ : path_ + "." + segment_;
  }

  bool value(json v) {
    segment_.clear();
    return place(std::move(v)) != nullptr;
  }
  bool open(json v) {
    segment_.clear();
    if (stack_.size() >= kMaxMudDepth) {
      if (!stack_.empty() && stack_.back().node->is_object()) segment_ = pending_key_;
      if (!stack_.empty() && stack_.back().node->is_array())
        segment_ = "[" + std::to_string(stack_.back().next_index) + "]";
      path_ = childPath();
      return fail("nested deeper than " + std::to_string(kMaxMudDepth) + " levels");
    }
    json* node = place(std::move(v));
    if (node == nullptr) return false;
    const size_t before = path_.size();
    path_ = childPath();
    stack_.push_back(Level{node, 0, before});
    return true;
  }
  bool close() {
    path_.resize(stack_.back().path_length);
    stack_.pop_back();
    return true;
  }

  json* root_;
  std::vector<Level> stack_;
  std::string pending_key_, segment_, path_, error_;
  size_t values_ = 0, error_position_ = 0;
};

size_t lineOf(std::string_view bytes, size_t position) {
  position = std::min(position, bytes.size());
  return 1 + static_cast<size_t>(std::count(bytes.begin(), bytes.begin() + position, '\n'));
}

}  // namespace

std::string joinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string indexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

Result<nlohmann::json> parseMudJson(std::string_view bytes) {
  if (bytes.size() > kMaxMudBytes) {
    return Status::error(StatusCode::kInvalidArgument,
                         "the MUD file has " + std::to_string(bytes.size()) +
                             " bytes; at most " + std::to_string(kMaxMudBytes) + " are read");
  }
  json root;
  BoundedBuilder builder(&root);
  // sax_parse reports errors to the handler (parse_error) instead of throwing; strict: one
  // document and nothing after it.
  const bool ok = json::sax_parse(bytes.begin(), bytes.end(), &builder,
                                  json::input_format_t::json, /*strict=*/true,
                                  /*ignore_comments=*/false);
  if (!ok || !builder.error().empty()) {
    std::string where;
    if (builder.errorPosition() > 0) {
      where = "line " + std::to_string(lineOf(bytes, builder.errorPosition())) + ": ";
    }
    const std::string path = builder.path();
    if (!path.empty()) where += path + ": ";
    return Status::error(StatusCode::kInvalidArgument,
                         where + (builder.error().empty() ? "not valid JSON" : builder.error()));
  }
  return root;
}

}  // namespace muzzle
