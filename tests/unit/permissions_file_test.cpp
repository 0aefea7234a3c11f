// The permissions file (patctl apply / export): reading with its line
// numbers and every error, writing canonical bytes, and round trips.
#include "pat/permissions_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "pat/names.hpp"

namespace pat {
namespace {

using User = PermissionsState::User;
using Group = PermissionsState::Group;

// Everything a state says, one sorted line per fact, without line numbers:
// two states are the same when these are.
std::vector<std::string> facts(const PermissionsState& state) {
    std::vector<std::string> out;
    for (const User& user : state.users) {
        out.push_back("user " + user.name + " [" + user.display_name + "] " + (user.sysadmin ? "sysadmin " : "") +
                      (user.active ? "" : "disabled"));
    }
    for (const Group& group : state.groups) {
        out.push_back("group " + group.name);
        for (const auto& member : group.members) out.push_back("member " + group.name + " " + member.name);
    }
    for (const GrantInfo& grant : state.grants) {
        out.push_back("grant " + std::to_string(static_cast<int>(grant.kind)) + " " + grant.user + " " + grant.project +
                      "/" + grant.repo + " " + std::string(level_name(grant.level)));
    }
    for (const PublicTarget& target : state.public_targets) {
        out.push_back("public " + target.project + "/" + target.repo);
    }
    std::sort(out.begin(), out.end());
    return out;
}

PermissionsState parsed(const std::string& text) {
    Expected<PermissionsState> state = parse_permissions_file(text);
    EXPECT_TRUE(state.ok()) << state.status().message() << "\n" << text;
    return state.ok() ? state.value() : PermissionsState{};
}

std::string error_of(const std::string& text) {
    Expected<PermissionsState> state = parse_permissions_file(text);
    if (state.ok()) return "(accepted)";
    EXPECT_EQ(state.status().code(), StatusCode::invalid_argument);
    return state.status().message();
}

// The message starts "line N: " and contains `part`.
void expect_error(const std::string& text, std::size_t line, const std::string& part) {
    const std::string message = error_of(text);
    const std::string prefix = "line " + std::to_string(line) + ": ";
    EXPECT_EQ(message.rfind(prefix, 0), 0u) << message << "\n--- for ---\n" << text;
    EXPECT_NE(message.find(part), std::string::npos) << message << "\n--- for ---\n" << text;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

GrantInfo grant(GranteeKind kind, std::string name, std::string project, std::string repo, Level level) {
    GrantInfo out;
    out.kind = kind;
    out.user = std::move(name);
    out.project = std::move(project);
    out.repo = std::move(repo);
    out.level = level;
    return out;
}

constexpr const char* kExample = R"(# nginx-pat permissions
users:
  Alice: {display-name: Alice Liddell, sysadmin: true}
  bob: {}
  carol: {disabled: true}
  dave:
groups:
  Backend: [alice, Bob]
  Domain Users:
    - carol
projects:
  work:
    users: {alice: admin}
    groups: {backend: write}
    all-users: read
    public: true
    repos:
      API:
        users: {bob: Admin}
        groups: {backend: admin}
        all-users: write
        public: false
  ~alice: {}
)";

TEST(PermissionsFile, ReadsTheExampleWithCanonicalNamesAndLines) {
    PermissionsState state = parsed(kExample);

    ASSERT_EQ(state.users.size(), 4u);
    EXPECT_EQ(state.users[0].name, "alice");
    EXPECT_EQ(state.users[0].display_name, "Alice Liddell");
    EXPECT_TRUE(state.users[0].sysadmin);
    EXPECT_TRUE(state.users[0].active);
    EXPECT_EQ(state.users[0].line, 3u);
    EXPECT_EQ(state.users[1].name, "bob");
    EXPECT_EQ(state.users[1].display_name, "");
    EXPECT_FALSE(state.users[1].sysadmin);
    EXPECT_EQ(state.users[2].name, "carol");
    EXPECT_FALSE(state.users[2].active);
    EXPECT_EQ(state.users[3].name, "dave");
    EXPECT_EQ(state.users[3].line, 6u);

    ASSERT_EQ(state.groups.size(), 2u);
    EXPECT_EQ(state.groups[0].name, "backend");
    EXPECT_EQ(state.groups[0].line, 8u);
    ASSERT_EQ(state.groups[0].members.size(), 2u);
    EXPECT_EQ(state.groups[0].members[1].name, "bob");
    EXPECT_EQ(state.groups[0].members[1].line, 8u);
    EXPECT_EQ(state.groups[1].name, "domain users");
    ASSERT_EQ(state.groups[1].members.size(), 1u);
    EXPECT_EQ(state.groups[1].members[0].name, "carol");
    EXPECT_EQ(state.groups[1].members[0].line, 10u);

    ASSERT_EQ(state.grants.size(), 6u);
    const GrantInfo& alice = state.grants[0];
    EXPECT_EQ(alice.kind, GranteeKind::user);
    EXPECT_EQ(alice.user, "alice");
    EXPECT_EQ(alice.project, "WORK");
    EXPECT_EQ(alice.repo, "");
    EXPECT_EQ(alice.level, Level::admin);
    EXPECT_EQ(alice.line, 13u);
    EXPECT_EQ(state.grants[1].kind, GranteeKind::group);
    EXPECT_EQ(state.grants[1].user, "backend");
    EXPECT_EQ(state.grants[1].level, Level::write);
    EXPECT_EQ(state.grants[1].line, 14u);
    EXPECT_EQ(state.grants[2].kind, GranteeKind::all_users);
    EXPECT_EQ(state.grants[2].user, "");
    EXPECT_EQ(state.grants[2].level, Level::read);
    EXPECT_EQ(state.grants[2].line, 15u);
    const GrantInfo& bob = state.grants[3];
    EXPECT_EQ(bob.user, "bob");
    EXPECT_EQ(bob.project, "WORK");
    EXPECT_EQ(bob.repo, "api");
    EXPECT_EQ(bob.level, Level::admin);
    EXPECT_EQ(bob.line, 19u);
    EXPECT_EQ(state.grants[5].kind, GranteeKind::all_users);
    EXPECT_EQ(state.grants[5].repo, "api");
    EXPECT_EQ(state.grants[5].line, 21u);

    // public: false names nothing.
    ASSERT_EQ(state.public_targets.size(), 1u);
    EXPECT_EQ(state.public_targets[0].project, "WORK");
    EXPECT_EQ(state.public_targets[0].repo, "");
    EXPECT_EQ(state.public_targets[0].line, 16u);
}

TEST(PermissionsFile, EmptyFilesAndSectionsAreAnEmptyState) {
    for (const char* text : {"", "# nothing\n", "{}", "---\n", "users:\ngroups:\nprojects:\n",
                             "users: {}\ngroups: {}\nprojects: {}\n", "projects:\n  WORK:\n  OTHER: {}\n"}) {
        PermissionsState state = parsed(text);
        EXPECT_TRUE(facts(state).empty()) << text;
    }
}

TEST(PermissionsFile, TheWriterIsCanonical) {
    PermissionsState state;
    state.users = {User{"bob", "", false, true, 0}, User{"alice", "Alice Liddell", true, true, 0},
                   User{"carol", "", false, false, 0}};
    state.groups = {Group{"backend", {{"bob", 0}, {"alice", 0}}, 0}, Group{"empty", {}, 0}};
    state.grants = {grant(GranteeKind::group, "backend", "WORK", "api", Level::admin),
                    grant(GranteeKind::user, "alice", "WORK", "", Level::admin),
                    grant(GranteeKind::all_users, "", "WORK", "", Level::read),
                    grant(GranteeKind::user, "bob", "WORK", "api", Level::write),
                    grant(GranteeKind::group, "backend", "WORK", "", Level::write)};
    state.public_targets = {{"WORK", "api", 0}, {"WORK", "", 0}};

    EXPECT_EQ(write_permissions_file(state),
              "# nginx-pat permissions: users, groups and grants (docs/permissions-file.md).\n"
              "# patctl export writes this file; patctl apply FILE makes the store say what it says.\n"
              "users:\n"
              "  alice: {display-name: Alice Liddell, sysadmin: true}\n"
              "  bob: {}\n"
              "  carol: {disabled: true}\n"
              "groups:\n"
              "  backend:\n"
              "    - alice\n"
              "    - bob\n"
              "  empty: []\n"
              "projects:\n"
              "  WORK:\n"
              "    all-users: read\n"
              "    public: true\n"
              "    users:\n"
              "      alice: admin\n"
              "    groups:\n"
              "      backend: write\n"
              "    repos:\n"
              "      api:\n"
              "        public: true\n"
              "        users:\n"
              "          bob: write\n"
              "        groups:\n"
              "          backend: admin\n");

    // Any order of the same state, the same bytes.
    PermissionsState shuffled = state;
    std::reverse(shuffled.users.begin(), shuffled.users.end());
    std::reverse(shuffled.groups.begin(), shuffled.groups.end());
    std::reverse(shuffled.grants.begin(), shuffled.grants.end());
    std::reverse(shuffled.public_targets.begin(), shuffled.public_targets.end());
    shuffled.users[0].line = 42;
    EXPECT_EQ(write_permissions_file(shuffled), write_permissions_file(state));

    EXPECT_EQ(write_permissions_file(PermissionsState{}),
              "# nginx-pat permissions: users, groups and grants (docs/permissions-file.md).\n"
              "# patctl export writes this file; patctl apply FILE makes the store say what it says.\n"
              "users: {}\ngroups: {}\nprojects: {}\n");
}

// parse(write(s)) is s, and write(parse(write(s))) the same bytes.
void expect_round_trip(const PermissionsState& state) {
    const std::string text = write_permissions_file(state);
    Expected<PermissionsState> back = parse_permissions_file(text);
    ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << text;
    EXPECT_EQ(facts(*back), facts(state)) << text;
    EXPECT_EQ(write_permissions_file(*back), text);
}

TEST(PermissionsFile, DisplayNamesOfEveryKindRoundTrip) {
    const std::vector<std::string> names = {"Alice Liddell",
                                            "O'Brien",
                                            "say \"hi\"",
                                            "a: b",
                                            "key: value, more",
                                            " leading space",
                                            "trailing space ",
                                            "  ",
                                            "# not a comment",
                                            "a #b",
                                            "a#b",
                                            "Zoë Ångström",
                                            "日本語の名前",
                                            "emoji 🎉",
                                            "back\\slash",
                                            "tab\there",
                                            "line\nbreak",
                                            "bell\x07",
                                            "del\x7f",
                                            "null",
                                            "Null",
                                            "~",
                                            "true",
                                            "no",
                                            "yes",
                                            "on",
                                            "y",
                                            "N",
                                            "0",
                                            "007",
                                            "1.5",
                                            "1e3",
                                            "0x1f",
                                            ".inf",
                                            "-",
                                            "- item",
                                            "[list]",
                                            "{map}",
                                            "&anchor",
                                            "*alias",
                                            "!tag",
                                            "%directive",
                                            "@at",
                                            "`tick",
                                            "'single'",
                                            "|",
                                            ">",
                                            "?",
                                            ",",
                                            "x,y",
                                            "---",
                                            "...",
                                            "a\u2028b",
                                            "\xef\xbb\xbf"
                                            "bom",
                                            "c\u0085d",
                                            std::string(256, 'x')};
    PermissionsState state;
    for (std::size_t i = 0; i < names.size(); ++i) {
        state.users.push_back(User{"user" + std::to_string(100 + i), names[i], i % 3 == 0, i % 5 != 0, 0});
    }
    expect_round_trip(state);
    // And each on its own.
    for (const std::string& name : names) {
        PermissionsState one;
        one.users.push_back(User{"u", name, false, true, 0});
        expect_round_trip(one);
    }
}

TEST(PermissionsFile, NamesOfEveryKindRoundTrip) {
    PermissionsState state;
    // User names YAML would read as something else unquoted.
    for (std::string name : {"null", "true", "false", "yes",     "no",    "on",   "off",    "y",      "n",   "007",
                             "1.5",  "1e3",  "0x10",  "a.b-c_d", "-dash", ".dot", "_under", "9lives", "inf", "nan"}) {
        if (!is_valid_user_name(name)) continue;
        state.users.push_back(User{name, "", false, true, 0});
        state.grants.push_back(
            grant(GranteeKind::user, name, "~" + std::string(name == "inf" ? "INF" : "X"), "", Level::read));
    }
    // Group names with spaces, and ones YAML would misread.
    state.groups = {Group{"domain users", {{"null", 0}, {"007", 0}}, 0}, Group{"null", {}, 0},
                    Group{"a  b", {{"true", 0}}, 0}, Group{"1.5", {}, 0}, Group{"x.-_ y", {}, 0}};
    state.grants.push_back(grant(GranteeKind::group, "domain users", "WORK", "null", Level::write));
    state.grants.push_back(grant(GranteeKind::group, "null", "NULL", "", Level::admin));
    state.grants.push_back(grant(GranteeKind::all_users, "", "TRUE", "007", Level::read));
    state.grants.push_back(grant(GranteeKind::user, "null", "Y", "1.5", Level::write));
    state.public_targets = {{"~NULL", "", 0}, {"N", "yes", 0}, {"ON", "", 0}};
    expect_round_trip(state);
}

TEST(PermissionsFile, ManyStatesRoundTrip) {
    // Small deterministic states of every shape: users, groups, grants of
    // each kind on projects and repositories, public flags.
    const std::vector<std::string> users = {"alice", "bob", "c.d", "null", "007"};
    const std::vector<std::string> groups = {"backend", "domain users", "ops", "true"};
    const std::vector<std::string> keys = {"WORK", "~ALICE", "A_B-C", "NULL"};
    const std::vector<std::string> slugs = {"", "api", "web.site", "007", "yes"};
    const Level levels[] = {Level::read, Level::write, Level::admin};
    for (unsigned seed = 0; seed < 200; ++seed) {
        unsigned x = seed * 2654435761u + 1;
        auto next = [&x](std::size_t n) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            return x % n;
        };
        PermissionsState state;
        for (const std::string& user : users) {
            if (next(2))
                state.users.push_back(User{user, next(2) ? "Name of " + user : "", next(3) == 0, next(4) != 0, 0});
        }
        for (const std::string& group : groups) {
            if (!next(2)) continue;
            Group g{group, {}, 0};
            for (const std::string& user : users) {
                if (next(2)) g.members.push_back({user, 0});
            }
            state.groups.push_back(g);
        }
        for (const std::string& key : keys) {
            for (const std::string& slug : slugs) {
                if (next(3) == 0) continue;
                for (const std::string& user : users) {
                    if (next(3) == 0)
                        state.grants.push_back(grant(GranteeKind::user, user, key, slug, levels[next(3)]));
                }
                for (const std::string& group : groups) {
                    if (next(3) == 0)
                        state.grants.push_back(grant(GranteeKind::group, group, key, slug, levels[next(3)]));
                }
                if (next(2)) state.grants.push_back(grant(GranteeKind::all_users, "", key, slug, levels[next(3)]));
                if (next(2)) state.public_targets.push_back({key, slug, 0});
            }
        }
        expect_round_trip(state);
    }
}

TEST(PermissionsFile, AcceptsBlockAndFlowStyles) {
    const std::string block =
        "users:\n  alice:\n    display-name: \"Alice\"\n    sysadmin: True\ngroups:\n  ops:\n    - alice\n"
        "projects:\n  WORK:\n    users:\n      alice: write\n";
    const std::string flow =
        "{users: {alice: {display-name: 'Alice', sysadmin: TRUE}}, groups: {ops: [alice]}, projects: {WORK: "
        "{users: {alice: WRITE}}}}";
    EXPECT_EQ(facts(parsed(block)), facts(parsed(flow)));
}

// ---- errors, each with its line ----

TEST(PermissionsFileErrors, YamlSyntax) {
    expect_error("users:\n  alice: {\n", 3, "YAML syntax error");
    expect_error("users:\n  alice: [\ngroups: {}\n", 4,
                 "YAML syntax error at column 1: end of sequence flow not found");
    expect_error("users:\n  bob: {}\n   carol: {}\n", 3, "YAML syntax error");
    expect_error("users: {}\ngroups:\n  ops: [a, b\n  dev: []\n", 4, "YAML syntax error");
    expect_error("users:\n\talice: {}\n", 2, "YAML syntax error");
}

TEST(PermissionsFileErrors, UnknownKeys) {
    expect_error("users: {}\nrepos: {}\n", 2,
                 "unknown key \"repos\" at the top of the file: accepted are users, groups, projects");
    expect_error("users:\n  alice: {admin: true}\n", 2,
                 "unknown key \"admin\" in user alice: accepted are display-name, sysadmin, disabled");
    expect_error("projects:\n  WORK:\n    user: {alice: read}\n", 3,
                 "unknown key \"user\" in project WORK: accepted are users, groups, all-users, public, repos");
    expect_error("projects:\n  WORK:\n    repos:\n      api:\n        repos: {}\n", 5,
                 "unknown key \"repos\" in repository WORK/api: accepted are users, groups, all-users, public");
    expect_error("Users: {}\n", 1, "unknown key \"Users\"");
}

TEST(PermissionsFileErrors, KeysTwice) {
    expect_error("users: {}\ngroups: {}\nusers: {}\n", 3,
                 "\"users\" at the top of the file appears twice (also on line 1)");
    expect_error("users:\n  alice:\n    sysadmin: true\n    sysadmin: false\n", 4, "appears twice (also on line 3)");
    expect_error("projects:\n  WORK:\n    public: true\n    all-users: read\n    public: true\n", 5,
                 "\"public\" in project WORK appears twice");
}

TEST(PermissionsFileErrors, WrongTypes) {
    expect_error("users:\n  - alice\n", 2, "\"users\" must be a mapping");
    expect_error("users: alice\n", 1, "\"users\" must be a mapping");
    expect_error("groups:\n  ops: alice\n", 2, "group \"ops\" must be a list of user names");
    expect_error("groups:\n  ops: {alice: true}\n", 2, "must be a list of user names");
    expect_error("groups:\n  ops:\n    - [alice]\n", 3, "a member's name must be a single value");
    expect_error("users:\n  alice: {display-name: [A]}\n", 2, "display-name of user alice must be a single value");
    expect_error("users:\n  alice: {display-name: }\n", 2, "display-name of user alice is empty");
    expect_error("users:\n  alice: {sysadmin: yes}\n", 2,
                 "sysadmin of user alice is \"yes\": accepted are true and false");
    expect_error("users:\n  alice: {disabled: 1}\n", 2, "disabled of user alice is \"1\": accepted are true and false");
    expect_error("projects:\n  WORK:\n    public: on\n", 3,
                 "public on project WORK is \"on\": accepted are true and false");
    expect_error("projects:\n  WORK: read\n", 2, "project WORK must be a mapping");
    expect_error("projects:\n  WORK:\n    users: [alice]\n", 3, "users of project WORK must be a mapping");
    expect_error("projects:\n  WORK:\n    repos: [api]\n", 3, "repos of project WORK must be a mapping");
    expect_error("- users\n", 1, "a permissions file must be a mapping");
    expect_error("just text\n", 1, "a permissions file must be a mapping");
    expect_error("users:\n  : {}\n", 2, "an empty key");
    expect_error("users:\n  [a, b]: {}\n", 2, "a key that is a list or a mapping");
}

TEST(PermissionsFileErrors, InvalidNames) {
    expect_error("users:\n  bob: {}\n  al ice: {}\n", 3,
                 "\"al ice\": user name contains a character that is not allowed");
    expect_error("groups:\n  \"-ops\": []\n", 2, "\"-ops\": group name starts with a character that is not allowed");
    expect_error("groups:\n  \"ops \": []\n", 2, "group name");
    expect_error("groups:\n  ops:\n    - alice\n    - b@d\n", 4, "\"b@d\": user name contains");
    expect_error("projects:\n  1WORK: {}\n", 2, "\"1WORK\": project key starts with");
    expect_error("projects:\n  WORK:\n    repos:\n      api.git: {}\n", 4, "repository slug ends in \".git\"");
    expect_error("projects:\n  WORK:\n    users:\n      \"a\\tb\": read\n", 4, "\"a\\x09b\": user name");
    expect_error("projects:\n  WORK:\n    groups:\n      \" x\": read\n", 4, "group name starts with");
    expect_error("users:\n  " + std::string(65, 'a') + ": {}\n", 2, "user name is too long");
}

TEST(PermissionsFileErrors, InvalidLevels) {
    expect_error("projects:\n  WORK:\n    users:\n      alice: owner\n", 4,
                 "the level of user \"alice\" on project WORK is \"owner\": accepted are read, write and admin");
    expect_error("projects:\n  WORK:\n    users:\n      alice: none\n", 4, "leave the entry out for no access");
    expect_error("projects:\n  WORK:\n    all-users: all\n", 3, "all-users on project WORK is \"all\"");
    expect_error("projects:\n  WORK:\n    repos:\n      api:\n        groups: {ops: }\n", 5,
                 "the level of group \"ops\" on repository WORK/api is empty");
}

TEST(PermissionsFileErrors, NamesTwiceAfterCanonicalisation) {
    expect_error("users:\n  alice: {}\n  Alice: {}\n", 3,
                 "user \"Alice\" is named twice (also on line 2; names are not case-sensitive)");
    expect_error("users:\n  alice: {}\n  alice: {}\n", 3, "user \"alice\" is named twice (also on line 2");
    expect_error("groups:\n  Ops: []\n  OPS: []\n", 3, "group \"OPS\" is named twice");
    expect_error("groups:\n  ops:\n    - alice\n    - bob\n    - ALICE\n", 5,
                 "member of group \"ops\": \"ALICE\" is named twice (also on line 3");
    expect_error("projects:\n  work: {}\n  WORK: {}\n", 3, "project \"WORK\" is named twice (also on line 2");
    expect_error("projects:\n  WORK:\n    repos:\n      api: {}\n      API: {}\n", 5,
                 "repository \"API\" is named twice");
    expect_error("projects:\n  WORK:\n    users: {alice: read, ALICE: write}\n", 3, "user \"ALICE\" is named twice");
    expect_error("projects:\n  WORK:\n    groups:\n      ops: read\n      Ops: write\n", 5,
                 "group \"Ops\" is named twice (also on line 4");
    // A user and a group of one name are different grantees.
    PermissionsState state = parsed("projects:\n  WORK:\n    users: {ops: read}\n    groups: {ops: write}\n");
    EXPECT_EQ(state.grants.size(), 2u);
}

TEST(PermissionsFileErrors, WhatTheFormatRefuses) {
    expect_error("users:\n  alice: &a {sysadmin: true}\n  bob: *a\n", 2,
                 "anchors (&name) and aliases (*name) are not accepted");
    expect_error("groups:\n  ops: [alice]\n  dev: *x\n", 3, "YAML syntax error");  // an unknown alias
    expect_error("users:\n  alice: {display-name: !!str 12}\n", 2, "tags (\"tag:yaml.org,2002:str\") are not accepted");
    expect_error("users: {}\n---\ngroups: {}\n", 2, "a second YAML document");
}

TEST(PermissionsFileErrors, TooDeep) {
    std::string text = "projects:\n  WORK:\n    repos:\n      api:\n        users:\n          alice: ";
    for (int i = 0; i < 100000; ++i) text += "[";
    expect_error(text, 6, "nested deeper than 16 levels");
    std::string maps = "users:\n  alice: {display-name: ";
    for (int i = 0; i < 100000; ++i) maps += "{a: ";
    expect_error(maps, 2, "nested deeper than 16 levels");
    std::string lines = "users:\n";
    for (int i = 0; i < 20; ++i) lines += std::string(2 * (i + 1), ' ') + "a:\n";
    expect_error(lines, 17, "nested deeper than 16 levels");
}

TEST(PermissionsFileErrors, TooLarge) {
    std::string text = "users:\n";
    while (text.size() <= kMaxPermissionsFileSize) text += "  # a long comment line to fill the file up\n";
    const std::size_t lines_before_limit =
        static_cast<std::size_t>(std::count(text.begin(), text.begin() + kMaxPermissionsFileSize, '\n'));
    expect_error(text, lines_before_limit + 1, "the file goes past 16 MiB");
    text.resize(kMaxPermissionsFileSize);
    text.back() = '\n';
    EXPECT_EQ(error_of(text), "(accepted)");
}

}  // namespace
}  // namespace pat
