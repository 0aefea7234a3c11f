// The CONNFILE and connections with deadlines (pat/fleet.hpp).

#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "pat/fleet.hpp"
#include "pg.hpp"

namespace pat::fleet {

namespace {

// Deadlines (docs/fleet.md#deadlines).
constexpr const char* kConnectTimeoutS = "3";
constexpr const char* kTcpUserTimeoutMs = "5000";
constexpr int kStatementTimeoutMs = 5000;
constexpr int kLockTimeoutMs = 5000;

std::string trim(std::string s) {
    auto space = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && space(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && space(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

// host=… port=… dbname=… user=… of a connection string or a connection.
std::string describe_parts(const std::string& host, const std::string& port, const std::string& db,
                           const std::string& user) {
    std::string out = "host=" + (host.empty() ? std::string("(default)") : host);
    if (!port.empty()) out += " port=" + port;
    if (!db.empty()) out += " dbname=" + db;
    if (!user.empty()) out += " user=" + user;
    return out;
}

std::string describe_conninfo(const std::string& conninfo) {
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &err);
    if (err != nullptr) PQfreemem(err);
    if (options == nullptr) return "the fleet source";
    std::string host, port, db, user;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (o->val == nullptr) continue;
        std::string_view k = o->keyword;
        if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
        if (k == "port") port = o->val;
        if (k == "dbname") db = o->val;
        if (k == "user") user = o->val;
    }
    PQconninfoFree(options);
    return describe_parts(host, port, db, user);
}

}  // namespace

Expected<std::string> read_connfile(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return Status(StatusCode::invalid_argument,
                      "cannot read the connection file " + path + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return Status(StatusCode::invalid_argument, "the connection file " + path + " is not a regular file");
    }
    if ((st.st_mode & S_IROTH) != 0) {
        return Status(
            StatusCode::invalid_argument, "the connection file " + path + " is readable by every user (mode " + [&] {
                char b[8];
                std::snprintf(b, sizeof b, "%04o", st.st_mode & 07777);
                return std::string(b);
            }() + "): it may name a password; chmod o-rwx it (0640 or 0600)");
    }
    std::ifstream in(path);
    if (!in) {
        return Status(StatusCode::invalid_argument,
                      "cannot read the connection file " + path + ": " + std::strerror(errno));
    }
    std::string line;
    std::string found;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        found = line;
        break;
    }
    if (found.empty()) {
        return Status(StatusCode::invalid_argument, "the connection file " + path +
                                                        " holds no connection string (host=... dbname=... or "
                                                        "postgresql://...)");
    }
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(found.c_str(), &err);
    if (options == nullptr) {
        // libpq's message may quote part of the string (a password): not shown.
        if (err != nullptr) PQfreemem(err);
        return Status(StatusCode::invalid_argument,
                      "the connection file " + path + " does not hold a valid libpq connection string");
    }
    PQconninfoFree(options);
    return found;
}

Expected<std::unique_ptr<Connection>> Connection::open(const std::string& conninfo, std::string_view application_name,
                                                       Purpose purpose) {
    // Ours first, the string's after (a later keyword wins: the string may
    // set its own connect_timeout), the application name last.
    std::string app(application_name.substr(0, 63));
    const char* keys[] = {"connect_timeout", "tcp_user_timeout",    "keepalives",
                          "keepalives_idle", "keepalives_interval", "keepalives_count",
                          "dbname",          "application_name",    nullptr};
    const char* values[] = {kConnectTimeoutS, kTcpUserTimeoutMs, "1",    "5", "1", "3",
                            conninfo.c_str(), app.c_str(),       nullptr};
    // Asynchronously, polled: the connect timeout holds for the whole
    // connection (a frozen server accepts TCP and answers nothing), and a
    // stop flag (StopWhen) ends the wait within ~100 ms.
    PGconn* conn = PQconnectStartParams(keys, values, 1);
    if (conn == nullptr) {
        return Status(StatusCode::store_error, "fleet source: out of memory");
    }
    std::string failure;
    if (PQstatus(conn) != CONNECTION_BAD) {
        int timeout_s = std::atoi(kConnectTimeoutS);
        if (PQconninfoOption* used = PQconninfo(conn)) {
            for (PQconninfoOption* o = used; o->keyword != nullptr; ++o) {
                if (std::string_view(o->keyword) == "connect_timeout" && o->val != nullptr && std::atoi(o->val) > 0) {
                    timeout_s = std::max(2, std::atoi(o->val));
                }
            }
            PQconninfoFree(used);
        }
        using Clock = std::chrono::steady_clock;
        const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
        PostgresPollingStatusType polling = PGRES_POLLING_WRITING;
        while (polling != PGRES_POLLING_OK && polling != PGRES_POLLING_FAILED) {
            if (stop_requested()) {
                failure = "stopped while connecting";
                break;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) {
                failure = "no answer within " + std::to_string(timeout_s) + " s (connect timeout)";
                break;
            }
            pollfd pfd{PQsocket(conn), static_cast<short>(polling == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
            if (pfd.fd < 0) break;
            const int rc = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 100)));
            if (rc == 0 || (rc < 0 && errno == EINTR)) continue;
            polling = PQconnectPoll(conn);
        }
    }
    if (failure.empty() && PQstatus(conn) != CONNECTION_OK) failure = pg_error(conn);
    if (!failure.empty()) {
        std::string message = "cannot connect to the fleet source (" + describe_conninfo(conninfo) + "): " + failure;
        PQfinish(conn);
        return Status(StatusCode::store_error, message);
    }
    auto str = [](const char* s) { return std::string(s == nullptr ? "" : s); };
    std::unique_ptr<Connection> c(
        new Connection(conn, describe_parts(str(PQhost(conn)), str(PQport(conn)), str(PQdb(conn)), str(PQuser(conn)))));
    std::string set = "SET statement_timeout = " + std::to_string(kStatementTimeoutMs);
    if (purpose == Purpose::writer) set += "; SET lock_timeout = " + std::to_string(kLockTimeoutMs);
    // A transaction left open by a stuck client must not hold the head row.
    set += "; SET idle_in_transaction_session_timeout = 60000";
    // Keys and records (token digests, password hashes) are parameters: a
    // server logging statements (log_statement) must not log their values.
    // Only a superuser may set this here; fleet init sets it on the writer
    // role (ALTER ROLE ... SET), docs/fleet.md#roles.
    const char* superuser = PQparameterStatus(conn, "is_superuser");
    if (superuser != nullptr && std::string_view(superuser) == "on") set += "; SET log_parameter_max_length = 0";
    if (Status s = c->exec(set); !s.ok()) return s;
    return c;
}

