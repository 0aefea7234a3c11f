// Tokens: creation by the owner, listing, modification, revocation, and the
// batched "last authenticated" update.
#include <algorithm>
#include <string>

#include "impl.hpp"
#include "pat/names.hpp"
#include "pat/password.hpp"
#include "pat/sign_in.hpp"
#include "pat/token.hpp"
#include "records.hpp"

namespace pat {

Status token_not_found(std::string_view id) {
    return {StatusCode::not_found, "no token '" + std::string(id) + "'"};
}

records::TokenView FoundToken::view() const {
    return *records::decode_token(record);
}

Expected<FoundToken> find_token_record(kv::Txn& txn, std::string_view id) {
    if (!is_valid_token_id(id)) return token_not_found(id);
    std::string_view digest, record;
    int rc = txn.get(kv::Table::token_ids, id, digest);
    if (rc == kv::kNotFound) return token_not_found(id);
    if (rc != 0) return kv_error(txn, "read token id", rc);
    rc = txn.get(kv::Table::tokens, digest, record);
    if (rc == kv::kNotFound)
        return Status{StatusCode::store_error, "store: token " + std::string(id) + " has no record"};
    if (rc != 0) return kv_error(txn, "read token", rc);
    if (!records::decode_token(record))
        return Status{StatusCode::store_error, "store: the record of token " + std::string(id) + " is corrupt"};
    return FoundToken{std::string(digest), std::string(record)};
}

namespace {

constexpr std::size_t kMaxTokenName = 255;
constexpr int kMaxExpiryDays = 3650;
constexpr std::int64_t kMsPerDay = 86'400'000;

Status validate_token_name(std::string_view name) {
    if (name.empty()) return {StatusCode::invalid_argument, "a token needs a name"};
    if (name.size() > kMaxTokenName) return {StatusCode::invalid_argument, "a token's name is at most 255 bytes"};
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) return {StatusCode::invalid_argument, "a token's name contains a control character"};
    }
    return Status::success();
}

std::string describe(const TokenPermissions& permissions) {
    return "project:" + std::string(level_name(permissions.project)) +
           " repo:" + std::string(level_name(permissions.repo));
}

TokenInfo to_info(const records::TokenView& token) {
    TokenInfo info;
    info.id = token.id;
    info.owner = token.owner;
    info.name = token.name;
    info.permissions = token.permissions;
    info.created_ms = token.created_ms;
    info.expires_ms = token.expires_ms;
    info.last_authenticated_ms = token.last_authenticated_ms;
    return info;
}

// A live token found by id: revoked and rotated ones (rotate.cpp) are gone.
Expected<FoundToken> find_token(kv::Txn& txn, const Store::Impl& /*store*/, std::string_view id) {
    auto found = find_token_record(txn, id);
    if (!found) return found.status();
    const records::TokenView view = found->view();
    if (view.revoked || view.rotated) return token_not_found(id);
    return found;
}

// The owner, or a sysadmin; anyone else is told the token does not exist.
bool may_manage(const Actor& actor, const records::TokenView& token) {
    return actor.sysadmin || (!actor.user.empty() && actor.user == token.owner);
}

}  // namespace

void merge_usage(Store::Impl& store, std::vector<TokenInfo>& tokens) {
    // A store over another engine (Store::over) has no usage file: the
    // engine may keep the times (the fleet's pat_usage).
    if (tokens.empty() || (!store.usage && !store.engine)) return;
    std::vector<std::string> ids;
    ids.reserve(tokens.size());
    for (const TokenInfo& token : tokens) ids.push_back(token.id);
    const std::vector<std::int64_t> used = store.usage ? store.usage->lookup(ids) : store.engine->last_used(ids);
    if (used.size() != tokens.size()) return;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        tokens[i].last_authenticated_ms = std::max(tokens[i].last_authenticated_ms, used[i]);
    }
    std::vector<std::vector<std::string>> addresses =
        store.usage ? store.usage->lookup_addresses(ids) : store.engine->last_used_addresses(ids);
    if (addresses.size() != tokens.size()) return;
    for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i].last_used_ips = std::move(addresses[i]);
}

