// The organisation's directory (LDAP, Active Directory): its configuration
// file and a client over Debian's libldap (OpenLDAP 2.5).
//
// One file, read by patctl and the module alike (docs/directory.md), in the
// format of nginx-pat.conf: `key = value` lines, whole-line '#' comments,
// every malformed line an error naming FILE:LINE, unknown keys errors:
//
//   url = ldap://ldap1.example.com          # several: tried in this order
//   url = ldaps://ldap2.example.com
//   ca_file = /etc/nginx-pat/directory-ca.pem
//   bind_dn = cn=nginx-pat,ou=services,dc=example,dc=com
//   bind_password_file = /etc/nginx-pat/directory.password
//   user_base = ou=people,dc=example,dc=com
//   group_base = ou=groups,dc=example,dc=com
//
// Every connection is encrypted and the server's certificate verified
// against ca_file: ldap:// URLs upgrade with StartTLS, ldaps:// ones speak
// TLS from the first byte. Plain ldap:// takes two explicit lines,
// `start_tls = no` and `insecure = yes`, and then a warning at every start.
//
// Sign-in (authenticate): the service account finds the user's entry (the
// name escaped per RFC 4515), then a bind as that entry's DN with the given
// password decides. An empty password is refused before any bind (an LDAP
// bind with a DN and no password is an "unauthenticated bind" that many
// servers accept). Unknown user, wrong password and an entry the user
// filter excludes (a disabled account) are one answer: refused.
//
// No exception leaves this API. Threads: a DirectoryClient holds no
// connection between calls (each call opens its own, tries the URLs in
// order and closes it), so one client may be used by several threads at
// once. libldap writes to sockets: a program using this must ignore SIGPIPE
// (nginx does; patctl does in `patctl directory`).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "pat/status.hpp"

namespace pat {

inline constexpr const char* kDefaultDirectoryConfigPath = "/etc/nginx-pat/directory.conf";
inline constexpr std::size_t kMaxDirectoryPassword = 1024;

// The service account's password: wiped when dropped.
class DirectorySecret {
   public:
    DirectorySecret() = default;
    explicit DirectorySecret(std::string text) : text_(std::move(text)) {}
    DirectorySecret(const DirectorySecret&) = default;
    DirectorySecret(DirectorySecret&& other) noexcept;
    DirectorySecret& operator=(const DirectorySecret& other);
    DirectorySecret& operator=(DirectorySecret&& other) noexcept;
    ~DirectorySecret();

    const std::string& text() const { return text_; }

   private:
    std::string text_;
};

enum class DirectoryTls {
    start_tls,  // ldap:// upgraded with StartTLS before anything else is sent
    ldaps,      // ldaps://: TLS from the first byte
    none,       // ldap:// in clear: only with start_tls = no and insecure = yes
};

struct DirectoryServer {
    std::string url;
    DirectoryTls tls = DirectoryTls::start_tls;
};

struct DirectoryConfig {
    std::string file;  // where it was read from, for messages
    std::vector<DirectoryServer> servers;
    std::string ca_file;  // empty only when no server uses TLS
    bool insecure = false;
    std::string bind_dn;
    std::string bind_password_file;
    DirectorySecret bind_password;  // read from bind_password_file by load_directory_config

    std::string user_base;
    std::string user_filter = "(objectClass=inetOrgPerson)";
    std::string user_name_attribute = "uid";
    std::string user_display_name_attribute = "cn";

    std::string group_base;  // empty: groups are not read
    std::string group_filter = "(objectClass=groupOfNames)";
    std::string group_name_attribute = "cn";
    std::string group_member_attribute = "member";  // values are member DNs (groupOfNames, AD)
    std::string group_member_uid_attribute;         // values are user names (posixGroup memberUid); empty: none
    bool group_nested = false;  // AD only: membership through nested groups (LDAP_MATCHING_RULE_IN_CHAIN)

    int connect_timeout_ms = 3000;
    int operation_timeout_ms = 5000;