Expected<std::unique_ptr<Connection>> Connection::open_connfile(const std::string& connfile,
                                                                std::string_view application_name, Purpose purpose) {
    Expected<std::string> conninfo = read_connfile(connfile);
    if (!conninfo.ok()) return conninfo.status();
    return open(*conninfo, application_name, purpose);
}

Connection::~Connection() {
    PQfinish(conn_);
}

Status Connection::exec(const std::string& sql) {
    Result r = exec_plain(conn_, sql);
    if (!r.command_ok() && !r.tuples_ok()) {
        return store_failure(describe_, pg_error(conn_, r));
    }
    return Status::success();
}

Status Connection::set_application_name(std::string_view name) {
    Params p;
    p.text(name.substr(0, 63));
    Result r = exec_params(conn_, "SELECT set_config('application_name', $1, false)", p, false);
    if (!r.tuples_ok()) return store_failure(describe_, pg_error(conn_, r));
    return Status::success();
}

bool Connection::usable() const {
    return PQstatus(conn_) == CONNECTION_OK;
}

Expected<SourceHead> read_head(Connection& conn) {
    Result r = exec_plain(conn.raw(), "SELECT seq, source_id FROM pat_head");
    if (!r.tuples_ok()) return store_failure(conn.describe(), pg_error(conn.raw(), r));
    if (r.rows() != 1) {
        return Status(StatusCode::store_error,
                      "fleet source: " + conn.describe() + ": pat_head does not hold one row (run patctl fleet init)");
    }
    SourceHead head;
    head.seq = std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10);
    head.source_id = r.text(0, 1);
    return head;
}

Expected<std::vector<NodePosition>> fleet_nodes(Connection& conn) {
    Result r = exec_plain(conn.raw(),
                          "SELECT application_name, coalesce(host(client_addr), ''), "
                          "(extract(epoch FROM backend_start) * 1000)::bigint "
                          "FROM pg_stat_activity WHERE application_name LIKE 'nginx-pat-follower %' "
                          "AND datname = current_database() ORDER BY application_name");
    if (!r.tuples_ok()) return store_failure(conn.describe(), pg_error(conn.raw(), r));
    std::vector<NodePosition> nodes;
    for (int i = 0; i < r.rows(); ++i) {
        std::string app = r.text(i, 0);
        std::string rest = app.substr(kFollowerAppPrefix.size());
        std::size_t space = rest.rfind(' ');
        if (space == std::string::npos || space == 0) continue;
        NodePosition node;
        node.node = rest.substr(0, space);
        std::string seq = rest.substr(space + 1);
        if (seq.empty() || !std::all_of(seq.begin(), seq.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            continue;
        }
        node.position = std::strtoull(seq.c_str(), nullptr, 10);
        node.client_addr = r.text(i, 1);
        node.backend_start_ms = std::strtoll(PQgetvalue(r.get(), i, 2), nullptr, 10);
        nodes.push_back(std::move(node));
    }
    return nodes;
}

std::size_t nodes_at(const std::vector<NodePosition>& nodes, std::uint64_t seq) {
    return static_cast<std::size_t>(
        std::count_if(nodes.begin(), nodes.end(), [seq](const NodePosition& n) { return n.position >= seq; }));
}

}  // namespace pat::fleet
