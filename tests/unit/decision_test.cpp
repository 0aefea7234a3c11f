// The decision: every cell of the permission table against every need, the
// user's grants capping the token, and each way a token stops working.
#include "pat/decision.hpp"

#include <gtest/gtest.h>

#include <map>

#include "store_fixture.hpp"

namespace pat::testing {
namespace {

using L = Level;
using N = Need;

// Written out by hand from the README's table (not derived from the code):
// which needs each of the six token permission sets allows.
struct Row {
    TokenPermissions token;
    std::map<Need, bool> allows;
};
const Row kTable[] = {
    {{L::read, L::read},
     {{N::repo_read, true},
      {N::repo_write, false},
      {N::repo_admin, false},
      {N::project_read, true},
      {N::project_write, false},
      {N::project_admin, false},
      {N::repo_fork, false},
      {N::sysadmin, false},
      {N::authenticated, true}}},
    {{L::read, L::write},
     {{N::repo_read, true},
      {N::repo_write, true},
      {N::repo_admin, false},
      {N::project_read, true},
      {N::project_write, false},
      {N::project_admin, false},
      {N::repo_fork, false},
      {N::sysadmin, false},
      {N::authenticated, true}}},
    {{L::read, L::admin},
     {{N::repo_read, true},
      {N::repo_write, true},
      {N::repo_admin, true},
      {N::project_read, true},
      {N::project_write, false},
      {N::project_admin, false},
      {N::repo_fork, false},
      {N::sysadmin, false},
      {N::authenticated, true}}},
    {{L::write, L::write},
     {{N::repo_read, true},
      {N::repo_write, true},
      {N::repo_admin, false},
      {N::project_read, true},
      {N::project_write, true},
      {N::project_admin, false},
      {N::repo_fork, false},
      {N::sysadmin, false},
      {N::authenticated, true}}},
    {{L::write, L::admin},
     {{N::repo_read, true},
      {N::repo_write, true},
      {N::repo_admin, true},
      {N::project_read, true},
      {N::project_write, true},
      {N::project_admin, false},
      {N::repo_fork, false},
      {N::sysadmin, false},
      {N::authenticated, true}}},
    {{L::admin, L::admin},
     {{N::repo_read, true},
      {N::repo_write, true},
      {N::repo_admin, true},
      {N::project_read, true},
      {N::project_write, true},
      {N::project_admin, true},
      {N::repo_fork, true},
      {N::sysadmin, true},
      {N::authenticated, true}}},
};

TEST_F(StoreTest, EveryCellOfThePermissionTableAgainstEveryNeed) {
    add_user("root", /*sysadmin=*/true);  // the user's level never caps here
    for (const Row& row : kTable) {
        const std::string token = create_token("root", row.token);
        for (const auto& [need, allowed] : row.allows) {
            Decision d = decide(token, need);
            EXPECT_EQ(d.reason, allowed ? Reason::allowed : Reason::token_level_too_low)
                << "token " << level_name(row.token.project) << "/" << level_name(row.token.repo) << " need "
                << need_name(need);
        }
        EXPECT_EQ(decide(token, N::unrecognised_route).reason, Reason::route_not_allowed);
    }
}

// Global administration: the user's sysadmin flag and a token at its highest
// level; neither alone is enough, and no project is needed.
TEST_F(StoreTest, TheSysadminNeedTakesTheFlagAndTheHighestToken) {
    add_user("root", /*sysadmin=*/true);
    add_user("alice");
    EXPECT_EQ(decide(create_token("root", {L::admin, L::admin}), N::sysadmin, "", "").reason, Reason::allowed);
    EXPECT_EQ(decide(create_token("root", {L::write, L::admin}), N::sysadmin, "", "").reason,
              Reason::token_level_too_low);
    EXPECT_EQ(decide(create_token("root", {L::read, L::read}), N::sysadmin, "", "").reason,
              Reason::token_level_too_low);
    const std::string alice = create_token("alice", {L::admin, L::admin});
    EXPECT_EQ(decide(alice, N::sysadmin, "", "").reason, Reason::user_level_too_low);
    // A grant on a project is no global permission.
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::admin).ok());
    EXPECT_EQ(decide(alice, N::sysadmin, "WORK", "").reason, Reason::user_level_too_low);
}

