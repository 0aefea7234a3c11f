// Fleet mode's PostgreSQL side (docs/fleet.md), for patctl and patd: the
// CONNFILE, a connection with deadlines, the source store over the
// PostgreSQL engine, and the nodes' positions.
//
// Linked by patctl, patd and the unit tests (-lpq); never by the nginx
// module: workers never hold database credentials.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pat/status.hpp"

typedef struct pg_conn PGconn;  // libpq's handle (libpq-fe.h)

namespace pat {

class Store;

namespace fleet {

// The NOTIFY channel writers signal after each commit (payload: the head's
// seq only) and followers LISTEN on.
inline constexpr std::string_view kNotifyChannel = "pat_changes";
// What a follower's application_name starts with: "nginx-pat-follower NODE SEQ".
inline constexpr std::string_view kFollowerAppPrefix = "nginx-pat-follower ";

// Reads a CONNFILE: one libpq connection string (key=value words or a
// postgresql:// URI) on its first non-empty, non-# line. Refuses a missing or
// unreadable file, an empty one, and one others may read (mode & 0004): it
// may name a password or a passfile. Messages never quote the string.
Expected<std::string> read_connfile(const std::string& path);

// What a connection is for: writers also get a statement and lock timeout
// on every statement; the follower's reads get the statement timeout.
enum class Purpose : std::uint8_t { reader, writer, follower };

// One libpq connection with deadlines: connect_timeout 3 s (unless the
// string sets it), tcp_user_timeout 5 s, keepalives (idle 5 s, interval 1 s,
// count 3), statement_timeout 5 s, lock_timeout 5 s (writers).
class Connection {
   public:
    static Expected<std::unique_ptr<Connection>> open(const std::string& conninfo, std::string_view application_name,
                                                      Purpose purpose);
    // read_connfile + open.
    static Expected<std::unique_ptr<Connection>> open_connfile(const std::string& connfile,
                                                               std::string_view application_name, Purpose purpose);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    PGconn* raw() { return conn_; }
    // "host=H port=P dbname=D user=U" (no password), for messages.
    const std::string& describe() const { return describe_; }
    // Runs a statement without parameters or results (SET, BEGIN, COMMIT...).
    Status exec(const std::string& sql);
    // SET application_name (the follower's position report).
    Status set_application_name(std::string_view name);
    // Whether the connection is still usable (CONNECTION_OK).
    bool usable() const;

   private:
    Connection(PGconn* conn, std::string describe) : conn_(conn), describe_(std::move(describe)) {}
    PGconn* conn_;
    std::string describe_;
};

// The source's head (pat_head.seq) and identity.
struct SourceHead {
    std::uint64_t seq = 0;
    std::string source_id;
};
Expected<SourceHead> read_head(Connection& conn);

// A live follower as pg_stat_activity shows it (application_name
// "nginx-pat-follower NODE SEQ"). Reading other roles' sessions needs
// pg_read_all_stats (fleet init grants it to the writer role).
struct NodePosition {
    std::string node;
    std::uint64_t position = 0;
    std::string client_addr;  // empty for a Unix socket
    std::int64_t backend_start_ms = 0;
};
Expected<std::vector<NodePosition>> fleet_nodes(Connection& conn);
// How many of nodes are at or past seq (X-Pat-Replicated: N/M).
std::size_t nodes_at(const std::vector<NodePosition>& nodes, std::uint64_t seq);

// A Store over the PostgreSQL engine of the source a CONNFILE names
// (writers' purpose): the same rules as a single-host store; after a
// successful change, store.engine().last_committed_position() is its seq.
Expected<std::unique_ptr<Store>> open_source_store(const std::string& connfile,
                                                   std::string_view application_name = "nginx-pat");

}  // namespace fleet
}  // namespace pat