void forget_usage(Store::Impl& store, const std::vector<std::string>& ids) {
    if (store.usage) store.usage->forget(ids);  // best effort: the token is gone from the store already
}

namespace {

TokenInfo with_usage(Store::Impl& store, TokenInfo token) {
    std::vector<TokenInfo> one{std::move(token)};
    merge_usage(store, one);
    return std::move(one.front());
}

}  // namespace

// After the owner proved who they are: one write transaction (impl.hpp).
Expected<CreatedToken> write_new_token(Store::Impl& impl, const std::string& owner, std::string_view name,
                                       const TokenPermissions& granted, std::optional<int> expiry_days,
                                       std::int64_t now, const AuditContext& audit, const TokenSuccession& succession) {
    CreatedToken created;
    auto text = generate_token();
    if (!text) return text.status();
    created.text = std::move(*text);
    TokenHasher hasher;
    TokenDigest digest;
    if (!hasher.digest(created.text, digest)) return Status{StatusCode::store_error, "OpenSSL: SHA-256 failed"};
    const std::string_view digest_key(reinterpret_cast<const char*>(digest.data()), digest.size());

    Status written = run_write(impl, [&](kv::Txn& txn) -> Status {
        // The user may have been disabled or deleted since the password check.
        std::string_view user_bytes;
        int rc = txn.get(kv::Table::users, owner, user_bytes);
        if (rc == kv::kNotFound) return {StatusCode::refused, "wrong user name or password"};
        if (rc != 0) return kv_error(txn, "read user", rc);
        auto user = records::decode_user(user_bytes);
        if (!user) return {StatusCode::store_error, "store: the record of user '" + owner + "' is corrupt"};
        if (!user->active) return {StatusCode::refused, "wrong user name or password"};
        // A fresh random id; a collision (1 in 10^11 per token) draws again.
        std::string id;
        for (int attempt = 0;; ++attempt) {
            auto candidate = generate_token_id();
            if (!candidate) return candidate.status();
            std::string_view existing;
            rc = txn.get(kv::Table::token_ids, *candidate, existing);
            if (rc == kv::kNotFound) {
                id = std::move(*candidate);
                break;
            }
            if (rc != 0) return kv_error(txn, "read token id", rc);
            if (attempt == 16) return {StatusCode::store_error, "could not draw an unused token id"};
        }

        records::TokenView token;
        token.permissions = granted;
        token.created_ms = now;
        token.expires_ms = expiry_days ? now + *expiry_days * kMsPerDay : 0;
        token.id = id;
        token.owner = owner;
        token.name = name;
        if (succession) {
            if (Status s = succession(txn, token); !s.ok()) return s;
        }
        // The administrator's token policy (policy.cpp), in this transaction:
        // the count of live tokens cannot race another creation. After the
        // succession: a rotation's old token is retired by then, so a user
        // at the maximum can still rotate.
        if (Status s = check_creation_policy(impl, txn, owner, expiry_days, now); !s.ok()) return s;
        rc = txn.put(kv::Table::tokens, digest_key, records::encode_token(token), kv::Put::no_overwrite);
        if (rc == kv::kKeyExists) return {StatusCode::store_error, "token digest collision"};
        if (rc != 0) return kv_error(txn, "write token", rc);
        if ((rc = txn.put(kv::Table::token_ids, id, digest_key)) != 0) return kv_error(txn, "write token id", rc);
        if ((rc = txn.put(kv::Table::user_tokens, records::user_prefix(owner) + id, {})) != 0)
            return kv_error(txn, "write token index", rc);
        created.info = to_info(token);
        return append_audit(impl, txn, AuditAction::token_created, audit, owner, id,
                            describe(granted) + " name:" + std::string(name));
    });
    wipe(digest.data(), digest.size());
    if (!written.ok()) return written;
    return created;
}

