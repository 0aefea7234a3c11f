#include "admin.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "pat/store.hpp"

namespace pat::fleet {

namespace {

constexpr int kFetchBatch = 10'000;

Status failed(Connection& conn, const Result& r) {
    return store_failure(conn.describe(), pg_error(conn.raw(), r));
}

// Runs sql; on failure rolls back and returns the error.
Status run(Connection& conn, const std::string& sql) {
    Result r = exec_plain(conn.raw(), sql);
    if (r.command_ok() || r.tuples_ok()) return Status::success();
    Status s = failed(conn, r);
    exec_plain(conn.raw(), "ROLLBACK");
    return s;
}

Status rollback(Connection& conn, Status status) {
    exec_plain(conn.raw(), "ROLLBACK");
    return status;
}

std::string quote_identifier(Connection& conn, const std::string& name) {
    char* quoted = PQescapeIdentifier(conn.raw(), name.c_str(), name.size());
    if (quoted == nullptr) return {};
    std::string out = quoted;
    PQfreemem(quoted);
    return out;
}

bool valid_role_name(const std::string& name) {
    if (name.empty() || name.size() > 63) return false;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return false;
    }
    return true;
}

// Which of the fleet's three core tables exist, in the current schema.
Expected<std::vector<std::string>> existing_tables(Connection& conn) {
    Result r = exec_plain(conn.raw(),
                          "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                          "AND relkind = 'r' AND relname IN ('pat_head', 'pat_records', 'pat_changes') "
                          "ORDER BY relname");
    if (!r.tuples_ok()) return failed(conn, r);
    std::vector<std::string> names;
    for (int i = 0; i < r.rows(); ++i) names.push_back(r.text(i, 0));
    return names;
}

Status grant_roles(Connection& conn, const InitOptions& options) {
    Result schema_name = exec_plain(conn.raw(), "SELECT current_schema()");
    if (!schema_name.tuples_ok() || schema_name.rows() != 1 || schema_name.is_null(0, 0)) {
        return rollback(conn, store_failure(conn.describe(), "no current schema"));
    }
    const std::string schema = quote_identifier(conn, schema_name.text(0, 0));
    auto ensure_role = [&](const std::string& name) -> Status {
        if (!valid_role_name(name)) {
            return Status(StatusCode::invalid_argument,
                          "a role name is 1 to 63 characters from A-Z a-z 0-9 _ - . (got an invalid one)");
        }
        Params p;
        p.text(name);
        Result r = exec_params(conn.raw(), "SELECT 1 FROM pg_roles WHERE rolname = $1", p, false);
        if (!r.tuples_ok()) return failed(conn, r);
        if (r.rows() == 0) return run(conn, "CREATE ROLE " + quote_identifier(conn, name) + " LOGIN");
        return Status::success();
    };
    if (!options.follower_role.empty()) {
        if (Status s = ensure_role(options.follower_role); !s.ok()) return s;
        const std::string role = quote_identifier(conn, options.follower_role);
        // SELECT only: a follower can never write the source.
        if (Status s = run(conn, "GRANT USAGE ON SCHEMA " + schema + " TO " + role +
                                     "; GRANT SELECT ON pat_head, pat_records, pat_changes TO " + role);
            !s.ok())
            return s;
    }
    if (!options.writer_role.empty()) {
        if (Status s = ensure_role(options.writer_role); !s.ok()) return s;
        const std::string role = quote_identifier(conn, options.writer_role);
        if (Status s = run(conn, "GRANT USAGE ON SCHEMA " + schema + " TO " + role +
                                     "; GRANT SELECT, INSERT, UPDATE, DELETE ON pat_head, pat_records, pat_changes, "
                                     "pat_usage, pat_sign_in_attempts TO " +
                                     role + "; GRANT USAGE ON SEQUENCE pat_sign_in_attempts_id_seq TO " + role +
                                     "; GRANT pg_read_all_stats TO " + role);
            !s.ok())
            return s;
        // Its statements' parameters are token digests and password hashes:
        // never in the server's log (log_statement). Setting it on a role
        // needs a superuser: without one, init says what to run.
        Result super = exec_plain(conn.raw(), "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
        if (super.tuples_ok() && super.rows() == 1 && super.text(0, 0) == "t") {
            if (Status s = run(conn, "ALTER ROLE " + role + " SET log_parameter_max_length = 0; ALTER ROLE " + role +
                                         " SET log_parameter_max_length_on_error = 0");
                !s.ok())
                return s;
        }
    }
    return Status::success();
}

std::string random_source_id() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
    return hex(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

// Sends every record of engine into the temporary table pat_import (n from
// 1 in (table, key) order), by COPY. Inside the caller's transaction.
Status copy_into_import(Connection& conn, kv::Engine& engine, std::uint64_t& count) {
    if (Status s = run(conn,
                       "CREATE TEMP TABLE pat_import (n bigint NOT NULL, tbl smallint NOT NULL, key bytea NOT NULL, "
                       "value bytea NOT NULL) ON COMMIT DROP");
        !s.ok())
        return s;
    Expected<std::unique_ptr<kv::Txn>> txn = engine.read();
    if (!txn.ok()) return rollback(conn, txn.status());
    Result start = exec_plain(conn.raw(), "COPY pat_import (n, tbl, key, value) FROM STDIN");
    if (start.status() != PGRES_COPY_IN) return rollback(conn, failed(conn, start));
    std::string buffer;
    bool send_failed = false;
    auto flush = [&] {
        if (!buffer.empty() && PQputCopyData(conn.raw(), buffer.data(), static_cast<int>(buffer.size())) != 1) {
            send_failed = true;
        }
        buffer.clear();
    };
    count = 0;
    std::string scan_failure;
    for (std::size_t t = 0; t < kv::kTableCount && !send_failed; ++t) {
        int rc = (*txn)->scan(static_cast<kv::Table>(t), "", [&](std::string_view key, std::string_view value) {
            ++count;
            buffer += std::to_string(count);
            buffer += '\t';
            buffer += std::to_string(t);
            buffer += '\t';
            append_copy_bytea(buffer, key);
            buffer += '\t';
            append_copy_bytea(buffer, value);
            buffer += '\n';
            if (buffer.size() >= (1u << 20)) flush();
            return !send_failed;
        });
        if (rc != kv::kOk && rc != kv::kNotFound) {
            scan_failure = "cannot read table " + std::string(kv::table_name(static_cast<kv::Table>(t))) + " of " +
                           engine.describe() + ": " + (*txn)->failure();
            break;
        }
    }
    flush();
    PQputCopyEnd(conn.raw(), scan_failure.empty() && !send_failed ? nullptr : "import abandoned");
    Result end(PQgetResult(conn.raw()));
    while (PGresult* more = PQgetResult(conn.raw())) PQclear(more);
    if (!scan_failure.empty()) return rollback(conn, Status(StatusCode::store_error, scan_failure));
    if (!end.command_ok()) return rollback(conn, failed(conn, end));
    return Status::success();
}

// Inside a transaction holding the head row (value head): makes pat_records
// exactly pat_import, logging each deletion and every imported record after
// head. Returns the new head.
Expected<std::uint64_t> apply_import(Connection& conn, std::uint64_t head, std::uint64_t count) {
    Params p1;
    p1.int8(static_cast<std::int64_t>(head));
    Result gone = exec_params(conn.raw(),
                              "WITH gone AS (DELETE FROM pat_records r WHERE NOT EXISTS (SELECT 1 FROM pat_import i "
                              "WHERE i.tbl = r.tbl AND i.key = r.key) RETURNING r.tbl, r.key) "
                              "INSERT INTO pat_changes (seq, tbl, key, value) "
                              "SELECT $1 + row_number() OVER (ORDER BY tbl, key), tbl, key, NULL FROM gone",
                              p1);
    if (!gone.command_ok()) return rollback(conn, failed(conn, gone));
    const std::uint64_t after_deletes = head + gone.affected();
    if (Status s = run(conn,
                       "INSERT INTO pat_records (tbl, key, value) SELECT tbl, key, value FROM pat_import "
                       "ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value");
        !s.ok())
        return s;
    Params p2;
    p2.int8(static_cast<std::int64_t>(after_deletes));
    Result changes = exec_params(conn.raw(),
                                 "INSERT INTO pat_changes (seq, tbl, key, value) "
                                 "SELECT $1 + n, tbl, key, value FROM pat_import",
                                 p2);
    if (!changes.command_ok()) return rollback(conn, failed(conn, changes));
    const std::uint64_t new_head = after_deletes + count;
    Params p3;
    p3.int8(static_cast<std::int64_t>(new_head));
    Result u = exec_params(conn.raw(), "UPDATE pat_head SET seq = $1", p3);
    if (!u.command_ok()) return rollback(conn, failed(conn, u));
    Params p4;
    p4.text(std::to_string(new_head));
    Result n = exec_params(conn.raw(), "SELECT pg_notify('pat_changes', $1)", p4);
    if (!n.tuples_ok()) return rollback(conn, failed(conn, n));
    return new_head;
}

// A temporary directory removed with everything in it.
struct TempDir {
    std::string path;
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/pat-fleet-XXXXXX";
        if (::mkdtemp(pattern.data()) != nullptr) path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        if (!path.empty()) std::filesystem::remove_all(path, ignored);
    }
};

Status commit(Connection& conn) {
    Result r = exec_plain(conn.raw(), "COMMIT");
    if (!r.command_ok() || std::string_view(PQcmdStatus(r.get())) != "COMMIT") {
        return store_failure(conn.describe(),
                             "commit failed, nothing was changed: " +
                                 (r.command_ok() ? std::string("rolled back") : pg_error(conn.raw(), r)));
    }
    return Status::success();
}

}  // namespace

Expected<InitResult> init_source(Connection& conn, const InitOptions& options) {
    for (const std::string* role : {&options.follower_role, &options.writer_role}) {
        if (!role->empty() && !valid_role_name(*role)) {
            return Status(StatusCode::invalid_argument,
                          "a role name is 1 to 63 characters from A-Z a-z 0-9 _ - . ('" + *role + "' is not)");
        }
    }
    const DeadlineFor no_client_deadline(0);  // as the server's statement_timeout (pg.hpp)
    if (Status s = run(conn, "BEGIN; SET LOCAL statement_timeout = 0"); !s.ok()) return s;
    // One initialiser at a time.
    if (Status s = run(conn, "SELECT pg_advisory_xact_lock(7365102)"); !s.ok()) return s;
    Expected<std::vector<std::string>> tables = existing_tables(conn);
    if (!tables.ok()) return rollback(conn, tables.status());
    InitResult result;
    if (tables->size() == 3) {
        Expected<SourceHead> head = read_head(conn);
        if (!head.ok()) return rollback(conn, head.status());
        result.source_id = head->source_id;
        result.head = head->seq;
        if (Status s = create_fleet_only_tables(conn); !s.ok()) return rollback(conn, s);
    } else if (!tables->empty()) {
        std::string list;
        for (const std::string& t : *tables) list += (list.empty() ? "" : ", ") + t;
        return rollback(conn, Status(StatusCode::store_error,
                                     "fleet source: " + conn.describe() + ": a half-made fleet schema (only " + list +
                                         " of pat_head, pat_records, pat_changes exist): drop them, then run "
                                         "patctl fleet init again"));
    } else {
        // The records of an empty store, exactly as Store::create writes them.
        TempDir dir;
        if (dir.path.empty())
            return rollback(conn, Status(StatusCode::store_error, "cannot make a temporary directory"));
        Expected<std::unique_ptr<Store>> empty = Store::create(dir.path + "/empty.db", kMinStoreSize * 4);
        if (!empty.ok()) return rollback(conn, empty.status());
        result.source_id = random_source_id();
        if (Status s = create_schema(conn, result.source_id); !s.ok()) return rollback(conn, s);
        std::uint64_t count = 0;
        if (Status s = copy_into_import(conn, (*empty)->engine(), count); !s.ok()) return s;
        Expected<std::uint64_t> head = apply_import(conn, 0, count);
        if (!head.ok()) return head.status();
        result.head = *head;
        result.created = true;
    }
    if (Status s = grant_roles(conn, options); !s.ok()) return s;
    if (Status s = commit(conn); !s.ok()) return s;
    return result;
}

Expected<ImportResult> import_store(Connection& conn, Store& store) {
    // A big store takes longer than the usual statement deadline.
    const DeadlineFor no_client_deadline(0);  // as the server's statement_timeout (pg.hpp)
    if (Status s = run(conn, "BEGIN; SET LOCAL statement_timeout = 0"); !s.ok()) return s;
    Expected<std::vector<std::string>> tables = existing_tables(conn);
    if (!tables.ok()) return rollback(conn, tables.status());
    if (tables->size() != 3) {
        return rollback(conn, Status(StatusCode::store_error, "fleet source: " + conn.describe() +
                                                                  ": not initialised (run patctl fleet init first)"));
    }
    Result head = exec_plain(conn.raw(), "SELECT seq FROM pat_head FOR UPDATE");
    if (!head.tuples_ok()) return rollback(conn, failed(conn, head));
    if (head.rows() != 1) {
        return rollback(conn, Status(StatusCode::store_error,
                                     "fleet source: " + conn.describe() + ": pat_head does not hold one row"));
    }
    const std::uint64_t seq = std::strtoull(PQgetvalue(head.get(), 0, 0), nullptr, 10);
    Result used = exec_plain(conn.raw(), "SELECT count(*) FROM pat_records WHERE tbl <> 0");
    if (!used.tuples_ok()) return rollback(conn, failed(conn, used));
    const std::uint64_t records = std::strtoull(PQgetvalue(used.get(), 0, 0), nullptr, 10);
    if (records != 0) {
        return rollback(conn, Status(StatusCode::refused, "fleet source: " + conn.describe() + " is not empty (" +
                                                              std::to_string(records) +
                                                              " records besides meta): import only into a new source"));
    }
    ImportResult result;
    if (Status s = copy_into_import(conn, store.engine(), result.records); !s.ok()) return s;
    Expected<std::uint64_t> new_head = apply_import(conn, seq, result.records);
    if (!new_head.ok()) return new_head.status();
    result.head = *new_head;
    if (Status s = commit(conn); !s.ok()) return s;
    return result;
}

Expected<std::uint64_t> prune_changes(Connection& conn, std::int64_t keep_seconds) {
    Params p;
    p.text(std::to_string(keep_seconds));
    Result r = exec_params(conn.raw(),
                           "DELETE FROM pat_changes WHERE committed_at < now() - make_interval(secs => $1::float8) "
                           "AND seq < (SELECT seq FROM pat_head)",
                           p, false);
    if (!r.command_ok()) return failed(conn, r);
    return r.affected();
}

Expected<LogRange> log_range(Connection& conn) {
    if (Status s = run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s.ok()) return s;
    Expected<SourceHead> head = read_head(conn);
    if (!head.ok()) return rollback(conn, head.status());
    Result r = exec_plain(conn.raw(),
                          "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), count(*), "
                          "(SELECT count(*) FROM pat_records) FROM pat_changes");
    if (!r.tuples_ok()) return rollback(conn, failed(conn, r));
    LogRange range;
    range.head = head->seq;
    range.source_id = head->source_id;
    range.min_seq = std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10);
    range.max_seq = std::strtoull(PQgetvalue(r.get(), 0, 1), nullptr, 10);
    range.rows = std::strtoull(PQgetvalue(r.get(), 0, 2), nullptr, 10);
    range.records = std::strtoull(PQgetvalue(r.get(), 0, 3), nullptr, 10);
    exec_plain(conn.raw(), "COMMIT");
    return range;
}

