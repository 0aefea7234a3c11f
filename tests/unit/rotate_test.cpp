// Rotation with reuse detection (src/core/store/rotate.cpp) and the token
// record's format 2 (records.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "../../src/core/store/records.hpp"
#include "pat/kv.hpp"
#include "pat/token_policy.hpp"
#include "store_fixture.hpp"

namespace pat::testing {
namespace {

using L = Level;
constexpr std::int64_t kDay = 86'400'000;

class RotateTest : public StoreTest {
   protected:
    void SetUp() override {
        StoreTest::SetUp();
        add_user("alice");
        add_user("bob");
        add_user("root", /*sysadmin=*/true);
        ASSERT_TRUE(store_->grant_project("alice", "WORK", L::write).ok());
    }

    // alice's token: its text and id.
    struct Made {
        std::string text;
        std::string id;
    };
    Made make(std::string owner, TokenPermissions permissions, std::optional<int> days, std::int64_t now,
              std::string name = "ci") {
        auto created = store_->create_token(owner, owner + "-pw", name, permissions, days, now);
        EXPECT_TRUE(created.ok()) << created.status().message();
        return created.ok() ? Made{created->text, created->info.id} : Made{};
    }
    Expected<CreatedToken> rotate(const std::string& owner, const std::string& id, std::int64_t now = now_ms(),
                                  const std::string& password = "") {
        return store_->rotate_token(owner, password.empty() ? owner + "-pw" : password, id, now,
                                    AuditContext{owner, "192.0.2.7"});
    }
    std::vector<AuditEntry> audit_of(AuditAction action) {
        auto entries = store_->list_audit(std::nullopt, 1000);
        EXPECT_TRUE(entries.ok());
        std::vector<AuditEntry> out;
        for (const AuditEntry& e : *entries) {
            if (e.action == action) out.push_back(e);
        }
        return out;
    }
};

TEST_F(RotateTest, KeepsNameAndPermissionsAndTheExpirySpanWithANewIdAndText) {
    const std::int64_t made_at = now_ms() - 10 * kDay;
    const Made old = make("alice", {L::read, L::write}, 30, made_at, "deploy key");
    const std::int64_t now = now_ms();
    auto rotated = rotate("alice", old.id, now);
    ASSERT_TRUE(rotated.ok()) << rotated.status().message();
    EXPECT_NE(rotated->info.id, old.id);
    EXPECT_NE(rotated->text, old.text);
    EXPECT_EQ(rotated->info.owner, "alice");
    EXPECT_EQ(rotated->info.name, "deploy key");
    EXPECT_EQ(rotated->info.permissions, (TokenPermissions{L::read, L::write}));
    EXPECT_EQ(rotated->info.created_ms, now);
    EXPECT_EQ(rotated->info.expires_ms, now + 30 * kDay);  // the same length, from now

    // Only the new one is listed; the old one is refused with its own reason.
    auto listed = store_->list_tokens("alice");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ(listed->front().id, rotated->info.id);
    EXPECT_EQ(store_->get_token(old.id).status().code(), StatusCode::not_found);
    EXPECT_EQ(decide(old.text, Need::repo_read).reason, Reason::rotated);
    EXPECT_EQ(verdict_of(Reason::rotated), Verdict::unauthenticated);
    EXPECT_EQ(reason_name(Reason::rotated), "rotated");
    EXPECT_EQ(decide(rotated->text, Need::repo_read).reason, Reason::allowed);
    // A rotated token cannot be modified or revoked any more: it is gone.
    EXPECT_EQ(store_->revoke_token(Actor::system(), old.id).code(), StatusCode::not_found);
    EXPECT_EQ(store_->modify_token(Actor::system(), old.id, TokenChange{L::read, L::read, {}}).status().code(),
              StatusCode::not_found);
}

TEST_F(RotateTest, NoExpiryStaysNoExpiry) {
    const Made old = make("alice", {L::admin, L::admin}, std::nullopt, now_ms());
    auto rotated = rotate("alice", old.id);
    ASSERT_TRUE(rotated.ok()) << rotated.status().message();
    EXPECT_EQ(rotated->info.expires_ms, 0);
    EXPECT_EQ(rotated->info.permissions, (TokenPermissions{L::admin, L::admin}));
}

TEST_F(RotateTest, AnExpiredTokenRotatesWithItsSpan) {
    // Rotation renews: the span is what counts, not what is left of it.
    const Made old = make("alice", {L::read, L::read}, 1, now_ms() - 5 * kDay);
    EXPECT_EQ(decide(old.text, Need::repo_read).reason, Reason::expired);
    const std::int64_t now = now_ms();
    auto rotated = rotate("alice", old.id, now);
    ASSERT_TRUE(rotated.ok()) << rotated.status().message();
    EXPECT_EQ(rotated->info.expires_ms, now + kDay);
    EXPECT_EQ(decide(rotated->text, Need::repo_read).reason, Reason::allowed);
}

TEST_F(RotateTest, OnlyTheOwnerWithTheirPassword) {
    const Made old = make("alice", {L::read, L::read}, std::nullopt, now_ms());
    EXPECT_EQ(rotate("alice", old.id, now_ms(), "wrong").status().code(), StatusCode::refused);
    // Another user, sysadmin or not, is told the token does not exist.
    EXPECT_EQ(rotate("bob", old.id).status().code(), StatusCode::not_found);
    EXPECT_EQ(rotate("root", old.id).status().code(), StatusCode::not_found);
    EXPECT_EQ(rotate("alice", "000000000000").status().code(), StatusCode::not_found);
    EXPECT_EQ(rotate("alice", "not an id").status().code(), StatusCode::not_found);
    // A revoked token is not rotated (nor is its revocation "reuse").
    ASSERT_TRUE(store_->revoke_token(Actor::system(), old.id).ok());
    EXPECT_EQ(rotate("alice", old.id).status().code(), StatusCode::not_found);
    EXPECT_TRUE(audit_of(AuditAction::token_rotated).empty());
    EXPECT_TRUE(audit_of(AuditAction::token_family_revoked).empty());
}

TEST_F(RotateTest, RotationIsAudited) {
    const Made old = make("alice", {L::read, L::read}, std::nullopt, now_ms());
    auto rotated = rotate("alice", old.id);
    ASSERT_TRUE(rotated.ok()) << rotated.status().message();
    const auto entries = audit_of(AuditAction::token_rotated);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].token_id, old.id);
    EXPECT_EQ(entries[0].user, "alice");
    EXPECT_EQ(entries[0].actor, "alice");
    EXPECT_EQ(entries[0].address, "192.0.2.7");
    EXPECT_NE(entries[0].detail.find("replaced by " + rotated->info.id), std::string::npos) << entries[0].detail;
    EXPECT_NE(entries[0].detail.find("family " + old.id), std::string::npos) << entries[0].detail;
    EXPECT_EQ(audit_action_name(AuditAction::token_rotated), "token-rotated");
}

