// Groups, all-users defaults and public access: the decision sees them at
// once, costs the same whatever the number of groups, and explain_level
// names the grant that decided. Also the schema 1 -> 2 upgrade.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <random>
#include <string>
#include <vector>

#include "pat/store.hpp"
#include "store_fixture.hpp"

namespace pat::testing {
namespace {

using L = Level;
using N = Need;

class GroupsTest : public StoreTest {
   protected:
    void group(const std::string& name, const std::vector<std::string>& members) {
        ASSERT_TRUE(store_->add_group(name).ok());
        if (!members.empty()) {
            Status s = store_->add_group_members(name, members);
            ASSERT_TRUE(s.ok()) << s.message();
        }
    }
    void grant(const Grantee& who, const std::string& key, const std::string& slug, Level level) {
        Status s = store_->set_grant(who, key, slug, level);
        ASSERT_TRUE(s.ok()) << s.message();
    }
    Reason public_read(std::string_view project, std::string_view repo, Need need = N::repo_read) {
        AccessRequest request;
        request.need = need;
        request.project = project;
        request.repo = repo;
        return store_->decide_public(request, now_ms()).reason;
    }
    std::string via(const std::string& user, const std::string& key, const std::string& slug = {}) {
        auto source = store_->explain_level(user, key, slug);
        EXPECT_TRUE(source.ok()) << source.status().message();
        return source.ok() ? std::string(level_name(source->level)) + " " + describe_level_source(*source) : "";
    }
};

TEST_F(GroupsTest, AGroupGrantReachesItsMembersAndEveryChangeAppliesAtOnce) {
    add_user("alice");
    add_user("bob");
    const std::string token = create_token("alice", {L::admin, L::admin});
    group("Backend", {"Alice"});  // names are canonical: backend, alice
    EXPECT_EQ(decide(token, N::repo_write).reason, Reason::user_level_too_low);
    grant(Grantee::group("BACKEND"), "work", "", L::write);
    EXPECT_EQ(decide(token, N::repo_write).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::project_write).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_admin).reason, Reason::user_level_too_low);
    EXPECT_EQ(via("alice", "WORK", "my-repo"), "write via group \"backend\" on project WORK");

    // A repository grant of the group adds to the project one.
    grant(Grantee::group("backend"), "WORK", "my-repo", L::admin);
    EXPECT_EQ(decide(token, N::repo_admin).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_admin, "WORK", "other").reason, Reason::user_level_too_low);

    ASSERT_TRUE(store_->remove_group_members("backend", {"alice"}).ok());
    EXPECT_EQ(decide(token, N::repo_read).reason, Reason::user_level_too_low);
    ASSERT_TRUE(store_->add_group_members("backend", {"alice"}).ok());
    EXPECT_EQ(decide(token, N::repo_admin).reason, Reason::allowed);
    ASSERT_TRUE(store_->remove_grant(Grantee::group("backend"), "WORK", "my-repo").ok());
    EXPECT_EQ(decide(token, N::repo_admin).reason, Reason::user_level_too_low);
    EXPECT_EQ(decide(token, N::repo_write).reason, Reason::allowed);
    ASSERT_TRUE(store_->delete_group("backend").ok());
    EXPECT_EQ(decide(token, N::repo_read).reason, Reason::user_level_too_low);
    EXPECT_TRUE(store_->list_user_groups("alice")->empty());
}