Status check_token_request(std::string_view name, std::optional<TokenPermissions> permissions,
                           std::optional<int> expiry_days) {
    if (Status s = validate_token_name(name); !s.ok()) return s;
    if (Status s = validate_token_permissions(permissions.value_or(TokenPermissions{Level::admin, Level::admin}));
        !s.ok())
        return s;
    if (expiry_days && (*expiry_days < 1 || *expiry_days > kMaxExpiryDays)) {
        return Status{StatusCode::invalid_argument, "expiry is 1 to 3650 days"};
    }
    return Status::success();
}

Expected<CreatedToken> Store::create_token(std::string_view raw_owner, std::string_view password, std::string_view name,
                                           std::optional<TokenPermissions> permissions, std::optional<int> expiry_days,
                                           std::int64_t now, const AuditContext& audit) {
    auto owner = canonical_user_name(raw_owner);
    if (!owner) return owner.status();
    if (Status s = check_token_request(name, permissions, expiry_days); !s.ok()) return s;
    const TokenPermissions granted = permissions.value_or(TokenPermissions{Level::admin, Level::admin});
    // Only the owner's password creates a token: nobody, sysadmin included,
    // can create one for someone else.
    if (Status s = authenticate_user(*owner, password, audit); !s.ok()) return s;
    return write_new_token(*impl_, *owner, name, granted, expiry_days, now, audit);
}

Expected<CreatedToken> Store::create_token(const SignIn& signed_in, std::string_view name,
                                           std::optional<TokenPermissions> permissions, std::optional<int> expiry_days,
                                           std::int64_t now, const AuditContext& audit) {
    if (!signed_in.ok()) return Status{StatusCode::refused, "wrong user name or password"};
    const std::string& owner = signed_in.user().name;
    if (Status s = check_token_request(name, permissions, expiry_days); !s.ok()) return s;
    const TokenPermissions granted = permissions.value_or(TokenPermissions{Level::admin, Level::admin});
    return write_new_token(*impl_, owner, name, granted, expiry_days, now, audit);
}

Expected<std::vector<TokenInfo>> Store::list_tokens(std::optional<std::string_view> raw_owner) {
    std::string prefix;
    if (raw_owner) {
        auto owner = canonical_user_name(*raw_owner);
        if (!owner) return owner.status();
        prefix = records::user_prefix(*owner);
    }
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    int rc = 0;
    if (raw_owner) {
        // A mistyped name is an error, not an empty list.
        std::string_view ignored;
        const std::string owner = prefix.substr(0, prefix.size() - 1);
        rc = txn.get(kv::Table::users, owner, ignored);
        if (rc == kv::kNotFound) return Status{StatusCode::not_found, "no user '" + owner + "'"};
        if (rc != 0) return kv_error(txn, "read user", rc);
    }
    std::vector<TokenInfo> tokens;
    Status failure;
    rc = txn.scan(kv::Table::user_tokens, prefix, [&](std::string_view key, std::string_view) {
        std::size_t sep = key.find('\0');
        if (sep == std::string_view::npos) {
            failure = {StatusCode::store_error, "store: a token index entry is corrupt"};
            return false;
        }
        auto found = find_token(txn, *impl_, key.substr(sep + 1));
        if (found) {
            tokens.push_back(to_info(found->view()));
        } else if (found.status().code() != StatusCode::not_found) {  // revoked ones are skipped
            failure = found.status();
            return false;
        }
        return true;
    });
    if (rc != 0) return kv_error(txn, "read tokens", rc);
    if (!failure.ok()) return failure;
    std::stable_sort(tokens.begin(), tokens.end(), [](const TokenInfo& a, const TokenInfo& b) {
        return a.owner != b.owner ? a.owner < b.owner : a.created_ms < b.created_ms;
    });
    reading->reset();  // the snapshot ends before the usage file is read
    merge_usage(*impl_, tokens);
    return tokens;
}

