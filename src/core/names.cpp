// User names, project keys and repository slugs: see include/pat/names.hpp.
//
// The checks return a reason code rather than a bool so that the allocating
// variants can say exactly what is wrong, while the request path uses the
// same code without building any string.
#include "pat/names.hpp"

#include <string>

#include "pat/token.hpp"

namespace pat {

namespace {

enum class NameFault {
    none,
    empty,
    too_long,
    bad_first_char,
    bad_char,
    git_suffix,
};

bool is_ascii_letter(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_ascii_alnum(char c) {
    return is_ascii_letter(c) || is_ascii_digit(c);
}

char to_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
char to_upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

// [A-Za-z0-9][A-Za-z0-9_.-]* of 1..max_length characters: user names and slugs.
NameFault check_dotted_name(std::string_view name, std::size_t max_length) {
    if (name.empty()) return NameFault::empty;
    if (name.size() > max_length) return NameFault::too_long;
    if (!is_ascii_alnum(name[0])) return NameFault::bad_first_char;
    for (char c : name.substr(1)) {
        if (!is_ascii_alnum(c) && c != '_' && c != '.' && c != '-') return NameFault::bad_char;
    }
    return NameFault::none;
}

NameFault check_user_name(std::string_view name) {
    return check_dotted_name(name, kMaxUserName);
}

// Group names: like user names, plus inner spaces, up to 128 characters.
NameFault check_group_name(std::string_view name) {
    if (name.empty()) return NameFault::empty;
    if (name.size() > kMaxGroupName) return NameFault::too_long;
    if (!is_ascii_alnum(name[0])) return NameFault::bad_first_char;
    for (char c : name.substr(1)) {
        if (!is_ascii_alnum(c) && c != '_' && c != '.' && c != '-' && c != ' ') return NameFault::bad_char;
    }
    return name.back() == ' ' ? NameFault::bad_char : NameFault::none;
}

// ".git" in any case: "x.GIT" canonicalises to "x.git" as well.
bool ends_in_git_suffix(std::string_view slug) {
    constexpr std::string_view suffix = ".git";
    if (slug.size() < suffix.size()) return false;
    std::string_view tail = slug.substr(slug.size() - suffix.size());
    for (std::size_t i = 0; i < suffix.size(); ++i) {
        if (to_lower(tail[i]) != suffix[i]) return false;
    }
    return true;
}

NameFault check_repo_slug(std::string_view slug) {
    NameFault fault = check_dotted_name(slug, kMaxRepoSlug);
    if (fault != NameFault::none) return fault;
    return ends_in_git_suffix(slug) ? NameFault::git_suffix : NameFault::none;
}

bool is_personal_key(std::string_view key) {
    return !key.empty() && key[0] == '~';
}

NameFault check_project_key(std::string_view key) {
    if (is_personal_key(key)) {
        NameFault fault = check_user_name(key.substr(1));
        // "~" alone is a personal key with an empty owner: report it as such.
        return fault == NameFault::empty ? NameFault::bad_first_char : fault;
    }
    if (key.empty()) return NameFault::empty;
    if (key.size() > kMaxProjectKey) return NameFault::too_long;
    if (!is_ascii_letter(key[0])) return NameFault::bad_first_char;
    for (char c : key.substr(1)) {
        if (!is_ascii_alnum(c) && c != '_' && c != '-') return NameFault::bad_char;
    }
    return NameFault::none;
}

std::size_t copy_mapped(std::string_view text, char* out, char (*map)(char)) {
    for (std::size_t i = 0; i < text.size(); ++i) out[i] = map(text[i]);
    return text.size();
}

std::string describe_fault(NameFault fault, std::string_view what, std::string_view accepted) {
    std::string reason;
    switch (fault) {
        case NameFault::none: break;
        case NameFault::empty: reason = " is empty"; break;
        case NameFault::too_long: reason = " is too long"; break;
        case NameFault::bad_first_char: reason = " starts with a character that is not allowed"; break;
        case NameFault::bad_char: reason = " contains a character that is not allowed"; break;
        case NameFault::git_suffix: reason = " ends in \".git\""; break;
    }
    return std::string(what) + reason + ": " + std::string(accepted);
}

constexpr std::string_view kUserNameForm =
    "a user name is 1 to 64 characters from A-Z a-z 0-9 _ . -, starting with a letter or a digit";
constexpr std::string_view kProjectKeyForm =
    "a project key is 1 to 128 characters from A-Z a-z 0-9 _ -, starting with a letter, "
    "or \"~\" followed by a user name for a personal project";
constexpr std::string_view kRepoSlugForm =
    "a repository slug is 1 to 128 characters from A-Z a-z 0-9 _ . -, starting with a letter "
    "or a digit, and not ending in \".git\"";
constexpr std::string_view kGroupNameForm =
    "a group name is 1 to 128 characters from A-Z a-z 0-9 _ . - and space, starting with a letter or a digit "
    "and not ending in a space";

}  // namespace

bool is_valid_group_name(std::string_view name) {
    return check_group_name(name) == NameFault::none;
}

Expected<std::string> canonical_group_name(std::string_view name) {
    NameFault fault = check_group_name(name);
    if (fault != NameFault::none) {
        return Status(StatusCode::invalid_argument, describe_fault(fault, "group name", kGroupNameForm));
    }
    std::string out(name.size(), '\0');
    copy_mapped(name, out.data(), to_lower);
    return out;
}

bool is_valid_user_name(std::string_view name) {
    return check_user_name(name) == NameFault::none;
}

bool is_valid_project_key(std::string_view key) {
    return check_project_key(key) == NameFault::none;
}

bool is_valid_repo_slug(std::string_view slug) {
    return check_repo_slug(slug) == NameFault::none;
}

std::size_t canonical_user_name(std::string_view name, char* out) {
    if (check_user_name(name) != NameFault::none) return 0;
    return copy_mapped(name, out, to_lower);
}

std::size_t canonical_project_key(std::string_view key, char* out) {
    if (check_project_key(key) != NameFault::none) return 0;
    // '~' is left alone by to_upper, so one pass covers both kinds of key.
    return copy_mapped(key, out, to_upper);
}

std::size_t canonical_repo_slug(std::string_view slug, char* out) {
    if (check_repo_slug(slug) != NameFault::none) return 0;
    return copy_mapped(slug, out, to_lower);
}

Expected<std::string> canonical_user_name(std::string_view name) {
    NameFault fault = check_user_name(name);
    if (fault != NameFault::none) {
        return Status(StatusCode::invalid_argument, describe_fault(fault, "user name", kUserNameForm));
    }
    // A token-shaped name is treated as a secret wherever it appears (the
    // Authorization parser takes it for a token), so no user may have one;
    // the message does not repeat it.
    if (looks_like_token(name)) {
        return Status(StatusCode::invalid_argument,
                      "a user name must not look like an access token (npat_ followed by 16 or more characters)");
    }
    std::string out(name.size(), '\0');
    copy_mapped(name, out.data(), to_lower);
    return out;
}

Expected<std::string> canonical_project_key(std::string_view key) {
    NameFault fault = check_project_key(key);
    if (fault != NameFault::none) {
        return Status(StatusCode::invalid_argument, describe_fault(fault, "project key", kProjectKeyForm));
    }
    std::string out(key.size(), '\0');
    copy_mapped(key, out.data(), to_upper);
    return out;
}

Expected<std::string> canonical_repo_slug(std::string_view slug) {
    NameFault fault = check_repo_slug(slug);
    if (fault != NameFault::none) {
        return Status(StatusCode::invalid_argument, describe_fault(fault, "repository slug", kRepoSlugForm));
    }
    std::string out(slug.size(), '\0');
    copy_mapped(slug, out.data(), to_lower);
    return out;
}

std::string_view personal_project_owner(std::string_view canonical_key, char* out) {
    if (!is_personal_key(canonical_key)) return {};
    std::size_t length = canonical_user_name(canonical_key.substr(1), out);
    return {out, length};
}

}  // namespace pat