TEST_F(GroupsTest, TheLevelIsTheHighestOfEveryKindOfGrant) {
    add_user("alice");
    const std::string token = create_token("alice", {L::admin, L::admin});
    group("readers", {"alice"});
    group("writers", {"alice"});
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::read).ok());
    EXPECT_EQ(via("alice", "WORK"), "read via the user's own grant on project WORK");
    grant(Grantee::group("readers"), "WORK", "", L::read);
    // On a tie the user's own grant is named.
    EXPECT_EQ(via("alice", "WORK"), "read via the user's own grant on project WORK");
    grant(Grantee::group("writers"), "WORK", "", L::write);
    EXPECT_EQ(via("alice", "WORK"), "write via group \"writers\" on project WORK");
    grant(Grantee::all_users(), "WORK", "my-repo", L::admin);
    EXPECT_EQ(decide(token, N::repo_admin).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::project_admin).reason, Reason::user_level_too_low);
    EXPECT_EQ(via("alice", "WORK", "my-repo"), "admin via all users on repository WORK/my-repo");
    // Removing the user's own grant leaves the groups' grants.
    ASSERT_TRUE(store_->revoke_project_grant("alice", "WORK").ok());
    EXPECT_EQ(decide(token, N::project_write).reason, Reason::allowed);
    ASSERT_TRUE(store_->remove_group_members("writers", {"alice"}).ok());
    EXPECT_EQ(decide(token, N::project_write).reason, Reason::user_level_too_low);
    EXPECT_EQ(decide(token, N::project_read).reason, Reason::allowed);
}

TEST_F(GroupsTest, AUserInFiftyGroupsGetsTheSameAnswers) {
    add_user("alice");
    const std::string token = create_token("alice", {L::admin, L::admin});
    for (int i = 0; i < 50; ++i) {
        group("team-" + std::to_string(i), {"alice"});
        grant(Grantee::group("team-" + std::to_string(i)), "P" + std::to_string(i), "", L::read);
    }
    grant(Grantee::group("team-49"), "WORK", "my-repo", L::write);
    EXPECT_EQ(decide(token, N::repo_write).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::project_read, "P17").reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::project_write, "P17").reason, Reason::user_level_too_low);
    EXPECT_EQ(store_->list_user_groups("alice")->size(), 50u);
    EXPECT_EQ(via("alice", "WORK", "my-repo"), "write via group \"team-49\" on repository WORK/my-repo");
}

TEST_F(GroupsTest, AllUsersDefaultsReachEverySignedInUserIncludingNewOnes) {
    grant(Grantee::all_users(), "WORK", "", L::read);
    add_user("carol");  // after the default was set
    const std::string token = create_token("carol", {L::admin, L::admin});
    EXPECT_EQ(decide(token, N::repo_read).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_write).reason, Reason::user_level_too_low);
    EXPECT_EQ(decide(token, N::project_read, "OTHER").reason, Reason::user_level_too_low);
    ASSERT_TRUE(store_->set_user_active("carol", false).ok());
    EXPECT_EQ(decide(token, N::repo_read).reason, Reason::user_disabled);
    ASSERT_TRUE(store_->set_user_active("carol", true).ok());
    ASSERT_TRUE(store_->remove_grant(Grantee::all_users(), "WORK", "").ok());
    EXPECT_EQ(decide(token, N::repo_read).reason, Reason::user_level_too_low);
    EXPECT_EQ(store_->remove_grant(Grantee::all_users(), "WORK", "").code(), StatusCode::not_found);
}

TEST_F(GroupsTest, PublicAccessReadsWithoutCredentialsAndNothingElse) {
    EXPECT_EQ(public_read("WORK", "site"), Reason::no_credentials);
    ASSERT_TRUE(store_->set_public("work", "Site", true).ok());
    EXPECT_EQ(public_read("WORK", "site"), Reason::allowed);
    EXPECT_EQ(public_read("work", "SITE"), Reason::allowed);
    EXPECT_EQ(public_read("WORK", "other"), Reason::no_credentials);
    for (Need need : {N::repo_write, N::repo_admin, N::project_read, N::repo_fork, N::authenticated, N::sysadmin,
                      N::unrecognised_route})
        EXPECT_EQ(public_read("WORK", "site", need), Reason::no_credentials) << need_name(need);
    EXPECT_EQ(public_read("WORK", "site.git"), Reason::no_credentials);  // not a valid slug
    // A public project opens every repository in it.
    ASSERT_TRUE(store_->set_public("OPEN", "", true).ok());
    EXPECT_EQ(public_read("OPEN", "anything"), Reason::allowed);
    // Public access is read for signed-in users too: credentials never lose access.
    add_user("dave");
    const std::string token = create_token("dave", {L::admin, L::admin});
    EXPECT_EQ(decide(token, N::repo_read, "OPEN", "x").reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_write, "OPEN", "x").reason, Reason::user_level_too_low);
    EXPECT_EQ(via("dave", "OPEN", "x"), "read via public access to project OPEN");
    // An all-users default and the public flag share a row: removing one keeps the other.
    grant(Grantee::all_users(), "OPEN", "", L::write);
    ASSERT_TRUE(store_->set_public("OPEN", "", false).ok());
    EXPECT_EQ(public_read("OPEN", "anything"), Reason::no_credentials);
    EXPECT_EQ(decide(token, N::repo_write, "OPEN", "x").reason, Reason::allowed);
    ASSERT_EQ(store_->list_public()->size(), 1u);
    EXPECT_EQ(store_->list_public()->front().repo, "site");
}

