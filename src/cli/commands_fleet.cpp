// patctl fleet init|import|prune|status|verify: thin calls into src/fleet
// (docs/fleet.md).

#include <cstdlib>
#include <thread>

#include "../fleet/admin.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "json.hpp"
#include "output.hpp"
#include "pat/fleet.hpp"
#include "render.hpp"

namespace patctl {

namespace {

const std::string& connfile_of(const Invocation& invocation) {
    const std::string* source = invocation.args.value("source");
    if (source == nullptr) usage_error("--source CONNFILE is required (a file holding a libpq connection string)");
    return *source;
}

std::unique_ptr<pat::fleet::Connection> connect(const Invocation& invocation, pat::fleet::Purpose purpose) {
    return take(pat::fleet::Connection::open_connfile(connfile_of(invocation), "nginx-pat-patctl", purpose));
}

std::string seq_text(std::uint64_t seq) {
    return std::to_string(seq);
}

}  // namespace

int run_fleet_init(const Invocation& invocation) {
    pat::fleet::InitOptions options;
    if (const std::string* r = invocation.args.value("follower-role")) options.follower_role = *r;
    if (const std::string* r = invocation.args.value("writer-role")) options.writer_role = *r;
    auto conn = connect(invocation, pat::fleet::Purpose::writer);
    const pat::fleet::InitResult result = take(pat::fleet::init_source(*conn, options));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object()
            .field("source", conn->describe())
            .field("created", result.created)
            .field("source_id", result.source_id)
            .field("head", static_cast<std::int64_t>(result.head))
            .end_object();
        print_json(json);
    } else {
        print_line(std::string(result.created ? "initialised" : "already initialised:") + " the fleet source " +
                   printable(conn->describe()) + " (source id " + result.source_id + ", head " + seq_text(result.head) +
                   ")");
        if (!options.follower_role.empty()) print_line("follower role " + options.follower_role + ": SELECT only");
        if (!options.writer_role.empty()) {
            print_line("writer role " + options.writer_role + ": SELECT, INSERT, UPDATE, DELETE, pg_read_all_stats");
        }
    }
    return kExitOk;
}

int run_fleet_import(const Invocation& invocation) {
    const std::string& connfile = connfile_of(invocation);
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    if (store->schema_version() != pat::kSchemaVersion) {
        failure("the store " + printable(store->path()) + " has schema " + std::to_string(store->schema_version()) +
                ": upgrade it first (any patctl command that writes, e.g. patctl audit prune --older-than 36500)");
    }
    auto conn = take(pat::fleet::Connection::open_connfile(connfile, "nginx-pat-patctl", pat::fleet::Purpose::writer));
    const pat::fleet::ImportResult result = take(pat::fleet::import_store(*conn, *store));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object()
            .field("store", store->path())
            .field("source", conn->describe())
            .field("records", static_cast<std::int64_t>(result.records))
            .field("head", static_cast<std::int64_t>(result.head))
            .end_object();
        print_json(json);
    } else {
        print_line("imported " + std::to_string(result.records) + " records of " + printable(store->path()) +
                   " into the fleet source " + printable(conn->describe()) + " (head " + seq_text(result.head) + ")");
    }
    return kExitOk;
}

int run_fleet_prune(const Invocation& invocation) {
    const std::string* keep = invocation.args.value("keep");
    if (keep == nullptr) usage_error("--keep DURATION is required (e.g. 7d, 12h, 30m)");
    const std::optional<std::int64_t> seconds = pat::fleet::parse_duration(*keep);
    if (!seconds) {
        usage_error("invalid --keep '" + printable(*keep) + "': expected a whole number with d, h, m or s (7d)");
    }
    auto conn = connect(invocation, pat::fleet::Purpose::writer);
    const std::uint64_t pruned = take(pat::fleet::prune_changes(*conn, *seconds));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("pruned", static_cast<std::int64_t>(pruned)).field("keep", *keep).end_object();
        print_json(json);
    } else {
        print_line("pruned " + std::to_string(pruned) + " change-log rows older than " + printable(*keep));
    }
    return kExitOk;
}