Status fetch_records(Connection& conn, const BatchVisitor& visit) {
    Result d = exec_plain(conn.raw(),
                          "DECLARE pat_snapshot BINARY NO SCROLL CURSOR FOR "
                          "SELECT tbl, key, value FROM pat_records ORDER BY tbl, key");
    if (!d.command_ok()) return failed(conn, d);
    const std::string fetch = "FETCH " + std::to_string(kFetchBatch) + " FROM pat_snapshot";
    for (;;) {
        Result batch = exec_plain(conn.raw(), fetch);
        if (!batch.tuples_ok()) return failed(conn, batch);
        const int rows = batch.rows();
        if (rows == 0) break;
        for (int i = 0; i < rows; ++i) {
            const std::int64_t t = batch.integer(i, 0);
            if (t < 0 || static_cast<std::size_t>(t) >= kv::kTableCount) {
                return Status(StatusCode::store_error, "fleet source: " + conn.describe() + ": a record of table " +
                                                           std::to_string(t) + ", which this version does not know");
            }
        }
        if (Status s = visit(batch, rows); !s.ok()) return s;
        if (rows < kFetchBatch) break;
    }
    Result c = exec_plain(conn.raw(), "CLOSE pat_snapshot");
    if (!c.command_ok()) return failed(conn, c);
    return Status::success();
}