TEST_F(StoreTest, CombinationsOutsideTheTableAreRefusedAtCreation) {
    add_user("alice");
    for (auto bad : {TokenPermissions{L::write, L::read}, TokenPermissions{L::admin, L::read},
                     TokenPermissions{L::admin, L::write}}) {
        auto created = store_->create_token("alice", "alice-pw", "x", bad, std::nullopt, now_ms());
        ASSERT_FALSE(created.ok());
        EXPECT_EQ(created.status().code(), StatusCode::invalid_argument);
        // The message states the rule.
        EXPECT_NE(created.status().message().find("at least"), std::string::npos) << created.status().message();
    }
    for (auto bad : {TokenPermissions{L::none, L::read}, TokenPermissions{L::read, L::none}}) {
        auto created = store_->create_token("alice", "alice-pw", "x", bad, std::nullopt, now_ms());
        EXPECT_EQ(created.status().code(), StatusCode::invalid_argument);
    }
    auto tokens = store_->list_tokens(std::nullopt);
    ASSERT_TRUE(tokens.ok());
    EXPECT_TRUE(tokens->empty());
}

TEST_F(StoreTest, TheUsersGrantsCapTheTokenAndChangesApplyAtOnce) {
    add_user("alice");
    const std::string token = create_token("alice", {L::admin, L::admin});
    // No grant at all: authenticated, but nothing on WORK.
    EXPECT_EQ(decide(token, N::authenticated).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_read).reason, Reason::user_level_too_low);
    EXPECT_EQ(decide(token, N::project_read).reason, Reason::user_level_too_low);

    ASSERT_TRUE(store_->grant_project("alice", "work", L::read).ok());
    EXPECT_EQ(decide(token, N::repo_read).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::project_read).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_write).reason, Reason::user_level_too_low);

    // A repository grant above the project grant lifts that repository only.
    ASSERT_TRUE(store_->grant_repo("alice", "WORK", "My-Repo.git", L::write).ok() == false);  // ".git" is not a slug
    ASSERT_TRUE(store_->grant_repo("alice", "WORK", "My-Repo", L::write).ok());
    EXPECT_EQ(decide(token, N::repo_write).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_write, "WORK", "other").reason, Reason::user_level_too_low);
    EXPECT_EQ(decide(token, N::project_write).reason, Reason::user_level_too_low);
    EXPECT_EQ(decide(token, N::repo_fork).reason, Reason::allowed);  // read on the source

    // Lowering the grant lowers the token on the very next decision.
    ASSERT_TRUE(store_->revoke_repo_grant("alice", "WORK", "my-repo").ok());
    EXPECT_EQ(decide(token, N::repo_write).reason, Reason::user_level_too_low);
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::admin).ok());
    EXPECT_EQ(decide(token, N::project_admin).reason, Reason::allowed);
    ASSERT_TRUE(store_->revoke_project_grant("alice", "WORK").ok());
    EXPECT_EQ(decide(token, N::repo_read).reason, Reason::user_level_too_low);
}

TEST_F(StoreTest, ProjectKeysAndSlugsCompareCaseInsensitively) {
    add_user("alice");
    ASSERT_TRUE(store_->grant_repo("alice", "Work", "My-Repo", L::read).ok());
    const std::string token = create_token("alice", {L::read, L::read});
    EXPECT_EQ(decide(token, N::repo_read, "WORK", "my-repo").reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_read, "work", "MY-REPO").reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_read, "WORK", "my-repo.git").reason, Reason::invalid_target);
    EXPECT_EQ(decide(token, N::repo_read, "WO RK", "my-repo").reason, Reason::invalid_target);
    EXPECT_EQ(decide(token, N::repo_read, "WORK", "").reason, Reason::invalid_target);
}

TEST_F(StoreTest, PersonalProjectsBelongToTheirOwner) {
    add_user("alice");
    add_user("bob");
    const std::string alice = create_token("alice", {L::admin, L::admin});
    const std::string bob = create_token("bob", {L::admin, L::admin});
    EXPECT_EQ(decide(alice, N::repo_write, "~alice", "dotfiles").reason, Reason::allowed);
    EXPECT_EQ(decide(alice, N::project_admin, "~ALICE", "").reason, Reason::allowed);
    EXPECT_EQ(decide(bob, N::repo_read, "~alice", "dotfiles").reason, Reason::user_level_too_low);
}

TEST_F(StoreTest, SysadminsCanDoEverythingTheirTokenAllows) {
    add_user("root", true);
    const std::string token = create_token("root", {L::read, L::write});
    EXPECT_EQ(decide(token, N::repo_write, "ANY", "repo").reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_admin, "ANY", "repo").reason, Reason::token_level_too_low);
}

