// Token inventory and expiry warnings (pat/token_inventory.hpp): the
// selection rules, the thresholds, and the store's warning rows and bulk
// revocation.
#include "pat/token_inventory.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "store_fixture.hpp"

namespace pat::testing {
namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;  // 2027-01-15

TokenInfo token_expiring_in(std::int64_t ms, std::int64_t created = kNow - 10 * kDayMs) {
    TokenInfo token;
    token.id = "123456789012";
    token.owner = "alice";
    token.created_ms = created;
    token.expires_ms = ms == 0 ? 0 : kNow + ms;
    return token;
}

TEST(TokenInventoryRules, DaysLeftRoundUpAndExpiryIsInclusive) {
    EXPECT_EQ(token_days_left(token_expiring_in(7 * kDayMs), kNow), 7);
    EXPECT_EQ(token_days_left(token_expiring_in(6 * kDayMs + 1), kNow), 7);
    EXPECT_EQ(token_days_left(token_expiring_in(6 * kDayMs), kNow), 6);
    EXPECT_EQ(token_days_left(token_expiring_in(1), kNow), 1);
    EXPECT_EQ(token_days_left(token_expiring_in(-1), kNow), 0);
    EXPECT_FALSE(token_expired(token_expiring_in(1), kNow));
    TokenInfo at_expiry = token_expiring_in(1);
    EXPECT_TRUE(token_expired(at_expiry, at_expiry.expires_ms));  // as Store::decide
    EXPECT_FALSE(token_expired(token_expiring_in(0), kNow));      // no expiry
}

TEST(TokenInventoryRules, TheSmallestCrossedThresholdIsDueOnce) {
    const std::vector<int> thresholds{1, 7, 30};
    EXPECT_EQ(expiry_threshold_due(thresholds, 31, std::nullopt), std::nullopt);
    EXPECT_EQ(expiry_threshold_due(thresholds, 30, std::nullopt), 30);
    // Several crossed at once (first run, or a run missed): the smallest only.
    EXPECT_EQ(expiry_threshold_due(thresholds, 5, std::nullopt), 7);
    EXPECT_EQ(expiry_threshold_due(thresholds, 1, std::nullopt), 1);
    // Sent already: nothing until a smaller one is crossed.
    EXPECT_EQ(expiry_threshold_due(thresholds, 29, 30), std::nullopt);
    EXPECT_EQ(expiry_threshold_due(thresholds, 7, 30), 7);
    EXPECT_EQ(expiry_threshold_due(thresholds, 3, 7), std::nullopt);
    EXPECT_EQ(expiry_threshold_due(thresholds, 1, 7), 1);
    EXPECT_EQ(expiry_threshold_due(thresholds, 1, 1), std::nullopt);
    // The larger ones count as sent with the smaller.
    EXPECT_EQ(expiry_threshold_due(thresholds, 20, 7), std::nullopt);
    // Expired: too late.
    EXPECT_EQ(expiry_threshold_due(thresholds, 0, std::nullopt), std::nullopt);
    EXPECT_EQ(expiry_threshold_due(thresholds, -3, std::nullopt), std::nullopt);
}

TEST(TokenInventoryRules, ThresholdsParse) {
    auto parsed = parse_expiry_thresholds("30,7,1");
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, (std::vector<int>{1, 7, 30}));
    EXPECT_EQ(*parse_expiry_thresholds("14"), (std::vector<int>{14}));
    for (const char* bad : {"", ",", "7,", ",7", "7,,1", "0", "-1", "7,7", "x", "7 ,1", "36501", "99999999999"}) {
        EXPECT_FALSE(parse_expiry_thresholds(bad).ok()) << bad;
    }
}

