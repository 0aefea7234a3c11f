// Token inventory (selection, bulk revocation) and expiry warnings: the
// rules of pat/token_inventory.hpp and the Store methods that use them.
#include "pat/token_inventory.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <string>

#include "impl.hpp"
#include "records.hpp"

namespace pat {
namespace {

std::string notified_key(std::string_view id) {
    std::string key(kExpiryNotifiedPrefix);
    key += id;
    return key;
}

// A row's threshold; nullopt when it is not a number this version writes
// (treated as nothing sent: a warning too many rather than none).
std::optional<int> parse_sent(std::string_view value) {
    int days = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), days);
    if (ec != std::errc() || end != value.data() + value.size() || days < 1 || days > kMaxSelectionDays)
        return std::nullopt;
    return days;
}

bool has_criterion(const TokenSelection& selection) {
    return selection.expiring_within_days || selection.expired || selection.unused_since_days;
}

// "unused-since:90d", "expired", ...: why a bulk revocation chose a token.
std::string describe(const TokenSelection& selection) {
    std::string text;
    auto add = [&](const std::string& part) {
        if (!text.empty()) text += ' ';
        text += part;
    };
    if (selection.unused_since_days) add("unused-since:" + std::to_string(*selection.unused_since_days) + "d");
    if (selection.expiring_within_days) add("expiring-within:" + std::to_string(*selection.expiring_within_days) + "d");
    if (selection.expired) add("expired");
    if (selection.owner) add("user:" + *selection.owner);
    return text;
}

}  // namespace

bool token_expired(const TokenInfo& token, std::int64_t now_ms) {
    return token.expires_ms != 0 && now_ms >= token.expires_ms;
}

std::int64_t token_days_left(const TokenInfo& token, std::int64_t now_ms) {
    const std::int64_t left = token.expires_ms - now_ms;
    if (left <= 0) return left / kDayMs;  // rounds towards zero: 0 or less
    return (left + kDayMs - 1) / kDayMs;
}

std::int64_t token_last_activity(const TokenInfo& token) {
    return std::max(token.last_authenticated_ms, token.created_ms);
}

bool token_selected(const TokenSelection& selection, const TokenInfo& token, std::int64_t now_ms) {
    if (selection.owner && token.owner != *selection.owner) return false;
    if (selection.expired && !token_expired(token, now_ms)) return false;
    if (selection.expiring_within_days) {
        if (token.expires_ms == 0 || token_expired(token, now_ms)) return false;
        if (token.expires_ms - now_ms > std::int64_t{*selection.expiring_within_days} * kDayMs) return false;
    }
    if (selection.unused_since_days) {
        if (token_last_activity(token) > now_ms - std::int64_t{*selection.unused_since_days} * kDayMs) return false;
    }
    return true;
}

Status check_token_selection(const TokenSelection& selection) {
    auto in_range = [](std::optional<int> days) { return !days || (*days >= 0 && *days <= kMaxSelectionDays); };
    if (!in_range(selection.expiring_within_days) || !in_range(selection.unused_since_days)) {
        return {StatusCode::invalid_argument, "DAYS is 0 to " + std::to_string(kMaxSelectionDays)};
    }
    if (selection.expired && selection.expiring_within_days) {
        return {StatusCode::invalid_argument, "a token cannot be both expired and expiring: choose one"};
    }
    return Status::success();
}

Expected<std::vector<int>> parse_expiry_thresholds(std::string_view text) {
    const Status bad{StatusCode::invalid_argument, "thresholds are whole numbers of days from 1 to " +
                                                       std::to_string(kMaxSelectionDays) +
                                                       ", separated by commas, each once (30,7,1)"};
    std::vector<int> thresholds;
    while (true) {
        const std::size_t comma = text.find(',');
        const std::string_view part = text.substr(0, comma);
        int days = 0;
        auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), days);
        if (part.empty() || ec != std::errc() || end != part.data() + part.size() || days < 1 ||
            days > kMaxSelectionDays)
            return bad;
        if (std::find(thresholds.begin(), thresholds.end(), days) != thresholds.end()) return bad;
        thresholds.push_back(days);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    std::sort(thresholds.begin(), thresholds.end());
    return thresholds;
}

std::optional<int> expiry_threshold_due(const std::vector<int>& thresholds, std::int64_t days_left,
                                        std::optional<int> sent) {
    if (days_left <= 0) return std::nullopt;  // expired: too late to warn
    for (int threshold : thresholds) {        // ascending: the first crossed is the smallest
        if (days_left <= threshold) {
            if (sent && *sent <= threshold) return std::nullopt;
            return threshold;
        }
    }
    return std::nullopt;
}

Expected<std::vector<TokenInfo>> Store::select_tokens(const TokenSelection& selection, std::int64_t now_ms) {
    if (Status s = check_token_selection(selection); !s.ok()) return s;
    std::optional<std::string_view> owner;
    if (selection.owner) owner = *selection.owner;
    auto tokens = list_tokens(owner);
    if (!tokens) return tokens.status();
    TokenSelection canonical = selection;
    canonical.owner.reset();  // list_tokens chose the owner (canonicalising the name)
    std::erase_if(*tokens, [&](const TokenInfo& token) { return !token_selected(canonical, token, now_ms); });
    return tokens;
}

