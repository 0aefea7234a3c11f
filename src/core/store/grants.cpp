// Grants: user -> project KEY and user -> KEY/slug, each read|write|admin.
#include <string>

#include "impl.hpp"
#include "pat/names.hpp"
#include "records.hpp"

namespace pat {
namespace {

Status validate_grant_level(Level level) {
    if (level == Level::none) return {StatusCode::invalid_argument, "a grant's level is read, write or admin"};
    return Status::success();
}

Status require_user(MDB_txn* txn, const Store::Impl& store, const std::string& user) {
    std::string_view ignored;
    int rc = lmdb::get(txn, store.users, user, ignored);
    if (rc == MDB_NOTFOUND) return {StatusCode::not_found, "no user '" + user + "'"};
    return rc == 0 ? Status::success() : lmdb::error("read user", rc);
}

// target is "project KEY" or "repository KEY/slug": for messages and the audit.
Status put_grant(Store::Impl& store, const std::string& user, const std::string& key, const std::string& target,
                 Level level, const AuditContext& audit) {
    const char value = static_cast<char>(level);
    return lmdb::run_write(store, [&](MDB_txn* txn) -> Status {
        if (Status s = require_user(txn, store, user); !s.ok()) return s;
        int rc = lmdb::put(txn, store.grants, key, std::string_view(&value, 1));
        if (rc != 0) return lmdb::error("write grant", rc);
        return append_audit(store, txn, AuditAction::grant_set, audit, user, {},
                            target + " " + std::string(level_name(level)));
    });
}

Status delete_grant(Store::Impl& store, const std::string& user, const std::string& key, const std::string& target,
                    const AuditContext& audit) {
    return lmdb::run_write(
        store,
        [&](MDB_txn* txn) -> Status {
            int rc = lmdb::del(txn, store.grants, key);
            if (rc == MDB_NOTFOUND) return {StatusCode::not_found, "no grant for '" + user + "' on " + target};
            if (rc != 0) return lmdb::error("delete grant", rc);
            return append_audit(store, txn, AuditAction::grant_removed, audit, user, {}, target);
        },
        lmdb::Space::reserve);  // takes access away: works on a full store
}

}  // namespace

Status Store::grant_project(std::string_view raw_user, std::string_view raw_key, Level level,
                            const AuditContext& audit) {
    auto user = canonical_user_name(raw_user);
    if (!user) return user.status();
    auto key = canonical_project_key(raw_key);
    if (!key) return key.status();
    if (Status s = validate_grant_level(level); !s.ok()) return s;
    return put_grant(*impl_, *user, records::project_grant_key(*user, *key), "project " + *key, level, audit);
}

Status Store::grant_repo(std::string_view raw_user, std::string_view raw_key, std::string_view raw_slug, Level level,
                         const AuditContext& audit) {
    auto user = canonical_user_name(raw_user);
    if (!user) return user.status();
    auto key = canonical_project_key(raw_key);
    if (!key) return key.status();
    auto slug = canonical_repo_slug(raw_slug);
    if (!slug) return slug.status();
    if (Status s = validate_grant_level(level); !s.ok()) return s;
    return put_grant(*impl_, *user, records::repo_grant_key(*user, *key, *slug), "repository " + *key + "/" + *slug,
                     level, audit);
}

Status Store::revoke_project_grant(std::string_view raw_user, std::string_view raw_key, const AuditContext& audit) {
    auto user = canonical_user_name(raw_user);
    if (!user) return user.status();
    auto key = canonical_project_key(raw_key);
    if (!key) return key.status();
    return delete_grant(*impl_, *user, records::project_grant_key(*user, *key), "project " + *key, audit);
}

Status Store::revoke_repo_grant(std::string_view raw_user, std::string_view raw_key, std::string_view raw_slug,
                                const AuditContext& audit) {
    auto user = canonical_user_name(raw_user);
    if (!user) return user.status();
    auto key = canonical_project_key(raw_key);
    if (!key) return key.status();
    auto slug = canonical_repo_slug(raw_slug);
    if (!slug) return slug.status();
    return delete_grant(*impl_, *user, records::repo_grant_key(*user, *key, *slug), "repository " + *key + "/" + *slug,
                        audit);
}

Expected<std::vector<GrantInfo>> Store::list_grants(std::optional<std::string_view> raw_user) {
    std::string prefix;
    if (raw_user) {
        auto user = canonical_user_name(*raw_user);
        if (!user) return user.status();
        prefix = records::user_prefix(*user);
    }
    lmdb::Txn txn;
    int rc = txn.begin(impl_->env, MDB_RDONLY);
    if (rc != 0) return lmdb::error("begin read", rc);
    if (raw_user) {
        // A mistyped name is an error, not an empty list.
        if (Status s = require_user(txn.get(), *impl_, prefix.substr(0, prefix.size() - 1)); !s.ok()) return s;
    }
    std::vector<GrantInfo> grants;
    bool corrupt = false;
    // Keys sort a project's grant just before its repositories' grants.
    rc = lmdb::scan_prefix(txn.get(), impl_->grants, prefix, [&](std::string_view key, std::string_view value) {
        auto level = records::decode_level(value);
        std::size_t sep = key.find('\0');
        if (!level || sep == std::string_view::npos) {
            corrupt = true;
            return false;
        }
        GrantInfo grant;
        grant.user = key.substr(0, sep);
        std::string_view target = key.substr(sep + 1);
        std::size_t slash = target.find('/');  // never in a project key
        grant.project = target.substr(0, slash);
        if (slash != std::string_view::npos) grant.repo = target.substr(slash + 1);
        grant.level = *level;
        grants.push_back(std::move(grant));
        return true;
    });
    if (rc != 0) return lmdb::error("read grants", rc);
    if (corrupt) return Status{StatusCode::store_error, "store: a grant record is corrupt"};
    return grants;
}

}  // namespace pat
