// The follower (patctl follow; docs/fleet.md#the-follower): the only writer
// of a node's LMDB replica.
//
// It LISTENs on pat_changes; on a notification, and at least every second,
// it reads the source's head and the changes after its position in one
// REPEATABLE READ transaction, checks there is no gap and that every change
// names a known table, and applies them in one LMDB write together with the
// replica state (position, source head, verified at on CLOCK_BOOTTIME). When
// the log no longer reaches back to its position, the source's head is
// behind it, the source is another one or there is no replica, it rebuilds
// the replica from a snapshot and swaps the file by rename.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pat/fleet.hpp"
#include "pat/status.hpp"
#include "pat/store.hpp"

namespace pat::fleet {

struct FollowerOptions {
    std::string conninfo;                      // read_connfile's
    std::string db_path;                       // the replica
    std::string node;                          // the name in application_name
    std::size_t max_size = kDefaultStoreSize;  // of a rebuilt replica
};

// Node names: 1 to 40 characters from A-Z a-z 0-9 . _ - (they go into
// application_name, at most 63 bytes with the prefix and the seq).
bool valid_node_name(std::string_view name);

class Follower {
   public:
    using Log = std::function<void(const std::string&)>;
    Follower(FollowerOptions options, Log log);
    ~Follower();

    // Connects when needed, then one synchronisation: apply the changes
    // after the position (or rebuild), and record the verification.
    Status sync_once();
    // Waits up to timeout_ms for a notification (true when one came).
    bool wait_for_notification(int timeout_ms);
    // Until stop: sync at least every second and on every notification;
    // reconnects with backoff (at most 1 s).
    void run(const std::atomic<bool>& stop);

    std::uint64_t position() const { return position_; }
    std::uint64_t rebuilds() const { return rebuilds_; }

   private:
    Status connect();
    Status sync_in_transaction(const SourceHead& head, std::int64_t verified_boot_ns, std::int64_t verified_wall_ms);
    // The commit time (µs) of the source's change seq, in the open
    // transaction; 0 when the log no longer holds it.
    Expected<std::int64_t> change_mark(std::uint64_t seq);
    Status rebuild(const SourceHead& head, const std::string& why, std::int64_t verified_boot_ns,
                   std::int64_t verified_wall_ms);
    Status open_replica();
    void drop_connection(const std::string& why);

    FollowerOptions options_;
    Log log_;
    std::unique_ptr<Connection> conn_;
    std::unique_ptr<Store> store_;
    std::uint64_t position_ = 0;
    std::uint64_t reported_ = ~std::uint64_t{0};
    std::uint64_t rebuilds_ = 0;
    std::array<std::uint8_t, 16> boot_id_{};
    // The replica file store_ has open (a replaced or removed file is let go).
    std::uint64_t replica_inode_ = 0;
    std::uint64_t replica_device_ = 0;
};

}  // namespace pat::fleet
