#include "mgmt/server/tcp_listen.h"

#include <chrono>
#include <memory>

namespace muzzle {

namespace asio = boost::asio;
using asio::ip::tcp;

Status listenOn(tcp::acceptor& acceptor, const std::string& listen, int backlog,
                const std::string& field, asio::ip::address* bound) {
  auto fail = [&](const std::string& why) {
    return Status::error(StatusCode::kUnavailable, field + ": cannot listen on " + listen + " (" +
                                                       why + "; in use, or no such address here?)");
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return fail("not an address:port");
  std::string host = listen.substr(0, colon);
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    return fail("not an address:port");
  }
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(std::stoul(port)));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && address.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (ec) return fail(ec.message());
  if (bound != nullptr) *bound = address;
  return Status();
}

void acceptLoop(tcp::acceptor& acceptor, asio::steady_timer& retry,
                std::function<void(tcp::socket)> admit) {
  acceptor.async_accept([&acceptor, &retry, admit = std::move(admit)](boost::system::error_code ec,
                                                                      tcp::socket socket) mutable {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      admit(std::move(socket));
      acceptLoop(acceptor, retry, std::move(admit));
      return;
    }
    retry.expires_after(std::chrono::milliseconds(100));
    retry.async_wait(
        [&acceptor, &retry, admit = std::move(admit)](boost::system::error_code e) mutable {
          if (!e) acceptLoop(acceptor, retry, std::move(admit));
        });
  });
}

asio::ip::address unmapped(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

}  // namespace muzzle