TEST_F(RotateTest, RotatingARotatedTokenRevokesTheWholeFamily) {
    const Made first = make("alice", {L::read, L::write}, 7, now_ms());
    const Made unrelated = make("alice", {L::read, L::read}, std::nullopt, now_ms(), "other");
    auto second = rotate("alice", first.id);
    ASSERT_TRUE(second.ok()) << second.status().message();
    auto third = rotate("alice", second->info.id);
    ASSERT_TRUE(third.ok()) << third.status().message();
    EXPECT_EQ(decide(third->text, Need::repo_read).reason, Reason::allowed);

    // The first token, rotated away long ago, is rotated again: reuse.
    auto reused = rotate("alice", first.id);
    ASSERT_FALSE(reused.ok());
    EXPECT_EQ(reused.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(reused.status().message().find("already rotated"), std::string::npos) << reused.status().message();
    EXPECT_NE(reused.status().message().find(third->info.id), std::string::npos) << reused.status().message();

    // Every token of the family is refused; the other token is untouched.
    EXPECT_EQ(decide(third->text, Need::repo_read).reason, Reason::revoked);
    EXPECT_EQ(decide(second->text, Need::repo_read).reason, Reason::rotated);
    EXPECT_EQ(decide(first.text, Need::repo_read).reason, Reason::rotated);
    EXPECT_EQ(decide(unrelated.text, Need::repo_read).reason, Reason::allowed);
    auto listed = store_->list_tokens("alice");
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ(listed->front().id, unrelated.id);

    const auto entries = audit_of(AuditAction::token_family_revoked);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].token_id, third->info.id);
    EXPECT_EQ(entries[0].user, "alice");
    EXPECT_NE(entries[0].detail.find("family " + first.id), std::string::npos) << entries[0].detail;
    EXPECT_NE(entries[0].detail.find(first.id + " was rotated again"), std::string::npos) << entries[0].detail;

    // Once more: nothing is left to revoke, but the reuse is refused and on record.
    auto again = rotate("alice", second->info.id);
    EXPECT_EQ(again.status().code(), StatusCode::invalid_argument);
    EXPECT_EQ(audit_of(AuditAction::token_family_revoked).size(), 2u);
    EXPECT_EQ(decide(unrelated.text, Need::repo_read).reason, Reason::allowed);
}