TEST(TokenInventoryRules, Selections) {
    TokenSelection expiring;
    expiring.expiring_within_days = 7;
    EXPECT_TRUE(token_selected(expiring, token_expiring_in(7 * kDayMs), kNow));
    EXPECT_FALSE(token_selected(expiring, token_expiring_in(7 * kDayMs + 1), kNow));
    EXPECT_FALSE(token_selected(expiring, token_expiring_in(0), kNow));   // never expires
    EXPECT_FALSE(token_selected(expiring, token_expiring_in(-1), kNow));  // expired already

    TokenSelection expired;
    expired.expired = true;
    EXPECT_TRUE(token_selected(expired, token_expiring_in(-1), kNow));
    EXPECT_FALSE(token_selected(expired, token_expiring_in(1), kNow));
    EXPECT_FALSE(token_selected(expired, token_expiring_in(0), kNow));

    TokenSelection unused;
    unused.unused_since_days = 30;
    // Never used: its creation counts.
    EXPECT_TRUE(token_selected(unused, token_expiring_in(0, kNow - 30 * kDayMs), kNow));
    EXPECT_FALSE(token_selected(unused, token_expiring_in(0, kNow - 30 * kDayMs + 1), kNow));
    TokenInfo used = token_expiring_in(0, kNow - 100 * kDayMs);
    used.last_authenticated_ms = kNow - 29 * kDayMs;
    EXPECT_FALSE(token_selected(unused, used, kNow));
    used.last_authenticated_ms = kNow - 31 * kDayMs;
    EXPECT_TRUE(token_selected(unused, used, kNow));

    TokenSelection bobs;
    bobs.owner = "bob";
    EXPECT_FALSE(token_selected(bobs, used, kNow));

    TokenSelection both;
    both.expired = true;
    both.expiring_within_days = 3;
    EXPECT_FALSE(check_token_selection(both).ok());
    TokenSelection negative;
    negative.unused_since_days = -1;
    EXPECT_FALSE(check_token_selection(negative).ok());
}

class TokenInventoryStoreTest : public StoreTest {
   protected:
    void SetUp() override {
        StoreTest::SetUp();
        ASSERT_TRUE(store_->add_user("alice", "Alice Example", false, "alice-pw").ok());
        add_user("bob");
    }
    TokenInfo token(const std::string& owner, std::optional<int> expiry_days, std::int64_t created) {
        auto made = store_->create_token(owner, owner + "-pw", owner + "'s", std::nullopt, expiry_days, created);
        EXPECT_TRUE(made.ok()) << made.status().message();
        return made->info;
    }
    std::vector<std::string> due_ids(const std::vector<int>& thresholds, std::int64_t now) {
        auto due = store_->expiry_notices_due(thresholds, now);
        EXPECT_TRUE(due.ok()) << due.status().message();
        std::vector<std::string> ids;
        for (const ExpiryNotice& notice : due->due)
            ids.push_back(notice.token.id + ":" + std::to_string(notice.threshold));
        return ids;
    }
};

