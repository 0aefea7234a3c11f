// The audit table: append inside the change's own write transaction; list
// newest first, merged with the aggregated failed sign-ins; prune by age.
//
// Failed sign-ins come from the network before anyone is authenticated, so
// they must not grow the store: instead of one audit record per failure,
// sign_in_failures holds one row per (hour, user, actor, address):
//   key    8-byte big-endian start of the hour (ms), then user, actor and
//          address, each a length byte and at most 64 bytes
//   value  format byte, 4-byte count, first and last sequence (8 bytes
//          each, big-endian, in the audit keys' time << 16 | n space)
// and at most kMaxSignInFailureRows rows: a new row beyond that evicts the
// oldest hour's first row. Bound: 1024 rows of at most 230 bytes, under
// 300 KiB with LMDB's overhead, whatever the traffic.
#include <algorithm>
#include <cstring>
#include <ctime>
#include <string>

#include "impl.hpp"
#include "pat/names.hpp"

namespace pat {
namespace {

constexpr std::uint8_t kAuditFormat = 1;
constexpr std::size_t kMaxField = 255;
constexpr std::uint8_t kFailureFormat = 1;
constexpr std::size_t kMaxFailureKeyField = 64;
constexpr std::int64_t kFailureWindowMs = 3'600'000;
// Deletions per write transaction when pruning: bounds the pages one
// transaction dirties (LMDB refuses a transaction with too many).
constexpr std::size_t kPruneBatch = 10'000;

void put_field(std::string& out, std::string_view field) {
    field = field.substr(0, kMaxField);
    out.push_back(static_cast<char>(field.size()));
    out.append(field);
}

bool take_field(std::string_view& in, std::string& out) {
    if (in.empty()) return false;
    std::size_t n = static_cast<std::uint8_t>(in[0]);
    if (in.size() < 1 + n) return false;
    out.assign(in.substr(1, n));
    in.remove_prefix(1 + n);
    return true;
}

void put_be(std::string& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t take_be(std::string_view in, std::size_t bytes) {
    std::uint64_t v = 0;
    for (char c : in.substr(0, bytes)) v = (v << 8) | static_cast<std::uint8_t>(c);
    return v;
}

// Keys are big-endian so that LMDB's byte order is time order.
std::string encode_key(std::uint64_t sequence) {
    std::string key;
    put_be(key, sequence, 8);
    return key;
}

std::uint64_t decode_key(std::string_view key) {
    return take_be(key, 8);
}

std::int64_t time_of(std::uint64_t sequence) {
    return static_cast<std::int64_t>(sequence >> 16);
}

// "2026-12-01T06:12:03Z"
std::string utc_text(std::int64_t ms) {
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm broken_down{};
    char buffer[32];
    if (gmtime_r(&seconds, &broken_down) == nullptr ||
        std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &broken_down) == 0) {
        return std::to_string(ms) + " ms";
    }
    return buffer;
}

// The next audit sequence: time_ms << 16 leaves room for 65536 entries per
// millisecond; later entries in the same millisecond (or after a clock step
// back) take the next free number, so keys stay unique and ordered.
Status next_sequence(const Store::Impl& /*store*/, kv::Txn& txn, std::uint64_t& sequence) {
    sequence = static_cast<std::uint64_t>(now_ms()) << 16;
    int rc = txn.scan(
        kv::Table::audit, "",
        [&](std::string_view key, std::string_view) {
            sequence = std::max(sequence, decode_key(key) + 1);
            return false;  // the last key only
        },
        true);
    if (rc != 0) return kv_error(txn, "read audit", rc);
    return Status::success();
}

// ---- failed sign-ins ----

struct FailureRow {
    std::uint32_t count = 0;
    std::uint64_t first = 0;  // sequences
    std::uint64_t last = 0;
};

std::string failure_key(std::int64_t window_start, std::string_view user, const AuditContext& context) {
    std::string key;
    put_be(key, static_cast<std::uint64_t>(window_start), 8);
    const std::string_view actor = context.actor.empty() ? std::string_view("system") : context.actor;
    const std::string_view address = context.address.empty() ? std::string_view("local") : context.address;
    for (std::string_view field : {user, actor, address}) {
        field = field.substr(0, kMaxFailureKeyField);
        key.push_back(static_cast<char>(field.size()));
        key.append(field);
    }
    return key;
}

std::string encode_failure(const FailureRow& row) {
    std::string value;
    value.push_back(static_cast<char>(kFailureFormat));
    put_be(value, row.count, 4);
    put_be(value, row.first, 8);
    put_be(value, row.last, 8);
    return value;
}

bool decode_failure(std::string_view value, FailureRow& row) {
    if (value.size() != 21 || static_cast<std::uint8_t>(value[0]) != kFailureFormat) return false;
    row.count = static_cast<std::uint32_t>(take_be(value.substr(1), 4));
    row.first = take_be(value.substr(5), 8);
    row.last = take_be(value.substr(13), 8);
    return row.count != 0;
}

// One row as an audit entry (password-failed at the last failure's time),
// and its last sequence for ordering among the audit records.
bool decode_failure_entry(std::string_view key, std::string_view value, AuditEntry& entry, std::uint64_t& last) {
    FailureRow row;
    if (key.size() < 8 || !decode_failure(value, row)) return false;
    key.remove_prefix(8);
    if (!take_field(key, entry.user) || !take_field(key, entry.actor) || !take_field(key, entry.address) ||
        !key.empty())
        return false;
    entry.action = AuditAction::password_failed;
    entry.time_ms = time_of(row.last);
    entry.count = row.count;
    entry.detail =
        row.count == 1 ? std::string() : std::to_string(row.count) + " failures since " + utc_text(time_of(row.first));
    last = row.last;
    return true;
}

struct SequencedEntry {
    std::uint64_t sequence;
    AuditEntry entry;
};

// Every row, newest last failure first; only those about or by user when set.
Status read_failures(const Store::Impl& store, kv::Txn& txn, const std::string& user,
                     std::vector<SequencedEntry>& out) {
    if (!store.has_sign_in_failures) return Status::success();
    bool corrupt = false;
    int rc = txn.scan(kv::Table::sign_in_failures, "", [&](std::string_view key, std::string_view value) {
        SequencedEntry item{0, {}};
        if (!decode_failure_entry(key, value, item.entry, item.sequence)) {
            corrupt = true;
            return false;
        }
        if (user.empty() || item.entry.user == user || item.entry.actor == user) out.push_back(std::move(item));
        return true;
    });
    if (rc != 0) return kv_error(txn, "read sign-in failures", rc);
    if (corrupt) return Status{StatusCode::store_error, "store: a sign-in failure record is corrupt"};
    std::sort(out.begin(), out.end(),
              [](const SequencedEntry& a, const SequencedEntry& b) { return a.sequence > b.sequence; });
    return Status::success();
}

// Deletes rows until one more fits under the bound: each time the least
// recently failing row of the oldest hour (the table is small, the hour's
// rows few enough to walk).
int make_room(kv::Txn& txn, kv::Table table) {
    std::size_t count = 0;
    int rc = txn.count(table, count);
    for (std::size_t rows = count; rows >= kMaxSignInFailureRows && rc == 0; --rows) {
        std::string hour, victim;
        std::uint64_t oldest = UINT64_MAX;
        rc = txn.scan(table, "", [&](std::string_view key, std::string_view value) {
            if (hour.empty()) hour = key.substr(0, 8);
            if (key.substr(0, 8) != hour) return false;
            FailureRow row;
            const std::uint64_t last = decode_failure(value, row) ? row.last : 0;  // corrupt: first to go
            if (last < oldest || victim.empty()) {
                oldest = last;
                victim = key;
            }
            return true;
        });
        if (rc != 0) break;
        rc = victim.empty() ? kv::kNotFound : txn.del(table, victim);
    }
    return rc == kv::kNotFound ? 0 : rc;
}

bool decode_entry(std::string_view key, std::string_view in, AuditEntry& entry) {
    if (key.size() != 8 || in.size() < 2 || static_cast<std::uint8_t>(in[0]) != kAuditFormat) return false;
    const auto action = static_cast<std::uint8_t>(in[1]);
    if (action < static_cast<std::uint8_t>(AuditAction::user_added) ||
        action > static_cast<std::uint8_t>(AuditAction::token_family_revoked))
        return false;
    in.remove_prefix(2);
    entry.action = static_cast<AuditAction>(action);
    entry.time_ms = static_cast<std::int64_t>(decode_key(key) >> 16);
    return take_field(in, entry.actor) && take_field(in, entry.address) && take_field(in, entry.user) &&
           take_field(in, entry.token_id) && take_field(in, entry.detail) && in.empty();
}

}  // namespace

std::string_view audit_action_name(AuditAction action) {
    switch (action) {
        case AuditAction::user_added: return "user-added";
        case AuditAction::user_deleted: return "user-deleted";
        case AuditAction::user_disabled: return "user-disabled";
        case AuditAction::user_enabled: return "user-enabled";
        case AuditAction::password_changed: return "password-changed";
        case AuditAction::password_failed: return "password-failed";
        case AuditAction::grant_set: return "grant-set";
        case AuditAction::grant_removed: return "grant-removed";
        case AuditAction::token_created: return "token-created";
        case AuditAction::token_modified: return "token-modified";
        case AuditAction::token_revoked: return "token-revoked";
        case AuditAction::audit_pruned: return "audit-pruned";
        case AuditAction::user_changed: return "user-changed";
        case AuditAction::group_added: return "group-added";
        case AuditAction::group_deleted: return "group-deleted";
        case AuditAction::member_added: return "member-added";
        case AuditAction::member_removed: return "member-removed";
        case AuditAction::public_set: return "public-set";
        case AuditAction::public_removed: return "public-removed";
        case AuditAction::store_upgraded: return "store-upgraded";
        case AuditAction::policy_changed: return "policy-changed";
        case AuditAction::token_expiry_warned: return "token-expiry-warned";
        case AuditAction::token_rotated: return "token-rotated";
        case AuditAction::token_family_revoked: return "token-family-revoked";
    }
    return "unknown";
}

Status append_audit(const Store::Impl& store, kv::Txn& txn, AuditAction action, const AuditContext& context,
                    std::string_view user, std::string_view token_id, std::string_view detail) {
    std::uint64_t sequence = 0;
    if (Status s = next_sequence(store, txn, sequence); !s.ok()) return s;
    std::string record;
    record.push_back(static_cast<char>(kAuditFormat));
    record.push_back(static_cast<char>(action));
    put_field(record, context.actor.empty() ? "system" : context.actor);
    put_field(record, context.address.empty() ? "local" : context.address);
    put_field(record, user);
    put_field(record, token_id);
    put_field(record, detail);
    int rc = txn.put(kv::Table::audit, encode_key(sequence), record, kv::Put::append);
    return rc == 0 ? Status::success() : kv_error(txn, "write audit", rc);
}

void record_sign_in_failure(Store::Impl& store, std::string_view user, const AuditContext& context) {
    if (store.read_only || !store.has_sign_in_failures) return;
    run_write(store, [&](kv::Txn& txn) -> Status {
        std::uint64_t sequence = 0;
        if (Status s = next_sequence(store, txn, sequence); !s.ok()) return s;
        const std::int64_t time = time_of(sequence);
        const std::string key = failure_key(time - time % kFailureWindowMs, user, context);
        std::string_view found;
        FailureRow row;
        int rc = txn.get(kv::Table::sign_in_failures, key, found);
        if (rc == 0 && decode_failure(found, row)) {
            row.count += row.count < UINT32_MAX ? 1 : 0;
            row.last = sequence;
        } else if (rc == 0 || rc == kv::kNotFound) {  // a new row, or a corrupt one replaced
            if (rc == kv::kNotFound && (rc = make_room(txn, kv::Table::sign_in_failures)) != 0)
                return kv_error(txn, "trim sign-in failures", rc);
            row = FailureRow{1, sequence, sequence};
        } else {
            return kv_error(txn, "read sign-in failures", rc);
        }
        rc = txn.put(kv::Table::sign_in_failures, key, encode_failure(row));
        return rc == 0 ? Status::success() : kv_error(txn, "write sign-in failures", rc);
    });
}

Expected<std::vector<AuditEntry>> Store::list_audit(std::optional<std::string_view> raw_user, std::size_t limit) {
    std::string user;
    if (raw_user) {
        auto canonical = canonical_user_name(*raw_user);
        if (!canonical) return canonical.status();
        user = *canonical;
    }
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    int rc = 0;
    std::vector<SequencedEntry> failures;
    if (Status s = read_failures(*impl_, txn, user, failures); !s.ok()) return s;
    auto next_failure = failures.begin();
    std::vector<AuditEntry> entries;
    bool corrupt = false;
    rc = txn.scan(
        kv::Table::audit, "",
        [&](std::string_view key, std::string_view value) {
            if (entries.size() >= limit) return false;
            AuditEntry entry;
            if (!decode_entry(key, value, entry)) {
                corrupt = true;
                return false;
            }
            // A failure counted after this record was written has a greater
            // sequence; one with the same sequence came before it.
            const std::uint64_t sequence = decode_key(key);
            for (; next_failure != failures.end() && next_failure->sequence > sequence && entries.size() < limit;
                 ++next_failure) {
                entries.push_back(std::move(next_failure->entry));
            }
            if (entries.size() < limit && (user.empty() || entry.user == user || entry.actor == user))
                entries.push_back(std::move(entry));
            return true;
        },
        true);
    if (corrupt) return Status{StatusCode::store_error, "store: an audit record is corrupt"};
    if (rc != 0) return kv_error(txn, "read audit", rc);
    for (; next_failure != failures.end() && entries.size() < limit; ++next_failure) {
        entries.push_back(std::move(next_failure->entry));
    }
    return entries;
}

Expected<std::size_t> Store::prune_audit(std::int64_t before_ms, const AuditContext& audit) {
    const std::uint64_t cutoff = static_cast<std::uint64_t>(std::max<std::int64_t>(before_ms, 0)) << 16;
    std::size_t total = 0;
    // Space::reserve throughout: pruning is how a full store gets room again.
    for (bool done = false; !done;) {
        std::size_t deleted = 0;
        Status written = run_write(
            *impl_,
            [&](kv::Txn& txn) -> Status {
                deleted = 0;
                // The batch's keys first (a scan and deletes in one table do
                // not mix), then their deletes.
                std::vector<std::string> batch;
                int rc = txn.scan(kv::Table::audit, "", [&](std::string_view key, std::string_view) {
                    if (batch.size() >= kPruneBatch || decode_key(key) >= cutoff) return false;
                    batch.emplace_back(key);
                    return true;
                });
                if (rc != 0) return kv_error(txn, "prune audit", rc);
                for (const std::string& key : batch) {
                    if ((rc = txn.del(kv::Table::audit, key)) != 0) return kv_error(txn, "prune audit", rc);
                    ++deleted;
                }
                done = deleted < kPruneBatch;
                if (!done || !impl_->has_sign_in_failures) return Status::success();
                // The last batch also takes the failure rows.
                std::vector<std::string> doomed;
                rc = txn.scan(kv::Table::sign_in_failures, "", [&](std::string_view key, std::string_view value) {
                    FailureRow row;
                    if (!decode_failure(value, row) || row.last < cutoff) doomed.emplace_back(key);
                    return true;
                });
                if (rc != 0) return kv_error(txn, "read sign-in failures", rc);
                for (const std::string& key : doomed) {
                    if ((rc = txn.del(kv::Table::sign_in_failures, key)) != 0)
                        return kv_error(txn, "prune sign-in failures", rc);
                }
                deleted += doomed.size();
                return Status::success();
            },
            Space::reserve);
        if (!written.ok()) return written;
        total += deleted;
    }
    // The prune itself, in a transaction of its own: LMDB reuses the pages a
    // transaction freed from the second transaction after it, so the next
    // ordinary change finds them.
    Status recorded = run_write(
        *impl_,
        [&](kv::Txn& txn) {
            return append_audit(*impl_, txn, AuditAction::audit_pruned, audit, {}, {},
                                std::to_string(total) + " entries before " + utc_text(before_ms));
        },
        Space::reserve);
    if (!recorded.ok()) return recorded;
    return total;
}

}  // namespace pat
