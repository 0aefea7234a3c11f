#include "pg_engine.hpp"

#include <deque>
#include <unordered_map>

#include "pat/token.hpp"
#include "pat/usage.hpp"
#include "pg.hpp"

namespace pat::fleet {

namespace {

// The smallest byte string greater than every string starting with prefix;
// empty when there is none (prefix empty or all 0xff).
std::string prefix_upper_bound(std::string_view prefix) {
    std::string bound(prefix);
    while (!bound.empty() && static_cast<unsigned char>(bound.back()) == 0xff) bound.pop_back();
    if (!bound.empty()) bound.back() = static_cast<char>(static_cast<unsigned char>(bound.back()) + 1);
    return bound;
}

class PgTxn : public kv::Txn {
   public:
    PgTxn(PgEngine& engine, std::unique_ptr<Connection> conn, bool writable, std::uint64_t head)
        : engine_(engine), conn_(std::move(conn)), writable_(writable), head_(head), next_(head) {}

    ~PgTxn() override {
        results_.clear();
        if (conn_ != nullptr && !finished_) {
            // A read transaction ends here; a write body's errors end in rollback.
            Result r = exec_plain(conn_->raw(), "ROLLBACK");
            if (!r.command_ok()) conn_.reset();
        }
        if (conn_ != nullptr && conn_->usable()) engine_.release(std::move(conn_));
    }

    int get(kv::Table table, std::string_view key, std::string_view& value) override {
        Params p;
        p.int2(static_cast<std::int16_t>(table)).bytes(key);
        Result r = exec_params(conn_->raw(), "SELECT value FROM pat_records WHERE tbl = $1 AND key = $2", p);
        if (!r.tuples_ok()) return fail(r);
        if (r.rows() == 0) return kv::kNotFound;
        value = r.bytes(0, 0);
        results_.push_back(std::move(r));
        return kv::kOk;
    }

    int put(kv::Table table, std::string_view key, std::string_view value, kv::Put mode) override {
        if (!writable_) return fail_text("put in a read transaction");
        Params p;
        p.int2(static_cast<std::int16_t>(table)).bytes(key).bytes(value).int8(static_cast<std::int64_t>(next_ + 1));
        const char* sql = mode == kv::Put::no_overwrite
                              ? "WITH r AS (INSERT INTO pat_records (tbl, key, value) VALUES ($1, $2, $3) "
                                "ON CONFLICT (tbl, key) DO NOTHING RETURNING 1) "
                                "INSERT INTO pat_changes (seq, tbl, key, value) SELECT $4, $1, $2, $3 FROM r"
                              : "WITH r AS (INSERT INTO pat_records (tbl, key, value) VALUES ($1, $2, $3) "
                                "ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value RETURNING 1) "
                                "INSERT INTO pat_changes (seq, tbl, key, value) SELECT $4, $1, $2, $3 FROM r";
        Result r = exec_params(conn_->raw(), sql, p);
        if (!r.command_ok()) return fail(r);
        if (r.affected() == 0) return kv::kKeyExists;
        ++next_;
        return kv::kOk;
    }

    int del(kv::Table table, std::string_view key) override {
        if (!writable_) return fail_text("delete in a read transaction");
        Params p;
        p.int2(static_cast<std::int16_t>(table)).bytes(key).int8(static_cast<std::int64_t>(next_ + 1));
        Result r = exec_params(conn_->raw(),
                               "WITH d AS (DELETE FROM pat_records WHERE tbl = $1 AND key = $2 RETURNING 1) "
                               "INSERT INTO pat_changes (seq, tbl, key, value) SELECT $3, $1, $2, NULL FROM d",
                               p);
        if (!r.command_ok()) return fail(r);
        if (r.affected() == 0) return kv::kNotFound;
        ++next_;
        return kv::kOk;
    }

