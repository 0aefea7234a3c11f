// The LMDB engine of the key-value interface (pat/kv.hpp): a single-host
// store's, and every fleet replica's. kv::Table maps onto the Store::Impl's
// named databases (a schema-1 store read as it is: effective is the grants
// table; a table the file lacks reads as empty and refuses writes); the
// replica's own "replica" table is not a kv::Table (Store::replica_state).
//
// Codes: MDB_NOTFOUND -> kNotFound, MDB_KEYEXIST -> kKeyExists,
// MDB_MAP_FULL -> kFull, anything else -> kFailed with mdb_strerror's words
// in failure(). write() is lmdb::run_write (the reserve check, the turnover
// retry); read() a read-only transaction.
#pragma once

#include <memory>
#include <string>

#include "impl.hpp"
#include "pat/kv.hpp"

namespace pat {

class LmdbTxn final : public kv::Txn {
   public:
    // Over a transaction someone else owns (a write of run_write).
    LmdbTxn(const Store::Impl& store, MDB_txn* txn) : store_(store), txn_(txn) {}
    // Over a read transaction of its own (owned: aborted with it).
    LmdbTxn(const Store::Impl& store, MDB_txn* txn, bool owned) : store_(store), txn_(txn), owned_(owned) {}
    ~LmdbTxn() override {
        if (owned_) mdb_txn_abort(txn_);
    }
    LmdbTxn(const LmdbTxn&) = delete;
    LmdbTxn& operator=(const LmdbTxn&) = delete;

    int get(kv::Table table, std::string_view key, std::string_view& value) override;
    int put(kv::Table table, std::string_view key, std::string_view value, kv::Put mode) override;
    int del(kv::Table table, std::string_view key) override;
    int scan(kv::Table table, std::string_view prefix, const kv::Visitor& visit, bool reverse) override;
    int count(kv::Table table, std::size_t& rows) override;
    std::string failure() const override { return failure_; }

    // The LMDB transaction, for what only LMDB has (the replica table).
    MDB_txn* mdb() const { return txn_; }
    // The code of an LMDB result, remembering its words for failure().
    int code(int rc);

   private:
    bool dbi(kv::Table table, MDB_dbi& out);

    const Store::Impl& store_;
    MDB_txn* txn_ = nullptr;
    bool owned_ = false;
    std::string failure_;
};

class LmdbEngine final : public kv::Engine {
   public:
    // The engine of an open store (Store::open makes one for itself).
    explicit LmdbEngine(Store::Impl& store) : store_(&store) {}
    // An engine on its own store file, opened as Store::open does (for
    // Store::over, and tests).
    static Expected<std::unique_ptr<LmdbEngine>> open(const std::string& path, Store::Mode mode);

    Expected<std::unique_ptr<kv::Txn>> read() override;
    Status write(const std::function<Status(kv::Txn&)>& body, kv::Space space) override;
    std::string describe() const override { return store_->path; }

   private:
    LmdbEngine() = default;
    std::unique_ptr<Store> owned_;
    Store::Impl* store_ = nullptr;
};

}  // namespace pat