Expected<std::vector<TokenInfo>> Store::revoke_selected_tokens(const TokenSelection& selection, std::int64_t now_ms,
                                                               bool dry_run, const AuditContext& audit) {
    if (!has_criterion(selection)) {
        return Status{StatusCode::invalid_argument,
                      "a bulk revocation needs a criterion (--unused-since, --expired or --expiring-within)"};
    }
    // The selection reads the usage file (the workers' last uses), which no
    // transaction covers: a token used between this read and the write
    // below is revoked as unused. The window is one command's run.
    auto selected = select_tokens(selection, now_ms);
    if (!selected) return selected.status();
    if (dry_run || selected->empty()) return selected;
    const std::string detail = describe(selection);
    std::vector<TokenInfo> revoked;
    Status written = run_write(
        *impl_,
        [&](kv::Txn& txn) -> Status {
            revoked.clear();  // the body may run again (PostgreSQL retries)
            for (const TokenInfo& token : *selected) {
                Status s = revoke_token_in(*impl_, txn, token.id, now_ms, audit, detail);
                if (s.code() == StatusCode::not_found) continue;  // revoked meanwhile
                if (!s.ok()) return s;
                int rc = txn.del(kv::Table::meta, notified_key(token.id));
                if (rc != kv::kOk && rc != kv::kNotFound) return kv_error(txn, "delete expiry warning", rc);
                revoked.push_back(token);
            }
            return Status::success();
        },
        Space::reserve);  // takes access away: works on a full store
    if (!written.ok()) return written;
    std::vector<std::string> ids;
    for (const TokenInfo& token : revoked) ids.push_back(token.id);
    forget_usage(*impl_, ids);
    return revoked;
}

Expected<ExpiryNoticesDue> Store::expiry_notices_due(const std::vector<int>& thresholds, std::int64_t now_ms) {
    auto tokens = list_tokens(std::nullopt);
    if (!tokens) return tokens.status();
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;

    std::map<std::string, std::optional<int>, std::less<>> sent;  // token id -> smallest threshold sent
    int rc = txn.scan(kv::Table::meta, kExpiryNotifiedPrefix, [&](std::string_view key, std::string_view value) {
        sent.emplace(std::string(key.substr(kExpiryNotifiedPrefix.size())), parse_sent(value));
        return true;
    });
    if (rc != 0) return kv_error(txn, "read expiry warnings", rc);

    ExpiryNoticesDue result;
    std::map<std::string, std::optional<std::string>, std::less<>> owners;  // name -> display name; nullopt: inactive
    for (const TokenInfo& token : *tokens) {
        if (token.expires_ms == 0 || token_expired(token, now_ms)) continue;
        auto known = sent.find(token.id);
        std::optional<int> already;
        if (known != sent.end()) {
            already = known->second;
            sent.erase(known);  // what is left in sent at the end is stale
        }
        const std::int64_t days_left = token_days_left(token, now_ms);
        const std::optional<int> due = expiry_threshold_due(thresholds, days_left, already);
        if (!due) continue;
        auto owner = owners.find(token.owner);
        if (owner == owners.end()) {
            std::optional<std::string> display;
            std::string_view bytes;
            rc = txn.get(kv::Table::users, token.owner, bytes);
            if (rc != 0 && rc != kv::kNotFound) return kv_error(txn, "read user", rc);
            if (rc == 0) {
                auto user = records::decode_user(bytes);
                if (!user)
                    return Status{StatusCode::store_error,
                                  "store: the record of user '" + token.owner + "' is corrupt"};
                if (user->active) display = user->display_name.empty() ? token.owner : std::string(user->display_name);
            }
            owner = owners.emplace(token.owner, std::move(display)).first;
        }
        if (!owner->second) continue;  // a disabled owner's tokens do not work: nobody to warn
        result.due.push_back(ExpiryNotice{token, *owner->second, days_left, *due});
    }
    for (auto& [id, threshold] : sent) {
        (void)threshold;
        result.stale.push_back(id);
    }
    return result;
}

Status Store::record_expiry_notice(const ExpiryNotice& notice, const AuditContext& audit) {
    return run_write(*impl_, [&](kv::Txn& txn) -> Status {
        std::string_view digest, record;
        int rc = txn.get(kv::Table::token_ids, notice.token.id, digest);
        if (rc == kv::kNotFound) return {StatusCode::not_found, "no token '" + notice.token.id + "'"};
        if (rc != 0) return kv_error(txn, "read token id", rc);
        rc = txn.get(kv::Table::tokens, digest, record);
        if (rc != 0 && rc != kv::kNotFound) return kv_error(txn, "read token", rc);
        auto token = rc == 0 ? records::decode_token(record) : std::nullopt;
        if (!token || token->revoked || token->rotated)
            return {StatusCode::not_found, "no token '" + notice.token.id + "'"};
        rc = txn.put(kv::Table::meta, notified_key(notice.token.id), std::to_string(notice.threshold));
        if (rc != 0) return kv_error(txn, "write expiry warning", rc);
        return append_audit(
            *impl_, txn, AuditAction::token_expiry_warned, audit, notice.token.owner, notice.token.id,
            "threshold:" + std::to_string(notice.threshold) + "d" + " days-left:" + std::to_string(notice.days_left));
    });
}

Status Store::forget_expiry_notices(const std::vector<std::string>& ids) {
    if (ids.empty()) return Status::success();
    return run_write(*impl_, [&](kv::Txn& txn) -> Status {
        for (const std::string& id : ids) {
            int rc = txn.del(kv::Table::meta, notified_key(id));
            if (rc != kv::kOk && rc != kv::kNotFound) return kv_error(txn, "delete expiry warning", rc);
        }
        return Status::success();
    });
}

}  // namespace pat
