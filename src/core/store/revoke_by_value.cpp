// Revoking a token by its text (a leaked token found by whoever holds it:
// `patctl token revoke --token-stdin`, POST .../access-tokens/1.0/revoke).
//
// The same rule as Store::revoke_token (the record stays as a tombstone,
// the usage entry is dropped, token-revoked is audited), reached through the
// token's digest instead of its id, with "by value" in the audit detail.
#include <string>
#include <vector>

#include "impl.hpp"
#include "pat/secret.hpp"
#include "pat/token.hpp"
#include "records.hpp"

namespace pat {

namespace {

constexpr std::string_view kByValueDetail = "by value";

}  // namespace

Expected<std::vector<RevokedByValue>> Store::revoke_tokens_by_value(const std::vector<std::string_view>& texts,
                                                                    const AuditContext& audit) {
    // Every entry is hashed and looked up whatever its shape, so that the
    // work done does not depend on which entries are tokens (a malformed
    // one is looked up under its digest too and simply not found).
    TokenHasher hasher;
    if (!hasher.ready()) return Status{StatusCode::store_error, "OpenSSL: SHA-256 is not available"};
    std::vector<std::string> digests;
    std::vector<bool> well_formed;
    digests.reserve(texts.size());
    well_formed.reserve(texts.size());
    for (std::string_view text : texts) {
        TokenDigest digest;
        if (!hasher.digest(text, digest)) return Status{StatusCode::store_error, "OpenSSL: SHA-256 failed"};
        digests.emplace_back(reinterpret_cast<const char*>(digest.data()), digest.size());
        wipe(digest.data(), digest.size());
        well_formed.push_back(check_token_format(text) == TokenFormat::valid);
    }
    std::vector<RevokedByValue> revoked;
    const std::int64_t revoked_at = now_ms();
    Status written = run_write(
        *impl_,
        [&](kv::Txn& txn) -> Status {
            revoked.clear();
            for (std::size_t i = 0; i < digests.size(); ++i) {
                std::string_view record;
                const int rc = txn.get(kv::Table::tokens, digests[i], record);
                if (rc == kv::kNotFound || !well_formed[i]) continue;
                if (rc != 0) return kv_error(txn, "read token", rc);
                auto view = records::decode_token(record);
                if (!view) return {StatusCode::store_error, "store: a token record is corrupt"};
                // Revoked, or retired by a rotation (refused already): not live.
                // Also a token sent twice in one request.
                if (view->revoked || view->rotated) continue;
                records::TokenView token = *view;
                token.revoked = true;
                token.revoked_ms = revoked_at;
                RevokedByValue entry{std::string(token.id), std::string(token.owner)};
                const std::string encoded = records::encode_token(token);
                if (int put = txn.put(kv::Table::tokens, digests[i], encoded); put != 0)
                    return kv_error(txn, "write token", put);
                if (Status s = append_audit(*impl_, txn, AuditAction::token_revoked, audit, entry.owner, entry.id,
                                            kByValueDetail);
                    !s.ok())
                    return s;
                revoked.push_back(std::move(entry));
            }
            return Status::success();
        },
        Space::reserve);  // takes access away: works on a full store
    for (std::string& digest : digests) wipe(digest.data(), digest.size());
    if (!written.ok()) return written;
    if (!revoked.empty()) {
        std::vector<std::string> ids;
        for (const RevokedByValue& entry : revoked) ids.push_back(entry.id);
        forget_usage(*impl_, ids);
    }
    return revoked;
}

Expected<RevokedByValue> Store::revoke_token_by_value(std::string_view text, const AuditContext& audit) {
    switch (check_token_format(text)) {
        case TokenFormat::valid: break;
        case TokenFormat::malformed:
            return Status{StatusCode::invalid_argument,
                          "this is not an nginx-pat token (npat_ followed by 49 letters and digits)"};
        case TokenFormat::bad_checksum:
            return Status{StatusCode::invalid_argument, "this is not an nginx-pat token (its checksum is wrong)"};
    }
    auto revoked = revoke_tokens_by_value({text}, audit);
    if (!revoked) return revoked.status();
    if (revoked->empty()) return Status{StatusCode::not_found, "no live token has this value (unknown or revoked)"};
    return std::move(revoked->front());
}

}  // namespace pat