TEST_F(RotateTest, ARequestWithARotatedTokenDetectsNothing) {
    const Made first = make("alice", {L::read, L::read}, std::nullopt, now_ms());
    auto second = rotate("alice", first.id);
    ASSERT_TRUE(second.ok());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(decide(first.text, Need::repo_read).reason, Reason::rotated);
    EXPECT_EQ(decide(second->text, Need::repo_read).reason, Reason::allowed);
    EXPECT_TRUE(audit_of(AuditAction::token_family_revoked).empty());
}

TEST_F(RotateTest, ARotatedTokenKeepsItsRecordInFormat2AndOthersKeepFormat1) {
    const Made plain = make("alice", {L::read, L::read}, std::nullopt, now_ms(), "plain");
    const Made first = make("alice", {L::read, L::read}, std::nullopt, now_ms());
    auto second = rotate("alice", first.id);
    ASSERT_TRUE(second.ok());
    auto reading = store_->engine().read();
    ASSERT_TRUE(reading.ok());
    auto record_of = [&](const std::string& id) {
        std::string_view digest, record;
        EXPECT_EQ((*reading)->get(kv::Table::token_ids, id, digest), 0);
        EXPECT_EQ((*reading)->get(kv::Table::tokens, digest, record), 0);
        return std::string(record);
    };
    const std::string plain_record = record_of(plain.id);
    EXPECT_EQ(plain_record[0], '\x01');
    const std::string old_record = record_of(first.id);
    EXPECT_EQ(old_record[0], '\x02');
    auto old_view = records::decode_token(old_record);
    ASSERT_TRUE(old_view);
    EXPECT_TRUE(old_view->rotated);
    EXPECT_FALSE(old_view->revoked);
    EXPECT_EQ(old_view->family, first.id);
    const std::string new_record = record_of(second->info.id);  // the view points into it
    auto new_view = records::decode_token(new_record);
    ASSERT_TRUE(new_view);
    EXPECT_FALSE(new_view->rotated);
    EXPECT_EQ(new_view->family, first.id);
}

TEST_F(RotateTest, RotationOwnerSeesLiveAndRotatedTokensOnly) {
    const Made first = make("alice", {L::read, L::read}, std::nullopt, now_ms());
    EXPECT_EQ(*store_->rotation_owner(first.id), "alice");
    ASSERT_TRUE(rotate("alice", first.id).ok());
    EXPECT_EQ(*store_->rotation_owner(first.id), "alice");  // reuse must still find its owner
    const Made revoked = make("bob", {L::read, L::read}, std::nullopt, now_ms());
    ASSERT_TRUE(store_->revoke_token(Actor::system(), revoked.id).ok());
    EXPECT_EQ(store_->rotation_owner(revoked.id).status().code(), StatusCode::not_found);
    EXPECT_EQ(store_->rotation_owner("000000000000").status().code(), StatusCode::not_found);
}

}  // namespace
}  // namespace pat::testing

