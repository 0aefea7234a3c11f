// bench-token-checker: the upstream of the auth_request configuration, the
// usual way people add token auth to nginx. It makes the very same decision
// as the module (Store::decide, git route classification from the original
// method and URI) so that the comparison measures the architecture - a
// subrequest, a proxied HTTP round trip over a keepalive connection, an HTTP
// parse - and not a different check.
//
// Chosen as the fastest honest checker: one thread, epoll, non-blocking
// sockets, HTTP/1.1 keepalive, no allocation per request beyond the
// connection's buffer. A Python server would cost tens of microseconds per
// request and flatter the module.
//
//   bench-token-checker --db PATH --port N      (listens on 127.0.0.1 only)
//
// Answers 200 (allow), 401, 403 or 500 with an empty body; nginx's
// auth_request passes 401/403 on and turns anything else into 500.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pat/ascii.hpp"
#include "pat/authorization.hpp"
#include "pat/decision.hpp"
#include "pat/route.hpp"
#include "pat/store.hpp"
#include "pat/token.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
    g_stop = 1;
}

constexpr std::size_t kMaxRequestBytes = 16 * 1024;

struct ParsedRequest {
    std::string_view authorization;
    std::string_view original_uri;
    std::string_view original_method;
    std::size_t content_length = 0;
};

// The header block (request line excluded) ends with an empty line.
bool parse_headers(std::string_view block, ParsedRequest& out) {
    std::size_t line_end = block.find("\r\n");
    if (line_end == std::string_view::npos) return false;
    std::size_t pos = line_end + 2;  // skip the request line
    while (pos < block.size()) {
        line_end = block.find("\r\n", pos);
        if (line_end == std::string_view::npos) line_end = block.size();
        const std::string_view line = block.substr(pos, line_end - pos);
        pos = line_end + 2;
        if (line.empty()) break;
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return false;
        const std::string_view name = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        if (pat::ascii::equals_ignoring_case(name, "authorization"))
            out.authorization = value;
        else if (pat::ascii::equals_ignoring_case(name, "x-original-uri"))
            out.original_uri = value;
        else if (pat::ascii::equals_ignoring_case(name, "x-original-method"))
            out.original_method = value;
        else if (pat::ascii::equals_ignoring_case(name, "content-length"))
            out.content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
    }
    return true;
}

pat::Verdict check(pat::Store& store, pat::TokenHasher& hasher, const ParsedRequest& request) {
    std::string_view uri = request.original_uri;
    std::string_view args;
    if (std::size_t q = uri.find('?'); q != std::string_view::npos) {
        args = uri.substr(q + 1);
        uri = uri.substr(0, q);
    }
    if (!pat::is_safe_raw_uri(request.original_uri)) return pat::Verdict::forbidden;
    const pat::Route route = pat::classify_git_request({request.original_method, uri, args});
    if (route.outcome == pat::Route::Outcome::bad_request) return pat::Verdict::forbidden;

    pat::AccessRequest access;
    access.need = route.outcome == pat::Route::Outcome::classified ? route.need : pat::Need::unrecognised_route;
    access.project = route.project;
    access.repo = route.repo;

    // The module's own parser: the checker makes the very same decision.
    std::array<unsigned char, pat::kCredentialsScratchSize> scratch;
    pat::AuthorizationCredentials credentials;
    pat::Verdict verdict = pat::Verdict::unauthenticated;
    if (pat::parse_authorization(request.authorization, scratch, credentials) == pat::AuthorizationError::none) {
        access.token = credentials.token;
        access.has_basic_user = credentials.scheme == pat::AuthScheme::basic;
        access.basic_user = credentials.user;
        verdict = pat::verdict_of(store.decide(hasher, access, pat::now_ms()).reason);
    }
    pat::wipe(scratch.data(), scratch.size());
    return verdict;
}

