// One connection to the directory over libldap: the server chosen among the
// configured URLs, TLS verified, bound as the service account. Private to
// src/core/directory.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pat/directory.hpp"

typedef struct ldap LDAP;

namespace pat::directory {

struct Entry {
    std::string dn;
    std::vector<std::pair<std::string, std::vector<std::string>>> attributes;  // as requested

    // The values of a requested attribute (empty when the entry has none).
    const std::vector<std::string>& values(std::string_view attribute) const;
    std::string first(std::string_view attribute) const;
};

class Connection {
   public:
    // Tries config.servers in order: connect (connect_timeout), TLS with the
    // certificate checked against ca_file, then a bind as bind_dn. Appends
    // "URL: why" to `skipped` for each server that failed before the one
    // returned. A refused service bind is not retried on the next server
    // (the replicas of one directory share their accounts).
    static DirectoryResult<Connection> open(const DirectoryConfig& config, std::vector<std::string>& skipped);

    Connection(Connection&& other) noexcept
        : ld_(std::exchange(other.ld_, nullptr)), config_(other.config_), server_(other.server_) {}
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    Connection& operator=(Connection&&) = delete;
    ~Connection();

    const DirectoryServer& server() const { return config_->servers[server_]; }

    // A subtree search returning at most size_limit entries (0: no limit,
    // with the paged-results control so that every page comes back). More
    // entries than size_limit is not an error: the caller sees size_limit
    // of them and decides.
    DirectoryResult<std::vector<Entry>> search(const std::string& base, const std::string& filter,
                                               const std::vector<std::string>& attributes, int size_limit);

    // A simple bind as dn. LDAP's result code (LDAP_SUCCESS, LDAP_INVALID_CREDENTIALS, ...);
    // `why` gets the server's text for anything else.
    int bind(const std::string& dn, std::string_view password, std::string& why);

   private:
    Connection(LDAP* ld, const DirectoryConfig& config, std::size_t server)
        : ld_(ld), config_(&config), server_(server) {}

    std::string error_text(int code) const;

    LDAP* ld_;
    const DirectoryConfig* config_;
    std::size_t server_;
};

// The DN in one comparable form (normalised per RFC 4514, lower case), or
// the text itself lower-cased when it does not parse.
std::string comparable_dn(const std::string& dn);

// Whether a bind's or an operation's result code means "the server is not
// there or did not answer in time" rather than "no".
bool is_unavailable_code(int code);

}  // namespace pat::directory