TEST_F(TokenInventoryStoreTest, WarningsAreDueOncePerThresholdAsTheClockMoves) {
    const std::vector<int> thresholds{1, 7, 30};
    const TokenInfo soon = token("alice", 10, kNow);
    const TokenInfo never = token("bob", std::nullopt, kNow);
    (void)never;
    // Day 0: 10 days left, crosses 30 only.
    auto due = store_->expiry_notices_due(thresholds, kNow);
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->due.size(), 1u);
    EXPECT_EQ(due->due[0].token.id, soon.id);
    EXPECT_EQ(due->due[0].display_name, "Alice Example");
    EXPECT_EQ(due->due[0].days_left, 10);
    EXPECT_EQ(due->due[0].threshold, 30);
    // Not recorded (the command failed): due again.
    EXPECT_EQ(due_ids(thresholds, kNow + 1000), std::vector<std::string>{soon.id + ":30"});
    ASSERT_TRUE(store_->record_expiry_notice(due->due[0], {"patctl:test", ""}).ok());
    EXPECT_TRUE(due_ids(thresholds, kNow + 1000).empty());
    EXPECT_TRUE(due_ids(thresholds, kNow + 2 * kDayMs).empty());
    // Day 4: 6 days left, crosses 7.
    auto second = store_->expiry_notices_due(thresholds, kNow + 4 * kDayMs);
    ASSERT_EQ(second->due.size(), 1u);
    EXPECT_EQ(second->due[0].threshold, 7);
    ASSERT_TRUE(store_->record_expiry_notice(second->due[0]).ok());
    EXPECT_TRUE(due_ids(thresholds, kNow + 5 * kDayMs).empty());
    // Day 9.5: 1 day left.
    EXPECT_EQ(due_ids(thresholds, kNow + 9 * kDayMs + kDayMs / 2), std::vector<std::string>{soon.id + ":1"});
    // Expired: nothing, and its row is stale.
    auto after = store_->expiry_notices_due(thresholds, kNow + 10 * kDayMs);
    EXPECT_TRUE(after->due.empty());
    EXPECT_EQ(after->stale, std::vector<std::string>{soon.id});
    ASSERT_TRUE(store_->forget_expiry_notices(after->stale).ok());
    EXPECT_TRUE(store_->expiry_notices_due(thresholds, kNow + 10 * kDayMs)->stale.empty());

    auto trail = store_->list_audit("alice", 10);
    ASSERT_TRUE(trail.ok());
    std::vector<std::string> warned;
    for (const AuditEntry& entry : *trail)
        if (entry.action == AuditAction::token_expiry_warned) warned.push_back(entry.detail);
    EXPECT_EQ(warned, (std::vector<std::string>{"threshold:7d days-left:6", "threshold:30d days-left:10"}));
}

TEST_F(TokenInventoryStoreTest, SeveralThresholdsAtOnceSendTheSmallestAndCountTheLarger) {
    const TokenInfo soon = token("alice", 3, kNow);
    auto due = store_->expiry_notices_due({1, 7, 30}, kNow);
    ASSERT_EQ(due->due.size(), 1u);
    EXPECT_EQ(due->due[0].threshold, 7);
    ASSERT_TRUE(store_->record_expiry_notice(due->due[0]).ok());
    EXPECT_TRUE(due_ids({1, 7, 30}, kNow + kDayMs).empty());
    EXPECT_EQ(due_ids({1, 7, 30}, kNow + 2 * kDayMs + 1), std::vector<std::string>{soon.id + ":1"});
}

TEST_F(TokenInventoryStoreTest, RevokedTokensAndDisabledOwnersAreNotWarned) {
    const TokenInfo alices = token("alice", 5, kNow);
    const TokenInfo bobs = token("bob", 5, kNow);
    auto due = store_->expiry_notices_due({7}, kNow);
    ASSERT_EQ(due->due.size(), 2u);
    ASSERT_TRUE(store_->record_expiry_notice(due->due[0]).ok());
    ASSERT_TRUE(store_->revoke_token(Actor::system(), due->due[0].token.id).ok());
    ASSERT_TRUE(store_->set_user_active("bob", false).ok());
    auto after = store_->expiry_notices_due({7}, kNow);
    EXPECT_TRUE(after->due.empty());
    EXPECT_EQ(after->stale, std::vector<std::string>{due->due[0].token.id});
    // Recording a warning for a token revoked meanwhile: not_found, no row.
    EXPECT_EQ(store_->record_expiry_notice(due->due[0]).code(), StatusCode::not_found);
    (void)alices;
    (void)bobs;
}

