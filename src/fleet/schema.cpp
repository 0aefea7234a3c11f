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
    "CREATE INDEX pat_changes_committed_at ON pat_changes (committed_at);"
    "CREATE TABLE IF NOT EXISTS pat_usage ("
    "  token_id text PRIMARY KEY,"
    "  last_used_ms bigint NOT NULL,"
    "  address text NOT NULL DEFAULT '');";

}  // namespace

Status create_schema(Connection& conn, const std::string& source_id) {
    Result r = exec_plain(conn.raw(), kSchemaSql);
    if (!r.command_ok()) return store_failure(conn.describe(), pg_error(conn.raw(), r));
    Params p;
    p.text(source_id);
    Result ins = exec_params(conn.raw(), "INSERT INTO pat_head (seq, source_id) VALUES (0, $1)", p);
    if (!ins.command_ok()) return store_failure(conn.describe(), pg_error(conn.raw(), ins));
    return Status::success();
}

}  // namespace pat::fleet
