// The fleet source's administration (patctl fleet ...; docs/fleet.md):
// schema and roles, import of a single-host store, pruning the change log,
// the log's range, and digests of a replica and of the source.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pat/fleet.hpp"
#include "pat/kv.hpp"
#include "pg.hpp"

namespace pat {
class Store;
}

namespace pat::fleet {

// Inside the caller's transaction: the tables (pat_head with seq 0 and
// source_id, pat_records, pat_changes, pat_usage), no records.
Status create_schema(Connection& conn, const std::string& source_id);
// pat_usage and pat_sign_in_attempts, when missing (every init runs it).
Status create_fleet_only_tables(Connection& conn);

struct InitOptions {
    std::string follower_role;  // empty: none
    std::string writer_role;    // empty: none
};
struct InitResult {
    bool created = false;  // false: it was initialised already (roles granted again)
    std::string source_id;
    std::uint64_t head = 0;
};
// Creates pat_head, pat_records, pat_changes, pat_usage and the records of
// an empty store (made by Store::create in a temporary directory: init is
// the empty case of import), in one transaction; grants the roles (creating
// them, LOGIN without a password, when they do not exist). A source already
// initialised is left as it is (its roles granted again); a half-made one
// (some of the tables) is refused.
Expected<InitResult> init_source(Connection& conn, const InitOptions& options);

// Copies every record of a single-host store into an initialised, empty
// source (only meta records), in one transaction: records and change-log
// rows (after the head), head, NOTIFY.
struct ImportResult {
    std::uint64_t records = 0;
    std::uint64_t head = 0;
};
Expected<ImportResult> import_store(Connection& conn, Store& store);

// Deletes the change-log rows committed more than keep_seconds ago, never
// the head's own row. Returns how many.
Expected<std::uint64_t> prune_changes(Connection& conn, std::int64_t keep_seconds);

struct LogRange {
    std::uint64_t head = 0;
    std::string source_id;
    std::uint64_t min_seq = 0;  // 0: the log is empty
    std::uint64_t max_seq = 0;
    std::uint64_t rows = 0;
    std::uint64_t records = 0;
};
Expected<LogRange> log_range(Connection& conn);

// Inside a transaction the caller began: every record in (tbl, key) order,
// in batches (a binary cursor); visit returns false to stop with an error it
// recorded.
using BatchVisitor = std::function<Status(const Result& batch, int rows)>;
Status fetch_records(Connection& conn, const BatchVisitor& visit);

// SHA-256 over every (table, key, value), in table then key order, each as
// table (1 byte), key length (4 bytes, big-endian), key, value length, value.
class RecordDigest {
   public:
    RecordDigest();
    ~RecordDigest();
    RecordDigest(const RecordDigest&) = delete;
    RecordDigest& operator=(const RecordDigest&) = delete;
    void add(std::uint8_t table, std::string_view key, std::string_view value);
    std::string hex();  // finishes
    std::uint64_t records() const { return records_; }

   private:
    void* ctx_;
    std::uint64_t records_ = 0;
};

struct Digest {
    std::uint64_t position = 0;
    std::uint64_t records = 0;
    std::string sha256;  // empty: not computed
};
// The source's digest in one REPEATABLE READ snapshot, when its head is
// `position`; otherwise only position (the head) is set.
Expected<Digest> source_digest(Connection& conn, std::uint64_t position);
// The replica's digest over its replicated tables (one read transaction).
Expected<Digest> store_digest(Store& store);

// "7d", "12h", "30m", "45s", "0" -> seconds; nullopt when malformed.
std::optional<std::int64_t> parse_duration(std::string_view text);

}  // namespace pat::fleet
