// Bulk seeding for benchmarks and soak tests: large write transactions,
// no KDF per user, no audit. Not reachable from patctl or the API.
#include <string>

#include "impl.hpp"
#include "lmdb_kv.hpp"
#include "pat/names.hpp"
#include "pat/token.hpp"
#include "records.hpp"

namespace pat {

Expected<std::vector<std::string>> Store::bulk_load(const BulkLoad& load, std::size_t batch_size) {
    if (impl_->env == nullptr) return not_on_lmdb();
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
    struct GrantRow {
        bool group = false;
        std::string key;  // name "\0" target
        char level = 0;
    };
    std::vector<GrantRow> grants;
    for (const auto& grant : load.grants) {
        if (grant.kind == GranteeKind::all_users)
            return Status{StatusCode::invalid_argument, "bulk load: all-users defaults are not bulk-loaded"};
        auto name =
            grant.kind == GranteeKind::group ? canonical_group_name(grant.user) : canonical_user_name(grant.user);
        auto key = canonical_project_key(grant.project);
        if (!name) return name.status();
        if (!key) return key.status();
        if (grant.level == Level::none) return Status{StatusCode::invalid_argument, "a grant needs a level"};
        std::string target = *key;
        if (!grant.repo.empty()) {
            auto slug = canonical_repo_slug(grant.repo);
            if (!slug) return slug.status();
            target = records::target_key(*key, *slug);
        }
        grants.push_back(
            {grant.kind == GranteeKind::group, records::pair_key(*name, target), static_cast<char>(grant.level)});
    }
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (const auto& group : load.groups) {
        auto name = canonical_group_name(group.name);
        if (!name) return name.status();
        std::vector<std::string> members;
        for (const auto& member : group.members) {
            auto user = canonical_user_name(member);
            if (!user) return user.status();
            members.push_back(*user);
        }
        groups.emplace_back(*name, std::move(members));
    }
    TokenHasher hasher;
    struct Row {
        std::string digest, owner;
        records::TokenView view;  // id and owner point into ids / owner
    };
    std::vector<Row> tokens;
    tokens.reserve(load.tokens.size());
    std::vector<std::string> ids(load.tokens.size());
    for (const auto& token : load.tokens) {
        if (check_token_format(token.text) != TokenFormat::valid) {
            return Status{StatusCode::invalid_argument, "bulk load: a token is not in the token format"};
        }
        if (Status s = validate_token_permissions(token.permissions); !s.ok()) return s;
        auto owner = canonical_user_name(token.owner);
        if (!owner) return owner.status();
        TokenDigest digest;
        if (!hasher.digest(token.text, digest)) return Status{StatusCode::store_error, "OpenSSL: SHA-256 failed"};
        Row row{std::string(reinterpret_cast<const char*>(digest.data()), digest.size()), *owner, {}};
        row.view.permissions = token.permissions;
        row.view.created_ms = token.created_ms;
        row.view.expires_ms = token.expires_ms;
        row.view.name = token.name;
        tokens.push_back(std::move(row));
    }

    // Then write in batches, each one transaction. Ids are drawn at write
    // time: among a million random 12-digit ids a clash is likely, and one
    // is simply drawn again, as create_token does.
    const std::size_t total = users.size() + grants.size() + tokens.size();
    for (std::size_t start = 0; start < total; start += batch_size) {
        const std::size_t end = std::min(total, start + batch_size);
        Status s = lmdb::run_write(*impl_, [&](MDB_txn* txn) -> Status {
            for (std::size_t i = start; i < end; ++i) {
                int rc = 0;
                if (i < users.size()) {
                    rc = lmdb::put(txn, impl_->users, users[i].first, users[i].second);
                } else if (i - users.size() < grants.size()) {
                    const auto& grant = grants[i - users.size()];
                    rc =
                        lmdb::put(txn, grant.group ? impl_->group_grants : impl_->grants, grant.key, {&grant.level, 1});
                    if (rc == 0 && !grant.group) rc = lmdb::put(txn, impl_->effective, grant.key, {&grant.level, 1});
                } else {
                    const std::size_t t = i - users.size() - grants.size();
                    Row& row = tokens[t];
                    for (int attempt = 0;; ++attempt) {
                        auto id = generate_token_id();
                        if (!id) return id.status();
                        rc = lmdb::put(txn, impl_->token_ids, *id, row.digest, MDB_NOOVERWRITE);
                        if (rc == 0) {
                            ids[t] = std::move(*id);
                            break;
                        }
                        if (rc != MDB_KEYEXIST || attempt == 16) break;
                    }
                    if (rc == 0) {
                        row.view.id = ids[t];
                        row.view.owner = row.owner;
                        rc =
                            lmdb::put(txn, impl_->tokens, row.digest, records::encode_token(row.view), MDB_NOOVERWRITE);
                    }
                    if (rc == 0) rc = lmdb::put(txn, impl_->user_tokens, records::user_prefix(row.owner) + ids[t], {});
                }
                if (rc == MDB_KEYEXIST) return {StatusCode::already_exists, "bulk load: a token exists already"};
                if (rc != 0) return lmdb::error("bulk write", rc);
            }
            return Status::success();
        });
        if (!s.ok()) return s;
    }
    // Groups last, one transaction each: their memberships, then their
    // members' effective levels on the group's targets (effective.cpp).
    for (const auto& group : groups) {
        const std::string& name = group.first;
        const std::vector<std::string>& members = group.second;
        Status s = lmdb::run_write(*impl_, [&](MDB_txn* txn) -> Status {
            int rc = lmdb::put(txn, impl_->groups, name, records::encode_group({}));
            if (rc != 0) return lmdb::error("bulk write", rc);
            LmdbTxn rules(*impl_, txn, false);
            for (const std::string& user : members) {
                if (Status added = add_membership_in(*impl_, rules, name, user); !added.ok()) return added;
            }
            return Status::success();
        });
        if (!s.ok()) return s;
    }
    return ids;
}

}  // namespace pat