    int scan(kv::Table table, std::string_view prefix, const kv::Visitor& visit, bool reverse) override {
        std::string upper = prefix_upper_bound(prefix);
        Params p;
        p.int2(static_cast<std::int16_t>(table)).bytes(prefix);
        std::string sql = "SELECT key, value FROM pat_records WHERE tbl = $1 AND key >= $2";
        if (!upper.empty()) {
            p.bytes(upper);
            sql += " AND key < $3";
        }
        sql += reverse ? " ORDER BY key DESC" : " ORDER BY key";
        Result r = exec_params(conn_->raw(), sql, p);
        if (!r.tuples_ok()) return fail(r);
        const int rows = r.rows();
        results_.push_back(std::move(r));
        const Result& kept = results_.back();
        for (int i = 0; i < rows; ++i) {
            if (!visit(kept.bytes(i, 0), kept.bytes(i, 1))) break;
        }
        return kv::kOk;
    }

    int count(kv::Table table, std::size_t& rows) override {
        Params p;
        p.int2(static_cast<std::int16_t>(table));
        Result r = exec_params(conn_->raw(), "SELECT count(*) FROM pat_records WHERE tbl = $1", p);
        if (!r.tuples_ok()) return fail(r);
        rows = static_cast<std::size_t>(r.integer(0, 0));
        return kv::kOk;
    }

    std::string failure() const override { return failure_; }

    // The write's end: head, NOTIFY, COMMIT.
    Status commit() {
        finished_ = true;
        results_.clear();
        PGconn* c = conn_->raw();
        if (next_ != head_) {
            Params p;
            p.int8(static_cast<std::int64_t>(next_));
            Result u = exec_params(c, "UPDATE pat_head SET seq = $1", p);
            if (!u.command_ok()) return abort(pg_error(c, u));
            Params n;
            n.text(std::to_string(next_));
            Result nr = exec_params(c, "SELECT pg_notify('pat_changes', $1)", n);
            if (!nr.tuples_ok()) return abort(pg_error(c, nr));
        }
        Result r = exec_plain(c, "COMMIT");
        // COMMIT of an aborted transaction answers ROLLBACK (command ok).
        if (!r.command_ok() || std::string_view(PQcmdStatus(r.get())) != "COMMIT") {
            std::string detail = r.command_ok() ? std::string("the transaction was rolled back") : pg_error(c, r);
            if (!conn_->usable()) conn_.reset();
            return store_failure(engine_.describe(), "commit failed (nothing was changed): " + detail);
        }
        engine_.set_last_committed(next_);
        return Status::success();
    }

    Status rollback_with(const Status& status) {
        finished_ = true;
        results_.clear();
        Result r = exec_plain(conn_->raw(), "ROLLBACK");
        if (!r.command_ok()) conn_.reset();
        return status;
    }

    Connection* connection() { return conn_.get(); }

   private:
    int fail(const Result& r) {
        failure_ = pg_error(conn_->raw(), r);
        return kv::kFailed;
    }
    int fail_text(std::string text) {
        failure_ = std::move(text);
        return kv::kFailed;
    }
    Status abort(const std::string& detail) {
        Result r = exec_plain(conn_->raw(), "ROLLBACK");
        if (!r.command_ok()) conn_.reset();
        return store_failure(engine_.describe(), detail);
    }

