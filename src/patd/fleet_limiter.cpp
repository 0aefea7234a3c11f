#include "fleet_limiter.hpp"

#include <postgresql/libpq-fe.h>

#include <algorithm>
#include <charconv>

#include "../fleet/pg.hpp"
#include "log.hpp"
#include "pat/fleet.hpp"
#include "pat/names.hpp"

namespace patd {

namespace {

constexpr const char* kApplicationName = "nginx-pat patd throttle";
// The first key of the advisory locks this throttle takes ("pat1"); the
// second is a hash of the user's or the address's key. A collision only
// makes two sign-ins wait for each other a moment.
constexpr std::int32_t kLockClass = 0x70617431;
// The answer when the source cannot be asked: a short wait (429, fail closed).
constexpr std::int64_t kUnavailableWaitMs = 1'000;

std::int32_t lock_hash(std::string_view key) {
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (const char c : key) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 16777619u;
    }
    return static_cast<std::int32_t>(hash);
}

// An owned PGresult.
struct Result {
    PGresult* result = nullptr;
    explicit Result(PGresult* r) : result(r) {}
    ~Result() { PQclear(result); }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    bool ok() const {
        const ExecStatusType status = PQresultStatus(result);
        return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    }
    int rows() const { return PQntuples(result); }
    std::string_view text(int row, int column) const {
        return {PQgetvalue(result, row, column), static_cast<std::size_t>(PQgetlength(result, row, column))};
    }
    std::int64_t integer(int row, int column) const {
        const std::string_view t = text(row, column);
        std::int64_t value = 0;
        std::from_chars(t.data(), t.data() + t.size(), value);
        return value;
    }
    // PostgreSQL's own words, one line (never a parameter: no secret is sent).
    std::string failure() const {
        const char* message = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
        return message != nullptr ? message : PQresStatus(PQresultStatus(result));
    }
};

// A statement with parameters: numbers as text, keys as bytea (binary).
struct Param {
    std::string value;
    bool binary = false;
};
// Through src/fleet's helpers, which give every statement a client-side
// deadline (a frozen server would otherwise hold a sign-in for ever).
Result run(PGconn* conn, const char* sql, const std::vector<Param>& params = {}) {
    pat::fleet::Params values;
    for (const Param& p : params) {
        if (p.binary) {
            values.bytes(p.value);
        } else {
            values.text(p.value);
        }
    }
    return Result(pat::fleet::exec_params(conn, sql, values, false).release());
}

Result run_plain(PGconn* conn, const char* sql) {
    return Result(pat::fleet::exec_plain(conn, sql).release());
}

Param number(std::int64_t n) {
    return {std::to_string(n), false};
}
Param bytes(const std::string& key) {
    return {key, true};
}

std::string ticket_key(const std::string& user_key, const std::string& address_key) {
    return std::to_string(user_key.size()) + ":" + user_key + address_key;
}

// The sliding log's verdict for one key, as pat::SignInLimiter's wait_for
// (without the fair share, which is the node's own): 0 when there is room.
struct Attempt {
    std::int64_t at_ms;
    bool pending;
};
std::int64_t wait_for(std::vector<Attempt> attempts, std::uint32_t limit, const pat::SignInLimits& limits,
                      std::int64_t now) {
    for (Attempt& a : attempts) {
        if (a.pending && now - a.at_ms >= limits.pending_timeout_ms) a.pending = false;
    }
    const std::size_t count = attempts.size();
    if (count < limit) return 0;
    const std::size_t pending = static_cast<std::size_t>(
        std::count_if(attempts.begin(), attempts.end(), [](const Attempt& a) { return a.pending; }));
    const std::size_t failed = count - pending;
    if (failed < limit) return std::clamp<std::int64_t>(limits.busy_wait_ms, 1, limits.window_ms);
    std::size_t to_skip = failed - limit;
    for (const Attempt& a : attempts) {
        if (a.pending) continue;
        if (to_skip-- == 0) return std::clamp<std::int64_t>(a.at_ms + limits.window_ms - now, 1, limits.window_ms);
    }
    return limits.window_ms;
}

constexpr const char* kNowSql = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint";

}  // namespace

FleetSignInLimiter::FleetSignInLimiter(pat::SignInLimiter& local, std::string connfile)
    : local_(local), limits_(local.limits()), connfile_(std::move(connfile)) {}

FleetSignInLimiter::~FleetSignInLimiter() = default;

