#include "fw/engine/generation_store.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fw/common/atomic_file.h"
#include "fw/common/confined_file.h"
#include "fw/nft/marks.h"
#include "tests/unit/support/temp_dir.h"

namespace muzzle {
namespace MUZZLE_UNITY_ID {

using testing::TempDir;

std::vector<std::string> damagedCopies(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("generation.damaged-")) out.push_back(name);
  }
  return out;
}

TEST_CASE("the same policy keeps its generation across restarts; a change moves it on") {
  TempDir dir;
  {
    GenerationStore store(dir.path + "/state");  // created on first use
    CHECK(store.generationFor("aaa").generation == 1);
    CHECK(store.generationFor("aaa").generation == 1);
    auto b = store.generationFor("bbb");
    CHECK(b.generation == 2);
    CHECK(b.stored);
  }
  GenerationStore restarted(dir.path + "/state");
  CHECK(restarted.generationFor("bbb").generation == 2);
  // Going back to an earlier policy is a change too: marks of generation 1 must not revive.
  CHECK(restarted.generationFor("aaa").generation == 3);
  CHECK(restarted.advance("aaa").generation == 4);
}

TEST_CASE("the generation wraps within the mark's 24 bits and never becomes 0") {
  TempDir dir;
  REQUIRE(
      writeFileAtomically(dir.path, "generation", std::to_string(kMaxGeneration) + " old\n").ok());
  GenerationStore store(dir.path);
  CHECK(store.generationFor("new").generation == 1);
}

TEST_CASE("a damaged generation file is set aside and a fresh generation chosen, not 1") {
  TempDir dir;
  const char* damaged[] = {"garbage\n",     "", "7", "7 \n", "0 abc\n", "99999999 abc\n",
                           "7 abc\nextra\n"};
  for (const char* text : damaged) {
    CAPTURE(text);
    REQUIRE(writeFileAtomically(dir.path, "generation", text).ok());
    GenerationStore store(dir.path);
    GenerationChoice c = store.generationFor("other");
    CHECK_FALSE(c.damaged.empty());
    CHECK(c.stored);
    // The file no longer tells which generations the previous run's marks carry, so counting on
    // from 1 could revive them; a fresh one (random in 24 bits: 1 only by a one in 16 million
    // chance) only makes every flow be judged again.
    CHECK(c.generation != 1);
    CHECK(c.generation <= kMaxGeneration);
    REQUIRE(c.kept_as.starts_with(dir.path + "/generation.damaged-"));
    CHECK(*readRegularFile(c.kept_as) == text);
    CHECK(*readRegularFile(dir.path + "/generation") == std::to_string(c.generation) + " other\n");
    CHECK(damagedCopies(dir.path).size() == 1);
    std::filesystem::remove(c.kept_as);
  }
}

TEST_CASE("a FIFO or a folder where the generation file belongs is damage, never a wait") {
  // Anyone who can write the state folder could leave a FIFO there: opening one for reading
  // waits for a writer, which would hold muzzled's start forever.
  TempDir dir;
  REQUIRE(::mkfifo((dir.path + "/generation").c_str(), 0600) == 0);
  GenerationStore store(dir.path);
  GenerationChoice c = store.generationFor("digest");
  CHECK(c.damaged.find("not a regular file") != std::string::npos);
  CHECK(c.stored);  // the FIFO was set aside and a real file written in its place
  CHECK(std::filesystem::is_regular_file(dir.path + "/generation"));
  CHECK(damagedCopies(dir.path).size() == 1);
}

TEST_CASE("a state folder that cannot be written: a generation in memory, never a failure") {
  // /proc refuses new folders and files, as a read-only or full state folder would.
  GenerationStore store("/proc/muzzle-cannot-exist");
  GenerationChoice first = store.generationFor("digest-a");
  CHECK_FALSE(first.stored);
  CHECK(first.write_error.find("/proc/muzzle-cannot-exist") != std::string::npos);
  CHECK(first.generation >= 1);
  CHECK(first.generation <= kMaxGeneration);
  CHECK(store.generationFor("digest-a").generation == first.generation);  // unchanged policy

  // After a restart on the same read-only disk, the same policy gets the same generation, so
  // flows judged before keep their marks.
  GenerationStore restarted("/proc/muzzle-cannot-exist");
  CHECK(restarted.generationFor("digest-a").generation == first.generation);

  // Later changes in one run are fresh: going back to a policy must not revive its old marks.
  GenerationChoice b = restarted.generationFor("digest-b");
  CHECK(b.generation != first.generation);
  GenerationChoice back = restarted.generationFor("digest-a");
  CHECK(back.generation != first.generation);
  CHECK(back.generation != b.generation);
  GenerationChoice again = restarted.advance("digest-a");
  CHECK_FALSE(again.stored);
  CHECK(again.generation != back.generation);
}

}  // namespace
}  // namespace muzzle
