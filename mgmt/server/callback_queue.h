// holdCallbackQueue(): keeps gRPC's process-wide callback queue for the rest of the process.
//
// gRPC 1.51 (Debian 12) serves the callback API from one process-wide completion queue when its
// I/O manager does not poll in the background, as on Linux: the queue is made with the first
// server or channel that uses it and torn down (its threads joined, the queue freed) when the last
// one goes. Destroying the last server and starting another races inside gRPC with the queue's
// own threads: "assertion failed: prior > 0" or, under ASan, a double free of the queue. muzzled
// does that when a `muzzlectl setup` fails and the box goes back to idle (the idle phase's server
// goes, the next one starts); unit tests do it between cases (8 of 12 runs of unit_mgmt_web
// crashed once its cases were fast). A server that lives as long as the process keeps the count
// above zero, so the teardown runs once, at exit.
//
// Call it where a server is about to start, not earlier: the queue's threads are made then, and
// muzzled must have dropped its privileges before it makes threads (sandbox.h).
#pragma once

namespace muzzle {

void holdCallbackQueue();

}  // namespace muzzle
