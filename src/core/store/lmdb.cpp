#include <string>

#include "impl.hpp"

namespace pat::lmdb {

Status error(std::string_view what, int rc) {
    if (rc == MDB_MAP_FULL) {
        return {StatusCode::store_error,
                "store: full: it reached the maximum size set when it was created (patctl init --max-size); "
                "nothing was changed"};
    }
    return {StatusCode::store_error, "store: " + std::string(what) + ": " + mdb_strerror(rc)};
}

int put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value, unsigned flags) {
    MDB_val k = val(key), v = val(value);
    return mdb_put(txn, dbi, &k, &v, flags);
}

int del(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
    MDB_val k = val(key);
    return mdb_del(txn, dbi, &k, nullptr);
}

int get(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view& value) {
    MDB_val k = val(key), v{};
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0) value = view(v);
    return rc;
}

int scan_prefix(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix,
                const std::function<bool(std::string_view, std::string_view)>& visit) {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc != 0) return rc;
    MDB_val k = val(prefix), v{};
    rc = mdb_cursor_get(cursor, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == 0) {
        std::string_view key = view(k);
        if (key.substr(0, prefix.size()) != prefix) break;
        if (!visit(key, view(v))) break;
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

Status run_write(Store::Impl& store, const std::function<Status(MDB_txn*)>& body) {
    if (store.read_only) return {StatusCode::store_error, "store: opened read-only"};
    Txn txn;
    int rc = txn.begin(store.env, 0);
    if (rc != 0) return error("begin write transaction", rc);
    Status status = body(txn.get());
    if (!status.ok()) return status;  // txn aborts: nothing changed
    rc = txn.commit();
    return rc == 0 ? Status::success() : error("commit", rc);
}

}  // namespace pat::lmdb
