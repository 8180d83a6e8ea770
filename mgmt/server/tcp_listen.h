// What muzzled's own small TCP servers (the metrics endpoint, mgmt/server/metrics_server.h, and
// the web console, mgmt/web/https_server.h) share: opening the listener on the address
// checkListenAddress checked, and the accept loop that never spins on an accept error. Boost.Asio
// only (no gRPC), so both libraries link it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>

#include "fw/common/status.h"

namespace muzzle {

// Opens, binds and listens `acceptor` on `listen`, spelled as checkListenAddress spells it
// ("198.18.0.1:8443", "[fd00::1]:8443"; port 0: any). An IPv6 address listens for IPv6 only.
// kUnavailable "FIELD: cannot listen on LISTEN (why; in use, or no such address here?)".
Status listenOn(boost::asio::ip::tcp::acceptor& acceptor, const std::string& listen, int backlog,
                const std::string& field, boost::asio::ip::address* bound = nullptr);

// Accepts on `acceptor` until it closes, handing each connection to `admit` on the acceptor's
// executor. After an accept error (EMFILE, ENOBUFS) it waits 100 ms on `retry` rather than spin.
// `acceptor`, `retry` and `admit` must outlive the loop (its handlers hold references).
void acceptLoop(boost::asio::ip::tcp::acceptor& acceptor, boost::asio::steady_timer& retry,
                std::function<void(boost::asio::ip::tcp::socket)> admit);

// A peer's address as muzzled names it: an IPv4 client on a dual-stack socket by its IPv4
// address.
boost::asio::ip::address unmapped(const boost::asio::ip::address& a);

}  // namespace muzzle