TEST_F(StoreTest, BasicAuthMustNameTheOwner) {
    add_user("alice", true);
    add_user("bob", true);
    const std::string token = create_token("alice", {L::read, L::read});
    AccessRequest request;
    request.token = token;
    request.need = N::repo_read;
    request.project = "WORK";
    request.repo = "my-repo";
    request.has_basic_user = true;
    for (std::string_view user : {"alice", "ALICE", "Alice"}) {
        request.basic_user = user;
        EXPECT_EQ(store_->decide(hasher_, request, now_ms()).reason, Reason::allowed) << user;
    }
    for (std::string_view user : {"bob", "", "alice ", "alic", "al:ice"}) {
        request.basic_user = user;
        Decision d = store_->decide(hasher_, request, now_ms());
        EXPECT_EQ(d.reason, Reason::wrong_user) << user;
        EXPECT_STREQ(d.logged_user(), "alice");  // logged: the owner, never the token
        EXPECT_STREQ(d.allowed_user(), "");      // but never published
    }
}

// The identity an upstream may trust ($pat_user, $pat_token_id) exists only
// for an allowed decision; every refusal that found the token still names it
// for the log (issue 10: `satisfy any` forwarded refused identities).
TEST_F(StoreTest, TheIdentityIsPublishedOnlyWhenAllowed) {
    add_user("alice");
    add_user("bob");
    add_user("carol");
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::write).ok());
    ASSERT_TRUE(store_->grant_project("carol", "WORK", L::write).ok());
    const std::string write = create_token("alice", {L::write, L::write});
    const std::string read = create_token("alice", {L::read, L::read});
    const std::string bobs = create_token("bob", {L::write, L::write});
    const std::string carols = create_token("carol", {L::write, L::write});
    auto revoked = store_->create_token("alice", "alice-pw", "gone", std::nullopt, std::nullopt, now_ms());
    ASSERT_TRUE(revoked.ok());
    ASSERT_TRUE(store_->revoke_token(Actor::system(), revoked->info.id).ok());
    ASSERT_TRUE(store_->set_user_active("carol", false).ok());

    const Decision allowed = decide(write, N::repo_write);
    ASSERT_TRUE(allowed.allowed());
    EXPECT_STREQ(allowed.allowed_user(), "alice");
    EXPECT_EQ(std::string(allowed.allowed_token_id()).size(), kTokenIdLength);
    EXPECT_STREQ(allowed.allowed_token_id(), allowed.logged_token_id());

    struct Case {
        std::string token;
        Need need;
        Reason reason;
        const char* owner;
    };
    const Case refused[] = {
        {revoked->text, N::repo_read, Reason::revoked, "alice"},
        {carols, N::repo_read, Reason::user_disabled, "carol"},
        {read, N::repo_write, Reason::token_level_too_low, "alice"},
        {write, N::project_admin, Reason::token_level_too_low, "alice"},
        {bobs, N::repo_read, Reason::user_level_too_low, "bob"},
        {write, N::unrecognised_route, Reason::route_not_allowed, "alice"},
    };
    for (const Case& c : refused) {
        const Decision d = decide(c.token, c.need);
        EXPECT_EQ(d.reason, c.reason) << reason_name(c.reason);
        EXPECT_STREQ(d.allowed_user(), "") << reason_name(c.reason);
        EXPECT_STREQ(d.allowed_token_id(), "") << reason_name(c.reason);
        EXPECT_STREQ(d.logged_user(), c.owner) << reason_name(c.reason);
        EXPECT_NE(d.logged_token_id()[0], '\0') << reason_name(c.reason);
    }
}

TEST_F(StoreTest, MalformedAndUnknownTokensAreRefusedBeforeAnyGrantIsRead) {
    add_user("alice", true);
    std::string token = create_token("alice", {L::read, L::read});
    EXPECT_EQ(decide("", N::repo_read).reason, Reason::malformed_token);
    EXPECT_EQ(decide("not a token", N::repo_read).reason, Reason::malformed_token);
    EXPECT_EQ(decide(token.substr(0, token.size() - 1), N::repo_read).reason, Reason::malformed_token);
    std::string typo = token;
    typo[10] = typo[10] == 'a' ? 'b' : 'a';
    EXPECT_EQ(decide(typo, N::repo_read).reason, Reason::bad_checksum);
    auto stranger = generate_token();
    ASSERT_TRUE(stranger.ok());
    Decision d = decide(*stranger, N::repo_read);
    EXPECT_EQ(d.reason, Reason::unknown_token);
    EXPECT_STREQ(d.logged_token_id(), "");
    EXPECT_EQ(verdict_of(d.reason), Verdict::unauthenticated);
}

