#include "render.hpp"

#include "output.hpp"
#include "targets.hpp"

namespace patctl {
namespace {

std::optional<std::string> time_or_null(std::int64_t ms) {
    if (ms == 0) {
        return std::nullopt;
    }
    return format_time_utc(ms);
}

std::string grant_target(const pat::GrantInfo& grant) {
    return grant.repo.empty() ? grant.project : grant.project + "/" + grant.repo;
}

std::string public_target(const pat::PublicTarget& target) {
    return target.repo.empty() ? target.project : target.project + "/" + target.repo;
}

std::optional<std::string> repo_or_null(const std::string& repo) {
    return repo.empty() ? std::nullopt : std::optional<std::string>(repo);
}

}  // namespace

void write_json(JsonWriter& json, const pat::UserInfo& user) {
    json.begin_object()
        .field("name", user.name)
        .field("display_name", user.display_name)
        .field("active", user.active)
        .field("sysadmin", user.sysadmin)
        .field("source", pat::user_source_name(user.source))
        .end_object();
}

void write_json(JsonWriter& json, const pat::GrantInfo& grant) {
    json.begin_object();
    switch (grant.kind) {
        case pat::GranteeKind::user: json.field("user", grant.user); break;
        case pat::GranteeKind::group: json.field("group", grant.user); break;
        case pat::GranteeKind::all_users: json.field("all_users", true); break;
    }
    json.field("scope", grant.repo.empty() ? "project" : "repo").field("project", grant.project);
    json.optional_field("repo", repo_or_null(grant.repo));
    json.field("level", pat::level_name(grant.level)).end_object();
}

void write_json(JsonWriter& json, const pat::GroupInfo& group) {
    json.begin_object()
        .field("name", group.name)
        .field("members", static_cast<std::int64_t>(group.members))
        .end_object();
}

void write_json(JsonWriter& json, const pat::PublicTarget& target) {
    json.begin_object()
        .field("scope", target.repo.empty() ? "project" : "repo")
        .field("project", target.project)
        .optional_field("repo", repo_or_null(target.repo))
        .end_object();
}

void write_json(JsonWriter& json, const std::vector<std::string>& names) {
    json.begin_array();
    for (const std::string& name : names) {
        json.string(name);
    }
    json.end_array();
}

void write_json(JsonWriter& json, const pat::TokenInfo& token) {
    json.begin_object()
        .field("id", token.id)
        .field("owner", token.owner)
        .field("name", token.name)
        .field("project", pat::level_name(token.permissions.project))
        .field("repo", pat::level_name(token.permissions.repo))
        .field("created", format_time_utc(token.created_ms))
        .optional_field("expires", time_or_null(token.expires_ms))
        .optional_field("last_authenticated", time_or_null(token.last_authenticated_ms));
    json.key("last_used_ips").begin_array();
    for (const std::string& address : token.last_used_ips) json.string(address);
    json.end_array().end_object();
}

void write_json(JsonWriter& json, const pat::AuditEntry& entry) {
    json.begin_object()
        .field("time", format_time_utc(entry.time_ms))
        .field("action", pat::audit_action_name(entry.action))
        .field("actor", entry.actor)
        .field("address", entry.address)
        .field("user", entry.user)
        .optional_field("token_id", entry.token_id.empty() ? std::nullopt : std::optional<std::string>(entry.token_id))
        .field("detail", entry.detail)
        .field("count", static_cast<std::int64_t>(entry.count))
        .end_object();
}

std::string render_table(const std::vector<pat::UserInfo>& users) {
    Table table({"NAME", "DISPLAY NAME", "ACTIVE", "SYSADMIN", "SOURCE"});
    for (const pat::UserInfo& user : users) {
        table.add_row({user.name, user.display_name, user.active ? "yes" : "no (disabled)",
                       user.sysadmin ? "yes" : "no", std::string(pat::user_source_name(user.source))});
    }
    return table.render();
}

std::string render_table(const std::vector<pat::GrantInfo>& grants) {
    // "alice", "group \"backend\"", "all users": a user name has no space,
    // so the three cannot be mistaken for one another.
    Table table({"GRANTEE", "SCOPE", "TARGET", "LEVEL"});
    for (const pat::GrantInfo& grant : grants) {
        table.add_row({grantee_for_display(grant.kind, grant.user), grant.repo.empty() ? "project" : "repo",
                       grant_target(grant), std::string(pat::level_name(grant.level))});
    }
    return table.render();
}

std::string render_table(const std::vector<pat::GroupInfo>& groups) {
    Table table({"NAME", "MEMBERS"});
    for (const pat::GroupInfo& group : groups) {
        table.add_row({group.name, std::to_string(group.members)});
    }
    return table.render();
}

std::string render_table(const std::vector<pat::PublicTarget>& targets) {
    Table table({"SCOPE", "TARGET"});
    for (const pat::PublicTarget& target : targets) {
        table.add_row({target.repo.empty() ? "project" : "repo", public_target(target)});
    }
    return table.render();
}

std::string render_table(const std::vector<pat::TokenInfo>& tokens) {
    Table table({"ID", "OWNER", "NAME", "PROJECT", "REPO", "CREATED", "EXPIRES", "LAST AUTHENTICATED", "LAST ADDRESS"});
    for (const pat::TokenInfo& token : tokens) {
        // The most recent client address; --json lists the last 5.
        table.add_row({token.id, token.owner, token.name, std::string(pat::level_name(token.permissions.project)),
                       std::string(pat::level_name(token.permissions.repo)), format_time_utc(token.created_ms),
                       format_time_or_never(token.expires_ms), format_time_or_never(token.last_authenticated_ms),
                       token.last_used_ips.empty() ? std::string("-") : token.last_used_ips.front()});
    }
    return table.render();
}

std::string render_table(const std::vector<pat::AuditEntry>& entries) {
    Table table({"TIME", "ACTION", "ACTOR", "ADDRESS", "USER", "TOKEN", "DETAIL"});
    for (const pat::AuditEntry& entry : entries) {
        table.add_row({format_time_utc(entry.time_ms), std::string(pat::audit_action_name(entry.action)), entry.actor,
                       entry.address, entry.user, entry.token_id.empty() ? "-" : entry.token_id,
                       entry.detail.empty() ? "-" : entry.detail});
    }
    return table.render();
}

std::string describe_permissions(const pat::TokenPermissions& permissions) {
    return "project " + std::string(pat::level_name(permissions.project)) + ", repo " +
           std::string(pat::level_name(permissions.repo));
}

void print_json(JsonWriter& json) {
    json.text() += '\n';
    print_text(json.text());
}

}  // namespace patctl
