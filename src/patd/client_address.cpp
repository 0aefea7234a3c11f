#include "client_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace patd {
namespace {

std::string peer_text(const sockaddr* peer) {
    char text[INET6_ADDRSTRLEN] = {};
    if (peer == nullptr) return "unknown";
    if (peer->sa_family == AF_UNIX) return "unix:";
    if (peer->sa_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(peer);
        if (::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text)) != nullptr) return text;
    } else if (peer->sa_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(peer);
        if (::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text)) != nullptr) return text;
    }
    return "unknown";
}

// A plain address: parses as IPv4 or IPv6 text (no port, no list).
bool plain_address(std::string_view value) {
    if (value.empty() || value.size() >= INET6_ADDRSTRLEN) return false;
    char text[INET6_ADDRSTRLEN] = {};
    std::memcpy(text, value.data(), value.size());
    unsigned char buffer[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, text, buffer) == 1 || ::inet_pton(AF_INET6, text, buffer) == 1;
}

}  // namespace

bool trusted_peer(const sockaddr* peer) {
    if (peer == nullptr) return false;
    if (peer->sa_family == AF_UNIX) return true;
    if (peer->sa_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(peer);
        return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    }
    if (peer->sa_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(peer);
        if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
        return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

std::string client_address(const sockaddr* peer, const char* header) {
    if (header != nullptr && trusted_peer(peer) && plain_address(header)) return header;
    return peer_text(peer);
}

}  // namespace patd
