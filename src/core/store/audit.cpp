// The audit table: append inside the change's own write transaction; list
// newest first.
#include <algorithm>
#include <string>

#include "pat/names.hpp"
#include "impl.hpp"

namespace pat {
namespace {

constexpr std::uint8_t kAuditFormat = 1;
constexpr std::size_t kMaxField = 255;

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

// Keys are big-endian so that LMDB's byte order is time order.
std::string encode_key(std::uint64_t sequence) {
    std::string key(8, '\0');
    for (int i = 7; i >= 0; --i, sequence >>= 8) key[i] = static_cast<char>(sequence & 0xff);
    return key;
}

std::uint64_t decode_key(std::string_view key) {
    std::uint64_t v = 0;
    for (char c : key.substr(0, 8)) v = (v << 8) | static_cast<std::uint8_t>(c);
    return v;
}

bool decode_entry(std::string_view key, std::string_view in, AuditEntry& entry) {
    if (key.size() != 8 || in.size() < 2 || static_cast<std::uint8_t>(in[0]) != kAuditFormat) return false;
    const auto action = static_cast<std::uint8_t>(in[1]);
    if (action < static_cast<std::uint8_t>(AuditAction::user_added) ||
        action > static_cast<std::uint8_t>(AuditAction::token_revoked))
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
    }
    return "unknown";
}

Status append_audit(const Store::Impl& store, MDB_txn* txn, AuditAction action, const AuditContext& context,
                    std::string_view user, std::string_view token_id, std::string_view detail) {
    // time_ms << 16 leaves room for 65536 entries per millisecond; later
    // entries in the same millisecond (or after a clock step back) take the
    // next free number, so keys stay unique and ordered.
    std::uint64_t sequence = static_cast<std::uint64_t>(now_ms()) << 16;
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, store.audit, &cursor);
    if (rc != 0) return lmdb::error("open audit", rc);
    MDB_val k{}, v{};
    rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
    mdb_cursor_close(cursor);
    if (rc == 0) sequence = std::max(sequence, decode_key(lmdb::view(k)) + 1);
    else if (rc != MDB_NOTFOUND) return lmdb::error("read audit", rc);

    std::string record;
    record.push_back(static_cast<char>(kAuditFormat));
    record.push_back(static_cast<char>(action));
    put_field(record, context.actor.empty() ? "system" : context.actor);
    put_field(record, context.address.empty() ? "local" : context.address);
    put_field(record, user);
    put_field(record, token_id);
    put_field(record, detail);
    rc = lmdb::put(txn, store.audit, encode_key(sequence), record, MDB_APPEND);
    return rc == 0 ? Status::success() : lmdb::error("write audit", rc);
}

Expected<std::vector<AuditEntry>> Store::list_audit(std::optional<std::string_view> raw_user, std::size_t limit) {
    std::string user;
    if (raw_user) {
        auto canonical = canonical_user_name(*raw_user);
        if (!canonical) return canonical.status();
        user = *canonical;
    }
    lmdb::Txn txn;
    int rc = txn.begin(impl_->env, MDB_RDONLY);
    if (rc != 0) return lmdb::error("begin read", rc);
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn.get(), impl_->audit, &cursor);
    if (rc != 0) return lmdb::error("open audit", rc);
    std::vector<AuditEntry> entries;
    MDB_val k{}, v{};
    bool corrupt = false;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST); rc == 0 && entries.size() < limit;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV)) {
        AuditEntry entry;
        if (!decode_entry(lmdb::view(k), lmdb::view(v), entry)) {
            corrupt = true;
            break;
        }
        if (user.empty() || entry.user == user || entry.actor == user) entries.push_back(std::move(entry));
    }
    mdb_cursor_close(cursor);
    if (corrupt) return Status{StatusCode::store_error, "store: an audit record is corrupt"};
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::error("read audit", rc);
    return entries;
}

}  // namespace pat
