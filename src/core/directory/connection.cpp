// One connection to the directory over libldap (connection.hpp).
#include "connection.hpp"

#include <ldap.h>
#include <netdb.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace pat::directory {
namespace {

// A page of a paged search: well under Active Directory's MaxPageSize (1000).
constexpr int kPageSize = 500;

timeval to_timeval(int ms) {
    return timeval{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)};
}

DirectoryError error(DirectoryErrorKind kind, std::string message) {
    return {kind, std::move(message)};
}

// The server's own words after a failure, when it gave any.
std::string diagnostic(LDAP* ld) {
    char* text = nullptr;
    if (ld == nullptr || ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) != LDAP_OPT_SUCCESS ||
        text == nullptr) {
        return {};
    }
    std::string out(text);
    ldap_memfree(text);
    return out;
}

std::string describe(LDAP* ld, int code) {
    std::string text = ldap_err2string(code);
    const std::string detail = diagnostic(ld);
    // GnuTLS's text for libldap's own codes says nothing.
    if (!detail.empty() && detail != text && detail != "(unknown error code)") text += " (" + detail + ")";
    return text;
}

// libldap does not say which check failed; these are the ones it makes.
std::string tls_failure(const DirectoryConfig& config) {
    return "TLS certificate verification failed: the server's certificate is not signed by a CA in ca_file " +
           config.ca_file + ", or does not name the host in the URL, or has expired";
}

// Options for one handle. The TLS ones are this handle's own (a new TLS
// context below), so a system-wide /etc/ldap/ldap.conf adds no trust and
// two configurations in one process do not mix.
int set_options(LDAP* ld, const DirectoryConfig& config, const DirectoryServer& server) {
    const int version = LDAP_VERSION3;
    const timeval connect_timeout = to_timeval(config.connect_timeout_ms);
    const timeval operation_timeout = to_timeval(config.operation_timeout_ms);
    // A connection whose peer vanished mid-operation fails after this long
    // instead of the kernel's retransmission timeout (minutes).
    const unsigned tcp_user_timeout = static_cast<unsigned>(config.operation_timeout_ms);
    int rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    // Referrals would make libldap connect (and bind anonymously) to servers
    // the configuration does not name.
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &connect_timeout);
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &operation_timeout);
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_TCP_USER_TIMEOUT, &tcp_user_timeout);
    // libldap bounds the TLS handshake by the network timeout only on an
    // asynchronous connection; on a synchronous one it retries a stalled
    // handshake forever, spinning (tls2.c, ldap_int_tls_start).
    // (LDAP_OPT_ON names a variable of liblber; any non-null pointer is "on".)
    static const int kOn = 1;
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_CONNECT_ASYNC, &kOn);
    if (rc != LDAP_OPT_SUCCESS || server.tls == DirectoryTls::none) return rc;
    const int demand = LDAP_OPT_X_TLS_DEMAND;
    const int tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
    const int client = 0;
    rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, config.ca_file.c_str());
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTDIR, nullptr);
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12);
    if (rc == LDAP_OPT_SUCCESS) rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &client);
    return rc;
}

// Why a TCP connection to the URL's host and port fails ("" when it does
// not). Asked only after libldap failed to connect, to tell the sysadmin
// the reason (refused, timed out, no such host) and to tell a TLS failure
// (TCP works) from an unreachable server.
std::string tcp_failure(const std::string& url, int timeout_ms) {
    LDAPURLDesc* parsed = nullptr;
    if (ldap_url_parse(url.c_str(), &parsed) != LDAP_URL_SUCCESS) return "not a URL";
    const std::string host = parsed->lud_host != nullptr ? parsed->lud_host : "";
    const std::string port = std::to_string(parsed->lud_port);
    ldap_free_urldesc(parsed);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addresses = nullptr;
    if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &addresses); rc != 0) {
        return "cannot resolve " + host + ": " + ::gai_strerror(rc);
    }
    std::string why = "no address for " + host;
    for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
        const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int error = ::connect(fd, address->ai_addr, address->ai_addrlen) == 0 ? 0 : errno;
        if (error == EINPROGRESS) {
            pollfd wait{fd, POLLOUT, 0};
            const int ready = ::poll(&wait, 1, timeout_ms);
            socklen_t size = sizeof error;
            if (ready == 0) {
                error = ETIMEDOUT;
            } else if (ready < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) {
                error = errno;
            }
        }
        ::close(fd);
        if (error == 0) {
            why.clear();
            break;
        }
        why = std::strerror(error);
    }
    ::freeaddrinfo(addresses);
    return why;
}

class Handle {
   public:
    ~Handle() {
        if (ld != nullptr) ldap_unbind_ext_s(ld, nullptr, nullptr);
    }
    LDAP* release() { return std::exchange(ld, nullptr); }
    LDAP* ld = nullptr;
};

