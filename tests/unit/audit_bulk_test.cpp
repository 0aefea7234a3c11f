// The audit trail and bulk seeding.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "store_fixture.hpp"

namespace pat::testing {
namespace {

using L = Level;

TEST_F(StoreTest, EveryChangeAndPasswordFailureIsAudited) {
    const AuditContext cli{"patctl:root", ""};
    const AuditContext api{"alice", "192.0.2.7"};
    ASSERT_TRUE(store_->add_user("alice", "", false, "alice-pw", cli).ok());
    ASSERT_TRUE(store_->grant_project("alice", "work", L::write, cli).ok());
    auto created = store_->create_token("alice", "alice-pw", "ci", std::nullopt, std::nullopt, now_ms(), api);
    ASSERT_TRUE(created.ok());
    TokenChange change;
    change.project = L::read;
    ASSERT_TRUE(store_->modify_token(Actor{"alice", false}, created->info.id, change, api).ok());
    EXPECT_FALSE(store_->authenticate_user("alice", "guess", api).ok());
    ASSERT_TRUE(store_->revoke_token(Actor::system(), created->info.id, cli).ok());
    ASSERT_TRUE(store_->revoke_project_grant("alice", "WORK", cli).ok());

    auto entries = store_->list_audit("alice", 100);
    ASSERT_TRUE(entries.ok()) << entries.status().message();
    ASSERT_EQ(entries->size(), 7u);
    // Newest first.
    const AuditAction expected[] = {AuditAction::grant_removed,   AuditAction::token_revoked,
                                    AuditAction::password_failed, AuditAction::token_modified,
                                    AuditAction::token_created,   AuditAction::grant_set,
                                    AuditAction::user_added};
    for (std::size_t i = 0; i < 7; ++i) {
        EXPECT_EQ((*entries)[i].action, expected[i]) << i << " " << audit_action_name((*entries)[i].action);
        EXPECT_EQ((*entries)[i].user, "alice");
        if (i > 0) {
            EXPECT_GE((*entries)[i - 1].time_ms, (*entries)[i].time_ms);
        }
    }
    EXPECT_EQ((*entries)[1].token_id, created->info.id);
    EXPECT_EQ((*entries)[1].actor, "patctl:root");
    EXPECT_EQ((*entries)[2].address, "192.0.2.7");
    EXPECT_EQ((*entries)[5].detail, "project WORK write");
    EXPECT_NE((*entries)[3].detail.find("project:read"), std::string::npos);
    EXPECT_EQ(store_->list_audit(std::nullopt, 3)->size(), 3u);
    EXPECT_TRUE(store_->list_audit("bob", 100)->empty());

    // The trail never holds a secret.
    const std::string token = created->text;
    store_.reset();
    std::ifstream in(path_, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_EQ(bytes.find("guess"), std::string::npos);
    EXPECT_EQ(bytes.find(token.substr(5, 16)), std::string::npos);
}

TEST_F(StoreTest, AFailedChangeLeavesNoAuditEntry) {
    add_user("alice");
    const std::size_t before = store_->list_audit(std::nullopt, 100)->size();
    EXPECT_FALSE(store_->grant_project("alice", "1BAD", L::read, {"x", ""}).ok());
    EXPECT_FALSE(store_->revoke_token(Actor::system(), "123456789012", {"x", ""}).ok());
    EXPECT_EQ(store_->list_audit(std::nullopt, 100)->size(), before);
}

TEST_F(StoreTest, BulkLoadSeedsUsersGrantsAndTokensThatDecideLikeAnyOther) {
    auto password = hash_password("shared");
    ASSERT_TRUE(password.ok());
    Store::BulkLoad load;
    load.password = *password;
    std::vector<std::string> texts;
    for (int u = 0; u < 50; ++u) {
        const std::string user = "user" + std::to_string(u);
        load.users.push_back({user, false});
        load.grants.push_back({user, "P" + std::to_string(u % 5), "", L::write});
        for (int t = 0; t < 20; ++t) {
            auto text = generate_token();
            ASSERT_TRUE(text.ok());
            texts.push_back(*text);
            load.tokens.push_back({user, "t", {L::read, L::write}, *text, 1000, 0});
        }
    }
    auto ids = store_->bulk_load(load, 64);  // many small batches
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    ASSERT_EQ(ids->size(), 1000u);
    EXPECT_EQ(store_->list_tokens("user7")->size(), 20u);
    EXPECT_EQ(decide(texts[7 * 20 + 3], Need::repo_write, "P2", "r").reason, Reason::allowed);
    EXPECT_EQ(decide(texts[7 * 20 + 3], Need::repo_write, "P3", "r").reason, Reason::user_level_too_low);
    EXPECT_TRUE(store_->authenticate_user("user7", "shared").ok());

    // A bad row refuses the whole load before anything is written.
    Store::BulkLoad bad;
    bad.users.push_back({"fresh", false});
    bad.tokens.push_back({"fresh", "t", {L::read, L::read}, "npat_not-a-token", 0, 0});
    EXPECT_FALSE(store_->bulk_load(bad).ok());
    EXPECT_EQ(store_->get_user("fresh").status().code(), StatusCode::not_found);
}

}  // namespace
}  // namespace pat::testing
