#include "listener.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace patd {
namespace {

// Room for a burst (nginx opens a connection per request): a full backlog
// makes nginx answer 502 at once. The kernel caps it at net.core.somaxconn.
constexpr int kBacklog = 1024;

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

Listener open_unix(const std::string& path, std::string& error) {
    Listener listener;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path)) {
        error = "unix socket path is empty or longer than " + std::to_string(sizeof(address.sun_path) - 1) + " bytes";
        return listener;
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errno_text("socket");
        return listener;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error = path + " exists and is not a socket";
            ::close(fd);
            return listener;
        }
        if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
            error = path + " is in use (another patd is listening there)";
            ::close(fd);
            return listener;
        }
        ::unlink(path.c_str());  // stale: nobody answers
    }
    // Created 0660 from the start: no moment where others may connect.
    const mode_t old_mask = ::umask(0117);
    const int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::umask(old_mask);
    if (rc != 0 || ::chmod(path.c_str(), 0660) != 0 || ::listen(fd, kBacklog) != 0) {
        error = errno_text("unix:" + path);
        ::close(fd);
        if (rc == 0) ::unlink(path.c_str());
        return listener;
    }
    listener.fd = fd;
    listener.unix_path = path;
    return listener;
}

Listener open_tcp(const std::string& spec, std::string& error) {
    Listener listener;
    std::string host, port;
    if (!spec.empty() && spec.front() == '[') {
        const std::size_t close = spec.find("]:");
        if (close == std::string::npos) {
            error = "'" + spec + "' is not [ADDRESS]:PORT";
            return listener;
        }
        host = spec.substr(1, close - 1);
        port = spec.substr(close + 2);
    } else {
        const std::size_t colon = spec.rfind(':');
        if (colon == std::string::npos || spec.find(':') != colon) {
            error = "'" + spec + "' is not unix:PATH, ADDRESS:PORT or [ADDRESS]:PORT";
            return listener;
        }
        host = spec.substr(0, colon);
        port = spec.substr(colon + 1);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    addrinfo* found = nullptr;
    const int gai = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (gai != 0 || found == nullptr) {
        error = "'" + spec + "': " + ::gai_strerror(gai) + " (a numeric address and port are expected)";
        return listener;
    }
    const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        ::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, kBacklog) != 0) {
        error = errno_text(spec);
        if (fd >= 0) ::close(fd);
        ::freeaddrinfo(found);
        return listener;
    }
    ::freeaddrinfo(found);
    listener.fd = fd;
    return listener;
}

}  // namespace

Listener open_listener(const std::string& spec, std::string& error) {
    constexpr std::string_view unix_prefix = "unix:";
    if (spec.compare(0, unix_prefix.size(), unix_prefix) == 0) return open_unix(spec.substr(unix_prefix.size()), error);
    return open_tcp(spec, error);
}

void close_listener(Listener& listener) noexcept {
    if (listener.fd >= 0) ::close(listener.fd);
    listener.fd = -1;
    if (!listener.unix_path.empty()) ::unlink(listener.unix_path.c_str());
    listener.unix_path.clear();
}

}  // namespace patd
