#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>

#include "fw/common/atomic_file.h"
#include "fw/engine/generation_store.h"
#include "fw/nft/marks.h"

namespace muzzle {
namespace {

TEST_CASE("the same policy keeps its generation across restarts; a change moves it on") {
  char tmpl[] = "/tmp/muzzle-gen-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  {
    GenerationStore store(dir + "/state");  // created on first use
    CHECK(*store.generationFor("aaa") == 1);
    CHECK(*store.generationFor("aaa") == 1);
    CHECK(*store.generationFor("bbb") == 2);
  }
  GenerationStore restarted(dir + "/state");
  CHECK(*restarted.generationFor("bbb") == 2);
  // Going back to an earlier policy is a change too: marks of generation 1 must not revive.
  CHECK(*restarted.generationFor("aaa") == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the generation wraps within the mark's 24 bits and never becomes 0") {
  char tmpl[] = "/tmp/muzzle-gen-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  REQUIRE(writeFileAtomically(dir, "generation", std::to_string(kMaxGeneration) + " old\n").ok());
  GenerationStore store(dir);
  CHECK(*store.generationFor("new") == 1);
  // A corrupt file starts over rather than failing the daemon.
  REQUIRE(writeFileAtomically(dir, "generation", "garbage\n").ok());
  CHECK(*store.generationFor("other") == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("an unusable state_dir is an error naming it") {
  GenerationStore store("/proc/muzzle-cannot-exist");
  auto g = store.generationFor("x");
  CHECK_FALSE(g.ok());
  CHECK(g.status().message().find("/proc/muzzle-cannot-exist") != std::string::npos);
}

}  // namespace
}  // namespace muzzle