TEST_F(TokenInventoryStoreTest, RevokeUnusedInOneTransactionWithAnEntryEach) {
    const std::int64_t now = now_ms();
    const TokenInfo old_a = token("alice", std::nullopt, now - 100 * kDayMs);
    const TokenInfo old_b = token("bob", std::nullopt, now - 95 * kDayMs);
    const TokenInfo fresh = token("alice", std::nullopt, now - 10 * kDayMs);
    const TokenInfo used = token("bob", std::nullopt, now - 200 * kDayMs);
    ASSERT_TRUE(store_->record_token_uses({{used.id, now - 5 * kDayMs}}).ok());
    TokenSelection selection;
    selection.unused_since_days = 90;

    auto dry = store_->revoke_selected_tokens(selection, now, true);
    ASSERT_TRUE(dry.ok()) << dry.status().message();
    ASSERT_EQ(dry->size(), 2u);
    EXPECT_EQ(store_->list_tokens(std::nullopt)->size(), 4u);

    auto revoked = store_->revoke_selected_tokens(selection, now, false, {"patctl:test", ""});
    ASSERT_TRUE(revoked.ok()) << revoked.status().message();
    std::vector<std::string> ids;
    for (const TokenInfo& t : *revoked) ids.push_back(t.id);
    std::sort(ids.begin(), ids.end());
    std::vector<std::string> expected{old_a.id, old_b.id};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(ids, expected);
    auto left = store_->list_tokens(std::nullopt);
    ASSERT_EQ(left->size(), 2u);
    auto trail = store_->list_audit(std::nullopt, 100);
    std::vector<std::string> audited;
    for (const AuditEntry& entry : *trail) {
        if (entry.action == AuditAction::token_revoked) {
            audited.push_back(entry.token_id);
            EXPECT_EQ(entry.detail, "unused-since:90d");
            EXPECT_EQ(entry.actor, "patctl:test");
        }
    }
    std::sort(audited.begin(), audited.end());
    EXPECT_EQ(audited, expected);
    // Nothing left to do: no transaction, no entry.
    EXPECT_TRUE(store_->revoke_selected_tokens(selection, now, false)->empty());
    // No criterion: refused (not "revoke everything").
    TokenSelection none;
    EXPECT_EQ(store_->revoke_selected_tokens(none, now, false).status().code(), StatusCode::invalid_argument);
    TokenSelection only_owner;
    only_owner.owner = "alice";
    EXPECT_EQ(store_->revoke_selected_tokens(only_owner, now, false).status().code(), StatusCode::invalid_argument);
}

TEST_F(TokenInventoryStoreTest, RevokeUnusedDropsTheWarningRows) {
    const std::int64_t now = now_ms();
    const TokenInfo old = token("alice", 100, now - 95 * kDayMs);
    auto due = store_->expiry_notices_due({7}, now);
    ASSERT_EQ(due->due.size(), 1u);
    ASSERT_TRUE(store_->record_expiry_notice(due->due[0]).ok());
    TokenSelection selection;
    selection.unused_since_days = 90;
    ASSERT_EQ(store_->revoke_selected_tokens(selection, now, false)->size(), 1u);
    EXPECT_TRUE(store_->expiry_notices_due({7}, now)->stale.empty());
    (void)old;
}

TEST_F(TokenInventoryStoreTest, RevokeUnusedWorksOnAFullStore) {
    const std::string small_path = dir_ + "/small.db";
    auto created = Store::create(small_path, kMinStoreSize);
    ASSERT_TRUE(created.ok());
    std::unique_ptr<Store> small = std::move(*created);
    ASSERT_TRUE(small->add_user("alice", "", false, "alice-pw").ok());
    const std::int64_t now = now_ms();
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(
            small->create_token("alice", "alice-pw", "old", std::nullopt, std::nullopt, now - 100 * kDayMs).ok());
    }
    const std::string key(kMaxProjectKey, 'K');
    for (int i = 0;; ++i) {
        Status s = small->grant_repo("alice", key, std::string(100, 's') + std::to_string(i), Level::read);
        if (!s.ok()) {
            ASSERT_NE(s.message().find("store: full"), std::string::npos) << s.message();
            break;
        }
    }
    TokenSelection selection;
    selection.unused_since_days = 90;
    auto revoked = small->revoke_selected_tokens(selection, now, false);
    ASSERT_TRUE(revoked.ok()) << revoked.status().message();
    EXPECT_EQ(revoked->size(), 5u);
    EXPECT_TRUE(small->list_tokens(std::nullopt)->empty());
}

}  // namespace
}  // namespace pat::testing