int run_fleet_status(const Invocation& invocation) {
    auto conn = connect(invocation, pat::fleet::Purpose::reader);
    const pat::fleet::LogRange range = take(pat::fleet::log_range(*conn));
    const std::vector<pat::fleet::NodePosition> nodes = take(pat::fleet::fleet_nodes(*conn));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object()
            .field("source", conn->describe())
            .field("source_id", range.source_id)
            .field("head", static_cast<std::int64_t>(range.head))
            .field("records", static_cast<std::int64_t>(range.records));
        json.key("log")
            .begin_object()
            .field("min_seq", static_cast<std::int64_t>(range.min_seq))
            .field("max_seq", static_cast<std::int64_t>(range.max_seq))
            .field("rows", static_cast<std::int64_t>(range.rows))
            .end_object();
        json.key("nodes").begin_array();
        for (const auto& node : nodes) {
            json.begin_object()
                .field("node", node.node)
                .field("position", static_cast<std::int64_t>(node.position))
                .field("lag", static_cast<std::int64_t>(range.head > node.position ? range.head - node.position : 0))
                .field("address", node.client_addr)
                .field("connected_ms", node.backend_start_ms)
                .end_object();
        }
        json.end_array().end_object();
        print_json(json);
        return kExitOk;
    }
    print_line("source: " + printable(conn->describe()) + " (source id " + range.source_id + ")");
    print_line("head: " + seq_text(range.head) + ", records: " + std::to_string(range.records));
    if (range.rows == 0) {
        print_line("change log: empty");
    } else {
        print_line("change log: seq " + seq_text(range.min_seq) + ".." + seq_text(range.max_seq) + " (" +
                   std::to_string(range.rows) + " rows)");
    }
    if (nodes.empty()) {
        print_line("nodes: none connected");
        return kExitOk;
    }
    Table table({"NODE", "POSITION", "LAG", "ADDRESS", "CONNECTED"});
    for (const auto& node : nodes) {
        table.add_row({node.node, seq_text(node.position),
                       std::to_string(range.head > node.position ? range.head - node.position : 0),
                       node.client_addr.empty() ? "local" : node.client_addr, format_time_utc(node.backend_start_ms)});
    }
    print_text(table.render());
    return kExitOk;
}

int run_fleet_verify(const Invocation& invocation) {
    const std::string& connfile = connfile_of(invocation);
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    const std::optional<pat::ReplicaState> state = take(store->replica_state());
    if (!state) failure(printable(store->path()) + " is not a fleet replica (no replica state)");
    auto conn = take(pat::fleet::Connection::open_connfile(connfile, "nginx-pat-patctl", pat::fleet::Purpose::reader));
    // The follower may apply between reading the position and the records:
    // read again until both agree.
    pat::fleet::Digest replica;
    for (int attempt = 0;; ++attempt) {
        const std::optional<pat::ReplicaState> before = take(store->replica_state());
        replica = take(pat::fleet::store_digest(*store));
        const std::optional<pat::ReplicaState> after = take(store->replica_state());
        if (before && after && before->position == after->position) {
            replica.position = after->position;
            break;
        }
        if (attempt == 20) failure("the replica kept changing while it was read; try again");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const pat::fleet::Digest source = take(pat::fleet::source_digest(*conn, replica.position));
    const bool same_position = source.position == replica.position;
    const bool identical = same_position && source.sha256 == replica.sha256;
    if (invocation.json) {
        JsonWriter json;
        json.begin_object();
        json.key("replica")
            .begin_object()
            .field("path", store->path())
            .field("position", static_cast<std::int64_t>(replica.position))
            .field("records", static_cast<std::int64_t>(replica.records))
            .field("sha256", replica.sha256)
            .end_object();
        json.key("source")
            .begin_object()
            .field("source", conn->describe())
            .field("position", static_cast<std::int64_t>(source.position));
        if (same_position) {
            json.field("records", static_cast<std::int64_t>(source.records)).field("sha256", source.sha256);
        }
        json.end_object().field("identical", identical).end_object();
        print_json(json);
    } else {
        print_line("replica " + printable(store->path()) + " at seq " + seq_text(replica.position) + ": sha256 " +
                   replica.sha256 + " (" + std::to_string(replica.records) + " records)");
        if (same_position) {
            print_line("source  " + printable(conn->describe()) + " at seq " + seq_text(source.position) + ": sha256 " +
                       source.sha256 + " (" + std::to_string(source.records) + " records)");
            print_line(identical ? "identical" : "DIFFERENT");
        } else {
            print_line("source  " + printable(conn->describe()) + " at seq " + seq_text(source.position) +
                       ": the positions differ (the replica is " +
                       (source.position > replica.position ? "behind" : "ahead of the source") +
                       "); run verify again when they agree");
        }
    }
    return identical ? kExitOk : kExitFailed;
}

}  // namespace patctl
