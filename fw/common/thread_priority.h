// Background threads: work off the packet path asks the scheduler to let the queue threads go
// first. On a 2-core box a policy compile (~90 ms for a 10,000-device site), a console login's
// password check (yescrypt, tens of milliseconds), a metrics scrape or a syslog burst would
// otherwise take its fair half of a core from the thread that decides packets, and a client can
// set off most of them at will (a viewer validates policies, a browser tries logins). At nice 10
// such a thread gets about a tenth of a core that a queue thread also wants (weights 110 and
// 1024), and the scheduler favours a waking queue thread over it; on an idle core it runs at full
// speed, as before.
//
// Not background: the queue threads (the packet path), the engine thread (it holds the Judge's
// mutex to swap a policy, and the queue threads would wait for it), the accounting event thread
// (volume limits count what it reads: starved under a device's flood, the flood's own traffic
// would go uncounted) and the event log's delivery thread (denials reach watchers, syslog and the
// metrics through it). gRPC's own threads (TLS, parsing, the handlers, which hand work to the
// threads above) are background threads: ManagementServer::start makes them from one. A thread
// inherits its creator's nice value: one started from a background thread is a background thread
// too, so a thread of the packet path is never started from one.
#pragma once

namespace muzzle {

// The nice value of a background thread (Linux keeps one per thread). 10: the usual value for
// work that may wait, well short of 19, so that a background thread still makes progress beside
// saturated queue threads.
inline constexpr int kBackgroundNice = 10;

// Makes the calling thread a background thread: its nice value becomes kBackgroundNice, or stays
// higher when the process already runs nicer (a systemd Nice= above 10; lowering it back would
// need CAP_SYS_NICE). Call it first thing in the thread's function. Lowering one's own priority
// needs no privilege, so it does not fail on Linux; were it refused, the thread would simply keep
// the priority it started with, so the result is only for the tests: true when the thread now
// runs at kBackgroundNice or nicer.
bool runAsBackgroundThread();

// The calling thread's nice value (for the tests).
int currentThreadNice();

}  // namespace muzzle