    PgEngine& engine_;
    std::unique_ptr<Connection> conn_;
    bool writable_;
    bool finished_ = false;
    std::uint64_t head_;
    std::uint64_t next_;
    // A deque: a visitor's get() during scan() adds results while scan
    // reads an earlier one (a vector would move it away).
    std::deque<Result> results_;
    std::string failure_;
};

}  // namespace

PgEngine::PgEngine(std::string conninfo, std::string application_name, std::unique_ptr<Connection> first)
    : conninfo_(std::move(conninfo)), application_name_(std::move(application_name)) {
    describe_ = "the fleet source (" + first->describe() + ")";
    idle_.push_back(std::move(first));
}

Expected<std::unique_ptr<PgEngine>> PgEngine::open(const std::string& conninfo, std::string application_name) {
    Expected<std::unique_ptr<Connection>> first = Connection::open(conninfo, application_name, Purpose::writer);
    if (!first.ok()) return first.status();
    return std::unique_ptr<PgEngine>(new PgEngine(conninfo, std::move(application_name), std::move(*first)));
}

Expected<std::unique_ptr<PgEngine>> PgEngine::open_connfile(const std::string& connfile, std::string application_name) {
    Expected<std::string> conninfo = read_connfile(connfile);
    if (!conninfo.ok()) return conninfo.status();
    return open(*conninfo, std::move(application_name));
}

Expected<std::unique_ptr<Connection>> PgEngine::acquire() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        while (!idle_.empty()) {
            std::unique_ptr<Connection> c = std::move(idle_.back());
            idle_.pop_back();
            if (c->usable()) return c;
        }
    }
    return Connection::open(conninfo_, application_name_, Purpose::writer);
}

void PgEngine::release(std::unique_ptr<Connection> conn) {
    if (conn == nullptr || !conn->usable() || PQtransactionStatus(conn->raw()) != PQTRANS_IDLE) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < 8) idle_.push_back(std::move(conn));
}

