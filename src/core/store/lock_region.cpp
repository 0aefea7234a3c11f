// Does LMDB's lock file describe this data file?
//
// LMDB keeps the id of the newest committed transaction twice: in the data
// file's two meta pages and in the lock file's shared region (PATH-lock),
// and readers and writers trust the lock file's copy: a transaction reads
// meta page (id & 1). The region is filled from the data file only by the
// first process to open the lock file. When the data file is replaced by a
// rename (a backup restored, a copy with a token revoked) while any process
// keeps the lock file open, the region goes on describing the old file: a
// reader of the new file reads one of its two meta pages at random - quite
// possibly the state before its last change, a revoked token valid again -
// and a writer would build on that state and undo the change for good.
//
// So a process that opens the file checks that a read transaction (whose id
// comes from the region) starts at the newest meta page of the file. A
// commit in flight shows the meta page before the region for an instant: the
// check looks three times before it refuses. The region is right again once
// every process that held the old file has let go of the lock file, and the
// next one to open it fills it from the new file.
#include <chrono>
#include <thread>

#include "impl.hpp"

namespace pat {

Status Store::check_lock_region() const {
    if (impl_->env == nullptr) return not_on_lmdb();
    constexpr int kAttempts = 3;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        if (attempt != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        lmdb::Txn txn;
        int rc = txn.begin(impl_->env, MDB_RDONLY);
        if (rc != 0) return lmdb::error("begin transaction", rc);
        MDB_envinfo info;
        rc = mdb_env_info(impl_->env, &info);
        if (rc != 0) return lmdb::error("read the environment", rc);
        if (mdb_txn_id(txn.get()) == info.me_last_txnid) return Status::success();
    }
    return {StatusCode::store_error,
            "store: " + impl_->path + "-lock and " + impl_->path +
                " disagree on the newest transaction (the file was replaced while another process had the old "
                "one open; it agrees again once every such process has let go of it)"};
}

}  // namespace pat
