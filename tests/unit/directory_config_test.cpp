// The directory configuration file and the filters (pat/directory.hpp):
// every key, every malformed line an error naming FILE:LINE, the password
// file's checks, RFC 4515 escaping, and sign-in's empty-password guard.
// No server: tests/directory runs the client against a real slapd.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>

#include "pat/directory.hpp"

namespace pat::testing {
namespace {

const std::string kFile = "/etc/nginx-pat/directory.conf";

const std::string kMinimal =
    "url = ldap://ldap.example.com\n"
    "ca_file = /etc/ssl/example-ca.pem\n"
    "bind_dn = cn=nginx-pat,ou=services,dc=example,dc=com\n"
    "bind_password_file = /etc/nginx-pat/directory.password\n"
    "user_base = ou=people,dc=example,dc=com\n";

std::string error_of(const std::string& text) {
    Expected<DirectoryConfig> parsed = parse_directory_config(text, kFile);
    EXPECT_FALSE(parsed.ok()) << text;
    return parsed.ok() ? std::string() : parsed.status().message();
}

TEST(DirectoryConfigParse, MinimalFileGetsTheDocumentedDefaults) {
    Expected<DirectoryConfig> parsed = parse_directory_config(kMinimal, kFile);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    const DirectoryConfig& config = *parsed;
    ASSERT_EQ(config.servers.size(), 1u);
    EXPECT_EQ(config.servers[0].url, "ldap://ldap.example.com");
    EXPECT_EQ(config.servers[0].tls, DirectoryTls::start_tls);
    EXPECT_EQ(config.ca_file, "/etc/ssl/example-ca.pem");
    EXPECT_EQ(config.user_filter, "(objectClass=inetOrgPerson)");
    EXPECT_EQ(config.user_name_attribute, "uid");
    EXPECT_EQ(config.user_display_name_attribute, "cn");
    EXPECT_EQ(config.group_base, "");
    EXPECT_EQ(config.group_member_attribute, "member");
    EXPECT_EQ(config.group_member_uid_attribute, "");
    EXPECT_FALSE(config.group_nested);
    EXPECT_FALSE(config.insecure);
    EXPECT_EQ(config.connect_timeout_ms, 3000);
    EXPECT_EQ(config.operation_timeout_ms, 5000);
    EXPECT_TRUE(config.warnings().empty());
    EXPECT_EQ(config.bind_password.text(), "");  // read by load_directory_config only
}

TEST(DirectoryConfigParse, ReadsEveryKeyAndKeepsUrlsInOrder) {
    const std::string text = kMinimal +
                             "# Active Directory\n"
                             "  url\t=  ldaps://dc2.example.com:3269 \r\n"
                             "url = LDAPS://dc3.example.com/\n"
                             "user_filter = (&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))\n"
                             "user_name_attribute = sAMAccountName\n"
                             "user_display_name_attribute = displayName\n"
                             "group_base = ou=groups,dc=example,dc=com\n"
                             "group_filter = (objectClass=group)\n"
                             "group_name_attribute = cn\n"
                             "group_member_attribute = member\n"
                             "group_member_uid_attribute = memberUid\n"
                             "group_nested = yes\n"
                             "connect_timeout = 2\n"
                             "operation_timeout = 300\n";
    Expected<DirectoryConfig> parsed = parse_directory_config(text, kFile);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    ASSERT_EQ(parsed->servers.size(), 3u);
    EXPECT_EQ(parsed->servers[1].url, "ldaps://dc2.example.com:3269");
    EXPECT_EQ(parsed->servers[1].tls, DirectoryTls::ldaps);
    EXPECT_EQ(parsed->servers[2].tls, DirectoryTls::ldaps);
    EXPECT_EQ(parsed->user_name_attribute, "sAMAccountName");
    EXPECT_EQ(parsed->group_filter, "(objectClass=group)");
    EXPECT_EQ(parsed->group_member_uid_attribute, "memberUid");
    EXPECT_TRUE(parsed->group_nested);
    EXPECT_EQ(parsed->connect_timeout_ms, 2000);
    EXPECT_EQ(parsed->operation_timeout_ms, 300000);
}

TEST(DirectoryConfigParse, PlainLdapOnlyWithTheInsecureSwitchAndThenAWarning) {
    EXPECT_EQ(error_of(kMinimal + "start_tls = no\n"),
              kFile +
                  ":1: url ldap://ldap.example.com with start_tls = no would send passwords in clear: use "
                  "StartTLS or ldaps://, or say insecure = yes");
    Expected<DirectoryConfig> parsed = parse_directory_config(kMinimal + "start_tls = no\ninsecure = yes\n", kFile);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    EXPECT_EQ(parsed->servers[0].tls, DirectoryTls::none);
    ASSERT_EQ(parsed->warnings().size(), 1u);
    EXPECT_NE(parsed->warnings()[0].find("cross the network in clear"), std::string::npos);
    // ldaps:// stays TLS whatever start_tls says; insecure alone changes nothing.
    parsed = parse_directory_config(kMinimal + "url = ldaps://b\nstart_tls = yes\ninsecure = yes\n", kFile);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    EXPECT_EQ(parsed->servers[0].tls, DirectoryTls::start_tls);
    EXPECT_EQ(parsed->servers[1].tls, DirectoryTls::ldaps);
    EXPECT_TRUE(parsed->warnings().empty());
    // Without TLS anywhere, no ca_file is needed.
    parsed = parse_directory_config(
        "url = ldap://a\nstart_tls = no\ninsecure = yes\nbind_dn = cn=a\nbind_password_file = /p\nuser_base = dc=x\n",
        kFile);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
}

TEST(DirectoryConfigParse, EveryMalformedLineIsAnErrorNamingFileAndLine) {
    EXPECT_EQ(error_of("# ok\nurl ldap://a\n"), kFile + ":2: expected 'key = value' or a '#' comment");
    EXPECT_EQ(error_of("uri = ldap://a\n"), kFile + ":1: unknown key 'uri' (the keys are listed in docs/directory.md)");
    EXPECT_EQ(error_of("URL = ldap://a\n"), kFile + ":1: unknown key 'URL' (the keys are listed in docs/directory.md)");
    EXPECT_EQ(error_of("= x\n"), kFile + ":1: a value without a key");
    EXPECT_EQ(error_of("bind_dn =\n"), kFile + ":1: bind_dn needs a value");
    EXPECT_EQ(error_of("bind_dn = cn=a\nbind_dn = cn=b\n"), kFile + ":2: bind_dn given twice (first on line 1)");
    EXPECT_EQ(error_of("url = ldap://a\x01\n"), kFile + ":1: a control character");
    EXPECT_EQ(error_of("url = ldapi:///var/run/slapd.sock\n"),
              kFile + ":1: url: 'ldapi:///var/run/slapd.sock' is neither ldap://HOST[:PORT] nor ldaps://HOST[:PORT]");
    EXPECT_EQ(error_of("url = ldap://a/dc=example,dc=com\n"),
              kFile +
                  ":1: url: 'ldap://a/dc=example,dc=com' must be scheme://HOST[:PORT] alone (the search bases "
                  "are user_base and group_base)");
    EXPECT_EQ(error_of("start_tls = off\n"), kFile + ":1: start_tls is yes or no, not 'off'");
    EXPECT_EQ(error_of("connect_timeout = 0\n"),
              kFile + ":1: connect_timeout is a whole number of seconds from 1 to 300, not '0'");
    EXPECT_EQ(error_of("operation_timeout = 2.5\n"),
              kFile + ":1: operation_timeout is a whole number of seconds from 1 to 300, not '2.5'");
    EXPECT_EQ(error_of("operation_timeout = 99999999999999\n"),
              kFile + ":1: operation_timeout is a whole number of seconds from 1 to 300, not '99999999999999'");
    EXPECT_EQ(error_of("ca_file = ca.pem\n"), kFile + ":1: ca_file must be an absolute path");
    EXPECT_EQ(error_of("user_base = people\n"), kFile + ":1: user_base: 'people' is not a DN (RFC 4514)");
    EXPECT_EQ(error_of("user_filter = objectClass=person\n"),
              kFile +
                  ":1: user_filter: 'objectClass=person' is not one parenthesised LDAP filter such as "
                  "(objectClass=person)");
    EXPECT_NE(error_of("group_filter = (a=b))(c=d\n").find(":1: group_filter:"), std::string::npos);
    EXPECT_NE(error_of("group_filter = (a=b)(c=d)\n").find(":1: group_filter:"), std::string::npos);
    EXPECT_EQ(error_of("user_name_attribute = uid;binary\n"),
              kFile + ":1: user_name_attribute: 'uid;binary' is not an attribute name such as uid or member");
    // An inline comment is not one.
    EXPECT_EQ(error_of("group_nested = no # AD only\n"), kFile + ":1: group_nested is yes or no, not 'no # AD only'");
}

TEST(DirectoryConfigParse, MissingRequiredKeysNameTheFile) {
    EXPECT_EQ(error_of(""), kFile + ": no url (url = ldaps://HOST or ldap://HOST, one a line)");
    EXPECT_EQ(error_of("url = ldaps://a\n"),
              kFile + ": no ca_file: the CA certificate(s) the servers' certificates are checked against");
    EXPECT_EQ(error_of("url = ldaps://a\nca_file = /c\n"),
              kFile + ": no bind_dn (the service account that searches the directory)");
    EXPECT_EQ(error_of("url = ldaps://a\nca_file = /c\nbind_dn = cn=s\n"),
              kFile + ": no bind_password_file (the file holding bind_dn's password)");
    EXPECT_EQ(error_of("url = ldaps://a\nca_file = /c\nbind_dn = cn=s\nbind_password_file = /p\n"),
              kFile + ": no user_base (where the users are, e.g. ou=people,dc=example,dc=com)");
}

TEST(DirectoryConfigParse, RefusesAnOversizedFile) {
    EXPECT_NE(error_of(std::string(64 * 1024 + 1, '#')).find("larger than 64 KiB"), std::string::npos);
}

// Files in a fresh temporary directory, removed afterwards.
class DirectoryConfigLoad : public ::testing::Test {
   protected:
    void SetUp() override {
        char pattern[] = "/tmp/pat-directory-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
        write("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0644);
    }
    void TearDown() override {
        for (const std::string& name : written_) ::unlink((dir_ + "/" + name).c_str());
        ::rmdir(dir_.c_str());
    }
    std::string write(const std::string& name, const std::string& text, mode_t mode) {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
        ::chmod(path.c_str(), mode);
        written_.push_back(name);
        return path;
    }
    std::string config_with_password(const std::string& password, mode_t mode) {
        const std::string password_file = write("password", password, mode);
        return write("directory.conf",
                     "url = ldaps://a\nca_file = " + dir_ + "/ca.pem\nbind_dn = cn=s\nbind_password_file = " +
                         password_file + "\nuser_base = dc=example\n",
                     0644);
    }

    std::string dir_;
    std::vector<std::string> written_;
};

TEST_F(DirectoryConfigLoad, ReadsThePasswordWithoutItsLineEnd) {
    Expected<DirectoryConfig> loaded = load_directory_config(config_with_password("s3cret pass\r\n", 0640));
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    EXPECT_EQ(loaded->bind_password.text(), "s3cret pass");
    loaded = load_directory_config(config_with_password("no-line-end", 0600));
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    EXPECT_EQ(loaded->bind_password.text(), "no-line-end");
}

TEST_F(DirectoryConfigLoad, RefusesAPasswordFileOthersMayUse) {
    for (mode_t mode : {0644, 0604, 0602, 0601}) {
        Expected<DirectoryConfig> loaded = load_directory_config(config_with_password("pw\n", mode));
        ASSERT_FALSE(loaded.ok()) << mode;
        EXPECT_EQ(loaded.status().message(),
                  "bind_password_file " + dir_ +
                      "/password is open to every user (mode o+rwx): chmod o-rwx it (root and the nginx workers' "
                      "group only)");
    }
}

TEST_F(DirectoryConfigLoad, RefusesAnEmptyOrMultiLinePasswordAndAMissingFile) {
    Expected<DirectoryConfig> loaded = load_directory_config(config_with_password("\n", 0600));
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().message(), "bind_password_file " + dir_ + "/password is empty");
    loaded = load_directory_config(config_with_password("one\ntwo\n", 0600));
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.status().message().find("holds more than one line"), std::string::npos);
    loaded = load_directory_config(config_with_password(std::string(1025, 'x'), 0600));
    ASSERT_FALSE(loaded.ok());
    loaded = load_directory_config(dir_ + "/absent.conf");
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().message(),
              "cannot read the directory configuration " + dir_ + "/absent.conf: No such file or directory");
}