Expected<TokenInfo> Store::get_token(std::string_view id) {
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    auto found = find_token(txn, *impl_, id);
    if (!found) return found.status();
    TokenInfo info = to_info(found->view());
    reading->reset();  // the snapshot ends before the usage file is read
    return with_usage(*impl_, std::move(info));
}

Expected<TokenInfo> Store::modify_token(const Actor& actor, std::string_view id, const TokenChange& change,
                                        const AuditContext& audit) {
    if (change.name) {
        if (Status s = validate_token_name(*change.name); !s.ok()) return s;
    }
    TokenInfo result;
    Status written = run_write(*impl_, [&](kv::Txn& txn) -> Status {
        auto found = find_token(txn, *impl_, id);
        if (!found) return found.status();
        records::TokenView token = found->view();
        if (!may_manage(actor, token)) return token_not_found(id);
        if (change.project) token.permissions.project = *change.project;
        if (change.repo) token.permissions.repo = *change.repo;
        if (change.name) token.name = *change.name;
        if (Status s = validate_token_permissions(token.permissions); !s.ok()) return s;
        int rc = txn.put(kv::Table::tokens, found->digest, records::encode_token(token));
        if (rc != 0) return kv_error(txn, "write token", rc);
        result = to_info(token);
        return append_audit(*impl_, txn, AuditAction::token_modified, audit, result.owner, result.id,
                            describe(token.permissions) + " name:" + result.name);
    });
    if (!written.ok()) return written;
    return with_usage(*impl_, std::move(result));
}

Status Store::revoke_token(const Actor& actor, std::string_view id, const AuditContext& audit) {
    const std::int64_t revoked_at = now_ms();
    Status revoked = run_write(
        *impl_,
        [&](kv::Txn& txn) -> Status {
            auto found = find_token(txn, *impl_, id);
            if (!found) return found.status();
            records::TokenView token = found->view();
            if (!may_manage(actor, token)) return token_not_found(id);
            // The record stays as a tombstone so that a later use is reported
            // as "revoked" rather than "unknown"; it lists nowhere.
            token.revoked = true;
            token.revoked_ms = revoked_at;
            int rc = txn.put(kv::Table::tokens, found->digest, records::encode_token(token));
            if (rc != 0) return kv_error(txn, "write token", rc);
            return append_audit(*impl_, txn, AuditAction::token_revoked, audit, token.owner, token.id);
        },
        Space::reserve);  // takes access away: works on a full store
    if (revoked.ok()) forget_usage(*impl_, {std::string(id)});
    return revoked;
}

Status Store::record_token_uses(const std::vector<std::pair<std::string, std::int64_t>>& uses) {
    if (uses.empty()) return Status::success();
    return run_write(*impl_, [&](kv::Txn& txn) -> Status {
        for (const auto& [id, when] : uses) {
            auto found = find_token(txn, *impl_, id);
            if (!found) {
                if (found.status().code() == StatusCode::not_found) continue;  // revoked meanwhile
                return found.status();
            }
            records::TokenView token = found->view();
            if (when <= token.last_authenticated_ms) continue;
            token.last_authenticated_ms = when;
            int rc = txn.put(kv::Table::tokens, found->digest, records::encode_token(token));
            if (rc != 0) return kv_error(txn, "write token", rc);
        }
        return Status::success();
    });
}

// Revocation inside a caller's write transaction (token_inventory.cpp):
// the same tombstone and audit entry as revoke_token, by the system.
// not_found when the token is not live.
Status revoke_token_in(Store::Impl& store, kv::Txn& txn, std::string_view id, std::int64_t revoked_at,
                       const AuditContext& audit, std::string_view detail) {
    auto found = find_token(txn, store, id);
    if (!found) return found.status();
    records::TokenView token = found->view();
    token.revoked = true;
    token.revoked_ms = revoked_at;
    int rc = txn.put(kv::Table::tokens, found->digest, records::encode_token(token));
    if (rc != 0) return kv_error(txn, "write token", rc);
    return append_audit(store, txn, AuditAction::token_revoked, audit, token.owner, token.id, detail);
}

}  // namespace pat
