#include "fw/config/diagnostics.h"

#include <doctest/doctest.h>

#include <string>

#include "fw/config/yaml_proto.h"
#include "muzzle/v1/policy.pb.h"

namespace muzzle {

TEST_CASE("a diagnostic renders as file:line: field: message, leaving out what it lacks") {
  CHECK(Diagnostic{"p.yaml", 7, "devices[0].mac", "bad"}.text() == "p.yaml:7: devices[0].mac: bad");
  CHECK(Diagnostic{"p.yaml", 0, "version", "missing"}.text() == "p.yaml: version: missing");
  CHECK(Diagnostic{"p.yaml", 3, "", "not UTF-8"}.text() == "p.yaml:3: not UTF-8");
  CHECK(Diagnostic{"", 0, "", "no file"}.text() == "no file");
}

TEST_CASE("the sink keeps the field path printable and the file it was made for") {
  DiagnosticSink sink("p.yaml");
  CHECK(sink.empty());
  sink.add(4, "addresses.a\nb", "wrong");
  CHECK_FALSE(sink.empty());
  const auto taken = sink.take();
  REQUIRE(taken.size() == 1);
  CHECK(taken[0] == Diagnostic{"p.yaml", 4, "addresses.a\\x0ab", "wrong"});
  CHECK(sink.empty());
}

TEST_CASE("the sink sorts by line, stably, with lineless diagnostics first") {
  DiagnosticSink sink("p.yaml");
  sink.add(9, "b", "second");
  sink.add(2, "a", "first");
  sink.add(9, "c", "third");
  sink.add(0, "version", "missing");
  sink.sortByLine();
  const auto taken = sink.take();
  REQUIRE(taken.size() == 4);
  CHECK(taken[0].field == "version");
  CHECK(taken[1].field == "a");
  CHECK(taken[2].message == "second");
  CHECK(taken[3].message == "third");
}

TEST_CASE("the sink keeps kMaxReportedErrors and counts the rest in one last diagnostic") {
  DiagnosticSink sink("p.yaml");
  for (size_t i = 0; i < kMaxReportedErrors + 5; ++i) sink.add(1, "x", "bad");
  const auto taken = sink.take();
  REQUIRE(taken.size() == kMaxReportedErrors + 1);
  CHECK(taken.back() == Diagnostic{"p.yaml", 0, "", "5 more errors not shown; fix these first"});
  CHECK(statusOf(taken).message().ends_with(
      "p.yaml:1: x: bad\np.yaml: 5 more errors not shown; fix these first"));
}

TEST_CASE("statusOf: OK for none, one line per diagnostic otherwise") {
  CHECK(statusOf({}).ok());
  const Status s = statusOf({Diagnostic{"p.yaml", 1, "a", "x"}, Diagnostic{"p.yaml", 2, "", "y"}},
                            StatusCode::kInvalidArgument);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == "p.yaml:1: a: x\np.yaml:2: y");
}

TEST_CASE("yamlToProto gives its errors structured, the same words as its Status") {
  const std::string text = "version: one\nprofiles:\n  cam: {egres: []}\n";
  v1::Policy policy;
  DiagnosticSink sink("p.yaml");
  CHECK_FALSE(yamlToProto(text, &policy, nullptr, YamlToProtoOptions{}, &sink));
  const auto taken = sink.take();
  REQUIRE(taken.size() == 2);
  CHECK(taken[0] == Diagnostic{"p.yaml", 1, "version", "expected a whole number, found \"one\""});
  CHECK(taken[1].line == 3);
  CHECK(taken[1].field == "profiles.cam");
  CHECK(taken[1].message.starts_with("unknown field \"egres\""));
  CHECK(statusOf(taken).message() == yamlToProto(text, "p.yaml", &policy, nullptr).message());
}

TEST_CASE("yamlToProto: a YAML syntax error and bytes that are not UTF-8 have a line, no field") {
  v1::Policy policy;
  DiagnosticSink syntax("p.yaml");
  CHECK_FALSE(yamlToProto("version: 1\nprofiles: {a: [}\n", &policy, nullptr, {}, &syntax));
  auto taken = syntax.take();
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].line == 2);
  CHECK(taken[0].field.empty());
  CHECK(taken[0].message.starts_with("YAML syntax error: "));

  DiagnosticSink bytes("p.yaml");
  CHECK_FALSE(yamlToProto("version: 1\nx: \xff\n", &policy, nullptr, {}, &bytes));
  taken = bytes.take();
  REQUIRE(taken.size() == 1);
  CHECK(taken[0] == Diagnostic{"p.yaml", 2, "",
                               "byte 4 of this line (0xff) is not UTF-8; save the file as UTF-8"});
}

}  // namespace muzzle