TEST_F(DirectoryConfigLoad, RefusesACaFileWithoutACertificate) {
    write("ca.pem", "not a certificate\n", 0644);
    Expected<DirectoryConfig> loaded = load_directory_config(config_with_password("pw\n", 0600));
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().message(), "ca_file " + dir_ + "/ca.pem holds no PEM certificate");
}

TEST(DirectoryFilter, EscapesWhatRfc4515Requires) {
    EXPECT_EQ(escape_filter_value("alice"), "alice");
    EXPECT_EQ(escape_filter_value("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
    EXPECT_EQ(escape_filter_value("a\\b"), "a\\5cb");
    EXPECT_EQ(escape_filter_value(std::string("a\0b", 3)), "a\\00b");
    EXPECT_EQ(escape_filter_value("tab\there\x7f"), "tab\\09here\\7f");
    // UTF-8 passes through (RFC 4515 allows it), so do '=' and '|'.
    EXPECT_EQ(escape_filter_value("j\xc3\xb6rg=|&!"), "j\xc3\xb6rg=|&!");
    EXPECT_EQ(escape_filter_value(""), "");
}

TEST(DirectoryFilter, UserAndGroupSearchFilters) {
    DirectoryConfig config;
    EXPECT_EQ(user_search_filter(config, "*)(uid=*"), "(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))");
    const DirectoryUser user{"alice", "Alice", "uid=alice,ou=people,dc=x"};
    EXPECT_EQ(group_search_filter(config, user), "(&(objectClass=groupOfNames)(member=uid=alice,ou=people,dc=x))");
    config.group_member_uid_attribute = "memberUid";
    EXPECT_EQ(group_search_filter(config, user),
              "(&(objectClass=groupOfNames)(|(member=uid=alice,ou=people,dc=x)(memberUid=alice)))");
    config.group_member_uid_attribute.clear();
    config.group_nested = true;
    config.group_filter = "(objectClass=group)";
    const DirectoryUser odd{"bob", "Bob", "cn=Bob (Ops)\\2C Jr,dc=x"};
    EXPECT_EQ(group_search_filter(config, odd),
              "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=cn=Bob \\28Ops\\29\\5c2C Jr,dc=x))");
}

TEST(DirectorySignIn, AnEmptyPasswordIsRefusedBeforeAnyConnection) {
    // As pat/directory.hpp asks of every program using the client.
    std::signal(SIGPIPE, SIG_IGN);
    // A server nobody listens on: had the client tried to connect, the
    // outcome would be "unavailable".
    Expected<DirectoryConfig> parsed = parse_directory_config(
        "url = ldap://127.0.0.1:1\nstart_tls = no\ninsecure = yes\nbind_dn = cn=s\nbind_password_file = /p\n"
        "user_base = dc=x\nconnect_timeout = 1\n",
        kFile);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    DirectoryClient client(std::move(*parsed));
    DirectorySignIn empty = client.authenticate("alice", "");
    EXPECT_EQ(empty.outcome, DirectorySignIn::Outcome::refused);
    EXPECT_EQ(empty.reason, "an empty password");
    DirectorySignIn long_one = client.authenticate("alice", std::string(1025, 'x'));
    EXPECT_EQ(long_one.outcome, DirectorySignIn::Outcome::refused);
    DirectorySignIn tried = client.authenticate("alice", "pw");
    EXPECT_EQ(tried.outcome, DirectorySignIn::Outcome::unavailable);
    EXPECT_NE(tried.reason.find("Connection refused"), std::string::npos) << tried.reason;
}

}  // namespace
}  // namespace pat::testing
