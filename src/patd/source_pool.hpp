// Fleet mode (docs/fleet.md): the stores over the fleet's PostgreSQL source
// that the token API's requests use, one per request at a time.
//
// Each Store from pat::fleet::open_source_store holds one connection and is
// not shared: a request leases one for its whole exchange, so the position
// its engine reports after the exchange (kv::Engine::last_committed_position)
// is this request's own last write, whatever other requests do meanwhile
// (docs/patd.md#fleet-mode). At most `size` stores exist; a request that finds
// none free waits for one (up to a few seconds), then is answered 503.
//
// A store whose request met a store error (the connection broke, PostgreSQL
// restarted) is closed instead of being returned: the next request opens a
// new connection, so a restart of PostgreSQL costs one failed request per
// idle connection at most.
//
// Thread contract: every member may be called from any thread; the pool
// outlives every lease.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pat/store.hpp"

namespace patd {

class SourcePool {
   public:
    SourcePool(std::string connfile, unsigned size);
    ~SourcePool();

    // Opens the first connection (startup: the CONNFILE, the network, the
    // roles and the schema are checked now); a message when it cannot.
    bool open(std::string& error);

    class Lease {
       public:
        Lease() = default;
        Lease(Lease&& other) noexcept;
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        ~Lease();
        explicit operator bool() const { return store_ != nullptr; }
        pat::Store& store() { return *store_; }
        // The connection is not to be used again (a store error).
        void discard() { broken_ = true; }

       private:
        friend class SourcePool;
        Lease(SourcePool* pool, std::unique_ptr<pat::Store> store) : pool_(pool), store_(std::move(store)) {}
        SourcePool* pool_ = nullptr;
        std::unique_ptr<pat::Store> store_;
        bool broken_ = false;
    };

    // A store for one request, or an empty lease when none could be had
    // within `wait` (answer 503); why in error.
    Lease lease(std::chrono::milliseconds wait, std::string& error);

    const std::string& connfile() const { return connfile_; }

   private:
    void give_back(std::unique_ptr<pat::Store> store, bool broken);

    const std::string connfile_;
    const unsigned size_;
    std::mutex mutex_;
    std::condition_variable returned_;
    std::vector<std::unique_ptr<pat::Store>> idle_;
    unsigned out_ = 0;      // leased now
    unsigned opening_ = 0;  // being opened (outside the lock)
    std::string last_failure_;
};

}  // namespace patd
