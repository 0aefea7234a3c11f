// Users: add, password, enable/disable, delete (with their grants and
// tokens), list, and password authentication.
#include <string>

#include "impl.hpp"
#include "pat/names.hpp"
#include "pat/password.hpp"
#include "pat/token.hpp"
#include "records.hpp"

namespace pat {
namespace {

constexpr std::size_t kMaxDisplayName = 256;

}  // namespace

Status validate_display_name(std::string_view name) {
    if (name.size() > kMaxDisplayName) {
        return {StatusCode::invalid_argument, "display name is longer than 256 bytes"};
    }
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) return {StatusCode::invalid_argument, "display name contains a control character"};
    }
    return Status::success();
}

namespace {

UserInfo to_info(std::string name, const records::UserView& user) {
    return UserInfo{std::move(name),
                    std::string(user.display_name),
                    user.active,
                    user.sysadmin,
                    user.from_directory ? UserSource::directory : UserSource::local,
                    user.password != records::kNoPassword};
}

Status user_not_found(std::string_view name) {
    return {StatusCode::not_found, "no user '" + std::string(name) + "'"};
}

// Reads and decodes a user inside txn. not_found or store_error on failure.
Expected<records::UserView> read_user(kv::Txn& txn, const Store::Impl& /*store*/, std::string_view name) {
    std::string_view bytes;
    int rc = txn.get(kv::Table::users, name, bytes);
    if (rc == kv::kNotFound) return user_not_found(name);
    if (rc != 0) return kv_error(txn, "read user", rc);
    auto user = records::decode_user(bytes);
    if (!user)
        return Status{StatusCode::store_error, "store: the record of user '" + std::string(name) + "' is corrupt"};
    return *user;
}

// Read-modify-write of one user record, audited as action.
Status update_user(Store::Impl& store, std::string_view raw_name, AuditAction action, const AuditContext& audit,
                   const std::function<void(records::UserView&)>& change, Space space = Space::ordinary) {
    auto name = canonical_user_name(raw_name);
    if (!name) return name.status();
    return run_write(
        store,
        [&](kv::Txn& txn) -> Status {
            auto user = read_user(txn, store, *name);
            if (!user) return user.status();
            std::string display(user->display_name);  // the view dies with the put
            user->display_name = display;
            change(*user);
            int rc = txn.put(kv::Table::users, *name, records::encode_user(*user));
            if (rc != 0) return kv_error(txn, "write user", rc);
            return append_audit(store, txn, action, audit, *name);
        },
        space);
}

// A password shaped like a token could never be used: the management API
// refuses token-shaped credentials so that a token never manages tokens.
Expected<PasswordHash> hash_new_password(std::string_view password) {
    if (check_token_format(password) != TokenFormat::malformed) {
        return Status{StatusCode::invalid_argument, "a password may not look like an access token"};
    }
    return hash_password(password);
}

// A deleted user's memberships (both rows each) and effective levels.
Status forget_memberships(const Store::Impl& store, kv::Txn& txn, const std::string& name) {
    if (!store.has_groups) return Status::success();
    const std::string prefix = records::user_prefix(name);
    std::vector<std::string> keys;
    int rc = collect_keys(txn, kv::Table::user_groups, prefix, keys);
    if (rc != 0) return kv_error(txn, "read memberships", rc);
    for (const std::string& key : keys) {
        const std::string group = key.substr(prefix.size());
        if ((rc = txn.del(kv::Table::user_groups, key)) != 0) return kv_error(txn, "delete membership", rc);
        rc = txn.del(kv::Table::group_members, records::pair_key(group, name));
        if (rc != 0 && rc != kv::kNotFound) return kv_error(txn, "delete membership", rc);
    }
    keys.clear();
    if ((rc = collect_keys(txn, kv::Table::effective, prefix, keys)) != 0)
        return kv_error(txn, "read effective levels", rc);
    for (const std::string& key : keys) {
        if ((rc = txn.del(kv::Table::effective, key)) != 0) return kv_error(txn, "delete effective level", rc);
    }
    return Status::success();
}

}  // namespace

std::string_view user_source_name(UserSource source) {
    return source == UserSource::directory ? "directory" : "local";
}

