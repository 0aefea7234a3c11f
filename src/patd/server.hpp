// The HTTP server: libmicrohttpd with a thread per connection on the
// listening socket, each request read (the body up to pat::kMaxApiBodyBytes), passed to
// pat::ManagementApi and answered. Limits: connections at once, an idle
// timeout per connection (a slow or silent client is cut), the body size,
// and the sign-in gate (password checks at once), which also drops a request
// whose client has gone before its password check runs.
#pragma once

#include <memory>

#include "options.hpp"
#include "replication.hpp"
#include "source_pool.hpp"
#include "store_holder.hpp"

struct MHD_Daemon;
namespace pat {
class DirectoryClient;
}

namespace patd {

class Server {
   public:
    // Starts serving on listen_fd (patd keeps owning it). nullptr and a
    // message when libmicrohttpd refuses to start. directory: nullptr when
    // none is configured; else it must outlive the server (its calls are
    // thread-safe, pat/directory.hpp).
    // Fleet mode: source and replication non-null (store is then the
    // node's replica, opened read-only); the API reads and writes the
    // source, and the throttle is counted there (fails to start when the
    // source's throttle table cannot be used).
    static std::unique_ptr<Server> start(StoreHolder& store, const Options& options,
                                         const pat::DirectoryClient* directory, int listen_fd, std::string& error,
                                         SourcePool* source = nullptr, ReplicationWatch* replication = nullptr);
    ~Server();  // stops at once, closing every connection

    // Fleet mode: deletes the throttle's rows that have left its window
    // (the main thread, about once a minute); nothing otherwise.
    void sweep_throttle();

    // Stops accepting new connections (the listening socket stays open).
    void quiesce();
    // Connections still open.
    unsigned connections() const;

    // Since the start: password checks run, requests dropped before their
    // check because the client had gone, checks refused (503) because every
    // place was taken.
    struct Counters {
        unsigned long checks = 0;
        unsigned long dropped = 0;
        unsigned long busy = 0;
    };
    Counters counters() const;

    struct State;

   private:
    explicit Server(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace patd
