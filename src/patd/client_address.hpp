// The client's address for the audit trail and the password throttle.
//
// nginx in front of patd passes the client's address in X-Real-IP
// (`proxy_set_header X-Real-IP $remote_addr;`). patd believes that header
// only when the connection comes from its Unix socket or a loopback address
// (where the proxy runs); from any other peer it uses the peer's own address
// and ignores the header, so a remote client cannot choose the address it
// is throttled by.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

namespace patd {

inline constexpr const char* kClientAddressHeader = "X-Real-IP";

// peer: the connection's peer address (nullptr: unknown). header: the
// X-Real-IP value, or nullptr when absent. A header value that is not a
// plain IPv4/IPv6 address text is ignored.
std::string client_address(const sockaddr* peer, const char* header);

// Whether the peer is the Unix socket or a loopback address.
bool trusted_peer(const sockaddr* peer);

}  // namespace patd