Status Store::add_user(std::string_view raw_name, std::string_view display_name, bool sysadmin,
                       std::string_view password, const AuditContext& audit) {
    auto name = canonical_user_name(raw_name);
    if (!name) return name.status();
    if (Status s = validate_display_name(display_name); !s.ok()) return s;
    // The slow KDF runs before the write transaction, which stays short.
    auto hash = hash_new_password(password);
    if (!hash) return hash.status();
    records::UserView user;
    user.active = true;
    user.sysadmin = sysadmin;
    user.password = *hash;
    user.display_name = display_name.empty() ? std::string_view(*name) : display_name;
    const std::string record = records::encode_user(user);
    return run_write(*impl_, [&](kv::Txn& txn) -> Status {
        int rc = txn.put(kv::Table::users, *name, record, kv::Put::no_overwrite);
        if (rc == kv::kKeyExists) return {StatusCode::already_exists, "user '" + *name + "' already exists"};
        if (rc != 0) return kv_error(txn, "write user", rc);
        return append_audit(*impl_, txn, AuditAction::user_added, audit, *name, {}, sysadmin ? "sysadmin" : "");
    });
}

Status Store::add_user_without_password(std::string_view raw_name, std::string_view display_name, bool sysadmin,
                                        const AuditContext& audit) {
    auto name = canonical_user_name(raw_name);
    if (!name) return name.status();
    if (Status s = validate_display_name(display_name); !s.ok()) return s;
    records::UserView user;
    user.active = true;
    user.sysadmin = sysadmin;
    user.password = records::kNoPassword;
    user.display_name = display_name.empty() ? std::string_view(*name) : display_name;
    const std::string record = records::encode_user(user);
    return run_write(*impl_, [&](kv::Txn& txn) -> Status {
        int rc = txn.put(kv::Table::users, *name, record, kv::Put::no_overwrite);
        if (rc == kv::kKeyExists) return {StatusCode::already_exists, "user '" + *name + "' already exists"};
        if (rc != 0) return kv_error(txn, "write user", rc);
        return append_audit(*impl_, txn, AuditAction::user_added, audit, *name, {},
                            sysadmin ? "sysadmin, no password" : "no password");
    });
}

Status Store::set_password(std::string_view name, std::string_view password, const AuditContext& audit) {
    auto hash = hash_new_password(password);
    if (!hash) return hash.status();
    return update_user(*impl_, name, AuditAction::password_changed, audit,
                       [&](records::UserView& user) { user.password = *hash; });
}

Status Store::set_user_active(std::string_view name, bool active, const AuditContext& audit) {
    // Disabling takes access away: it may use the reserve (a full store).
    return update_user(
        *impl_, name, active ? AuditAction::user_enabled : AuditAction::user_disabled, audit,
        [&](records::UserView& user) { user.active = active; }, active ? Space::ordinary : Space::reserve);
}

Status Store::delete_user(std::string_view raw_name, const AuditContext& audit) {
    auto name = canonical_user_name(raw_name);
    if (!name) return name.status();
    const std::string prefix = records::user_prefix(*name);
    std::vector<std::string> token_ids;
    Status deleted = run_write(*impl_, [&](kv::Txn& txn) -> Status {
        int rc = txn.del(kv::Table::users, *name);
        if (rc == kv::kNotFound) return user_not_found(*name);
        if (rc != 0) return kv_error(txn, "delete user", rc);

        // Collect first, delete after: a cursor walk and deletes in the
        // same table do not mix well.
        std::vector<std::string> doomed;
        rc = txn.scan(kv::Table::grants, prefix, [&](std::string_view key, std::string_view) {
            doomed.emplace_back(key);
            return true;
        });
        if (rc != 0) return kv_error(txn, "read grants", rc);
        for (const auto& key : doomed) {
            if ((rc = txn.del(kv::Table::grants, key)) != 0) return kv_error(txn, "delete grant", rc);
        }
        if (Status s = forget_memberships(*impl_, txn, *name); !s.ok()) return s;
        doomed.clear();
        rc = txn.scan(kv::Table::user_tokens, prefix, [&](std::string_view key, std::string_view) {
            doomed.emplace_back(key);
            return true;
        });
        if (rc != 0) return kv_error(txn, "read tokens", rc);
        for (const auto& key : doomed) {
            std::string id = key.substr(prefix.size());
            token_ids.push_back(id);
            std::string_view digest;
            rc = txn.get(kv::Table::token_ids, id, digest);
            if (rc == 0) {
                std::string digest_copy(digest);
                if ((rc = txn.del(kv::Table::tokens, digest_copy)) != 0 && rc != kv::kNotFound)
                    return kv_error(txn, "delete token", rc);
                if ((rc = txn.del(kv::Table::token_ids, id)) != 0) return kv_error(txn, "delete token id", rc);
            } else if (rc != kv::kNotFound) {
                return kv_error(txn, "read token id", rc);
            }
            if ((rc = txn.del(kv::Table::user_tokens, key)) != 0) return kv_error(txn, "delete token index", rc);
        }
        return append_audit(*impl_, txn, AuditAction::user_deleted, audit, *name, {},
                            std::to_string(doomed.size()) + " tokens deleted");
    });
    if (deleted.ok()) forget_usage(*impl_, token_ids);
    return deleted;
}

