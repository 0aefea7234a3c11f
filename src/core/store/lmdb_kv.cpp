#include "lmdb_kv.hpp"

namespace pat {

int LmdbTxn::code(int rc) {
    switch (rc) {
        case 0: return kv::kOk;
        case MDB_NOTFOUND: failure_ = mdb_strerror(rc); return kv::kNotFound;
        case MDB_KEYEXIST: failure_ = mdb_strerror(rc); return kv::kKeyExists;
        case MDB_MAP_FULL: failure_ = mdb_strerror(rc); return kv::kFull;
        default: failure_ = mdb_strerror(rc); return kv::kFailed;
    }
}

// False for a table this file does not have (schema 1 read as it is, or
// sign_in_failures on a store made before it, opened read-only).
bool LmdbTxn::dbi(kv::Table table, MDB_dbi& out) {
    const Store::Impl& s = store_;
    switch (table) {
        case kv::Table::meta: out = s.meta; return true;
        case kv::Table::users: out = s.users; return true;
        case kv::Table::grants: out = s.grants; return true;
        case kv::Table::tokens: out = s.tokens; return true;
        case kv::Table::token_ids: out = s.token_ids; return true;
        case kv::Table::user_tokens: out = s.user_tokens; return true;
        case kv::Table::audit: out = s.audit; return true;
        case kv::Table::effective: out = s.effective; return true;  // the grants table at schema 1
        case kv::Table::groups: out = s.groups; return s.has_groups;
        case kv::Table::group_members: out = s.group_members; return s.has_groups;
        case kv::Table::user_groups: out = s.user_groups; return s.has_groups;
        case kv::Table::group_grants: out = s.group_grants; return s.has_groups;
        case kv::Table::everyone: out = s.everyone; return s.has_groups;
        case kv::Table::sign_in_failures: out = s.sign_in_failures; return s.has_sign_in_failures;
    }
    return false;
}

namespace {

std::string absent(kv::Table table) {
    return "the table " + std::string(kv::table_name(table)) + " does not exist in this store";
}

}  // namespace

int LmdbTxn::get(kv::Table table, std::string_view key, std::string_view& value) {
    MDB_dbi d = 0;
    if (!dbi(table, d)) return code(MDB_NOTFOUND);
    return code(lmdb::get(txn_, d, key, value));
}

int LmdbTxn::put(kv::Table table, std::string_view key, std::string_view value, kv::Put mode) {
    MDB_dbi d = 0;
    if (!dbi(table, d)) {
        failure_ = absent(table);
        return kv::kFailed;
    }
    const unsigned flags = mode == kv::Put::append ? MDB_APPEND : mode == kv::Put::no_overwrite ? MDB_NOOVERWRITE : 0;
    return code(lmdb::put(txn_, d, key, value, flags));
}

int LmdbTxn::del(kv::Table table, std::string_view key) {
    MDB_dbi d = 0;
    if (!dbi(table, d)) return code(MDB_NOTFOUND);
    return code(lmdb::del(txn_, d, key));
}

int LmdbTxn::scan(kv::Table table, std::string_view prefix, const kv::Visitor& visit, bool reverse) {
    MDB_dbi d = 0;
    if (!dbi(table, d)) return kv::kOk;
    if (!reverse) return code(lmdb::scan_prefix(txn_, d, prefix, visit));
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, d, &cursor);
    if (rc != 0) return code(rc);
    // The last key with the prefix: just before the first key past every
    // key that has it (the prefix with its last byte below 0xff raised).
    std::string past(prefix);
    while (!past.empty() && static_cast<unsigned char>(past.back()) == 0xff) past.pop_back();
    MDB_val k{}, v{};
    if (past.empty()) {
        rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
    } else {
        past.back() = static_cast<char>(static_cast<unsigned char>(past.back()) + 1);
        k = lmdb::val(past);
        rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
        if (rc == 0 || rc == MDB_NOTFOUND) rc = mdb_cursor_get(cursor, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
    }
    while (rc == 0) {
        std::string_view key = lmdb::view(k);
        if (key.substr(0, prefix.size()) != prefix) break;
        if (!visit(key, lmdb::view(v))) break;
        rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cursor);
    return code(rc == MDB_NOTFOUND ? 0 : rc);
}

int LmdbTxn::count(kv::Table table, std::size_t& rows) {
    rows = 0;
    MDB_dbi d = 0;
    if (!dbi(table, d)) return kv::kOk;
    MDB_stat stat;
    int rc = mdb_stat(txn_, d, &stat);
    if (rc == 0) rows = stat.ms_entries;
    return code(rc);
}

Expected<std::unique_ptr<LmdbEngine>> LmdbEngine::open(const std::string& path, Store::Mode mode) {
    auto store = Store::open(path, mode);
    if (!store) return store.status();
    std::unique_ptr<LmdbEngine> engine(new LmdbEngine());
    engine->owned_ = std::move(*store);
    engine->store_ = engine->owned_->impl_.get();
    return engine;
}

Expected<std::unique_ptr<kv::Txn>> LmdbEngine::read() {
    if (store_->env == nullptr) return Status{StatusCode::store_error, "store: closed"};
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(store_->env, nullptr, MDB_RDONLY, &txn);
    if (rc != 0) return lmdb::error("begin read", rc);
    return std::unique_ptr<kv::Txn>(new LmdbTxn(*store_, txn, true));
}

Status LmdbEngine::write(const std::function<Status(kv::Txn&)>& body, kv::Space space) {
    return lmdb::run_write(
        *store_,
        [&](MDB_txn* txn) {
            LmdbTxn kv_txn(*store_, txn);
            return body(kv_txn);
        },
        space);
}

}  // namespace pat
