// Bulk seeding for benchmarks and soak tests: large write transactions,
// no KDF per user, no audit. Not reachable from patctl or the API.
#include <string>

#include "pat/names.hpp"
#include "pat/token.hpp"
#include "records.hpp"
#include "store_impl.hpp"

namespace pat {

Expected<std::vector<std::string>> Store::bulk_load(const BulkLoad& load, std::size_t batch_size) {
    if (batch_size == 0) return Status{StatusCode::invalid_argument, "batch size must be positive"};

    // Validate and encode everything first: a bad row refuses the whole load
    // before anything is written.
    std::vector<std::pair<std::string, std::string>> users;  // name, record
    for (const auto& user : load.users) {
        auto name = canonical_user_name(user.name);
        if (!name) return name.status();
        records::UserView view;
        view.active = true;
        view.sysadmin = user.sysadmin;
        view.password = load.password;
        view.display_name = *name;
        users.emplace_back(*name, records::encode_user(view));
    }
    std::vector<std::pair<std::string, char>> project_grants, repo_grants;
    for (const auto& grant : load.grants) {
        auto user = canonical_user_name(grant.user);
        auto key = canonical_project_key(grant.project);
        if (!user) return user.status();
        if (!key) return key.status();
        if (grant.level == Level::none) return Status{StatusCode::invalid_argument, "a grant needs a level"};
        if (grant.repo.empty()) {
            project_grants.emplace_back(records::project_grant_key(*user, *key), static_cast<char>(grant.level));
        } else {
            auto slug = canonical_repo_slug(grant.repo);
            if (!slug) return slug.status();
            repo_grants.emplace_back(records::repo_grant_key(*user, *key, *slug), static_cast<char>(grant.level));
        }
    }
    TokenHasher hasher;
    struct Row {
        std::string digest, id, owner, record;
    };
    std::vector<Row> tokens;
    tokens.reserve(load.tokens.size());
    std::vector<std::string> ids;
    for (const auto& token : load.tokens) {
        if (check_token_format(token.text) != TokenFormat::valid) {
            return Status{StatusCode::invalid_argument, "bulk load: a token is not in the token format"};
        }
        if (Status s = validate_token_permissions(token.permissions); !s.ok()) return s;
        auto owner = canonical_user_name(token.owner);
        if (!owner) return owner.status();
        auto id = generate_token_id();
        if (!id) return id.status();
        TokenDigest digest;
        if (!hasher.digest(token.text, digest)) return Status{StatusCode::store_error, "OpenSSL: SHA-256 failed"};
        records::TokenView view;
        view.permissions = token.permissions;
        view.created_ms = token.created_ms;
        view.expires_ms = token.expires_ms;
        view.id = *id;
        view.owner = *owner;
        view.name = token.name;
        tokens.push_back({std::string(reinterpret_cast<const char*>(digest.data()), digest.size()), *id, *owner,
                          records::encode_token(view)});
        ids.push_back(*id);
    }

    // Then write in batches, each one transaction.
    std::size_t total = users.size() + project_grants.size() + repo_grants.size() + tokens.size();
    for (std::size_t start = 0; start < total; start += batch_size) {
        const std::size_t end = std::min(total, start + batch_size);
        Status s = lmdb::run_write(*impl_, [&](MDB_txn* txn) -> Status {
            for (std::size_t i = start; i < end; ++i) {
                std::size_t j = i;
                int rc = 0;
                if (j < users.size()) {
                    rc = lmdb::put(txn, impl_->users, users[j].first, users[j].second);
                } else if ((j -= users.size()) < project_grants.size()) {
                    rc = lmdb::put(txn, impl_->project_grants, project_grants[j].first, {&project_grants[j].second, 1});
                } else if ((j -= project_grants.size()) < repo_grants.size()) {
                    rc = lmdb::put(txn, impl_->repo_grants, repo_grants[j].first, {&repo_grants[j].second, 1});
                } else {
                    const Row& row = tokens[j - repo_grants.size()];
                    rc = lmdb::put(txn, impl_->tokens, row.digest, row.record, MDB_NOOVERWRITE);
                    if (rc == 0) rc = lmdb::put(txn, impl_->token_ids, row.id, row.digest, MDB_NOOVERWRITE);
                    if (rc == 0) rc = lmdb::put(txn, impl_->user_tokens, records::user_prefix(row.owner) + row.id, {});
                }
                if (rc == MDB_KEYEXIST) return {StatusCode::already_exists, "bulk load: a token or id exists already"};
                if (rc != 0) return lmdb::error("bulk write", rc);
            }
            return Status::success();
        });
        if (!s.ok()) return s;
    }
    return ids;
}

}  // namespace pat