RecordDigest::RecordDigest() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

RecordDigest::~RecordDigest() {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void RecordDigest::add(std::uint8_t table, std::string_view key, std::string_view value) {
    auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
    auto length = [&](std::size_t n) {
        unsigned char b[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                              static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
        EVP_DigestUpdate(ctx, b, 4);
    };
    EVP_DigestUpdate(ctx, &table, 1);
    length(key.size());
    EVP_DigestUpdate(ctx, key.data(), key.size());
    length(value.size());
    EVP_DigestUpdate(ctx, value.data(), value.size());
    ++records_;
}

std::string RecordDigest::hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &size);
    return fleet::hex(std::string_view(reinterpret_cast<const char*>(out), size));
}

Expected<Digest> source_digest(Connection& conn, std::uint64_t position) {
    if (Status s = run(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !s.ok()) return s;
    Expected<SourceHead> head = read_head(conn);
    if (!head.ok()) return rollback(conn, head.status());
    Digest digest;
    digest.position = head->seq;
    if (head->seq == position) {
        RecordDigest d;
        Status s = fetch_records(conn, [&](const Result& batch, int rows) {
            for (int i = 0; i < rows; ++i) {
                d.add(static_cast<std::uint8_t>(batch.integer(i, 0)), batch.bytes(i, 1), batch.bytes(i, 2));
            }
            return Status::success();
        });
        if (!s.ok()) return rollback(conn, s);
        digest.records = d.records();
        digest.sha256 = d.hex();
    }
    exec_plain(conn.raw(), "COMMIT");
    return digest;
}

Expected<Digest> store_digest(Store& store) {
    Expected<std::optional<ReplicaState>> state = store.replica_state();
    if (!state.ok()) return state.status();
    Expected<std::unique_ptr<kv::Txn>> txn = store.engine().read();
    if (!txn.ok()) return txn.status();
    Digest digest;
    digest.position = state->has_value() ? (*state)->position : 0;
    RecordDigest d;
    for (std::size_t t = 0; t < kv::kTableCount; ++t) {
        int rc = (*txn)->scan(static_cast<kv::Table>(t), "", [&](std::string_view key, std::string_view value) {
            d.add(static_cast<std::uint8_t>(t), key, value);
            return true;
        });
        if (rc != kv::kOk && rc != kv::kNotFound) {
            return Status(StatusCode::store_error, "cannot read table " +
                                                       std::string(kv::table_name(static_cast<kv::Table>(t))) + " of " +
                                                       store.path() + ": " + (*txn)->failure());
        }
    }
    digest.records = d.records();
    digest.sha256 = d.hex();
    return digest;
}

std::optional<std::int64_t> parse_duration(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::int64_t unit = 1;
    std::string_view digits = text;
    switch (text.back()) {
        case 'd':
            unit = 86400;
            digits.remove_suffix(1);
            break;
        case 'h':
            unit = 3600;
            digits.remove_suffix(1);
            break;
        case 'm':
            unit = 60;
            digits.remove_suffix(1);
            break;
        case 's':
            unit = 1;
            digits.remove_suffix(1);
            break;
        default: break;
    }
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    std::int64_t n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    return n * unit;
}

}  // namespace pat::fleet
