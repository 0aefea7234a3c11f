// Search filters: RFC 4515 escaping and the filters the client sends
// (pat/directory.hpp). Pure functions, tested without a server.
#include "pat/directory.hpp"

namespace pat {
namespace {

// Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: "member of, directly or
// through nested groups". Other servers do not know it (and match nothing).
constexpr std::string_view kInChain = ":1.2.840.113556.1.4.1941:=";

std::string equality(std::string_view attribute, std::string_view value) {
    return "(" + std::string(attribute) + "=" + escape_filter_value(value) + ")";
}

}  // namespace

std::string escape_filter_value(std::string_view value) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        // RFC 4515 requires '*', '(', ')', '\' and NUL; control bytes are
        // escaped too so that a filter is always one printable line in a log.
        if (c == '*' || c == '(' || c == ')' || c == '\\' || byte < 0x20 || byte == 0x7f) {
            out += '\\';
            out += kHex[byte >> 4];
            out += kHex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

std::string user_search_filter(const DirectoryConfig& config, std::string_view name) {
    return "(&" + config.user_filter + equality(config.user_name_attribute, name) + ")";
}

std::string group_search_filter(const DirectoryConfig& config, const DirectoryUser& user) {
    std::string by_dn = config.group_nested ? "(" + config.group_member_attribute + std::string(kInChain) +
                                                  escape_filter_value(user.dn) + ")"
                                            : equality(config.group_member_attribute, user.dn);
    std::string member = config.group_member_uid_attribute.empty()
                             ? by_dn
                             : "(|" + by_dn + equality(config.group_member_uid_attribute, user.name) + ")";
    return "(&" + config.group_filter + member + ")";
}

}  // namespace pat
