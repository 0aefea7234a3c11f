// The listening socket: a Unix socket (mode 0660, so the web server's group
// may connect and nobody else) or a TCP address, opened before the HTTP
// server starts and handed to it.
#pragma once

#include <string>

namespace patd {

struct Listener {
    int fd = -1;
    std::string unix_path;  // set for a Unix socket: removed on close
};

// unix:PATH or ADDR:PORT ([v6]:PORT for IPv6). A stale socket file at PATH
// (nothing answers on it) is replaced; a live one is an error. On failure,
// error says why and fd is -1.
Listener open_listener(const std::string& spec, std::string& error);

// Closes the socket and removes a Unix socket's file.
void close_listener(Listener& listener) noexcept;

}  // namespace patd