FleetSignInLimiter::Keys FleetSignInLimiter::keys_of(std::string_view user, std::string_view address) {
    Keys keys;
    char name[pat::kMaxUserName];
    const std::size_t length = pat::canonical_user_name(user, name);
    if (length != 0) keys.user = "u" + std::string(name, length);
    keys.address = pat::SignInLimiter::address_key(address);
    return keys;
}

pat::Status FleetSignInLimiter::connect_locked() {
    if (connection_ && connection_->usable()) return pat::Status::success();
    connection_.reset();
    auto opened = pat::fleet::Connection::open_connfile(connfile_, kApplicationName, pat::fleet::Purpose::writer);
    if (!opened) return opened.status();
    connection_ = std::move(opened.value());
    return pat::Status::success();
}

bool FleetSignInLimiter::open(std::string& error) {
    const std::lock_guard lock(mutex_);
    if (const pat::Status s = connect_locked(); !s.ok()) {
        error = "the throttle's connection to the fleet source: " + s.message();
        return false;
    }
    const Result probe =
        run(connection_->raw(), "SELECT id, key, at_ms, pending FROM pat_sign_in_attempts WHERE false");
    if (!probe.ok()) {
        error = "the fleet source's throttle table pat_sign_in_attempts cannot be used (" + probe.failure() +
                "): run `patctl fleet init` of this version on the source";
        return false;
    }
    return true;
}

pat::Expected<std::int64_t> FleetSignInLimiter::begin_locked(const Keys& keys, std::vector<std::int64_t>& ids) {
    PGconn* conn = connection_->raw();
    const auto failed = [&](const Result& r, std::string_view doing) {
        const Result rollback(run_plain(conn, "ROLLBACK"));
        return pat::Status{pat::StatusCode::store_error,
                           "the fleet throttle: " + std::string(doing) + ": " + r.failure()};
    };
    if (const Result r(run_plain(conn, "BEGIN")); !r.ok()) return failed(r, "begin");
    std::vector<std::int32_t> locks;
    for (const std::string* key : {&keys.user, &keys.address}) {
        if (!key->empty()) locks.push_back(lock_hash(*key));
    }
    std::sort(locks.begin(), locks.end());
    locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
    for (const std::int32_t h : locks) {
        const Result r = run(conn, "SELECT pg_advisory_xact_lock($1::int4, $2::int4)", {number(kLockClass), number(h)});
        if (!r.ok()) return failed(r, "lock");
    }
    const Result clock(run_plain(conn, kNowSql));
    if (!clock.ok() || clock.rows() != 1) return failed(clock, "read the clock");
    const std::int64_t now = clock.integer(0, 0);
    std::int64_t wait = 0;
    const std::pair<const std::string*, std::uint32_t> limited[] = {{&keys.user, limits_.user_attempts},
                                                                    {&keys.address, limits_.address_attempts}};
    for (const auto& [key, limit] : limited) {
        if (key->empty()) continue;
        const Result r = run(conn,
                             "SELECT at_ms, pending FROM pat_sign_in_attempts WHERE key = $1 AND at_ms > $2 "
                             "ORDER BY at_ms, id",
                             {bytes(*key), number(now - limits_.window_ms)});
        if (!r.ok()) return failed(r, "count attempts");
        std::vector<Attempt> attempts;
        for (int row = 0; row < r.rows(); ++row) attempts.push_back({r.integer(row, 0), r.text(row, 1) == "t"});
        wait = std::max(wait, wait_for(std::move(attempts), limit, limits_, now));
    }
    if (wait > 0) {
        const Result r(run_plain(conn, "ROLLBACK"));
        return wait;
    }
    for (const auto& [key, limit] : limited) {
        if (key->empty()) continue;
        const Result r = run(conn,
                             "INSERT INTO pat_sign_in_attempts (key, at_ms, pending) VALUES ($1, $2, true) "
                             "RETURNING id",
                             {bytes(*key), number(now)});
        if (!r.ok() || r.rows() != 1) return failed(r, "count the attempt");
        ids.push_back(r.integer(0, 0));
    }
    if (const Result r(run_plain(conn, "COMMIT")); !r.ok()) return failed(r, "commit");
    return std::int64_t{0};
}

