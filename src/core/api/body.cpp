// Request bodies and the paging query of the management API.
//
// Permissions use Bitbucket's names. A token holds one project level and one
// repository level, so a list names at most one of each. When creating, a
// list with only one kind fills the other with the least the permission
// table allows: PROJECT_X alone gives repository X (a project permission
// covers that project's repositories anyway); REPO_X alone gives PROJECT_READ.
// When changing a token, a kind that is not named stays as it is.
#include <charconv>
#include <string>

#include "internal.hpp"
#include "pat/token.hpp"

namespace pat::api {

namespace {

constexpr int kMaxExpiryDays = 3650;

Status bad_request(std::string message) {
    return {StatusCode::invalid_argument, std::move(message)};
}

Expected<json::Value> parse_object_body(std::string_view body) {
    if (body.size() > kMaxApiBodyBytes) return bad_request("the request body is larger than 64 KiB");
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return bad_request("the request body is empty: send a JSON object");
    }
    auto parsed = json::parse(body, json::ParseLimits{kMaxApiBodyBytes, 16});
    if (!parsed) return bad_request("the request body is not valid JSON: " + parsed.status().message());
    if (!parsed->is_object()) return bad_request("the request body must be a JSON object");
    return parsed;
}

// A member that is absent or null counts as not given.
const json::Value* member(const json::Value& object, std::string_view key) {
    const json::Value* value = object.find(key);
    return value == nullptr || value->is_null() ? nullptr : value;
}

Expected<std::string> parse_name(const json::Value& value) {
    if (!value.is_string()) return bad_request("name must be a string");
    const std::string& name = value.as_string();
    if (name.find_first_not_of(" \t") == std::string::npos)
        return bad_request("a token needs a name that is not blank");
    return name;
}

struct PermissionLevels {
    std::optional<Level> project;
    std::optional<Level> repo;
};

constexpr std::string_view kPermissionNames =
    "PROJECT_READ, PROJECT_WRITE, PROJECT_ADMIN, REPO_READ, REPO_WRITE or REPO_ADMIN";

Expected<PermissionLevels> parse_permissions(const json::Value& value) {
    if (!value.is_array()) return bad_request("permissions must be a list such as [\"PROJECT_READ\", \"REPO_WRITE\"]");
    if (value.size() == 0) return bad_request("permissions must name at least one permission");
    PermissionLevels levels;
    for (const json::Value& item : value.elements()) {
        if (!item.is_string()) return bad_request("each permission must be a string");
        const std::string& text = item.as_string();
        std::optional<Level>* slot = nullptr;
        std::optional<Level> level;
        for (Level candidate : {Level::read, Level::write, Level::admin}) {
            if (text == bitbucket_project_permission_name(candidate)) {
                slot = &levels.project;
                level = candidate;
            } else if (text == bitbucket_repo_permission_name(candidate)) {
                slot = &levels.repo;
                level = candidate;
            }
        }
        if (slot == nullptr) {
            std::string shown = text.substr(0, 64);
            return bad_request("unknown permission \"" + shown + "\": permissions are " +
                               std::string(kPermissionNames));
        }
        if (slot->has_value() && **slot != *level) {
            return bad_request(std::string("a token has one ") + (slot == &levels.project ? "project" : "repository") +
                               " permission: name at most one PROJECT_* and one REPO_* permission");
        }
        *slot = level;
    }
    return levels;
}

Expected<std::optional<int>> parse_expiry_days(const json::Value* value) {
    if (value == nullptr) return std::optional<int>();
    const auto days = value->as_int64();
    if (!days || *days < 1 || *days > kMaxExpiryDays) {
        return bad_request("expiryDays must be a whole number of days from 1 to 3650");
    }
    return std::optional<int>(static_cast<int>(*days));
}

// A decimal count from the query string: digits only, no sign, bounded.
std::optional<std::size_t> parse_count(std::string_view text) {
    if (text.empty() || text.size() > 9) return std::nullopt;
    std::size_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

Expected<CreateTokenBody> parse_create_body(std::string_view body) {
    auto object = parse_object_body(body);
    if (!object) return object.status();
    CreateTokenBody result;

    const json::Value* name = member(*object, "name");
    if (name == nullptr) return bad_request("a token needs a name: the request has no \"name\"");
    auto parsed_name = parse_name(*name);
    if (!parsed_name) return parsed_name.status();
    result.name = std::move(*parsed_name);

    if (const json::Value* permissions = member(*object, "permissions")) {
        auto levels = parse_permissions(*permissions);
        if (!levels) return levels.status();
        TokenPermissions chosen;
        chosen.project = levels->project.value_or(Level::read);
        chosen.repo = levels->repo.value_or(levels->project.value_or(Level::read));
        if (Status valid = validate_token_permissions(chosen); !valid.ok()) return bad_request(valid.message());
        result.permissions = chosen;
    }

    auto expiry = parse_expiry_days(member(*object, "expiryDays"));
    if (!expiry) return expiry.status();
    result.expiry_days = *expiry;
    return result;
}

Expected<TokenChange> parse_modify_body(std::string_view body) {
    auto object = parse_object_body(body);
    if (!object) return object.status();
    TokenChange change;
    if (const json::Value* name = member(*object, "name")) {
        auto parsed_name = parse_name(*name);
        if (!parsed_name) return parsed_name.status();
        change.name = std::move(*parsed_name);
    }
    if (const json::Value* permissions = member(*object, "permissions")) {
        auto levels = parse_permissions(*permissions);
        if (!levels) return levels.status();
        if (levels->project && levels->repo) {
            if (Status valid = validate_token_permissions({*levels->project, *levels->repo}); !valid.ok()) {
                return bad_request(valid.message());
            }
        }
        change.project = levels->project;
        change.repo = levels->repo;
    }
    if (member(*object, "expiryDays") != nullptr) {
        return bad_request("a token's expiry cannot be changed: create a new token instead");
    }
    return change;
}

PasswordChangeBody::~PasswordChangeBody() {
    wipe(old_password);
    wipe(password);
}

Expected<PasswordChangeBody> parse_password_body(std::string_view body) {
    auto object = parse_object_body(body);
    if (!object) return object.status();
    PasswordChangeBody result;
    Status problem;
    const json::Value* password = member(*object, "password");
    const json::Value* confirm = member(*object, "passwordConfirm");
    const json::Value* old_password = member(*object, "oldPassword");
    if (password == nullptr || !password->is_string()) {
        problem = bad_request("the new password is missing: send it as \"password\"");
    } else if (old_password == nullptr || !old_password->is_string()) {
        problem = bad_request("the current password is missing: send it as \"oldPassword\"");
    } else if (confirm != nullptr &&
               (!confirm->is_string() || !secrets_equal(confirm->as_string(), password->as_string()))) {
        problem = bad_request("\"passwordConfirm\" does not match \"password\"");
    } else if (check_token_format(password->as_string()) != TokenFormat::malformed) {
        problem = bad_request("a password may not look like a personal access token");
    } else {
        result.password.reserve(password->as_string().size());
        result.password.assign(password->as_string());
        result.old_password.reserve(old_password->as_string().size());
        result.old_password.assign(old_password->as_string());
    }
    object->wipe_strings();
    if (!problem.ok()) return problem;
    return result;
}

Expected<PageRequest> parse_page_query(std::string_view query, std::size_t max_page_size) {
    PageRequest page;
    bool seen_start = false, seen_limit = false;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        const bool is_start = key == "start";
        if (!is_start && key != "limit") continue;  // other parameters are not ours
        bool& seen = is_start ? seen_start : seen_limit;
        if (seen) return bad_request(std::string(key) + " is given more than once");
        seen = true;
        const auto count = parse_count(value);
        if (!count) return bad_request(std::string(key) + " must be a whole number, 0 or more");
        if (is_start) {
            page.start = *count;
        } else {
            if (*count == 0) return bad_request("limit must be at least 1");
            page.limit = std::min(*count, max_page_size);
        }
    }
    return page;
}

}  // namespace pat::api