Expected<std::unique_ptr<kv::Txn>> PgEngine::read() {
    Expected<std::unique_ptr<Connection>> conn = acquire();
    if (!conn.ok()) return conn.status();
    Result r = exec_plain((*conn)->raw(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!r.command_ok()) {
        // A pooled connection the server closed meanwhile: try a new one once.
        conn = Connection::open(conninfo_, application_name_, Purpose::writer);
        if (!conn.ok()) return conn.status();
        r = exec_plain((*conn)->raw(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        if (!r.command_ok()) return store_failure(describe_, pg_error((*conn)->raw(), r));
    }
    return std::unique_ptr<kv::Txn>(new PgTxn(*this, std::move(*conn), false, 0));
}

Status PgEngine::write(const std::function<Status(kv::Txn&)>& body, kv::Space) {
    Expected<std::unique_ptr<Connection>> conn = acquire();
    if (!conn.ok()) return conn.status();
    Result r = exec_plain((*conn)->raw(), "BEGIN");
    if (!r.command_ok()) {
        conn = Connection::open(conninfo_, application_name_, Purpose::writer);
        if (!conn.ok()) return conn.status();
        r = exec_plain((*conn)->raw(), "BEGIN");
        if (!r.command_ok()) return store_failure(describe_, pg_error((*conn)->raw(), r));
    }
    PGconn* c = (*conn)->raw();
    Params none;
    Result head = exec_params(c, "SELECT seq FROM pat_head FOR UPDATE", none, true);
    if (!head.tuples_ok() || head.rows() != 1) {
        std::string detail = head.tuples_ok() ? std::string("pat_head does not hold one row (run patctl fleet init)")
                                              : pg_error(c, head);
        exec_plain(c, "ROLLBACK");
        if ((*conn)->usable()) release(std::move(*conn));
        return store_failure(describe_, detail);
    }
    const auto seq = static_cast<std::uint64_t>(head.integer(0, 0));
    PgTxn txn(*this, std::move(*conn), true, seq);
    Status status = body(txn);
    if (!status.ok()) return txn.rollback_with(status);
    return txn.commit();
}

std::uint64_t PgEngine::last_committed_position() const {
    return last_committed_.load();
}

std::string PgEngine::describe() const {
    return describe_;
}

std::vector<std::int64_t> PgEngine::last_used(const std::vector<std::string>& token_ids) {
    std::vector<std::int64_t> found(token_ids.size(), 0);
    // A text array literal of token ids (12 digits each: nothing to quote);
    // anything else is no token id and has no time.
    std::string array = "{";
    std::unordered_map<std::string_view, std::vector<std::size_t>> where;
    for (std::size_t i = 0; i < token_ids.size(); ++i) {
        if (!is_valid_token_id(token_ids[i])) continue;
        auto [at, added] = where.try_emplace(token_ids[i]);
        at->second.push_back(i);
        if (!added) continue;
        if (array.size() > 1) array += ',';
        array += token_ids[i];
    }
    array += '}';
    if (where.empty()) return found;
    const std::string sql = "SELECT token_id, last_used_ms FROM pat_usage WHERE token_id = ANY($1::text[])";
    for (int attempt = 0; attempt < 2; ++attempt) {
        // The second attempt on a new connection: a pooled one the server
        // closed meanwhile (a restart) fails once.
        Expected<std::unique_ptr<Connection>> conn =
            attempt == 0 ? acquire() : Connection::open(conninfo_, application_name_, Purpose::writer);
        if (!conn.ok()) return found;
        Params p;
        p.text(array);
        Result r = exec_params((*conn)->raw(), sql, p, true);
        if (!r.tuples_ok()) {
            if ((*conn)->usable()) {
                release(std::move(*conn));
                return found;  // the statement failed (no table, no right): zeros
            }
            continue;
        }
        for (int row = 0; row < r.rows(); ++row) {
            if (r.is_null(row, 0) || r.is_null(row, 1)) continue;
            auto at = where.find(r.bytes(row, 0));
            if (at == where.end()) continue;
            const std::int64_t ms = r.integer(row, 1);
            for (std::size_t i : at->second) found[i] = ms > 0 ? ms : 0;
        }
        release(std::move(*conn));
        return found;
    }
    return found;
}

std::vector<std::vector<std::string>> PgEngine::last_used_addresses(const std::vector<std::string>& token_ids) {
    std::vector<std::vector<std::string>> found(token_ids.size());
    std::string array = "{";
    std::unordered_map<std::string_view, std::vector<std::size_t>> where;
    for (std::size_t i = 0; i < token_ids.size(); ++i) {
        if (!is_valid_token_id(token_ids[i])) continue;
        auto [at, added] = where.try_emplace(token_ids[i]);
        at->second.push_back(i);
        if (!added) continue;
        if (array.size() > 1) array += ',';
        array += token_ids[i];
    }
    array += '}';
    if (where.empty()) return found;
    const std::string sql =
        "SELECT token_id, address FROM pat_usage WHERE token_id = ANY($1::text[]) AND address <> ''";
    for (int attempt = 0; attempt < 2; ++attempt) {
        Expected<std::unique_ptr<Connection>> conn =
            attempt == 0 ? acquire() : Connection::open(conninfo_, application_name_, Purpose::writer);
        if (!conn.ok()) return found;
        Params p;
        p.text(array);
        Result r = exec_params((*conn)->raw(), sql, p, true);
        if (!r.tuples_ok()) {
            if ((*conn)->usable()) {
                release(std::move(*conn));
                return found;
            }
            continue;
        }
        for (int row = 0; row < r.rows(); ++row) {
            if (r.is_null(row, 0) || r.is_null(row, 1)) continue;
            auto at = where.find(r.bytes(row, 0));
            if (at == where.end()) continue;
            // Written by patd (src/patd/usage_push.cpp); only what parses
            // as an address is shown.
            std::vector<std::string> list;
            std::string_view rest = r.bytes(row, 1);
            while (!rest.empty() && list.size() < kUsageAddresses) {
                const std::size_t space = rest.find(' ');
                const std::string_view entry = rest.substr(0, space);
                rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
                const std::size_t sign = entry.find('@');
                UsageAddress address{};
                if (sign == std::string_view::npos || !usage_address_from_text(entry.substr(sign + 1), address))
                    continue;
                address.ms = 1;
                list.push_back(usage_address_text(address));
            }
            for (std::size_t i : at->second) found[i] = list;
        }
        release(std::move(*conn));
        return found;
    }
    return found;
}

}  // namespace pat::fleet
