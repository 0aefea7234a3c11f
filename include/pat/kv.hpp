// The key-value transaction interface the store's rules run over. Two
// engines implement it: LMDB (src/core/store/lmdb_kv.cpp; a single-host store
// and every fleet replica) and PostgreSQL (src/fleet/; the fleet's source of
// truth). The rules (users, grants, groups, tokens, audit) are written once,
// against this interface, so a replica is byte-identical to its source: the
// same rules wrote the same bytes under the same keys.
//
// Keys and values are opaque bytes; keys order as memcmp orders them (LMDB's
// default comparison; PostgreSQL's bytea ordering is the same).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pat/status.hpp"

namespace pat::kv {

// The tables a store's rules read and write, the same in both engines: LMDB's
// named databases and the `tbl` column of PostgreSQL's records and change log.
// Numbering is part of the fleet's PostgreSQL schema: append, never reorder.
enum class Table : std::uint8_t {
    meta = 0,
    users,
    grants,
    tokens,
    token_ids,
    user_tokens,
    audit,
    groups,
    group_members,
    user_groups,
    group_grants,
    everyone,
    effective,
    sign_in_failures,
};
inline constexpr std::size_t kTableCount = 14;
inline constexpr std::array<std::string_view, kTableCount> kTableNames = {
    "meta",   "users",         "grants",      "tokens",       "token_ids", "user_tokens", "audit",
    "groups", "group_members", "user_groups", "group_grants", "everyone",  "effective",   "sign_in_failures",
};
inline std::string_view table_name(Table t) {
    return kTableNames[static_cast<std::size_t>(t)];
}
inline std::optional<Table> table_named(std::string_view name) {
    for (std::size_t i = 0; i < kTableCount; ++i)
        if (kTableNames[i] == name) return static_cast<Table>(i);
    return std::nullopt;
}

// Result codes: 0, kNotFound, kKeyExists, kFull, or kFailed (the engine's own
// words are in Txn::failure()). The LMDB engine maps its codes onto these.
inline constexpr int kOk = 0;
inline constexpr int kNotFound = 1;
inline constexpr int kKeyExists = 2;
inline constexpr int kFull = 3;
inline constexpr int kFailed = 4;

enum class Put : std::uint8_t {
    upsert,
    no_overwrite,  // kKeyExists when the key is there
    append,        // the key sorts after every key of the table (a hint; LMDB's MDB_APPEND)
};

using Visitor = std::function<bool(std::string_view key, std::string_view value)>;  // false: stop

class Txn {
   public:
    virtual ~Txn() = default;
    // value stays valid until the transaction ends.
    virtual int get(Table table, std::string_view key, std::string_view& value) = 0;
    virtual int put(Table table, std::string_view key, std::string_view value, Put mode = Put::upsert) = 0;
    virtual int del(Table table, std::string_view key) = 0;  // kNotFound when absent
    // Every (key, value) whose key starts with prefix, in key order (or
    // reverse key order); the views stay valid until the transaction ends.
    virtual int scan(Table table, std::string_view prefix, const Visitor& visit, bool reverse = false) = 0;
    virtual int count(Table table, std::size_t& rows) = 0;
    // The engine's description of the last kFailed.
    virtual std::string failure() const = 0;
};

// What a write may use of the store's last free space (LMDB: see
// reserve_pages in impl.hpp; PostgreSQL has no fixed size and ignores it).
enum class Space {
    ordinary,
    reserve,
};

class Engine {
   public:
    virtual ~Engine() = default;
    // A consistent snapshot (PostgreSQL: REPEATABLE READ, READ ONLY).
    virtual Expected<std::unique_ptr<Txn>> read() = 0;
    // body in one write transaction, committed when it returns ok; otherwise
    // nothing changed. PostgreSQL serializes writers on its head row, so the
    // change log is gapless and in commit order.
    virtual Status write(const std::function<Status(Txn&)>& body, Space space) = 0;
    // After a successful write: its position in the fleet's change log (the
    // head it committed); 0 for an engine without one (LMDB).
    virtual std::uint64_t last_committed_position() const { return 0; }
    // For messages: the file's path, or "the fleet source (host=… dbname=…)".
    virtual std::string describe() const = 0;
    // Last-use times kept beside the records but not replicated (PostgreSQL:
    // the fleet's pat_usage table, which patd fills from each node's usage
    // file): one per id, 0 where none is known. Never fails: an error gives
    // zeros (a listing never fails for want of them). The default (LMDB,
    // whose store has its usage file instead) knows none.
    virtual std::vector<std::int64_t> last_used(const std::vector<std::string>& token_ids) {
        return std::vector<std::int64_t>(token_ids.size(), 0);
    }
    // The same for the client addresses of the last uses (pat_usage's
    // address column): at most 5 per id, most recent first.
    virtual std::vector<std::vector<std::string>> last_used_addresses(const std::vector<std::string>& token_ids) {
        return std::vector<std::vector<std::string>>(token_ids.size());
    }
};

}  // namespace pat::kv
