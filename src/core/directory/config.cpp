// The directory's configuration file (pat/directory.hpp, docs/directory.md).
#include <ldap.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "pat/directory.hpp"
#include "pat/secret.hpp"

namespace pat {
namespace {

constexpr std::size_t kMaxFileSize = 64 * 1024;
constexpr int kMaxTimeoutSeconds = 300;
constexpr std::string_view kBlanks = " \t";

std::string_view trim(std::string_view text) {
    const std::size_t first = text.find_first_not_of(kBlanks);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(kBlanks) - first + 1);
}

// A key as it may be shown in a message: printable ASCII only, shortened.
std::string shown(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 40)) {
        const auto byte = static_cast<unsigned char>(c);
        out += byte >= 0x20 && byte < 0x7f ? c : '?';
    }
    if (text.size() > 40) out += "...";
    return out;
}

bool has_control_character(std::string_view text) {
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7f) return true;
    }
    return false;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
    }
    return true;
}

// An attribute description as RFC 4512 names it (a descr; no options).
bool is_attribute_name(std::string_view name) {
    if (name.empty() || name.size() > 64 || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    return true;
}

bool is_dn(const std::string& text) {
    LDAPDN dn = nullptr;
    const int rc = ldap_str2dn(text.c_str(), &dn, LDAP_DN_FORMAT_LDAPV3);
    if (dn != nullptr) ldap_dnfree(dn);
    return rc == LDAP_SUCCESS && dn != nullptr;
}

// A filter as the user writes it: one parenthesised expression with
// balanced parentheses (escaped ones are \28 and \29, never literal). The
// server checks the rest at the first search.
bool is_filter(std::string_view text) {
    if (text.size() < 3 || text.front() != '(' || text.back() != ')') return false;
    int depth = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '(') ++depth;
        if (text[i] == ')' && --depth < 0) return false;
        if (depth == 0 && i + 1 != text.size()) return false;
    }
    return depth == 0;
}

// scheme://host[:port] and nothing after it (a trailing '/' allowed): the
// search bases are keys of their own, not parts of a URL.
bool is_server_url(const std::string& url) {
    LDAPURLDesc* parsed = nullptr;
    if (ldap_url_parse(url.c_str(), &parsed) != LDAP_URL_SUCCESS) return false;
    const bool plain = parsed->lud_host != nullptr && *parsed->lud_host != '\0' &&
                       (parsed->lud_dn == nullptr || *parsed->lud_dn == '\0') && parsed->lud_attrs == nullptr &&
                       parsed->lud_filter == nullptr && parsed->lud_exts == nullptr;
    ldap_free_urldesc(parsed);
    return plain;
}

class Parser {
   public:
    explicit Parser(const std::string& file) : file_(file) { config_.file = file; }

    Expected<DirectoryConfig> parse(std::string_view text) {
        if (text.size() > kMaxFileSize) {
            return Status{StatusCode::invalid_argument, file_ + ": larger than 64 KiB: not a configuration file"};
        }
        unsigned number = 0;
        while (!text.empty()) {
            ++number;
            const std::size_t end = text.find('\n');
            std::string_view line = text.substr(0, end);
            text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (has_control_character(line)) return at(number, "a control character");
            const std::string_view content = trim(line);
            if (content.empty() || content.front() == '#') continue;
            const std::size_t equals = content.find('=');
            if (equals == std::string_view::npos) return at(number, "expected 'key = value' or a '#' comment");
            const std::string key(trim(content.substr(0, equals)));
            const std::string value(trim(content.substr(equals + 1)));
            if (key.empty()) return at(number, "a value without a key");
            Status status = set(number, key, value);
            if (!status.ok()) return status;
        }
        Status status = check_whole();
        if (!status.ok()) return status;
        return std::move(config_);
    }

   private:
    Status at(unsigned line, const std::string& what) const {
        return {StatusCode::invalid_argument, file_ + ":" + std::to_string(line) + ": " + what};
    }
    Status whole(const std::string& what) const { return {StatusCode::invalid_argument, file_ + ": " + what}; }