TEST_F(GroupsTest, GroupsAndMembershipsAreValidatedAllOrNothing) {
    add_user("alice");
    EXPECT_EQ(store_->add_group("bad/name").code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->add_group("trailing ").code(), StatusCode::invalid_argument);
    ASSERT_TRUE(store_->add_group("Domain Users").ok());
    EXPECT_EQ(store_->add_group("domain users").code(), StatusCode::already_exists);
    EXPECT_EQ(store_->add_group_members("domain users", {"alice", "nobody"}).code(), StatusCode::not_found);
    EXPECT_TRUE(store_->list_group_members("domain users")->empty());  // alice was not added either
    EXPECT_EQ(store_->add_group_members("nogroup", {"alice"}).code(), StatusCode::not_found);
    ASSERT_TRUE(store_->add_group_members("domain users", {"alice"}).ok());
    EXPECT_EQ(store_->add_group_members("domain users", {"alice"}).code(), StatusCode::already_exists);
    EXPECT_EQ(store_->remove_group_members("domain users", {"alice", "alice2"}).code(), StatusCode::not_found);
    EXPECT_EQ(store_->list_group_members("domain users")->size(), 1u);
    EXPECT_EQ(store_->set_grant(Grantee::group("nogroup"), "WORK", "", L::read).code(), StatusCode::not_found);
    ASSERT_EQ(store_->list_groups()->size(), 1u);
    EXPECT_EQ(store_->list_groups()->front().members, 1u);
    // Deleting the user removes the membership.
    ASSERT_TRUE(store_->delete_user("alice").ok());
    EXPECT_TRUE(store_->list_group_members("domain users")->empty());
}

TEST_F(GroupsTest, ExplainAndDecideAgreeOverRandomChanges) {
    const std::vector<std::string> users = {"u0", "u1", "u2"};
    const std::vector<std::string> groups = {"g0", "g1"};
    std::vector<std::string> tokens;
    for (const auto& u : users) {
        add_user(u);
        tokens.push_back(create_token(u, {L::admin, L::admin}));
    }
    for (const auto& g : groups) ASSERT_TRUE(store_->add_group(g).ok());
    std::mt19937 random(20261202);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
    const std::vector<std::string> slugs = {"", "r0", "r1"};
    for (int step = 0; step < 400; ++step) {
        const std::string slug = slugs[pick(3)];
        const Level level = static_cast<Level>(1 + pick(3));
        switch (pick(7)) {
            case 0: (void)store_->set_grant(Grantee::user(users[pick(3)]), "P", slug, level); break;
            case 1: (void)store_->remove_grant(Grantee::user(users[pick(3)]), "P", slug); break;
            case 2: (void)store_->set_grant(Grantee::group(groups[pick(2)]), "P", slug, level); break;
            case 3: (void)store_->remove_grant(Grantee::group(groups[pick(2)]), "P", slug); break;
            case 4: (void)store_->add_group_members(groups[pick(2)], {users[pick(3)]}); break;
            case 5: (void)store_->remove_group_members(groups[pick(2)], {users[pick(3)]}); break;
            case 6:
                if (pick(2) == 0)
                    (void)store_->set_grant(Grantee::all_users(), "P", slug, level);
                else
                    (void)store_->set_public("P", slug, pick(2) == 0);
                break;
        }
        for (std::size_t u = 0; u < users.size(); ++u) {
            for (const std::string repo : {"r0", "r1"}) {
                auto source = store_->explain_level(users[u], "P", repo);
                ASSERT_TRUE(source.ok());
                for (Level need_level : {L::read, L::write, L::admin}) {
                    const Need need = need_level == L::read    ? N::repo_read
                                      : need_level == L::write ? N::repo_write
                                                               : N::repo_admin;
                    const bool allowed = decide(tokens[u], need, "P", repo).allowed();
                    ASSERT_EQ(allowed, source->level >= need_level)
                        << "step " << step << " user " << users[u] << " repo " << repo << " need " << need_name(need)
                        << ": " << describe_level_source(*source);
                }
            }
        }
    }
}

