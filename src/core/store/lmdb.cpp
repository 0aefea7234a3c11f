#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "impl.hpp"

namespace pat {

namespace {

// mdb_reader_list prints one line per reader slot: "pid thread txnid", with
// "-" for a slot that holds no snapshot; keep the oldest snapshot's txnid.
int note_oldest_reader(const char* line, void* context) {
    auto& oldest = *static_cast<std::uint64_t*>(context);
    int pid = 0;
    char thread[32];
    unsigned long long txnid = 0;
    if (std::sscanf(line, "%d %31s %llu", &pid, thread, &txnid) == 3 && txnid != 0) {
        oldest = std::min<std::uint64_t>(oldest, txnid);
    }
    return 0;
}

// The pages a write may still take: never used (between the file's last
// page and the map's end) plus freed pages LMDB may reuse, those of
// transactions older than every reader's snapshot. LMDB itself (mdb_page_alloc)
// also waits one more transaction before reusing what the last one freed;
// counting those too keeps a store whose only free pages came from its last
// commit (a prune, a dropped table) from refusing every write forever, at
// the cost of a write possibly taking a few pages of the reserve once.
// Called by a writer holding
// the writer lock (write_txn), so nothing commits meanwhile. LMDB lets only
// a read transaction open the free list (table 0; keys are transaction ids,
// values an array of page numbers led by its length), as `mdb_stat -f` does;
// that reader sees the same last commit the write started from.
int free_pages(MDB_env* env, MDB_txn* write_txn, std::size_t& pages, std::size_t& map_pages) {
    MDB_envinfo info;
    MDB_stat stat;
    int rc = mdb_env_info(env, &info);
    if (rc == 0) rc = mdb_env_stat(env, &stat);
    if (rc != 0) return rc;
    map_pages = info.me_mapsize / stat.ms_psize;
    pages = map_pages > info.me_last_pgno + 1 ? map_pages - (info.me_last_pgno + 1) : 0;

    std::uint64_t oldest = mdb_txn_id(write_txn);
    rc = mdb_reader_list(env, note_oldest_reader, &oldest);
    if (rc < 0) return rc;
    lmdb::Txn read;
    rc = read.begin(env, MDB_RDONLY);
    if (rc != 0) return rc;
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(read.get(), 0, &cursor);
    if (rc != 0) return rc;
    MDB_val k{}, v{};
    while ((rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) == 0) {
        std::size_t freed_by = 0;
        std::size_t count = 0;
        if (k.mv_size != sizeof freed_by || v.mv_size < sizeof count) continue;
        std::memcpy(&freed_by, k.mv_data, sizeof freed_by);
        if (freed_by >= oldest) break;  // keys ascend
        std::memcpy(&count, v.mv_data, sizeof count);
        pages += count;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

}  // namespace

Status not_on_lmdb() {
    return {StatusCode::store_error,
            "store: not available on the fleet source (decisions are made on a node's replica)"};
}

Status kv_error(const kv::Txn& txn, std::string_view what, int rc) {
    if (rc == kv::kFull) return lmdb::full();
    return {StatusCode::store_error, "store: " + std::string(what) + ": " + txn.failure()};
}

namespace lmdb {

std::size_t reserve_pages(std::size_t map_pages) {
    return std::clamp<std::size_t>(map_pages / 32, 128, 16384);
}

Status full() {
    return {StatusCode::store_error,
            "store: full: it reached the maximum size set when it was created (patctl init --max-size); "
            "nothing was changed (revoking tokens, disabling users, removing grants and "
            "'patctl audit prune' still work)"};
}

Status error(std::string_view what, int rc) {
    if (rc == MDB_MAP_FULL) return full();
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

namespace {

bool is_full(const Status& status) {
    return status.code() == StatusCode::store_error && status.message() == full().message();
}

// up_front: set when the write was refused before its body ran (only the
// reserve is left), which no turnover changes.
Status write_once(Store::Impl& store, const std::function<Status(MDB_txn*)>& body, Space space, bool& up_front) {
    up_front = false;
    Txn txn;
    int rc = txn.begin(store.env, 0);
    if (rc != 0) return error("begin write transaction", rc);
    if (space == Space::ordinary) {
        // Holding the writer lock, so the pages counted are this write's.
        std::size_t pages = 0, map_pages = 0;
        rc = free_pages(store.env, txn.get(), pages, map_pages);
        if (rc != 0) return error("read free space", rc);
        if (pages < reserve_pages(map_pages)) {
            up_front = true;
            return full();
        }
    }
    Status status = body(txn.get());
    if (!status.ok()) return status;  // txn aborts: nothing changed
    rc = txn.commit();
    return rc == 0 ? Status::success() : error("commit", rc);
}

// LMDB reuses the pages a commit freed only from the second commit after
// it (mdb_page_alloc takes free-list entries older than the writer's
// predecessor). When the store's only free pages came from its last commit
// (a prune, a dropped table) and what was never used is too little for a
// write, the write fails, aborts, and the next one fails the same way for
// ever. One small commit (a meta key; two or three pages) moves past that
// commit, and the write, run again, can use the freed pages.
bool turn_over(Store::Impl& store) {
    Txn txn;
    if (txn.begin(store.env, 0) != 0) return false;
    MDB_dbi meta = store.meta;
    const std::uint64_t id = mdb_txn_id(txn.get());
    if (put(txn.get(), meta, "last_turnover", std::string_view(reinterpret_cast<const char*>(&id), sizeof id)) != 0)
        return false;
    return txn.commit() == 0;
}

}  // namespace

Status run_write(Store::Impl& store, const std::function<Status(MDB_txn*)>& body, Space space) {
    if (store.read_only) return {StatusCode::store_error, "store: opened read-only"};
    bool up_front = false;
    Status status = write_once(store, body, space, up_front);
    if (up_front || !is_full(status) || !turn_over(store)) return status;
    return write_once(store, body, space, up_front);  // the body reads everything again
}

}  // namespace lmdb
}  // namespace pat