    Status set(unsigned line, const std::string& key, const std::string& value) {
        if (!is_key(key))
            return at(line, "unknown key '" + shown(key) + "' (the keys are listed in docs/directory.md)");
        if (value.empty()) return at(line, key + " needs a value");
        if (key == "url") return add_url(line, value);
        if (auto [first, inserted] = seen_.emplace(key, line); !inserted) {
            return at(line, key + " given twice (first on line " + std::to_string(first->second) + ")");
        }
        if (key == "start_tls") return yes_no(line, key, value, start_tls_);
        if (key == "insecure") return yes_no(line, key, value, config_.insecure);
        if (key == "group_nested") return yes_no(line, key, value, config_.group_nested);
        if (key == "connect_timeout") return seconds(line, key, value, config_.connect_timeout_ms);
        if (key == "operation_timeout") return seconds(line, key, value, config_.operation_timeout_ms);
        if (key == "ca_file" || key == "bind_password_file") {
            if (value.front() != '/') return at(line, key + " must be an absolute path");
            (key == "ca_file" ? config_.ca_file : config_.bind_password_file) = value;
            return Status::success();
        }
        if (key == "bind_dn" || key == "user_base" || key == "group_base") {
            if (!is_dn(value)) return at(line, key + ": '" + shown(value) + "' is not a DN (RFC 4514)");
            (key == "bind_dn" ? config_.bind_dn : key == "user_base" ? config_.user_base : config_.group_base) = value;
            return Status::success();
        }
        if (key == "user_filter" || key == "group_filter") {
            if (!is_filter(value)) {
                return at(line, key + ": '" + shown(value) +
                                    "' is not one parenthesised LDAP filter such as (objectClass=person)");
            }
            (key == "user_filter" ? config_.user_filter : config_.group_filter) = value;
            return Status::success();
        }
        std::string* attribute = attribute_field(key);
        if (!is_attribute_name(value)) {
            return at(line, key + ": '" + shown(value) + "' is not an attribute name such as uid or member");
        }
        *attribute = value;
        return Status::success();
    }

    static bool is_key(std::string_view key) {
        for (std::string_view name :
             {"url", "start_tls", "insecure", "ca_file", "bind_dn", "bind_password_file", "user_base", "user_filter",
              "user_name_attribute", "user_display_name_attribute", "group_base", "group_filter",
              "group_name_attribute", "group_member_attribute", "group_member_uid_attribute", "group_nested",
              "connect_timeout", "operation_timeout"}) {
            if (key == name) return true;
        }
        return false;
    }

    std::string* attribute_field(const std::string& key) {
        if (key == "user_name_attribute") return &config_.user_name_attribute;
        if (key == "user_display_name_attribute") return &config_.user_display_name_attribute;
        if (key == "group_name_attribute") return &config_.group_name_attribute;
        if (key == "group_member_attribute") return &config_.group_member_attribute;
        if (key == "group_member_uid_attribute") return &config_.group_member_uid_attribute;
        return nullptr;
    }

    Status add_url(unsigned line, const std::string& value) {
        DirectoryServer server{value, DirectoryTls::start_tls};
        if (starts_with_ignoring_case(value, "ldaps://")) {
            server.tls = DirectoryTls::ldaps;
        } else if (!starts_with_ignoring_case(value, "ldap://")) {
            return at(line, "url: '" + shown(value) + "' is neither ldap://HOST[:PORT] nor ldaps://HOST[:PORT]");
        }
        if (!is_server_url(value)) {
            return at(line, "url: '" + shown(value) +
                                "' must be scheme://HOST[:PORT] alone (the search bases are user_base and group_base)");
        }
        config_.servers.push_back(std::move(server));
        url_lines_.push_back(line);
        return Status::success();
    }

    Status yes_no(unsigned line, const std::string& key, const std::string& value, bool& out) {
        if (value != "yes" && value != "no") return at(line, key + " is yes or no, not '" + shown(value) + "'");
        out = value == "yes";
        return Status::success();
    }

    Status seconds(unsigned line, const std::string& key, const std::string& value, int& out_ms) {
        int number = 0;
        for (char c : value) {
            if (c < '0' || c > '9' || number > kMaxTimeoutSeconds) {
                number = -1;
                break;
            }
            number = number * 10 + (c - '0');
        }
        if (number < 1 || number > kMaxTimeoutSeconds) {
            return at(line, key + " is a whole number of seconds from 1 to " + std::to_string(kMaxTimeoutSeconds) +
                                ", not '" + shown(value) + "'");
        }
        out_ms = number * 1000;
        return Status::success();
    }

    Status check_whole() {
        if (config_.servers.empty()) return whole("no url (url = ldaps://HOST or ldap://HOST, one a line)");
        bool any_tls = false;
        for (std::size_t i = 0; i < config_.servers.size(); ++i) {
            DirectoryServer& server = config_.servers[i];
            if (server.tls == DirectoryTls::start_tls && !start_tls_) {
                if (!config_.insecure) {
                    return at(url_lines_[i], "url " + shown(server.url) +
                                                 " with start_tls = no would send passwords in clear: use StartTLS "
                                                 "or ldaps://, or say insecure = yes");
                }
                server.tls = DirectoryTls::none;
            }
            any_tls = any_tls || server.tls != DirectoryTls::none;
        }
        if (any_tls && config_.ca_file.empty()) {
            return whole("no ca_file: the CA certificate(s) the servers' certificates are checked against");
        }
        if (config_.bind_dn.empty()) return whole("no bind_dn (the service account that searches the directory)");
        if (config_.bind_password_file.empty()) {
            return whole("no bind_password_file (the file holding bind_dn's password)");
        }
        if (config_.user_base.empty())
            return whole("no user_base (where the users are, e.g. ou=people,dc=example,dc=com)");
        return Status::success();
    }