// A schema-1 store as the previous release left it: the schema-2 tables
// dropped and the version set back (the CLI tests upgrade a store made by
// the previous release's patctl itself).
void downgrade_to_schema_1(const std::string& path) {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR, 0600), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    for (const char* table : {"groups", "group_members", "user_groups", "group_grants", "everyone", "effective"}) {
        MDB_dbi dbi;
        ASSERT_EQ(mdb_dbi_open(txn, table, 0, &dbi), 0);
        ASSERT_EQ(mdb_drop(txn, dbi, 1), 0);
    }
    MDB_dbi meta;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k{14, const_cast<char*>("schema_version")}, v{1, const_cast<char*>("1")};
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

TEST_F(GroupsTest, ASchemaOneStoreIsReadAsItIsAndUpgradedByTheFirstWriter) {
    add_user("alice");
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::write).ok());
    const std::string token = create_token("alice", {L::admin, L::admin});
    store_.reset();
    downgrade_to_schema_1(path_);

    // A reader (a worker) reads it as it is and never writes the schema.
    auto reader = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    AccessRequest request;
    request.token = token;
    request.need = N::repo_write;
    request.project = "WORK";
    request.repo = "r";
    EXPECT_EQ((*reader)->decide(hasher_, request, now_ms()).reason, Reason::allowed);
    request.need = N::repo_read;
    EXPECT_EQ((*reader)->decide_public(request, now_ms()).reason, Reason::no_credentials);
    EXPECT_FALSE((*reader)->schema_outdated());
    EXPECT_EQ((*reader)->upgraded_from(), 0);
    EXPECT_TRUE((*reader)->list_groups()->empty());

    // The first writer upgrades it, once.
    auto writer = Store::open(path_, Store::Mode::read_write);
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    EXPECT_EQ((*writer)->upgraded_from(), 1);
    EXPECT_TRUE((*reader)->schema_outdated());
    auto audit = (*writer)->list_audit(std::nullopt, 1);
    ASSERT_TRUE(audit.ok());
    EXPECT_EQ(audit->front().action, AuditAction::store_upgraded);
    EXPECT_EQ(audit->front().detail, "schema 1 to 2, 1 grants");
    ASSERT_TRUE((*writer)->add_group("ops").ok());
    ASSERT_TRUE((*writer)->add_group_members("ops", {"alice"}).ok());
    ASSERT_TRUE((*writer)->set_grant(Grantee::group("ops"), "WORK", "", L::admin).ok());
    writer->reset();
    auto again = Store::open(path_, Store::Mode::read_write);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)->upgraded_from(), 0);
    again->reset();

    // A reader opened after the upgrade sees the group grant; the old
    // grant still works as before.
    reader->reset();
    auto fresh = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(fresh.ok());
    request.need = N::repo_admin;
    EXPECT_EQ((*fresh)->decide(hasher_, request, now_ms()).reason, Reason::allowed);
    EXPECT_FALSE((*fresh)->schema_outdated());
}

