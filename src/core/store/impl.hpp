// Internals shared by the store's translation units. The rules (users,
// grants, groups, effective levels, tokens, audit, apply, directory sync)
// take a kv::Txn& and name kv::Tables: they run over Impl::engine, LMDB's
// (lmdb_kv.hpp) for a store opened from a file, or any other (Store::over:
// the fleet's PostgreSQL source). What only LMDB has stays LMDB-native here:
// the handles, open/create/upgrade, the request path (decide.cpp), backup,
// bulk_load, the lock region check, the usage file and the write runner
// under LmdbEngine::write. Nothing outside src/core sees LMDB.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pat/kv.hpp"
#include "pat/store.hpp"
#include "pat/usage.hpp"

namespace pat {

// What a write may use of an LMDB store's last free space (lmdb::Space).
using Space = kv::Space;

struct Store::Impl {
    std::string path;
    // Null on a store over another engine (Store::over): then only the rules
    // run, and what is LMDB's alone answers not_on_lmdb().
    MDB_env* env = nullptr;
    bool read_only = true;

    MDB_dbi meta = 0;
    MDB_dbi users = 0;
    MDB_dbi grants = 0;
    MDB_dbi tokens = 0;
    MDB_dbi token_ids = 0;
    MDB_dbi user_tokens = 0;
    MDB_dbi audit = 0;
    // Schema 2 (groups). A store opened read-only at schema 1 has none of
    // them: effective is then the grants table (the same keys, and a user's
    // own grants were all there was), and has_groups is false.
    MDB_dbi groups = 0;
    MDB_dbi group_members = 0;
    MDB_dbi user_groups = 0;
    MDB_dbi group_grants = 0;
    MDB_dbi everyone = 0;
    MDB_dbi effective = 0;
    bool has_groups = false;
    int opened_schema = 0;  // the schema the file had when opened
    int upgraded_from = 0;  // 1 when this open upgraded it
    // Failed sign-ins, aggregated (audit.cpp). A store made before the
    // table existed gets it on its first read-write open; read-only, it may
    // be absent (has_sign_in_failures false).
    MDB_dbi sign_in_failures = 0;
    bool has_sign_in_failures = false;

    // The request path's read transaction, kept between requests (MDB_NOTLS
    // lets it outlive a thread's other transactions and keeps the reader
    // slot for reuse); snapshot_live while it holds a snapshot.
    MDB_txn* cached_read = nullptr;
    bool snapshot_live = false;
    // What decide.cpp's check of the lock file's transaction id remembers
    // (see current_snapshot in decide.cpp): the newest transaction a snapshot has shown
    // in agreement with the data file, and since when (ms, the decisions'
    // clock) a snapshot has lagged behind the data file; 0: it does not.
    std::uint64_t agreed_txnid = 0;
    std::int64_t lagging_since_ms = 0;

    // The usage file beside the store (pat/usage.hpp), for listing and for
    // dropping the entries of revoked or deleted tokens; opened on first use,
    // read-only when the store is.
    std::unique_ptr<UsageFile> usage;

    // What the rules run over: an LmdbEngine over this Impl (Store::open,
    // create), or the engine Store::over was given.
    std::unique_ptr<kv::Engine> engine;

    // A fleet replica's own table "replica" (pat/replica.hpp; replica.cpp),
    // looked up on first use and kept once found. LMDB forbids opening a
    // table from two transactions at once: replica_lock serializes that.
    std::mutex replica_lock;
    MDB_dbi replica = 0;
    bool has_replica = false;