TEST_F(StoreTest, ExpiryIsExactToTheMillisecond) {
    add_user("alice", true);
    const std::int64_t created = 1'700'000'000'000;
    const std::string token = create_token("alice", {L::read, L::read}, 30, created);
    const std::int64_t expires = created + 30LL * 86'400'000;
    EXPECT_EQ(decide(token, N::repo_read, "WORK", "r", expires - 1).reason, Reason::allowed);
    EXPECT_EQ(decide(token, N::repo_read, "WORK", "r", expires).reason, Reason::expired);
    auto listed = store_->list_tokens("alice");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].expires_ms, expires);
    for (int days : {0, -1, 3651}) {
        auto created_bad = store_->create_token("alice", "alice-pw", "x", std::nullopt, days, now_ms());
        EXPECT_EQ(created_bad.status().code(), StatusCode::invalid_argument) << days;
    }
}

TEST_F(StoreTest, RevocationTakesEffectOnTheNextDecision) {
    add_user("alice", true);
    auto created = store_->create_token("alice", "alice-pw", "ci", std::nullopt, std::nullopt, now_ms());
    ASSERT_TRUE(created.ok());
    EXPECT_EQ(decide(created->text, N::repo_read).reason, Reason::allowed);
    ASSERT_TRUE(store_->revoke_token(Actor::system(), created->info.id).ok());
    Decision d = decide(created->text, N::repo_read);
    EXPECT_EQ(d.reason, Reason::revoked);
    EXPECT_EQ(std::string(d.logged_token_id()), created->info.id);
    EXPECT_STREQ(d.allowed_token_id(), "");
    // Gone from listings, and a second revocation finds nothing.
    EXPECT_TRUE(store_->list_tokens("alice")->empty());
    EXPECT_EQ(store_->revoke_token(Actor::system(), created->info.id).code(), StatusCode::not_found);
    EXPECT_EQ(store_->get_token(created->info.id).status().code(), StatusCode::not_found);
}

TEST_F(StoreTest, DisablingOrDeletingTheUserKillsEveryToken) {
    add_user("alice");
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::write).ok());
    const std::string first = create_token("alice", {L::read, L::read});
    const std::string second = create_token("alice", {L::write, L::write});
    ASSERT_TRUE(store_->set_user_active("alice", false).ok());
    EXPECT_EQ(decide(first, N::repo_read).reason, Reason::user_disabled);
    EXPECT_EQ(decide(second, N::repo_read).reason, Reason::user_disabled);
    EXPECT_EQ(store_->authenticate_user("alice", "alice-pw").code(), StatusCode::refused);
    ASSERT_TRUE(store_->set_user_active("alice", true).ok());
    EXPECT_EQ(decide(first, N::repo_read).reason, Reason::allowed);

    ASSERT_TRUE(store_->delete_user("alice").ok());
    EXPECT_EQ(decide(first, N::repo_read).reason, Reason::unknown_token);
    EXPECT_EQ(decide(second, N::repo_read).reason, Reason::unknown_token);
    EXPECT_TRUE(store_->list_grants(std::nullopt)->empty());
    EXPECT_TRUE(store_->list_tokens(std::nullopt)->empty());
    // A new user of the same name inherits nothing.
    add_user("alice");
    EXPECT_EQ(decide(first, N::repo_read).reason, Reason::unknown_token);
}

TEST_F(StoreTest, VerdictsMapReasonsToStatusCodes) {
    EXPECT_EQ(verdict_of(Reason::allowed), Verdict::allow);
    for (Reason r : {Reason::malformed_token, Reason::bad_checksum, Reason::unknown_token, Reason::revoked,
                     Reason::expired, Reason::wrong_user, Reason::user_unknown, Reason::user_disabled}) {
        EXPECT_EQ(verdict_of(r), Verdict::unauthenticated) << reason_name(r);
    }
    for (Reason r :
         {Reason::token_level_too_low, Reason::user_level_too_low, Reason::invalid_target, Reason::route_not_allowed}) {
        EXPECT_EQ(verdict_of(r), Verdict::forbidden) << reason_name(r);
    }
    EXPECT_EQ(verdict_of(Reason::store_error), Verdict::fault);
}

}  // namespace
}  // namespace pat::testing