    const std::string& file_;
    DirectoryConfig config_;
    bool start_tls_ = true;
    std::vector<unsigned> url_lines_;
    std::map<std::string, unsigned> seen_;
};

Expected<std::string> read_small_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return Status{StatusCode::invalid_argument,
                      std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno != 0 ? errno : EIO)};
    }
    std::string text(kMaxFileSize + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return Status{StatusCode::invalid_argument, std::string("cannot read ") + what + " " + path};
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

Status read_password(DirectoryConfig& config) {
    const std::string& path = config.bind_password_file;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return {StatusCode::invalid_argument, "cannot read bind_password_file " + path + ": " + std::strerror(errno)};
    }
    if (!S_ISREG(st.st_mode)) {
        return {StatusCode::invalid_argument, "bind_password_file " + path + " is not a regular file"};
    }
    if ((st.st_mode & S_IRWXO) != 0) {
        return {StatusCode::invalid_argument,
                "bind_password_file " + path +
                    " is open to every user (mode o+rwx): chmod o-rwx it (root and the nginx workers' group only)"};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return {StatusCode::invalid_argument,
                "cannot read bind_password_file " + path + ": " + std::strerror(errno != 0 ? errno : EIO)};
    }
    std::string text(kMaxDirectoryPassword + 2, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    const auto size = static_cast<std::size_t>(in.gcount());
    DirectorySecret whole_buffer(std::move(text));  // wiped whatever happens below
    std::string_view password(whole_buffer.text().data(), size);
    if (!password.empty() && password.back() == '\n') password.remove_suffix(1);
    if (!password.empty() && password.back() == '\r') password.remove_suffix(1);
    if (password.empty()) return {StatusCode::invalid_argument, "bind_password_file " + path + " is empty"};
    if (password.size() > kMaxDirectoryPassword || password.find('\n') != std::string_view::npos) {
        return {StatusCode::invalid_argument, "bind_password_file " + path + " holds more than one line of at most " +
                                                  std::to_string(kMaxDirectoryPassword) + " bytes"};
    }
    config.bind_password = DirectorySecret(std::string(password));
    return Status::success();
}

}  // namespace

DirectorySecret::DirectorySecret(DirectorySecret&& other) noexcept : text_(std::move(other.text_)) {
    wipe(other.text_);
}

DirectorySecret& DirectorySecret::operator=(const DirectorySecret& other) {
    if (this != &other) {
        wipe(text_);
        text_ = other.text_;
    }
    return *this;
}

DirectorySecret& DirectorySecret::operator=(DirectorySecret&& other) noexcept {
    if (this != &other) {
        wipe(text_);
        text_ = std::move(other.text_);
        wipe(other.text_);
    }
    return *this;
}

DirectorySecret::~DirectorySecret() {
    wipe(text_);
}

std::vector<std::string> DirectoryConfig::warnings() const {
    std::vector<std::string> lines;
    for (const DirectoryServer& server : servers) {
        if (server.tls == DirectoryTls::none) {
            lines.push_back(file + ": insecure = yes: " + server.url +
                            " is used without TLS: the service password and every user's password cross the "
                            "network in clear");
        }
    }
    return lines;
}

std::string_view directory_tls_name(DirectoryTls tls) {
    switch (tls) {
        case DirectoryTls::start_tls: return "StartTLS";
        case DirectoryTls::ldaps: return "ldaps";
        case DirectoryTls::none: return "none (insecure = yes)";
    }
    return "?";
}

Expected<DirectoryConfig> parse_directory_config(std::string_view text, const std::string& file) {
    return Parser(file).parse(text);
}

Expected<DirectoryConfig> load_directory_config(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        return Status{StatusCode::invalid_argument, "the directory configuration " + path + " is not a regular file"};
    }
    Expected<std::string> text = read_small_file(path, "the directory configuration");
    if (!text) return text.status();
    Expected<DirectoryConfig> config = parse_directory_config(*text, path);
    if (!config) return config;
    if (!config->ca_file.empty()) {
        Expected<std::string> ca = read_small_file(config->ca_file, "ca_file");
        if (!ca) return ca.status();
        if (ca->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
            return Status{StatusCode::invalid_argument, "ca_file " + config->ca_file + " holds no PEM certificate"};
        }
    }
    Status status = read_password(*config);
    if (!status.ok()) return status;
    return config;
}

}  // namespace pat