std::string_view response_for(pat::Verdict verdict) {
    switch (verdict) {
        case pat::Verdict::allow: return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        case pat::Verdict::unauthenticated: return "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        case pat::Verdict::forbidden: return "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        case pat::Verdict::fault: break;
    }
    return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
}

struct Connection {
    std::string in;
};

// Serves every complete request in the buffer. False closes the connection.
bool serve(int fd, Connection& connection, pat::Store& store, pat::TokenHasher& hasher) {
    for (;;) {
        const std::size_t end = connection.in.find("\r\n\r\n");
        if (end == std::string::npos) return connection.in.size() <= kMaxRequestBytes;
        ParsedRequest request;
        if (!parse_headers(std::string_view(connection.in).substr(0, end + 2), request)) return false;
        const std::size_t consumed = end + 4 + request.content_length;
        if (connection.in.size() < consumed) return consumed <= kMaxRequestBytes;
        const std::string_view response = response_for(check(store, hasher, request));
        pat::wipe(connection.in.data(), consumed);
        connection.in.erase(0, consumed);
        std::size_t sent = 0;
        while (sent < response.size()) {
            const ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;  // a 50-byte reply on loopback does not block
            sent += static_cast<std::size_t>(n);
        }
    }
}

int listen_on(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 512) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

int main(int argc, char** argv) {
    std::string db;
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view arg = argv[i];
        if (arg == "--db")
            db = argv[i + 1];
        else if (arg == "--port")
            port = std::atoi(argv[i + 1]);
    }
    if (db.empty() || port <= 0 || port > 65535) {
        std::fprintf(stderr, "usage: bench-token-checker --db PATH --port N\n");
        return 2;
    }
    auto store = pat::Store::open(db, pat::Store::Mode::read_only);
    if (!store) {
        std::fprintf(stderr, "bench-token-checker: %s\n", store.status().message().c_str());
        return 1;
    }
    pat::TokenHasher hasher;
    if (!hasher.ready()) {
        std::fprintf(stderr, "bench-token-checker: OpenSSL provides no SHA-256\n");
        return 1;
    }
    const int listener = listen_on(port);
    if (listener < 0) {
        std::fprintf(stderr, "bench-token-checker: cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
        return 1;
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    const int poll = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = listener;
    ::epoll_ctl(poll, EPOLL_CTL_ADD, listener, &event);
    std::unordered_map<int, std::unique_ptr<Connection>> connections;
    std::array<epoll_event, 64> ready;
    char buffer[16 * 1024];

    while (!g_stop) {
        const int n = ::epoll_wait(poll, ready.data(), static_cast<int>(ready.size()), 500);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == listener) {
                for (;;) {
                    const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (client < 0) break;
                    const int one = 1;
                    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    epoll_event client_event{};
                    client_event.events = EPOLLIN | EPOLLRDHUP;
                    client_event.data.fd = client;
                    ::epoll_ctl(poll, EPOLL_CTL_ADD, client, &client_event);
                    connections[client] = std::make_unique<Connection>();
                }
                continue;
            }
            Connection& connection = *connections[fd];
            bool open = true;
            std::size_t dirty = 0;  // bytes of buffer that held request data
            for (;;) {
                const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
                if (got > 0) {
                    connection.in.append(buffer, static_cast<std::size_t>(got));
                    dirty = std::max(dirty, static_cast<std::size_t>(got));
                    continue;
                }
                if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                if (got < 0 && errno == EINTR) continue;
                open = false;  // closed by nginx, or an error
                break;
            }
            pat::wipe(buffer, dirty);
            if (open) open = serve(fd, connection, **store, hasher);
            if (!open) {
                ::epoll_ctl(poll, EPOLL_CTL_DEL, fd, nullptr);
                ::close(fd);
                connections.erase(fd);
            }
        }
    }
    for (auto& [fd, connection] : connections) ::close(fd);
    ::close(listener);
    ::close(poll);
    return 0;
}
