// DirectoryClient (pat/directory.hpp): sign-in, a user's groups, the lists a
// sync reads. Each call opens its own connection (connection.hpp).
#include <ldap.h>

#include <algorithm>
#include <map>
#include <set>

#include "connection.hpp"
#include "pat/directory.hpp"
#include "pat/names.hpp"

namespace pat {
namespace {

using directory::Connection;
using directory::Entry;

// A user search asks for two entries: the second one says "ambiguous".
constexpr int kUserSearchLimit = 2;

DirectoryError error(DirectoryErrorKind kind, std::string message) {
    return {kind, std::move(message)};
}

// The user an entry describes. Its name attribute must have exactly one
// value and that value must be a valid user name here: a store lookup is a
// byte comparison of canonical names (pat/names.hpp).
DirectoryResult<DirectoryUser> user_of(const DirectoryConfig& config, const Entry& entry) {
    const std::vector<std::string>& names = entry.values(config.user_name_attribute);
    if (names.size() != 1) {
        return error(DirectoryErrorKind::invalid_name, "the entry " + entry.dn + " has " +
                                                           std::to_string(names.size()) + " values of " +
                                                           config.user_name_attribute + " (one is needed)");
    }
    Expected<std::string> name = canonical_user_name(names.front());
    if (!name) {
        return error(DirectoryErrorKind::invalid_name,
                     "the entry " + entry.dn + ": " + config.user_name_attribute + " " +
                         escape_filter_value(names.front()) +
                         " is not a valid user name here: " + name.status().message());
    }
    std::string display_name = entry.first(config.user_display_name_attribute);
    if (display_name.empty()) display_name = *name;
    return DirectoryUser{std::move(*name), std::move(display_name), entry.dn};
}

std::vector<std::string> user_attributes(const DirectoryConfig& config) {
    return {config.user_name_attribute, config.user_display_name_attribute};
}

DirectoryResult<DirectoryUser> find_user_on(Connection& connection, const DirectoryConfig& config,
                                            std::string_view name) {
    const std::string filter = user_search_filter(config, name);
    DirectoryResult<std::vector<Entry>> entries =
        connection.search(config.user_base, filter, user_attributes(config), kUserSearchLimit);
    if (!entries) return entries.error();
    if (entries->empty()) {
        return error(DirectoryErrorKind::not_found, "no user: no entry under " + config.user_base + " matches " +
                                                        filter + " on " + connection.server().url);
    }
    if (entries->size() > 1) {
        return error(DirectoryErrorKind::ambiguous, "more than one entry under " + config.user_base + " matches " +
                                                        filter + " (" + entries->at(0).dn + ", " + entries->at(1).dn +
                                                        ")");
    }
    return user_of(config, entries->front());
}

DirectoryResult<std::vector<DirectoryGroup>> groups_of_on(Connection& connection, const DirectoryConfig& config,
                                                          const DirectoryUser& user) {
    std::vector<DirectoryGroup> groups;
    if (config.group_base.empty()) return groups;
    DirectoryResult<std::vector<Entry>> entries =
        connection.search(config.group_base, group_search_filter(config, user), {config.group_name_attribute}, 0);
    if (!entries) return entries.error();
    for (const Entry& entry : *entries) {
        std::string name = entry.first(config.group_name_attribute);
        groups.push_back({name.empty() ? entry.dn : std::move(name), entry.dn});
    }
    std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return groups;
}

DirectoryResult<DirectoryUserList> list_users_on(Connection& connection, const DirectoryConfig& config) {
    DirectoryResult<std::vector<Entry>> entries =
        connection.search(config.user_base, config.user_filter, user_attributes(config), 0);
    if (!entries) return entries.error();
    DirectoryUserList list;
    std::map<std::string, std::string> dn_of_name;
    for (const Entry& entry : *entries) {
        DirectoryResult<DirectoryUser> user = user_of(config, entry);
        if (!user) {
            list.skipped.push_back(user.error().message);
            continue;
        }
        auto [first, inserted] = dn_of_name.emplace(user->name, user->dn);
        if (!inserted) {
            list.skipped.push_back("the entry " + user->dn + ": the name " + user->name + " is also " + first->second +
                                   "'s");
            continue;
        }
        list.users.push_back(std::move(user.value()));
    }
    std::sort(list.users.begin(), list.users.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return list;
}

// Active Directory's LDAP_MATCHING_RULE_IN_CHAIN on memberOf: the users in
// a group directly or through nested groups.
DirectoryResult<std::vector<std::string>> nested_members(Connection& connection, const DirectoryConfig& config,
                                                         const std::string& group_dn) {
    const std::string filter =
        "(&" + config.user_filter + "(memberOf:1.2.840.113556.1.4.1941:=" + escape_filter_value(group_dn) + "))";
    DirectoryResult<std::vector<Entry>> entries =
        connection.search(config.user_base, filter, user_attributes(config), 0);
    if (!entries) return entries.error();
    std::vector<std::string> names;
    for (const Entry& entry : *entries) {
        DirectoryResult<DirectoryUser> user = user_of(config, entry);
        if (user) names.push_back(user->name);
    }
    return names;
}

}  // namespace

DirectoryResult<DirectoryUser> DirectoryClient::find_user(std::string_view name) const {
    std::vector<std::string> skipped;
    DirectoryResult<Connection> connection = Connection::open(config_, skipped);
    if (!connection) return connection.error();
    return find_user_on(connection.value(), config_, name);
}

DirectorySignIn DirectoryClient::authenticate(std::string_view name, std::string_view password) const {
    using Outcome = DirectorySignIn::Outcome;
    // Before any bind: a bind with a DN and no password is an
    // "unauthenticated bind", which many servers answer with success.
    if (password.empty()) return {Outcome::refused, {}, "an empty password"};
    if (password.size() > kMaxDirectoryPassword) return {Outcome::refused, {}, "a password over 1024 bytes"};
    std::vector<std::string> skipped;
    DirectoryResult<Connection> connection = Connection::open(config_, skipped);
    if (!connection) return {Outcome::unavailable, {}, connection.error().message};
    DirectoryResult<DirectoryUser> user = find_user_on(connection.value(), config_, name);
    if (!user) {
        return {user.error().unavailable() ? Outcome::unavailable : Outcome::refused, {}, user.error().message};
    }
    std::string why;
    const int rc = connection->bind(user->dn, password, why);
    if (rc == LDAP_SUCCESS) return {Outcome::ok, std::move(user.value()), {}};
    if (rc == LDAP_INVALID_CREDENTIALS) return {Outcome::refused, {}, "wrong password for " + user->dn};
    if (directory::is_unavailable_code(rc)) {
        return {Outcome::unavailable,
                {},
                "the bind as " + user->dn + " on " + connection->server().url + " failed: " + why};
    }
    // Locked, expired, disabled (AD: invalid credentials with a data code,
    // other servers: unwilling to perform): the same refusal.
    return {Outcome::refused, {}, "the directory refused the bind as " + user->dn + ": " + why};
}

DirectoryResult<std::vector<DirectoryGroup>> DirectoryClient::groups_of(const DirectoryUser& user) const {
    std::vector<std::string> skipped;
    DirectoryResult<Connection> connection = Connection::open(config_, skipped);
    if (!connection) return connection.error();
    return groups_of_on(connection.value(), config_, user);
}

DirectoryResult<DirectoryUserList> DirectoryClient::list_users() const {
    std::vector<std::string> skipped;
    DirectoryResult<Connection> connection = Connection::open(config_, skipped);
    if (!connection) return connection.error();
    return list_users_on(connection.value(), config_);
}

DirectoryResult<DirectoryGroupList> DirectoryClient::list_groups_with_members() const {
    std::vector<std::string> skipped;
    DirectoryResult<Connection> connection = Connection::open(config_, skipped);
    if (!connection) return connection.error();
    DirectoryGroupList list;
    if (config_.group_base.empty()) return list;
    DirectoryResult<DirectoryUserList> users = list_users_on(connection.value(), config_);
    if (!users) return users.error();
    std::map<std::string, std::string> name_of_dn;
    std::set<std::string> known;
    for (const DirectoryUser& user : users->users) {
        name_of_dn.emplace(directory::comparable_dn(user.dn), user.name);
        known.insert(user.name);
    }
    std::vector<std::string> attributes = {config_.group_name_attribute, config_.group_member_attribute};
    if (!config_.group_member_uid_attribute.empty()) attributes.push_back(config_.group_member_uid_attribute);
    DirectoryResult<std::vector<Entry>> entries =
        connection->search(config_.group_base, config_.group_filter, attributes, 0);
    if (!entries) return entries.error();
    for (const Entry& entry : *entries) {
        std::string name = entry.first(config_.group_name_attribute);
        if (name.empty()) {
            list.skipped.push_back("the group " + entry.dn + " has no " + config_.group_name_attribute);
            continue;
        }
        std::set<std::string> members;
        for (const std::string& dn : entry.values(config_.group_member_attribute)) {
            auto user = name_of_dn.find(directory::comparable_dn(dn));
            if (user != name_of_dn.end()) members.insert(user->second);
        }
        if (!config_.group_member_uid_attribute.empty()) {
            for (const std::string& uid : entry.values(config_.group_member_uid_attribute)) {
                Expected<std::string> canonical = canonical_user_name(uid);
                if (canonical && known.count(*canonical) != 0) members.insert(*canonical);
            }
        }
        if (config_.group_nested) {
            DirectoryResult<std::vector<std::string>> nested = nested_members(connection.value(), config_, entry.dn);
            if (!nested) return nested.error();
            members.insert(nested->begin(), nested->end());
        }
        list.groups.push_back({std::move(name), entry.dn, {members.begin(), members.end()}});
    }
    std::sort(list.groups.begin(), list.groups.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return list;
}

DirectoryResult<DirectoryTestReport> DirectoryClient::test(std::string_view name) const {
    DirectoryTestReport report;
    DirectoryResult<Connection> connection = Connection::open(config_, report.skipped);
    if (!connection) return connection.error();
    report.server = connection->server().url;
    report.tls = connection->server().tls;
    DirectoryResult<DirectoryUser> user = find_user_on(connection.value(), config_, name);
    if (!user) return user.error();
    report.user = std::move(user.value());
    report.groups_configured = !config_.group_base.empty();
    DirectoryResult<std::vector<DirectoryGroup>> groups = groups_of_on(connection.value(), config_, report.user);
    if (!groups) return groups.error();
    report.groups = std::move(groups.value());
    return report;
}

}  // namespace pat