std::int64_t FleetSignInLimiter::begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) {
    // This node's own bounds first: its fair share and what it may track.
    if (const std::int64_t wait = local_.begin_attempt(user, address, now_ms); wait > 0) return wait;
    const Keys keys = keys_of(user, address);
    std::vector<std::int64_t> ids;
    pat::Expected<std::int64_t> verdict = std::int64_t{0};
    {
        const std::lock_guard lock(mutex_);
        pat::Status connected = connect_locked();
        verdict = connected.ok() ? begin_locked(keys, ids) : pat::Expected<std::int64_t>(connected);
        // A connection the server closed meanwhile (PostgreSQL restarted,
        // a failover) fails its first statement: a new one, once.
        if (!verdict && connection_ && !connection_->usable()) {
            ids.clear();
            connected = connect_locked();
            verdict = connected.ok() ? begin_locked(keys, ids) : pat::Expected<std::int64_t>(connected);
        }
        if (verdict && *verdict == 0 && !ids.empty()) pending_.emplace(ticket_key(keys.user, keys.address), ids);
        if (!verdict) {
            if (verdict.status().message() != last_failure_) {
                last_failure_ = verdict.status().message();
                log_line(Level::crit,
                         "sign-ins refused (429) while the fleet throttle cannot be asked: " + last_failure_);
            }
        } else if (!last_failure_.empty()) {
            log_line(Level::notice, "the fleet throttle answers again");
            last_failure_.clear();
        }
    }
    const std::int64_t wait = verdict ? *verdict : kUnavailableWaitMs;
    if (wait > 0) local_.attempt_abandoned(user, address, now_ms);
    return wait;
}

void FleetSignInLimiter::resolve(std::string_view user, std::string_view address, bool keep_as_failure) {
    const Keys keys = keys_of(user, address);
    const std::lock_guard lock(mutex_);
    const auto it = pending_.find(ticket_key(keys.user, keys.address));
    if (it == pending_.end()) return;
    std::string array = "{";
    for (const std::int64_t id : it->second) array += (array.size() > 1 ? "," : "") + std::to_string(id);
    array += "}";
    pending_.erase(it);
    // Not resolved (the source is away): the rows stay pending, and count
    // as failures after the pending timeout. Fail closed.
    const char* sql = keep_as_failure ? "UPDATE pat_sign_in_attempts SET pending = false WHERE id = ANY($1::bigint[])"
                                      : "DELETE FROM pat_sign_in_attempts WHERE id = ANY($1::bigint[])";
    // Twice when the server closed the first connection meanwhile.
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!connect_locked().ok()) return;
        const Result r = run(connection_->raw(), sql, {{array, false}});
        if (r.ok()) return;
        if (connection_->usable() || attempt == 1) {
            log_line(Level::error, "the fleet throttle: cannot record a sign-in's outcome: " + r.failure());
            return;
        }
    }
}

void FleetSignInLimiter::attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) {
    local_.attempt_succeeded(user, address, now_ms);
    resolve(user, address, false);
}

void FleetSignInLimiter::attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) {
    local_.attempt_abandoned(user, address, now_ms);
    resolve(user, address, false);
}

void FleetSignInLimiter::attempt_failed(std::string_view user, std::string_view address, std::int64_t now_ms) {
    local_.attempt_failed(user, address, now_ms);
    resolve(user, address, true);
}

void FleetSignInLimiter::sweep() {
    const std::lock_guard lock(mutex_);
    if (!connect_locked().ok()) return;
    const Result r = run(connection_->raw(),
                         "DELETE FROM pat_sign_in_attempts WHERE at_ms < "
                         "(extract(epoch FROM clock_timestamp()) * 1000)::bigint - $1",
                         {number(limits_.window_ms)});
    if (!r.ok()) log_line(Level::warn, "the fleet throttle: cannot delete old attempts: " + r.failure());
}

pat::Expected<std::uint32_t> FleetSignInLimiter::user_attempts(std::string_view user) {
    const Keys keys = keys_of(user, "");
    if (keys.user.empty()) return std::uint32_t{0};
    const std::lock_guard lock(mutex_);
    if (const pat::Status s = connect_locked(); !s.ok()) return s;
    const Result r = run(connection_->raw(),
                         "SELECT count(*) FROM pat_sign_in_attempts WHERE key = $1 AND at_ms > "
                         "(extract(epoch FROM clock_timestamp()) * 1000)::bigint - $2",
                         {bytes(keys.user), number(limits_.window_ms)});
    if (!r.ok() || r.rows() != 1) return pat::Status{pat::StatusCode::store_error, r.failure()};
    return static_cast<std::uint32_t>(r.integer(0, 0));
}

}  // namespace patd
