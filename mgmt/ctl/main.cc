// muzzlectl: manages one Muzzle box, or a fleet (--targets), through the management API.
// Exit codes: see output.h and README.md.
#include <iostream>

#include "mgmt/ctl/command_line.h"
#include "mgmt/ctl/run.h"

int main(int argc, char** argv) {
  muzzle::ctl::CommandLine command_line;
  if (auto exit = command_line.parse(argc, argv, std::cout, std::cerr)) return *exit;
  return muzzle::ctl::run(command_line.invocation(), std::cout, std::cerr);
}