    // Lines to print or log at every start (plain ldap://), empty when none.
    std::vector<std::string> warnings() const;
};

// Parses the text of the file; `file` names it in messages. Does not read
// the password file (load_directory_config does). invalid_argument on any
// malformed line, naming FILE:LINE.
Expected<DirectoryConfig> parse_directory_config(std::string_view text, const std::string& file);

// Reads and parses the file, then reads bind_password_file: a regular file
// that others may neither read nor write (mode o-rwx), one line (a final
// line end is not part of the password), not empty.
Expected<DirectoryConfig> load_directory_config(const std::string& path);

// RFC 4515: a value placed in a search filter, with '*', '(', ')', '\' and
// NUL (and every other control byte) written as \XX, so that a user name
// such as "*)(uid=*" matches only itself.
std::string escape_filter_value(std::string_view value);

// The filters the client sends (pure, for tests and for `patctl directory
// test` to show): the user named `name`; the groups `user` is a member of.
std::string user_search_filter(const DirectoryConfig& config, std::string_view name);
struct DirectoryUser;
std::string group_search_filter(const DirectoryConfig& config, const DirectoryUser& user);

struct DirectoryUser {
    std::string name;          // canonical user name (pat/names.hpp)
    std::string display_name;  // the display-name attribute, or the name when the entry has none
    std::string dn;
};

struct DirectoryGroup {
    std::string name;
    std::string dn;
};

struct DirectoryGroupMembers {
    std::string name;
    std::string dn;
    std::vector<std::string> members;  // canonical user names of users the user filter selects, sorted
};

enum class DirectoryErrorKind {
    unavailable,           // no server answered in time, TLS failed, a search failed
    service_bind_refused,  // the directory refused bind_dn's password: a configuration fault
    not_found,             // no entry for that user name
    ambiguous,             // more than one entry for that user name
    invalid_name,          // the entry's name is not a valid user name here
};

struct DirectoryError {
    DirectoryErrorKind kind;
    std::string message;  // one line for a sysadmin: which server, which step, why

    // Sign-in answers 503 (retry later) rather than "refused".
    bool unavailable() const {
        return kind == DirectoryErrorKind::unavailable || kind == DirectoryErrorKind::service_bind_refused;
    }
};

// A value or the DirectoryError explaining why there is none.
template <typename T>
class DirectoryResult {
   public:
    DirectoryResult(T value) : state_(std::move(value)) {}
    DirectoryResult(DirectoryError error) : state_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(state_); }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<T>(state_); }
    const T& value() const& { return std::get<T>(state_); }
    T&& value() && { return std::get<T>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    // Only meaningful when !ok().
    const DirectoryError& error() const { return std::get<DirectoryError>(state_); }

   private:
    std::variant<T, DirectoryError> state_;
};

struct DirectorySignIn {
    enum class Outcome { ok, refused, unavailable };
    Outcome outcome = Outcome::refused;
    DirectoryUser user;  // when ok
    // For the log only (the client gets the same answer for every refusal):
    // "no such user", "wrong password", a server fault. Never the password.
    std::string reason;
};

// What `patctl directory test` shows.
struct DirectoryTestReport {
    std::string server;  // the URL that answered
    DirectoryTls tls = DirectoryTls::start_tls;
    std::vector<std::string> skipped;  // "URL: why" for each URL tried before it
    DirectoryUser user;
    bool groups_configured = false;
    std::vector<DirectoryGroup> groups;
};

struct DirectoryUserList {
    std::vector<DirectoryUser> users;  // sorted by name
    std::vector<std::string> skipped;  // entries left out, and why (a name that is not valid here, a duplicate)
};

struct DirectoryGroupList {
    std::vector<DirectoryGroupMembers> groups;  // sorted by name
    std::vector<std::string> skipped;
};

class DirectoryClient {
   public:
    explicit DirectoryClient(DirectoryConfig config) : config_(std::move(config)) {}

    const DirectoryConfig& config() const { return config_; }

    // The user whose name attribute equals `name` (matched by the server's
    // rules, usually case-insensitive) among the entries the user filter selects.
    DirectoryResult<DirectoryUser> find_user(std::string_view name) const;

    // Sign-in as described at the top. The password is used for one bind
    // and not kept.
    DirectorySignIn authenticate(std::string_view name, std::string_view password) const;

    // The groups (under group_base, selected by group_filter) that list the
    // user: by DN in group_member_attribute (through nested groups with
    // group_nested), by name in group_member_uid_attribute. Sorted by name.
    DirectoryResult<std::vector<DirectoryGroup>> groups_of(const DirectoryUser& user) const;

    // For `directory sync`: every user the user filter selects, and every
    // group with its members (resolved to those users), each read with the
    // paged-results control so that large directories (AD answers at most
    // 1000 entries a page) come back whole.
    DirectoryResult<DirectoryUserList> list_users() const;
    DirectoryResult<DirectoryGroupList> list_groups_with_members() const;

    // Bind, find one user, list their groups, on one connection.
    DirectoryResult<DirectoryTestReport> test(std::string_view name) const;

   private:
    DirectoryConfig config_;
};

std::string_view directory_tls_name(DirectoryTls tls);

}  // namespace pat
