// The store patd serves, and its replacement: an administrator restores a
// backup by renaming it over the store path (docs/install.md). LMDB would go
// on reading and writing the old file for as long as patd holds it, and
// while patd holds it, PATH-lock goes on describing the old file, so the
// nginx workers could not use the new one either (Store::check_lock_region).
//
// So every request leases the store through lease(), which first checks that
// the path still names the open file (one stat(2), cheap beside a request
// that reads LMDB or checks a password). When it names another file (or
// none), the old store is taken out of use at once: no request that begins
// after that point gets it, so none writes to the old file; requests that
// began before finish on it, and it closes when the last of them lets go.
// Only then is the path opened again (LMDB forbids one file open twice in a
// process), and only used once its lock region agrees with it; until then
// lease() returns nullptr and the request is answered 503 with
// Retry-After: 1. tend(), called ten times a second from the main thread,
// notices a replacement and reopens while no request comes, so an idle patd
// lets go of the old file too. The same rules as the module's workers
// (src/ngx/worker_stores.cpp).
//
// Thread contract: every member may be called from any thread. The holder
// outlives every lease it hands out.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "pat/store.hpp"

namespace patd {

class StoreHolder {
   public:
    // Opens the store (read-write, or read-only: a fleet replica, which
    // only its follower writes); a message in error when it cannot.
    bool open(const std::string& path, std::string& error, pat::Store::Mode mode = pat::Store::Mode::read_write);

    // The store to use for one request, or nullptr while it is reopened
    // (answer 503). Checks the path first.
    std::shared_ptr<pat::Store> lease();
    // Whether store (a lease this request holds) is still the one in use:
    // checks the path first, as lease() does. Asked before each password
    // check, so that none starts on a file already replaced.
    bool in_use(const pat::Store* store);
    // The periodic check and reopen (from the main thread).
    void tend();
    // Closes the store (at shutdown, once no request runs).
    void close();

    // How many times a replaced file was let go of (tests, the stop line).
    unsigned replacements() const { return replacements_.load(); }

   private:
    struct FileId {
        dev_t device = 0;
        ino_t inode = 0;
        bool operator==(const FileId&) const = default;
    };
    using Clock = std::chrono::steady_clock;

    void check_locked();
    void open_locked();

    std::mutex mutex_;
    std::string path_;
    pat::Store::Mode mode_ = pat::Store::Mode::read_write;
    std::shared_ptr<pat::Store> current_;
    FileId file_;
    // Stores open (leases of a store taken out of use included): a new one
    // opens only at 0. Decremented by the deleter once the store is closed.
    std::atomic<int> open_stores_{0};
    Clock::time_point next_attempt_{};
    std::string last_failure_;  // logged once, not on every retry
    std::atomic<unsigned> replacements_{0};
};

}  // namespace patd