class Message {
   public:
    ~Message() {
        if (message != nullptr) ldap_msgfree(message);
    }
    LDAPMessage* message = nullptr;
};

// Bytes as a string: attribute values may hold anything.
std::string text_of(const berval* value) {
    return value == nullptr || value->bv_val == nullptr ? std::string() : std::string(value->bv_val, value->bv_len);
}

Entry read_entry(LDAP* ld, LDAPMessage* message, const std::vector<std::string>& attributes) {
    Entry entry;
    if (char* dn = ldap_get_dn(ld, message)) {
        entry.dn = dn;
        ldap_memfree(dn);
    }
    for (const std::string& attribute : attributes) {
        std::vector<std::string> values;
        if (berval** list = ldap_get_values_len(ld, message, attribute.c_str())) {
            for (berval** value = list; *value != nullptr; ++value) values.push_back(text_of(*value));
            ldap_value_free_len(list);
        }
        entry.attributes.emplace_back(attribute, std::move(values));
    }
    return entry;
}

}  // namespace

const std::vector<std::string>& Entry::values(std::string_view attribute) const {
    static const std::vector<std::string> kNone;
    for (const auto& [name, values] : attributes) {
        if (name.size() == attribute.size() && strncasecmp(name.data(), attribute.data(), name.size()) == 0) {
            return values;
        }
    }
    return kNone;
}

std::string Entry::first(std::string_view attribute) const {
    const std::vector<std::string>& all = values(attribute);
    return all.empty() ? std::string() : all.front();
}

bool is_unavailable_code(int code) {
    return code == LDAP_SERVER_DOWN || code == LDAP_TIMEOUT || code == LDAP_CONNECT_ERROR || code == LDAP_BUSY ||
           code == LDAP_UNAVAILABLE || code == LDAP_TIMELIMIT_EXCEEDED || code == LDAP_NO_MEMORY ||
           code == LDAP_LOCAL_ERROR || code == LDAP_ENCODING_ERROR || code == LDAP_DECODING_ERROR || code == LDAP_OTHER;
}

