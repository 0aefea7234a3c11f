// The PostgreSQL kv::Engine: the fleet's source of truth (docs/fleet.md).
//
// Records live in pat_records (tbl, key, value); every write appends each
// put and delete to pat_changes with the next seq, taken under the lock of
// pat_head's one row, so seq is gapless and in commit order. After COMMIT
// the writer NOTIFYs pat_changes with the seq (never data).
//
// Connections: a small pool; each transaction takes one for its duration
// (threads and nested reads get their own). A connection that broke is
// dropped and the next transaction connects again.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pat/fleet.hpp"
#include "pat/kv.hpp"

namespace pat::fleet {

class PgEngine : public kv::Engine {
   public:
    // Connects once (to fail early) and keeps that connection.
    static Expected<std::unique_ptr<PgEngine>> open(const std::string& conninfo, std::string application_name);
    static Expected<std::unique_ptr<PgEngine>> open_connfile(const std::string& connfile, std::string application_name);

    Expected<std::unique_ptr<kv::Txn>> read() override;
    Status write(const std::function<Status(kv::Txn&)>& body, kv::Space space) override;
    std::uint64_t last_committed_position() const override;
    std::string describe() const override;
    // From pat_usage (which patd fills from each node's usage file): one
    // SELECT; any failure gives zeros.
    std::vector<std::int64_t> last_used(const std::vector<std::string>& token_ids) override;
    // pat_usage.address: "MS@ADDRESS" entries separated by spaces, most recent first.
    std::vector<std::vector<std::string>> last_used_addresses(const std::vector<std::string>& token_ids) override;

    // For the fleet's own statements: a pooled connection, given back with
    // release() (only when it is still usable and outside a transaction).
    Expected<std::unique_ptr<Connection>> acquire();
    void release(std::unique_ptr<Connection> conn);
    void set_last_committed(std::uint64_t seq) { last_committed_.store(seq); }

   private:
    PgEngine(std::string conninfo, std::string application_name, std::unique_ptr<Connection> first);
    std::string conninfo_;
    std::string application_name_;
    std::string describe_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::atomic<std::uint64_t> last_committed_{0};
};

}  // namespace pat::fleet
