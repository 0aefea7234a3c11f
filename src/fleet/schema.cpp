// The fleet source's tables (docs/fleet.md#schema).

#include "admin.hpp"

namespace pat::fleet {

namespace {

constexpr const char* kSchemaSql =
    "CREATE TABLE pat_head ("
    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    "  seq bigint NOT NULL CHECK (seq >= 0),"
    "  source_id text NOT NULL);"
    "CREATE TABLE pat_records ("
    "  tbl smallint NOT NULL,"
    "  key bytea NOT NULL,"
    "  value bytea NOT NULL,"
    "  PRIMARY KEY (tbl, key));"
    "CREATE TABLE pat_changes ("
    "  seq bigint PRIMARY KEY,"
    "  tbl smallint NOT NULL,"
    "  key bytea NOT NULL,"
    "  value bytea,"
    "  committed_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX pat_changes_committed_at ON pat_changes (committed_at);";

// Fleet-only tables (not replicated): made by every init when missing, so
// that a source made by an older init gets them.
constexpr const char* kFleetOnlySql =
    "CREATE TABLE IF NOT EXISTS pat_usage ("
    "  token_id text PRIMARY KEY,"
    "  last_used_ms bigint NOT NULL,"
    "  address text NOT NULL DEFAULT '');"
    // patd's fleet-wide password-failure throttle (src/patd): user names and
    // address keys only, never a password or a token; rows expire in minutes.
    "CREATE TABLE IF NOT EXISTS pat_sign_in_attempts ("
    "  id bigserial PRIMARY KEY,"
    "  key bytea NOT NULL,"
    "  at_ms bigint NOT NULL,"
    "  pending boolean NOT NULL);"
    "CREATE INDEX IF NOT EXISTS pat_sign_in_attempts_key ON pat_sign_in_attempts (key, at_ms);";

}  // namespace

Status create_fleet_only_tables(Connection& conn) {
    Result r = exec_plain(conn.raw(), kFleetOnlySql);
    if (!r.command_ok()) return store_failure(conn.describe(), pg_error(conn.raw(), r));
    return Status::success();
}

Status create_schema(Connection& conn, const std::string& source_id) {
    Result r = exec_plain(conn.raw(), kSchemaSql);
    if (!r.command_ok()) return store_failure(conn.describe(), pg_error(conn.raw(), r));
    if (Status s = create_fleet_only_tables(conn); !s.ok()) return s;
    Params p;
    p.text(source_id);
    Result ins = exec_params(conn.raw(), "INSERT INTO pat_head (seq, source_id) VALUES (0, $1)", p);
    if (!ins.command_ok()) return store_failure(conn.describe(), pg_error(conn.raw(), ins));
    return Status::success();
}

}  // namespace pat::fleet