TEST_F(GroupsTest, ApplyReconcilesInOneTransactionAndExportRoundTrips) {
    add_user("alice");
    add_user("old");
    const std::string token = create_token("old", {L::admin, L::admin});
    ASSERT_TRUE(store_->grant_project("old", "LEGACY", L::admin).ok());

    PermissionsState state;
    state.users = {{"alice", "Alice L", true, true, 2}, {"Bob", "", false, true, 3}};
    state.groups = {{"backend", {{"alice", 5}, {"bob", 5}}, 5}};
    state.grants = {{"backend", "WORK", "", L::write, GranteeKind::group, 8},
                    {"", "WORK", "", L::read, GranteeKind::all_users, 9},
                    {"bob", "WORK", "api", L::admin, GranteeKind::user, 10}};
    state.public_targets = {{"WORK", "site", 11}};

    auto dry = store_->apply(state, {true, false});
    ASSERT_TRUE(dry.ok()) << dry.status().message();
    EXPECT_FALSE(dry->empty());
    EXPECT_FALSE(store_->get_user("bob").ok());  // a dry run writes nothing

    auto applied = store_->apply(state, {});
    ASSERT_TRUE(applied.ok()) << applied.status().message();
    EXPECT_EQ(*applied, *dry);
    auto twice = store_->apply(state, {});
    ASSERT_TRUE(twice.ok());
    EXPECT_TRUE(twice->empty()) << twice->front();
    EXPECT_EQ(store_->get_user("alice")->display_name, "Alice L");
    EXPECT_TRUE(store_->get_user("alice")->sysadmin);
    // bob has no password: he cannot sign in (or create tokens) with any.
    EXPECT_EQ(store_->authenticate_user("bob", "").code(), StatusCode::refused);
    EXPECT_EQ(store_->authenticate_user("bob", "x").code(), StatusCode::refused);

    // Without --prune what the file does not name stays.
    EXPECT_EQ(decide(token, N::project_admin, "LEGACY").reason, Reason::allowed);
    auto pruned = store_->apply(state, {false, true});
    ASSERT_TRUE(pruned.ok());
    EXPECT_EQ(decide(token, N::project_admin, "LEGACY").reason, Reason::user_disabled);
    EXPECT_FALSE(store_->get_user("old")->active);                                // disabled, not deleted
    EXPECT_TRUE(store_->get_token(store_->list_tokens("old")->front().id).ok());  // tokens stay

    // export -> apply changes nothing; and export is what was applied.
    auto exported = store_->export_state();
    ASSERT_TRUE(exported.ok());
    auto replay = store_->apply(*exported, {false, true});
    ASSERT_TRUE(replay.ok());
    EXPECT_TRUE(replay->empty());
    EXPECT_EQ(exported->groups.size(), 1u);
    EXPECT_EQ(exported->grants.size(), 3u);  // the pruned LEGACY grant is gone
    EXPECT_EQ(exported->public_targets.size(), 1u);

    // An error names the line and changes nothing.
    PermissionsState bad = state;
    bad.groups[0].members.push_back({"nobody", 42});
    bad.grants[0].level = L::admin;
    auto refused = store_->apply(bad, {});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().message(), "line 42: no user 'nobody' (a member of group 'backend')");
    bad.groups[0].members.pop_back();
    bad.grants.push_back({"BACKEND", "work", "", L::read, GranteeKind::group, 44});
    refused = store_->apply(bad, {});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().message(), "line 44: the grant of group backend on project WORK is given twice");
    auto unchanged = store_->export_state();
    EXPECT_EQ(unchanged->grants.size(), 3u);
}

TEST_F(GroupsTest, BulkLoadedGroupsResolveLikeChangedOnes) {
    Store::BulkLoad load;
    load.users = {{"a", false}, {"b", false}};
    load.groups = {{"g", {"a"}}};
    load.grants = {{"g", "WORK", "", L::write, GranteeKind::group, 0},
                   {"b", "WORK", "", L::read, GranteeKind::user, 0}};
    ASSERT_TRUE(store_->bulk_load(load).ok());
    EXPECT_EQ(via("a", "WORK"), "write via group \"g\" on project WORK");
    EXPECT_EQ(via("b", "WORK"), "read via the user's own grant on project WORK");
    ASSERT_TRUE(store_->remove_group_members("g", {"a"}).ok());
    EXPECT_EQ(via("a", "WORK"), "none no grant");
}

}  // namespace
}  // namespace pat::testing
