#include "follower.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "../core/store/records.hpp"
#include "admin.hpp"
#include "pat/kv.hpp"
#include "pat/replica.hpp"
#include "pg.hpp"

namespace pat::fleet {

namespace {

// More changes than this behind: a snapshot is cheaper than the log (and
// the changes are applied in one LMDB write, held in memory meanwhile).
constexpr std::uint64_t kMaxBacklog = 500'000;
constexpr std::size_t kRebuildBatch = 10'000;
constexpr std::int64_t kRestoreWaitMs = 2'000;
// Reconnecting: 100 ms, doubling, at most this (a restarted source is
// followed again within about half a second of accepting connections).
constexpr int kMaxBackoffMs = 500;

struct Change {
    std::uint64_t seq;
    kv::Table table;
    std::string key;
    std::optional<std::string> value;
};

void remove_beside(const std::string& path) {
    ::unlink(path.c_str());
    ::unlink((path + "-lock").c_str());
    ::unlink((path + "-usage").c_str());
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// Whether a record of table decodes as the store's rules will read it
// (the tables whose records have a format; the others hold empty values,
// digests or rules-internal bytes the store checks itself).
bool record_decodes(kv::Table table, std::string_view value) {
    switch (table) {
        case kv::Table::users: return records::decode_user(value).has_value();
        case kv::Table::tokens: return records::decode_token(value).has_value();
        case kv::Table::groups: return records::decode_group(value).has_value();
        case kv::Table::everyone: return records::decode_everyone(value).has_value();
        case kv::Table::grants:
        case kv::Table::group_grants:
        case kv::Table::effective: return records::decode_level(value).has_value();
        case kv::Table::token_ids: return value.size() == 32;  // a SHA-256 digest
        default: return true;
    }
}

}  // namespace

bool valid_node_name(std::string_view name) {
    if (name.empty() || name.size() > 40) return false;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

Follower::Follower(FollowerOptions options, Log log) : options_(std::move(options)), log_(std::move(log)) {
    Expected<std::array<std::uint8_t, 16>> boot = current_boot_id();
    if (boot.ok()) boot_id_ = *boot;
}

Follower::~Follower() = default;

static std::string app_name(const std::string& node, std::uint64_t seq) {
    return std::string(kFollowerAppPrefix) + node + " " + std::to_string(seq);
}

Status Follower::connect() {
    Expected<std::unique_ptr<Connection>> conn =
        Connection::open(options_.conninfo, app_name(options_.node, position_), Purpose::follower);
    if (!conn.ok()) return conn.status();
    if (Status s = (*conn)->exec("LISTEN pat_changes"); !s.ok()) return s;
    conn_ = std::move(*conn);
    reported_ = position_;
    log_("connected to " + conn_->describe());
    return Status::success();
}

void Follower::drop_connection(const std::string& why) {
    if (conn_ != nullptr) log_("connection to the source dropped: " + why);
    conn_.reset();
}

Status Follower::open_replica() {
    store_.reset();
    Expected<std::unique_ptr<Store>> store = Store::open(options_.db_path, Store::Mode::read_write);
    if (!store.ok()) return store.status();
    Expected<std::optional<ReplicaState>> state = (*store)->replica_state();
    if (!state.ok()) return state.status();
    if (!state->has_value()) {
        return Status(StatusCode::refused, options_.db_path +
                                               " is a single-host store, not a fleet replica: the follower will "
                                               "not replace it (move it away, or import it with patctl fleet import)");
    }
    // Just after a swap the lock file may still describe the old file
    // while nginx's workers let go of it: never write through a stale view
    // (the next synchronisation tries again).
    if (Status s = (*store)->check_lock_region(); !s.ok()) return s;
    struct stat st {};
    if (::stat(options_.db_path.c_str(), &st) != 0) {
        return Status(StatusCode::store_error, options_.db_path + " disappeared");
    }
    replica_inode_ = st.st_ino;
    replica_device_ = st.st_dev;
    position_ = (*state)->position;
    store_ = std::move(*store);
    return Status::success();
}

Status Follower::sync_once() {
    if (conn_ == nullptr) {
        if (Status s = connect(); !s.ok()) return s;
    }
    Result begin = exec_plain(conn_->raw(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!begin.command_ok()) {
        Status s = store_failure(conn_->describe(), pg_error(conn_->raw(), begin));
        drop_connection(s.message());
        return s;
    }
    // The snapshot is taken by the transaction's first query (the head's):
    // "verified at" is the moment before it was sent.
    const std::int64_t boot_ns = boottime_ns();
    const std::int64_t wall_ms = now_ms();
    Status status;
    Expected<SourceHead> head = read_head(*conn_);
    if (!head.ok()) {
        status = head.status();
    } else {
        status = sync_in_transaction(*head, boot_ns, wall_ms);
    }
    Result end = exec_plain(conn_->raw(), status.ok() ? "COMMIT" : "ROLLBACK");
    if (!conn_->usable()) {
        drop_connection(status.ok() ? pg_error(conn_->raw()) : status.message());
        return status.ok() ? Status(StatusCode::store_error, "the connection to the source broke") : status;
    }
    if (!status.ok()) return status;
    if (position_ != reported_) {
        if (Status s = conn_->set_application_name(app_name(options_.node, position_)); s.ok()) {
            reported_ = position_;
        }
    }
    return Status::success();
}

Expected<std::int64_t> Follower::change_mark(std::uint64_t seq) {
    if (seq == 0) return std::int64_t{0};
    Params p;
    p.int8(static_cast<std::int64_t>(seq));
    Result r = exec_params(
        conn_->raw(), "SELECT (extract(epoch FROM committed_at) * 1000000)::int8 FROM pat_changes WHERE seq = $1", p);
    if (!r.tuples_ok()) return store_failure(conn_->describe(), pg_error(conn_->raw(), r));
    return r.rows() == 1 ? r.integer(0, 0) : std::int64_t{0};  // pruned: checked from the next change on
}

Status Follower::sync_in_transaction(const SourceHead& head, std::int64_t boot_ns, std::int64_t wall_ms) {
    if (store_ != nullptr) {
        // Removed or replaced behind the follower's back: let go of it.
        struct stat st {};
        if (::stat(options_.db_path.c_str(), &st) != 0 || st.st_ino != replica_inode_ || st.st_dev != replica_device_) {
            log_(options_.db_path + " was removed or replaced: opening it again");
            store_.reset();
        }
    }
    if (store_ == nullptr) {
        if (!exists(options_.db_path)) return rebuild(head, "no replica yet", boot_ns, wall_ms);
        if (Status s = open_replica(); !s.ok()) return s;
    }
    Expected<std::optional<ReplicaState>> current = store_->replica_state();
    if (!current.ok()) return current.status();
    if (!current->has_value()) return Status(StatusCode::refused, options_.db_path + " lost its replica state");
    const ReplicaState& was = **current;
    position_ = was.position;
    if (was.source_id != head.source_id) {
        return rebuild(head,
                       "the replica follows another source (" + was.source_id + ", this one is " + head.source_id + ")",
                       boot_ns, wall_ms);
    }
    if (head.seq < was.position) {
        return rebuild(head,
                       "the source's head " + std::to_string(head.seq) + " is behind the replica's position " +
                           std::to_string(was.position) + " (a restored backup or a failover that lost commits)",
                       boot_ns, wall_ms);
    }
    if (head.seq - was.position > kMaxBacklog) {
        return rebuild(head, std::to_string(head.seq - was.position) + " changes behind", boot_ns, wall_ms);
    }
    std::vector<Change> changes;
    // The change at the replica's own position is read too: its commit time
    // must be the one applied (position_mark), or the source's history was
    // rewritten past it (a restored backup or a failover that lost commits,
    // whose new writes have taken the head past the position again).
    std::int64_t mark = was.position_mark;
    if (was.position > 0 || head.seq > was.position) {
        Params p;
        p.int8(static_cast<std::int64_t>(was.position)).int8(static_cast<std::int64_t>(head.seq));
        Result r = exec_params(conn_->raw(),
                               "SELECT seq, tbl, key, value, (extract(epoch FROM committed_at) * 1000000)::int8 "
                               "FROM pat_changes WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
                               p);
        if (!r.tuples_ok()) return store_failure(conn_->describe(), pg_error(conn_->raw(), r));
        const int rows = r.rows();
        int first = 0;  // the first row to apply
        if (was.position > 0) {
            if (rows == 0 || static_cast<std::uint64_t>(r.integer(0, 0)) != was.position) {
                return rebuild(
                    head,
                    "the change log no longer reaches back to position " + std::to_string(was.position) + " (pruned)",
                    boot_ns, wall_ms);
            }
            const std::int64_t at_position = r.integer(0, 4);
            if (was.position_mark != 0 && at_position != was.position_mark) {
                return rebuild(head,
                               "the source's change at seq " + std::to_string(was.position) +
                                   " is not the one this replica applied (a restored backup or a failover that lost "
                                   "commits, written past it again)",
                               boot_ns, wall_ms);
            }
            mark = at_position;
            first = 1;
        }
        if (head.seq > was.position &&
            (rows <= first || static_cast<std::uint64_t>(r.integer(first, 0)) != was.position + 1)) {
            return rebuild(
                head, "the change log no longer reaches back to position " + std::to_string(was.position) + " (pruned)",
                boot_ns, wall_ms);
        }
        changes.reserve(static_cast<std::size_t>(rows - first));
        for (int i = first; i < rows; ++i) {
            const auto seq = static_cast<std::uint64_t>(r.integer(i, 0));
            if (seq != was.position + 1 + static_cast<std::uint64_t>(i - first)) {
                return Status(StatusCode::store_error, "fleet source: a gap in the change log at seq " +
                                                           std::to_string(was.position + 1 + (i - first)) + " (found " +
                                                           std::to_string(seq) + "); nothing applied");
            }
            mark = r.integer(i, 4);
            const std::int64_t t = r.integer(i, 1);
            if (t < 0 || static_cast<std::size_t>(t) >= kv::kTableCount) {
                return Status(StatusCode::store_error, "fleet source: change " + std::to_string(seq) + " names table " +
                                                           std::to_string(t) +
                                                           ", which this version does not know; nothing applied");
            }
            Change c{seq, static_cast<kv::Table>(t), std::string(r.bytes(i, 2)), std::nullopt};
            if (!r.is_null(i, 3)) {
                if (!record_decodes(c.table, r.bytes(i, 3))) {
                    return Status(StatusCode::store_error,
                                  "fleet source: change " + std::to_string(seq) + " holds a record of table " +
                                      std::string(kv::table_name(c.table)) + " that does not decode; nothing applied");
                }
                c.value = std::string(r.bytes(i, 3));
            }
            changes.push_back(std::move(c));
        }
        if (head.seq > was.position && changes.back().seq != head.seq) {
            return Status(StatusCode::store_error, "fleet source: the change log ends at " +
                                                       std::to_string(changes.back().seq) + ", before the head " +
                                                       std::to_string(head.seq) + "; nothing applied");
        }
    }
    ReplicaState state = was;
    state.position = head.seq;
    state.source_head = head.seq;
    state.position_mark = mark;
    state.verified_boot_ns = boot_ns;
    state.boot_id = boot_id_;
    state.verified_wall_ms = wall_ms;
    std::string diverged;
    Status written = store_->engine().write(
        [&](kv::Txn& txn) -> Status {
            for (const Change& c : changes) {
                int rc = c.value ? txn.put(c.table, c.key, *c.value) : txn.del(c.table, c.key);
                if (rc == kv::kNotFound) {
                    diverged = "change " + std::to_string(c.seq) + " deletes a key of table " +
                               std::string(kv::table_name(c.table)) + " the replica does not have";
                    return Status(StatusCode::store_error, diverged);
                }
                if (rc != kv::kOk) {
                    return Status(StatusCode::store_error, "cannot apply change " + std::to_string(c.seq) + " to " +
                                                               options_.db_path + ": " + txn.failure());
                }
            }
            return store_->put_replica_state(txn, state);
        },
        kv::Space::reserve);
    if (!diverged.empty()) return rebuild(head, "the replica diverged: " + diverged, boot_ns, wall_ms);
    if (!written.ok()) return written;
    if (!changes.empty()) {
        log_("applied " + std::to_string(changes.size()) + " changes (seq " + std::to_string(was.position + 1) + ".." +
             std::to_string(head.seq) + ")");
    }
    position_ = head.seq;
    return Status::success();
}

Status Follower::rebuild(const SourceHead& head, const std::string& why, std::int64_t boot_ns, std::int64_t wall_ms) {
    log_("rebuilding the replica from a snapshot at seq " + std::to_string(head.seq) + ": " + why);
    const std::string tmp = options_.db_path + ".rebuild";
    remove_beside(tmp);
    Status status;
    std::uint64_t records = 0;
    {
        Expected<std::unique_ptr<Store>> created = Store::create(tmp, options_.max_size);
        if (!created.ok()) return created.status();
        Store& fresh = **created;
        kv::Engine& engine = fresh.engine();
        // An empty store's own records go: the snapshot has them (the source
        // was made from one).
        status = engine.write(
            [&](kv::Txn& txn) -> Status {
                for (std::size_t t = 0; t < kv::kTableCount; ++t) {
                    std::vector<std::string> keys;
                    int rc = txn.scan(static_cast<kv::Table>(t), "", [&](std::string_view key, std::string_view) {
                        keys.emplace_back(key);
                        return true;
                    });
                    if (rc != kv::kOk && rc != kv::kNotFound) return Status(StatusCode::store_error, txn.failure());
                    for (const std::string& k : keys) {
                        if (txn.del(static_cast<kv::Table>(t), k) != kv::kOk) {
                            return Status(StatusCode::store_error, txn.failure());
                        }
                    }
                }
                return Status::success();
            },
            kv::Space::reserve);
        if (status.ok()) {
            status = fetch_records(*conn_, [&](const Result& batch, int rows) {
                return engine.write(
                    [&](kv::Txn& txn) -> Status {
                        for (int i = 0; i < rows; ++i) {
                            const auto table = static_cast<kv::Table>(batch.integer(i, 0));
                            if (!record_decodes(table, batch.bytes(i, 2))) {
                                return Status(StatusCode::store_error,
                                              "fleet source: a record of table " + std::string(kv::table_name(table)) +
                                                  " does not decode; the replica was not replaced");
                            }
                            int rc = txn.put(static_cast<kv::Table>(batch.integer(i, 0)), batch.bytes(i, 1),
                                             batch.bytes(i, 2), kv::Put::append);
                            if (rc != kv::kOk) {
                                return Status(
                                    StatusCode::store_error,
                                    "cannot write the rebuilt replica " + tmp + ": " +
                                        (rc == kv::kFull ? std::string("full (raise --max-size)") : txn.failure()));
                            }
                        }
                        records += static_cast<std::uint64_t>(rows);
                        return Status::success();
                    },
                    kv::Space::reserve);
            });
        }
        if (status.ok()) {
            ReplicaState state;
            state.position = head.seq;
            state.source_head = head.seq;
            state.verified_boot_ns = boot_ns;
            state.boot_id = boot_id_;
            state.verified_wall_ms = wall_ms;
            state.source_id = head.source_id;
            Expected<std::int64_t> mark = change_mark(head.seq);
            status = mark.ok() ? Status::success() : mark.status();
            if (status.ok()) {
                state.position_mark = *mark;
                status =
                    engine.write([&](kv::Txn& txn) { return fresh.put_replica_state(txn, state); }, kv::Space::reserve);
            }
        }
    }
    if (!status.ok()) {
        remove_beside(tmp);
        return status;
    }
    // Let go of the old file, then swap (restore_store: owner, group and
    // mode of the old replica, synced, renamed over it; it waits for the
    // lock file to agree).
    store_.reset();
    Expected<Restored> restored = restore_store(tmp, options_.db_path, kRestoreWaitMs);
    remove_beside(tmp);
    if (!restored.ok()) return restored.status();
    if (Status s = open_replica(); !s.ok()) return s;
    ++rebuilds_;
    position_ = head.seq;
    log_("rebuilt the replica: " + std::to_string(records) + " records at seq " + std::to_string(head.seq));
    return Status::success();
}

bool Follower::wait_for_notification(int timeout_ms) {
    if (conn_ == nullptr) {
        std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
        return false;
    }
    auto drain = [&] {
        bool any = false;
        while (PGnotify* n = PQnotifies(conn_->raw())) {
            any = true;
            PQfreemem(n);
        }
        return any;
    };
    if (drain()) return true;
    pollfd pfd{PQsocket(conn_->raw()), POLLIN, 0};
    if (pfd.fd < 0) {
        drop_connection("no socket");
        return false;
    }
    int rc = ::poll(&pfd, 1, timeout_ms);
    if (rc <= 0) return false;
    if (PQconsumeInput(conn_->raw()) != 1) {
        drop_connection(pg_error(conn_->raw()));
        return false;
    }
    return drain();
}

void Follower::run(const std::atomic<bool>& stop) {
    using clock = std::chrono::steady_clock;
    // Every statement and connection attempt of this thread also gives up
    // once stop is set (a frozen source does not hold a SIGTERM, pg.hpp).
    StopWhen stop_when(stop);
    int backoff_ms = 100;
    std::string last_error;
    while (!stop.load()) {
        const auto started = clock::now();
        Status s = sync_once();
        if (!s.ok()) {
            if (s.message() != last_error) log_(s.message());
            last_error = s.message();
            const int wait = conn_ == nullptr ? backoff_ms : 1000;
            backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
            for (int waited = 0; waited < wait && !stop.load(); waited += 50) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            continue;
        }
        if (!last_error.empty()) log_("in sync again at seq " + std::to_string(position_));
        last_error.clear();
        backoff_ms = 100;
        // Until the next second, or a notification.
        for (;;) {
            if (stop.load()) return;
            const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count();
            if (elapsed >= 1000) break;
            if (wait_for_notification(static_cast<int>(1000 - elapsed))) break;
            if (conn_ == nullptr) break;
        }
    }
}

}  // namespace pat::fleet