    ~Impl();
};

// What a store over another engine answers for what only LMDB does.
Status not_on_lmdb();

// A store_error for an engine's result code rc (not kOk): the "store: full"
// text for kFull, else "store: <what>: " + txn.failure().
Status kv_error(const kv::Txn& txn, std::string_view what, int rc);

// Checks an existing file's LMDB meta pages against its length before LMDB
// maps it (open.cpp): a truncated or foreign file is refused, not mapped.
Status check_lmdb_file(const std::string& path);

// lastAuthenticated = max(the store's record, the usage file), in place.
void merge_usage(Store::Impl& store, std::vector<TokenInfo>& tokens);
// Drops the usage entries of tokens that no longer exist; best effort.
void forget_usage(Store::Impl& store, const std::vector<std::string>& ids);

namespace records {
struct TokenView;
}
// Writes a new token after its owner proved who they are (tokens.cpp): one
// write transaction; the creation rules (and the policy, issue 16) apply.
// A rotation (rotate.cpp) passes `succession`, which runs in that same
// transaction once the new token's id is drawn and before its record is
// written: it retires the old token and gives the new one its family; a
// failure aborts the whole creation.
using TokenSuccession = std::function<Status(kv::Txn& txn, records::TokenView& successor)>;

// A token's record found by id, whatever its state (live, revoked, retired
// by a rotation); the caller decides which states count as found. The
// digest and record are copies, so they survive puts in the same
// transaction; the record is known to decode. not_found ("no token 'ID'")
// for an id that is malformed or names no token (tokens.cpp).
struct FoundToken {
    std::string digest;
    std::string record;
    // Decoded on demand: a stored view would dangle when this is moved.
    records::TokenView view() const;
};
Status token_not_found(std::string_view id);
Expected<FoundToken> find_token_record(kv::Txn& txn, std::string_view id);
Expected<CreatedToken> write_new_token(Store::Impl& impl, const std::string& owner, std::string_view name,
                                       const TokenPermissions& granted, std::optional<int> expiry_days,
                                       std::int64_t now, const AuditContext& audit,
                                       const TokenSuccession& succession = {});

namespace lmdb {

inline MDB_val val(std::string_view s) {
    return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view view(const MDB_val& v) {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// "LMDB: <what> failed: <mdb_strerror>" as a store_error Status.
Status error(std::string_view what, int rc);

// A transaction that aborts unless committed.
class Txn {
   public:
    Txn() = default;
    ~Txn() { abort(); }
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;

    int begin(MDB_env* env, unsigned flags) { return mdb_txn_begin(env, nullptr, flags, &txn_); }
    int commit() {
        int rc = mdb_txn_commit(txn_);
        txn_ = nullptr;
        return rc;
    }
    void abort() {
        if (txn_ != nullptr) mdb_txn_abort(txn_);
        txn_ = nullptr;
    }
    MDB_txn* get() const { return txn_; }

   private:
    MDB_txn* txn_ = nullptr;
};

// What a write may use of the store's last free pages. The reserve (see
// reserve_pages) is kept for the changes that take access away, so that a
// store filled by anything else can still revoke a token, disable a user,
// remove a grant and prune the audit trail.
// ordinary: refused with "store: full" when only the reserve is left;
// reserve: may use everything.
using Space = kv::Space;

// The "store: full: ..." refusal (MDB_MAP_FULL, kv::kFull).
Status full();

// The reserve of a store mapped at map_pages pages: 1/32 of it, at least
// 128 pages and at most 16384 (512 KiB of a 1 MiB store, 64 MiB from 2 GiB
// up; a taking-away change needs about 8 pages, and a reader's snapshot
// keeps the pages it sees from reuse until it moves on). Derived from the
// size, so stores made before it have one too.
std::size_t reserve_pages(std::size_t map_pages);

// Runs body in one write transaction and commits it when body returns ok;
// otherwise (or when the commit fails) nothing is changed. An ordinary
// write is refused up front when the free pages (never used, or freed and
// reusable now) are down to the reserve.
Status run_write(Store::Impl& store, const std::function<Status(MDB_txn*)>& body, Space space = Space::ordinary);

// 0 or an LMDB error (MDB_MAP_FULL when the store is full).
int put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0);
int del(MDB_txn* txn, MDB_dbi dbi, std::string_view key);
// 0 and value set, MDB_NOTFOUND, or another LMDB error.
int get(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view& value);

// Every (key, value) whose key starts with prefix, in key order. visit
// returns false to stop early. Returns 0 or an LMDB error.
int scan_prefix(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix,
                const std::function<bool(std::string_view, std::string_view)>& visit);

}  // namespace lmdb

// Runs body in one write transaction of the store's engine (the rules' way
// to write): committed when body returns ok, otherwise nothing changed.
inline Status run_write(Store::Impl& store, const std::function<Status(kv::Txn&)>& body,
                        Space space = Space::ordinary) {
    return store.engine->write(body, space);
}

// Effective levels (effective.cpp): the effective table's row for one user
// and target, rewritten from the user's own grant and their groups' grants
// (deleted when none is left). Every change of a grant, a group or a
// membership calls these in its own transaction.
Status recompute_effective(const Store::Impl& store, kv::Txn& txn, std::string_view user, std::string_view target);
// Every member of group, on target (a group grant changed).
Status recompute_group_target(const Store::Impl& store, kv::Txn& txn, std::string_view group, std::string_view target);
// user, on every target of group's grants (a membership changed).
Status recompute_membership(const Store::Impl& store, kv::Txn& txn, std::string_view group, std::string_view user);
// Keys under prefix, collected (a scan and deletes in one table do not
// mix); kOk or an engine code.
int collect_keys(kv::Txn& txn, kv::Table table, std::string_view prefix, std::vector<std::string>& keys);
// Refuses with "the store ... is schema 1" the changes that need schema 2
// (a read-only schema-1 store cannot take them anyway).
Status require_groups(const Store::Impl& store);

// Grants inside a write transaction (grants.cpp), for the public methods
// and apply.cpp. Names and targets are canonical; target is KEY or KEY/slug.
Status put_grant_in(const Store::Impl& store, kv::Txn& txn, GranteeKind kind, const std::string& name,
                    const std::string& target, Level level);
Status delete_grant_in(const Store::Impl& store, kv::Txn& txn, GranteeKind kind, const std::string& name,
                       const std::string& target);  // not_found when there is none
Status set_public_in(const Store::Impl& store, kv::Txn& txn, const std::string& target, bool on, bool& changed);
// A display name's rules (users.cpp), for apply.cpp too.
Status validate_display_name(std::string_view name);

// Groups inside a write transaction (groups.cpp), for apply.cpp.
Status add_group_in(const Store::Impl& store, kv::Txn& txn, const std::string& name, std::uint8_t source);
Status delete_group_in(const Store::Impl& store, kv::Txn& txn, const std::string& name);
Status add_membership_in(const Store::Impl& store, kv::Txn& txn, const std::string& group, const std::string& user);
Status remove_membership_in(const Store::Impl& store, kv::Txn& txn, const std::string& group, const std::string& user);
// Every grant of one kind under prefix (name "\0", or "" for all).
Status scan_all_grants(const Store::Impl& store, kv::Txn& txn, GranteeKind kind, std::string_view prefix,
                       std::vector<GrantInfo>& out);
Status scan_everyone(const Store::Impl& store, kv::Txn& txn, std::vector<GrantInfo>* defaults,
                     std::vector<PublicTarget>* targets);

// The token policy inside a transaction (policy.cpp): the record in meta,
// or the defaults when there is none; store_error when it is damaged.
Status read_token_policy(kv::Txn& txn, TokenPolicy& policy);
// The policy's rules for a new token of owner, in the creation's write
// transaction: check_token_policy, then the count of the owner's live
// tokens against max_tokens_per_user.
Status check_creation_policy(const Store::Impl& store, kv::Txn& txn, std::string_view owner,
                             std::optional<int> expiry_days, std::int64_t now);

// Appends one audit entry inside a write transaction (audit.cpp).
Status append_audit(const Store::Impl& store, kv::Txn& txn, AuditAction action, const AuditContext& context,
                    std::string_view user, std::string_view token_id = {}, std::string_view detail = {});

// Counts one failed sign-in in the bounded failure table (audit.cpp): one
// row per user, actor, address and hour, at most kMaxSignInFailureRows rows
// (pat/audit.hpp). Best effort: a read-only or full store still refuses the
// password; it only does not count it.
void record_sign_in_failure(Store::Impl& store, std::string_view user, const AuditContext& context);

// Revokes a live token inside a write transaction (tokens.cpp): its
// tombstone and a token-revoked audit entry with detail; not_found when it
// is not live. The caller drops its usage entry after the commit.
Status revoke_token_in(Store::Impl& store, kv::Txn& txn, std::string_view id, std::int64_t revoked_at,
                       const AuditContext& audit, std::string_view detail = {});

}  // namespace pat