namespace pat::testing {
namespace {

// Rotation under the token policy (token_policy.hpp): a rotation is a
// creation for the policy, except that the old token is retired first.
class RotateUnderPolicyTest : public RotateTest {
   protected:
    void set_policy(std::optional<bool> require_expiry, std::optional<std::optional<int>> max_days,
                    std::optional<std::optional<int>> max_tokens, std::optional<bool> creation) {
        TokenPolicyUpdate update;
        update.require_expiry = require_expiry;
        update.max_expiry_days = max_days;
        update.max_tokens_per_user = max_tokens;
        update.creation_enabled = creation;
        auto changed = store_->set_token_policy(update, now_ms(), AuditContext{"patctl:root", ""});
        ASSERT_TRUE(changed.ok()) << changed.status().message();
    }
};

TEST_F(RotateUnderPolicyTest, TheSpanIsCappedAndNeverBecomesTheLongestAllowed) {
    const Made ninety = make("alice", {L::read, L::read}, 90, now_ms());
    const Made never = make("alice", {L::read, L::read}, std::nullopt, now_ms());
    set_policy(true, std::optional<int>(30), std::nullopt, std::nullopt);
    const std::int64_t now = now_ms();
    auto capped = rotate("alice", ninety.id, now);
    ASSERT_TRUE(capped.ok()) << capped.status().message();
    EXPECT_EQ(capped->info.expires_ms, now + 30 * kDay);
    auto dated = rotate("alice", never.id, now);
    ASSERT_TRUE(dated.ok()) << dated.status().message();
    EXPECT_EQ(dated->info.expires_ms, now + 30 * kDay);

    // Expiry required without a maximum: "never" becomes the longest a token may have.
    set_policy(std::nullopt, std::optional<std::optional<int>>(std::in_place, std::nullopt), std::nullopt,
               std::nullopt);
    const Made other = make("bob", {L::read, L::read}, 7, now_ms());
    set_policy(false, std::nullopt, std::nullopt, std::nullopt);
    const Made bob_never = make("bob", {L::read, L::read}, std::nullopt, now_ms());
    set_policy(true, std::nullopt, std::nullopt, std::nullopt);
    auto longest = rotate("bob", bob_never.id, now);
    ASSERT_TRUE(longest.ok()) << longest.status().message();
    EXPECT_EQ(longest->info.expires_ms, now + std::int64_t{kMaxPolicyExpiryDays} * kDay);
    auto same = rotate("bob", other.id, now);
    ASSERT_TRUE(same.ok()) << same.status().message();
    EXPECT_EQ(same->info.expires_ms, now + 7 * kDay);
}

TEST_F(RotateUnderPolicyTest, AUserAtTheMaximumRotatesButCreationDisabledRefuses) {
    const Made first = make("alice", {L::read, L::read}, 30, now_ms());
    make("alice", {L::read, L::read}, 30, now_ms(), "second");
    set_policy(std::nullopt, std::nullopt, std::optional<int>(2), std::nullopt);
    // At the maximum: a new token is refused, a rotation is not (the old one is retired first).
    EXPECT_EQ(store_->create_token("alice", "alice-pw", "third", TokenPermissions{L::read, L::read}, 30, now_ms())
                  .status()
                  .code(),
              StatusCode::invalid_argument);
    auto rotated = rotate("alice", first.id);
    ASSERT_TRUE(rotated.ok()) << rotated.status().message();
    auto listed = store_->list_tokens("alice");
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), 2u);

    set_policy(std::nullopt, std::nullopt, std::nullopt, false);
    auto refused = rotate("alice", rotated->info.id);
    EXPECT_EQ(refused.status().code(), StatusCode::forbidden) << refused.status().message();
    // Refused as a creation, not as a reuse: the token still works and nothing was revoked.
    EXPECT_EQ(decide(rotated->text, Need::repo_read).reason, Reason::allowed);
    EXPECT_TRUE(audit_of(AuditAction::token_family_revoked).empty());
}

}  // namespace
}  // namespace pat::testing
