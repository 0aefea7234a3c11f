#include "usage_push.hpp"

#include <postgresql/libpq-fe.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "log.hpp"
#include "pat/fleet.hpp"
#include "pat/token.hpp"
#include "pat/usage.hpp"

namespace patd {

namespace {

constexpr const char* kApplicationName = "nginx-pat patd usage";
// Rows per statement: a few hundred KiB of parameters at most.
constexpr std::size_t kBatch = 5000;
// The address column holds "MS@ADDRESS" entries separated by spaces, most
// recent first: what this node saw is merged with what the row holds (each
// address at its newest time, the 5 most recent kept), so every node's
// clients show.
constexpr const char* kUpsert =
    "INSERT INTO pat_usage (token_id, last_used_ms, address) "
    "SELECT u.id, u.ms, u.address FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(id, ms, address) "
    "ON CONFLICT (token_id) DO UPDATE SET last_used_ms = GREATEST(pat_usage.last_used_ms, EXCLUDED.last_used_ms), "
    "address = COALESCE((SELECT string_agg(d.e, ' ' ORDER BY d.ms DESC) FROM ("
    "  SELECT e, ms FROM ("
    "    SELECT DISTINCT ON (ip) e, ms, ip FROM ("
    "      SELECT e, split_part(e, '@', 1)::bigint AS ms, split_part(e, '@', 2) AS ip"
    "      FROM unnest(string_to_array(pat_usage.address || ' ' || EXCLUDED.address, ' ')) AS e"
    "      WHERE e ~ '^[0-9]{1,18}@[0-9A-Fa-f:.]{2,45}$') s"
    "    ORDER BY ip, ms DESC) t"
    "  ORDER BY ms DESC LIMIT 5) d), '')";

// This node's addresses of a token: "MS@ADDRESS ...", most recent first.
std::string address_column(const pat::UsageAddresses& addresses) {
    pat::UsageAddresses sorted = addresses;
    std::sort(sorted.begin(), sorted.end(),
              [](const pat::UsageAddress& a, const pat::UsageAddress& b) { return a.ms > b.ms; });
    std::string text;
    for (const pat::UsageAddress& address : sorted) {
        if (address.ms <= 0) break;
        const std::string shown = pat::usage_address_text(address);
        if (shown.empty()) continue;
        if (!text.empty()) text += ' ';
        text += std::to_string(address.ms) + "@" + shown;
    }
    return text;
}

// An element of a text array literal, quoted ("" for an empty one).
std::string array_element(const std::string& text) {
    return "\"" + text + "\"";  // digits, '@', ':', '.', spaces: nothing to escape
}

// PostgreSQL's own words, one line (the parameters are token ids and times:
// no secret).
std::string failure_of(PGconn* conn, PGresult* result) {
    const char* message = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string text = message != nullptr ? message : PQerrorMessage(conn);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    for (char& c : text) {
        if (c == '\n') c = ' ';
    }
    return text;
}

}  // namespace

UsagePush::UsagePush(std::string connfile, std::string replica_path, std::chrono::milliseconds period)
    : connfile_(std::move(connfile)), replica_path_(std::move(replica_path)), period_(period) {}

UsagePush::~UsagePush() {
    stop();
}

void UsagePush::start() {
    thread_ = std::thread([this] { loop(); });
}

void UsagePush::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void UsagePush::loop() {
    for (;;) {
        bool last = false;
        {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, period_, [this] { return stopping_; });
            last = stopping_;
        }
        push_once();
        if (last) break;
    }
    conn_.reset();
}

bool UsagePush::push_once() {
    pat::UsageFile file(replica_path_, pat::UsageFile::Mode::read_only);
    std::vector<std::pair<std::string, std::int64_t>> fresh;
    for (auto& [id, ms] : file.entries()) {
        auto at = pushed_.find(id);
        if (at == pushed_.end() || at->second < ms) fresh.emplace_back(std::move(id), ms);
    }
    if (fresh.empty()) return true;
    std::vector<std::string> fresh_ids;
    fresh_ids.reserve(fresh.size());
    for (const auto& entry : fresh) fresh_ids.push_back(entry.first);
    const std::vector<pat::UsageAddresses> addresses = file.lookup_address_entries(fresh_ids);
    std::string error;
    if (conn_ == nullptr || !conn_->usable()) {
        conn_.reset();
        pat::Expected<std::unique_ptr<pat::fleet::Connection>> opened =
            pat::fleet::Connection::open_connfile(connfile_, kApplicationName, pat::fleet::Purpose::writer);
        if (opened.ok()) {
            conn_ = std::move(*opened);
        } else {
            error = opened.status().message();
        }
    }
    for (std::size_t from = 0; error.empty() && from < fresh.size(); from += kBatch) {
        const std::size_t to = std::min(fresh.size(), from + kBatch);
        // Text array literals: ids are 12 digits (entries() gives only
        // token ids), times decimal: nothing to quote.
        std::string ids = "{", times = "{", places = "{";
        for (std::size_t i = from; i < to; ++i) {
            if (i != from) {
                ids += ',';
                times += ',';
                places += ',';
            }
            ids += fresh[i].first;
            times += std::to_string(fresh[i].second);
            places += array_element(i < addresses.size() ? address_column(addresses[i]) : std::string());
        }
        ids += '}';
        times += '}';
        places += '}';
        const char* values[3] = {ids.c_str(), times.c_str(), places.c_str()};
        PGresult* result = PQexecParams(conn_->raw(), kUpsert, 3, nullptr, values, nullptr, nullptr, 0);
        if (PQresultStatus(result) != PGRES_COMMAND_OK) {
            error = failure_of(conn_->raw(), result);
            PQclear(result);
            if (!conn_->usable()) conn_.reset();
            break;
        }
        PQclear(result);
        for (std::size_t i = from; i < to; ++i) pushed_[fresh[i].first] = fresh[i].second;
    }
    if (!error.empty()) {
        if (!failing_) {
            log_line(Level::error, "cannot push last-use times to the fleet source (--source " + connfile_ + "): " +
                                       error + "; retrying every " + std::to_string(period_.count() / 1000) + " s");
        }
        failing_ = true;
        return false;
    }
    if (failing_) log_line(Level::notice, "pushing last-use times to the fleet source again");
    failing_ = false;
    return true;
}

}  // namespace patd