Expected<std::vector<UserInfo>> Store::list_users() {
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    int rc = 0;
    std::vector<UserInfo> users;
    bool corrupt = false;
    rc = txn.scan(kv::Table::users, "", [&](std::string_view key, std::string_view value) {
        auto user = records::decode_user(value);
        if (!user) {
            corrupt = true;
            return false;
        }
        users.push_back(to_info(std::string(key), *user));
        return true;
    });
    if (rc != 0) return kv_error(txn, "read users", rc);
    if (corrupt) return Status{StatusCode::store_error, "store: a user record is corrupt"};
    return users;
}

Expected<UserInfo> Store::get_user(std::string_view raw_name) {
    auto name = canonical_user_name(raw_name);
    if (!name) return name.status();
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    auto user = read_user(txn, *impl_, *name);
    if (!user) return user.status();
    return to_info(*name, *user);
}

Status Store::authenticate_user(std::string_view raw_name, std::string_view password, const AuditContext& audit) {
    const Status refused{StatusCode::refused, "wrong user name or password"};
    auto name = canonical_user_name(raw_name);
    if (!name) {
        record_sign_in_failure(*impl_, "", audit);
        return refused;
    }
    PasswordHash stored;  // defaults: a well-formed hash nobody's password matches
    bool active = true;
    {
        auto reading = impl_->engine->read();
        if (!reading) return reading.status();
        kv::Txn& txn = **reading;
        auto user = read_user(txn, *impl_, *name);
        if (!user && user.status().code() != StatusCode::not_found) return user.status();
        // No password (a directory user, or one made by apply): refused
        // like a wrong password, after the same KDF.
        if (user && user->active && user->password != records::kNoPassword)
            stored = user->password;
        else
            active = false;
    }  // the KDF runs outside the transaction
    // An unknown or disabled user costs the same KDF as a real one, so the
    // answer's timing does not tell which names exist.
    if (verify_password(password, stored) && active) return Status::success();
    record_sign_in_failure(*impl_, *name, audit);
    return refused;
}

Status Store::refuse_sign_in(std::string_view raw_name, const AuditContext& audit) {
    auto name = canonical_user_name(raw_name);
    record_sign_in_failure(*impl_, name ? std::string_view(*name) : std::string_view(), audit);
    return {StatusCode::refused, "wrong user name or password"};
}

Expected<UserInfo> Store::admit_directory_user(std::string_view raw_name, std::string_view display_name,
                                               const AuditContext& audit) {
    auto name = canonical_user_name(raw_name);
    if (!name) return refuse_sign_in(raw_name, audit);
    // A directory's display name may be longer or odder than ours: the name
    // then stands in, rather than refusing someone the directory accepted.
    const std::string_view shown =
        display_name.empty() || !validate_display_name(display_name).ok() ? std::string_view(*name) : display_name;
    UserInfo admitted;
    bool disabled = false;
    Status written = run_write(*impl_, [&](kv::Txn& txn) -> Status {
        auto existing = read_user(txn, *impl_, *name);
        if (existing) {
            // A local user (a password here) never signs in through the
            // directory: sign_in asked the store first; this is a race.
            disabled = !existing->active || existing->password != records::kNoPassword;
            admitted = to_info(*name, *existing);
            return Status::success();
        }
        if (existing.status().code() != StatusCode::not_found) return existing.status();
        records::UserView user;
        user.active = true;
        user.from_directory = true;
        user.password = records::kNoPassword;
        user.display_name = shown;
        int rc = txn.put(kv::Table::users, *name, records::encode_user(user), kv::Put::no_overwrite);
        if (rc != 0) return kv_error(txn, "write user", rc);
        admitted = to_info(*name, user);
        return append_audit(*impl_, txn, AuditAction::user_added, audit, *name, {},
                            "from the directory at first sign-in");
    });
    if (!written.ok()) return written;
    if (disabled) return refuse_sign_in(*name, audit);
    return admitted;
}

}  // namespace pat