std::string comparable_dn(const std::string& dn) {
    std::string out = dn;
    char* normal = nullptr;
    if (ldap_dn_normalize(dn.c_str(), LDAP_DN_FORMAT_LDAPV3, &normal, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
        normal != nullptr) {
        out = normal;
    }
    if (normal != nullptr) ldap_memfree(normal);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

DirectoryResult<Connection> Connection::open(const DirectoryConfig& config, std::vector<std::string>& skipped) {
    for (std::size_t index = 0; index < config.servers.size(); ++index) {
        const DirectoryServer& server = config.servers[index];
        Handle handle;
        int rc = ldap_initialize(&handle.ld, server.url.c_str());
        if (rc != LDAP_SUCCESS || handle.ld == nullptr) {
            skipped.push_back(server.url + ": " + ldap_err2string(rc));
            continue;
        }
        if (set_options(handle.ld, config, server) != LDAP_OPT_SUCCESS) {
            skipped.push_back(server.url + ": libldap refused the connection's options (timeouts, TLS)");
            continue;
        }
        // For ldaps:// this is the TCP connection and the TLS handshake.
        const auto started = std::chrono::steady_clock::now();
        rc = ldap_connect(handle.ld);
        if (rc != LDAP_SUCCESS) {
            // libldap gives up on a stalled handshake at about connect_timeout
            // (its own clock, a little early); a refused certificate fails
            // within milliseconds.
            const auto spent = std::chrono::steady_clock::now() - started;
            if (server.tls == DirectoryTls::ldaps &&
                spent >= std::chrono::milliseconds(config.connect_timeout_ms * 9 / 10)) {
                skipped.push_back(server.url + ": no TLS handshake within connect_timeout (" +
                                  std::to_string(config.connect_timeout_ms / 1000) + " s)");
                continue;
            }
            // libldap reports a failed TLS handshake as "can't contact" too.
            const std::string tcp = tcp_failure(server.url, config.connect_timeout_ms);
            skipped.push_back(server.url + ": " +
                              (!tcp.empty()                        ? "cannot connect: " + tcp
                               : server.tls == DirectoryTls::ldaps ? tls_failure(config)
                                                                   : "cannot connect: " + describe(handle.ld, rc)));
            continue;
        }
        if (server.tls == DirectoryTls::start_tls) {
            rc = ldap_start_tls_s(handle.ld, nullptr, nullptr);
            if (rc != LDAP_SUCCESS) {
                // The connection is asynchronous: a refused one shows here.
                skipped.push_back(server.url + ": " +
                                  (rc == LDAP_SERVER_DOWN
                                       ? "cannot connect: " + tcp_failure(server.url, config.connect_timeout_ms)
                                   : rc == LDAP_CONNECT_ERROR ? "StartTLS: " + tls_failure(config)
                                   : rc == LDAP_TIMEOUT       ? "no answer within operation_timeout (" +
                                                              std::to_string(config.operation_timeout_ms / 1000) + " s)"
                                                        : "StartTLS: " + describe(handle.ld, rc)));
                continue;
            }
        }
        Connection connection(handle.release(), config, index);
        std::string why;
        rc = connection.bind(config.bind_dn, config.bind_password.text(), why);
        if (rc == LDAP_SUCCESS) return connection;
        if (is_unavailable_code(rc)) {
            // Without TLS the asynchronous connection is first used here.
            skipped.push_back(server.url + ": " +
                              (rc == LDAP_SERVER_DOWN
                                   ? "cannot connect: " + tcp_failure(server.url, config.connect_timeout_ms)
                                   : "the service bind failed: " + why));
            continue;
        }
        return error(DirectoryErrorKind::service_bind_refused, server.url + " refused the service bind as " +
                                                                   config.bind_dn + ": " + why +
                                                                   " (check bind_dn and bind_password_file)");
    }
    std::string message = "no directory server answered";
    for (const std::string& line : skipped) message += "; " + line;
    return error(DirectoryErrorKind::unavailable, message);
}

Connection::~Connection() {
    if (ld_ != nullptr) ldap_unbind_ext_s(ld_, nullptr, nullptr);
}

std::string Connection::error_text(int code) const {
    return describe(ld_, code);
}

int Connection::bind(const std::string& dn, std::string_view password, std::string& why) {
    // libldap only reads the credentials; the cast is its C signature.
    berval credentials{password.size(), const_cast<char*>(password.data())};
    const int rc = ldap_sasl_bind_s(ld_, dn.c_str(), LDAP_SASL_SIMPLE, &credentials, nullptr, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) why = error_text(rc);
    return rc;
}

DirectoryResult<std::vector<Entry>> Connection::search(const std::string& base, const std::string& filter,
                                                       const std::vector<std::string>& attributes, int size_limit) {
    std::vector<char*> names;
    for (const std::string& attribute : attributes) names.push_back(const_cast<char*>(attribute.c_str()));
    names.push_back(nullptr);
    timeval timeout = to_timeval(config_->operation_timeout_ms);
    const bool paged = size_limit == 0;
    std::vector<Entry> entries;
    berval cookie{0, nullptr};
    const auto failed = [&](int code) {
        if (cookie.bv_val != nullptr) ldap_memfree(cookie.bv_val);
        return error(DirectoryErrorKind::unavailable, "the search under " + base + " for " + filter + " on " +
                                                          server().url + " failed: " + error_text(code));
    };
    do {
        LDAPControl* page = nullptr;
        if (paged && ldap_create_page_control(ld_, kPageSize, &cookie, 0, &page) != LDAP_SUCCESS) {
            return failed(LDAP_NO_MEMORY);
        }
        LDAPControl* controls[] = {page, nullptr};
        Message result;
        int rc = ldap_search_ext_s(ld_, base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), names.data(), 0,
                                   paged ? controls : nullptr, nullptr, &timeout, size_limit, &result.message);
        if (page != nullptr) ldap_control_free(page);
        // Over size_limit: the entries up to it came back, the caller decides.
        if (rc != LDAP_SUCCESS && !(rc == LDAP_SIZELIMIT_EXCEEDED && !paged)) return failed(rc);
        for (LDAPMessage* entry = ldap_first_entry(ld_, result.message); entry != nullptr;
             entry = ldap_next_entry(ld_, entry)) {
            entries.push_back(read_entry(ld_, entry, attributes));
        }
        if (cookie.bv_val != nullptr) ldap_memfree(cookie.bv_val);
        cookie = {0, nullptr};
        if (!paged) break;
        LDAPControl** returned = nullptr;
        int code = LDAP_SUCCESS;
        if (ldap_parse_result(ld_, result.message, &code, nullptr, nullptr, nullptr, &returned, 0) != LDAP_SUCCESS) {
            return failed(LDAP_DECODING_ERROR);
        }
        if (LDAPControl* response = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, returned, nullptr)) {
            ber_int_t estimate = 0;
            if (ldap_parse_pageresponse_control(ld_, response, &estimate, &cookie) != LDAP_SUCCESS) {
                cookie = {0, nullptr};
            }
        }
        if (returned != nullptr) ldap_controls_free(returned);
    } while (cookie.bv_val != nullptr && cookie.bv_len != 0);
    if (cookie.bv_val != nullptr) ldap_memfree(cookie.bv_val);
    return entries;
}

}  // namespace pat::directory
