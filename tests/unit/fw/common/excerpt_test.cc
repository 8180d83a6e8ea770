// What an error may quote of a user's text: escaped, short, valid UTF-8, one line.
#include "fw/common/excerpt.h"

#include <doctest/doctest.h>

#include "fw/common/utf8.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("excerpt: printable text comes back as it is") {
  CHECK(excerpt("camera-1") == "camera-1");
  CHECK(quotedExcerpt("*.vendor.example") == "\"*.vendor.example\"");
}

TEST_CASE("excerpt: control bytes, non-ASCII bytes, quotes and backslashes are escaped") {
  CHECK(excerpt("a\nb\tc\x7f") == "a\\x0ab\\x09c\\x7f");
  CHECK(excerpt("caf\xc3\xa9") == "caf\\xc3\\xa9");
  CHECK(excerpt("\xff\xfe") == "\\xff\\xfe");
  CHECK(excerpt("say \"hi\" \\") == "say \\\"hi\\\" \\\\");
  CHECK(isUtf8(excerpt("\xff\x80\xc0")));
}

TEST_CASE("excerpt: long text is cut at the limit with ...") {
  const std::string text(1000, 'x');
  CHECK(excerpt(text) == std::string(kMaxExcerptBytes, 'x') + "...");
  CHECK(excerpt(std::string(kMaxExcerptBytes, 'y')) == std::string(kMaxExcerptBytes, 'y'));
  CHECK(excerpt("abcdef", 3) == "abc...");
}

TEST_CASE("printablePath: plain paths unchanged, user keys escaped and shortened") {
  CHECK(printablePath("profiles.camera.egress[1].ports[0]") ==
        "profiles.camera.egress[1].ports[0]");
  CHECK(printablePath("") == "");
  CHECK(printablePath("profiles.a\nb.otherwise") == "profiles.a\\x0ab.otherwise");
  CHECK(printablePath("addresses." + std::string(100, 'k') + "[3]") ==
        "addresses." + std::string(kMaxExcerptBytes, 'k') + "...[3]");
}

TEST_CASE("utf8: the first bad byte and where it is") {
  CHECK(firstInvalidUtf8("plain ascii") == std::string_view::npos);
  CHECK(firstInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7") == std::string_view::npos);
  CHECK(firstInvalidUtf8("ab\xff") == 2);
  CHECK(firstInvalidUtf8("ab\xc3") == 2);            // cut short at the end
  CHECK(firstInvalidUtf8("\xc0\xaf") == 0);          // overlong "/"
  CHECK(firstInvalidUtf8("x\xed\xa0\x80") == 1);     // a surrogate
  CHECK(firstInvalidUtf8("\xf4\x90\x80\x80") == 0);  // past U+10FFFF
  const std::string text = "version: 1\nprofiles:\n  x\xff: {}\n";
  const TextPosition p = positionOf(text, firstInvalidUtf8(text));
  CHECK(p.line == 3);
  CHECK(p.column == 4);
}

}  // namespace
}  // namespace muzzle

namespace muzzle {
namespace MUZZLE_UNITY_ID {

TEST_CASE("utf8SequenceLength: the well-formed sequence a text starts with, else 0") {
  CHECK(utf8SequenceLength("a") == 1);
  CHECK(utf8SequenceLength("\xc3\xa9x") == 2);          // é
  CHECK(utf8SequenceLength("\xe2\x82\xac") == 3);       // €
  CHECK(utf8SequenceLength("\xf0\x9f\x93\xb7") == 4);   // a camera
  CHECK(utf8SequenceLength("") == 0);
  CHECK(utf8SequenceLength("\x80") == 0);               // a continuation byte first
  CHECK(utf8SequenceLength("\xc0\xaf") == 0);           // overlong '/'
  CHECK(utf8SequenceLength("\xed\xa0\x80") == 0);       // a surrogate
  CHECK(utf8SequenceLength("\xf4\x90\x80\x80") == 0);   // past U+10FFFF
  CHECK(utf8SequenceLength("\xe2\x82") == 0);           // cut short
  CHECK(firstInvalidUtf8("ok \xe2\x82\xac then \xff") == 12);
}

}  // namespace
}  // namespace muzzle
