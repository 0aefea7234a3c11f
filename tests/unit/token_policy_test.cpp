// The token policy (pat/token_policy.hpp): its record, its validation, its
// rules at creation (inside the creation's transaction), its changes and
// their audit, and the count of existing tokens beyond a new maximum.
#include "pat/token_policy.hpp"

#include <gtest/gtest.h>

#include "pat/kv.hpp"
#include "store_fixture.hpp"

namespace pat::testing {
namespace {

constexpr std::int64_t kDay = 86'400'000;

TokenPolicyUpdate update_of(std::optional<bool> require, std::optional<std::optional<int>> days,
                            std::optional<std::optional<int>> count, std::optional<bool> creation) {
    TokenPolicyUpdate update;
    update.require_expiry = require;
    update.max_expiry_days = days;
    update.max_tokens_per_user = count;
    update.creation_enabled = creation;
    return update;
}

TEST(TokenPolicyRecord, RoundTripsAndRefusesDamage) {
    const TokenPolicy none;
    EXPECT_EQ(decode_token_policy(encode_token_policy(none)), none);
    TokenPolicy all{true, 90, 5, false};
    const std::string bytes = encode_token_policy(all);
    EXPECT_EQ(bytes.size(), 10u);
    EXPECT_EQ(decode_token_policy(bytes), all);

    EXPECT_FALSE(decode_token_policy(""));
    EXPECT_FALSE(decode_token_policy(bytes.substr(0, 9)));
    EXPECT_FALSE(decode_token_policy(bytes + "x"));
    std::string other_format = bytes;
    other_format[0] = 2;
    EXPECT_FALSE(decode_token_policy(other_format));
    std::string unknown_flag = bytes;
    unknown_flag[1] = 4;
    EXPECT_FALSE(decode_token_policy(unknown_flag));
    // A maximum of days without a required expiry is not a policy set can write.
    std::string days_only = encode_token_policy(TokenPolicy{false, std::nullopt, std::nullopt, true});
    days_only[5] = 30;
    EXPECT_FALSE(decode_token_policy(days_only));
    EXPECT_FALSE(decode_token_policy(encode_token_policy(TokenPolicy{true, 5000, std::nullopt, true})));
}

TEST(TokenPolicyRules, Validation) {
    EXPECT_TRUE(validate_token_policy({}).ok());
    EXPECT_TRUE(validate_token_policy({true, 3650, 1'000'000, false}).ok());
    EXPECT_EQ(validate_token_policy({true, 0, std::nullopt, true}).code(), StatusCode::invalid_argument);
    EXPECT_EQ(validate_token_policy({true, 3651, std::nullopt, true}).code(), StatusCode::invalid_argument);
    EXPECT_EQ(validate_token_policy({false, std::nullopt, 0, true}).code(), StatusCode::invalid_argument);
    EXPECT_EQ(validate_token_policy({false, std::nullopt, 1'000'001, true}).code(), StatusCode::invalid_argument);
    const Status days_alone = validate_token_policy({false, 30, std::nullopt, true});
    EXPECT_EQ(days_alone.code(), StatusCode::invalid_argument);
    EXPECT_NE(days_alone.message().find("only when an expiry is required"), std::string::npos);
}

TEST(TokenPolicyRules, OneCreation) {
    EXPECT_TRUE(check_token_policy({}, std::nullopt).ok());
    const TokenPolicy strict{true, 30, std::nullopt, true};
    const Status never = check_token_policy(strict, std::nullopt);
    EXPECT_EQ(never.code(), StatusCode::invalid_argument);
    EXPECT_EQ(never.message(), "the token policy requires an expiry: give the token an expiry of 1 to 30 days");
    EXPECT_TRUE(check_token_policy(strict, 30).ok());
    const Status too_long = check_token_policy(strict, 31);
    EXPECT_EQ(too_long.code(), StatusCode::invalid_argument);
    EXPECT_EQ(too_long.message(), "the token policy allows at most 30 days until expiry (asked: 31)");
    const Status off = check_token_policy({false, std::nullopt, std::nullopt, false}, 1);
    EXPECT_EQ(off.code(), StatusCode::forbidden);
    EXPECT_NE(off.message().find("disabled"), std::string::npos);
}

TEST(TokenPolicyRules, Descriptions) {
    EXPECT_EQ(describe_token_policy({}),
              "require-expiry:no max-expiry-days:none max-tokens-per-user:none creation:enabled");
    EXPECT_EQ(describe_token_policy_change({}, {true, 90, std::nullopt, false}),
              "require-expiry:no->yes, max-expiry-days:none->90, creation:enabled->disabled");
    EXPECT_EQ(describe_token_policy_change({true, 90, 3, true}, {true, 90, std::nullopt, true}),
              "max-tokens-per-user:3->none");
    EXPECT_EQ(describe_token_policy_change({}, {}), "");
}

class TokenPolicyStoreTest : public StoreTest {
   protected:
    void SetUp() override {
        StoreTest::SetUp();
        add_user("alice");
    }

    Expected<CreatedToken> try_create(std::optional<int> days, std::int64_t now = now_ms(),
                                      const std::string& owner = "alice") {
        return store_->create_token(owner, owner + "-pw", "t", std::nullopt, days, now);
    }

    TokenPolicyChange set(const TokenPolicyUpdate& update, std::int64_t now = now_ms()) {
        auto change = store_->set_token_policy(update, now, AuditContext{"patctl:root", ""});
        EXPECT_TRUE(change.ok()) << change.status().message();
        return change.ok() ? *change : TokenPolicyChange{};
    }

    std::vector<AuditEntry> policy_entries() {
        auto entries = store_->list_audit(std::nullopt, 1000);
        EXPECT_TRUE(entries.ok());
        std::vector<AuditEntry> out;
        for (const AuditEntry& e : *entries)
            if (e.action == AuditAction::policy_changed) out.push_back(e);
        return out;
    }

    std::size_t token_count() {
        auto tokens = store_->list_tokens(std::nullopt);
        EXPECT_TRUE(tokens.ok());
        return tokens.ok() ? tokens->size() : 0;
    }
};

TEST_F(TokenPolicyStoreTest, NoRecordMeansNoLimits) {
    auto policy = store_->token_policy();
    ASSERT_TRUE(policy.ok());
    EXPECT_EQ(*policy, TokenPolicy{});
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(try_create(std::nullopt).ok());
    EXPECT_TRUE(try_create(3650).ok());
    std::string_view ignored;
    auto txn = store_->engine().read();
    ASSERT_TRUE(txn.ok());
    EXPECT_EQ((*txn)->get(kv::Table::meta, kTokenPolicyKey, ignored), kv::kNotFound);  // reading writes nothing
}

TEST_F(TokenPolicyStoreTest, ChangesAreStoredAndAuditedOldToNew) {
    TokenPolicyChange change = set(update_of(true, std::optional<int>(90), std::nullopt, std::nullopt));
    EXPECT_TRUE(change.changed);
    EXPECT_EQ(change.before, TokenPolicy{});
    EXPECT_EQ(change.after, (TokenPolicy{true, 90, std::nullopt, true}));
    EXPECT_EQ(*store_->token_policy(), change.after);
    auto entries = policy_entries();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].detail, "require-expiry:no->yes, max-expiry-days:none->90");
    EXPECT_EQ(entries[0].actor, "patctl:root");
    EXPECT_EQ(audit_action_name(AuditAction::policy_changed), "policy-changed");

    // Only what is given changes; none clears a maximum.
    change = set(update_of(std::nullopt, std::nullopt, std::optional<int>(4), std::nullopt));
    EXPECT_EQ(change.after, (TokenPolicy{true, 90, 4, true}));
    change = set(update_of(std::nullopt, std::optional<int>(), std::nullopt, false));
    EXPECT_EQ(change.after, (TokenPolicy{true, std::nullopt, 4, false}));
    entries = policy_entries();
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].detail, "max-expiry-days:90->none, creation:enabled->disabled");  // newest first

    // The same values again: nothing written, nothing audited.
    change = set(update_of(true, std::nullopt, std::optional<int>(4), false));
    EXPECT_FALSE(change.changed);
    EXPECT_EQ(policy_entries().size(), 3u);
}

TEST_F(TokenPolicyStoreTest, AnInvalidPolicyChangesNothing) {
    set(update_of(true, std::optional<int>(30), std::nullopt, std::nullopt));
    // Dropping the requirement while a maximum stays is refused, as is a maximum alone.
    auto refused = store_->set_token_policy(update_of(false, std::nullopt, std::nullopt, std::nullopt), now_ms());
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);
    refused =
        store_->set_token_policy(update_of(std::nullopt, std::optional<int>(0), std::nullopt, std::nullopt), now_ms());
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);
    EXPECT_EQ(*store_->token_policy(), (TokenPolicy{true, 30, std::nullopt, true}));
    EXPECT_EQ(policy_entries().size(), 1u);
    // Both at once is fine.
    EXPECT_EQ(set(update_of(false, std::optional<int>(), std::nullopt, std::nullopt)).after, TokenPolicy{});
}

TEST_F(TokenPolicyStoreTest, CreationObeysExpiryRules) {
    set(update_of(true, std::optional<int>(30), std::nullopt, std::nullopt));
    auto never = try_create(std::nullopt);
    EXPECT_EQ(never.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(never.status().message().find("requires an expiry"), std::string::npos);
    auto too_long = try_create(31);
    EXPECT_EQ(too_long.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(too_long.status().message().find("at most 30 days"), std::string::npos);
    EXPECT_EQ(token_count(), 0u);
    auto created = try_create(30);
    ASSERT_TRUE(created.ok()) << created.status().message();
    EXPECT_NE(created->info.expires_ms, 0);
    EXPECT_EQ(token_count(), 1u);
}

TEST_F(TokenPolicyStoreTest, CreationDisabledIsForbiddenForEveryone) {
    add_user("root", true);
    set(update_of(std::nullopt, std::nullopt, std::nullopt, false));
    EXPECT_EQ(try_create(7).status().code(), StatusCode::forbidden);
    EXPECT_EQ(try_create(7, now_ms(), "root").status().code(), StatusCode::forbidden);
    EXPECT_EQ(token_count(), 0u);
    // A wrong password is still a wrong password, not a policy answer.
    EXPECT_EQ(store_->create_token("alice", "nope", "t", std::nullopt, 7, now_ms()).status().code(),
              StatusCode::refused);
    set(update_of(std::nullopt, std::nullopt, std::nullopt, true));
    EXPECT_TRUE(try_create(7).ok());
}

TEST_F(TokenPolicyStoreTest, TheLimitCountsLiveTokensOnly) {
    add_user("bob");
    const std::int64_t t0 = now_ms();
    set(update_of(std::nullopt, std::nullopt, std::optional<int>(2), std::nullopt));
    auto short_lived = try_create(1, t0);
    ASSERT_TRUE(short_lived.ok());
    auto second = try_create(std::nullopt, t0);
    ASSERT_TRUE(second.ok());
    auto third = try_create(std::nullopt, t0);
    EXPECT_EQ(third.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(third.status().message().find("at most 2 live tokens per user"), std::string::npos);
    EXPECT_TRUE(try_create(std::nullopt, t0, "bob").ok());  // per user
    // Two days later the first has expired: it no longer counts.
    EXPECT_TRUE(try_create(std::nullopt, t0 + 2 * kDay).ok());
    EXPECT_FALSE(try_create(std::nullopt, t0 + 2 * kDay).ok());
    // A revoked one does not count either.
    ASSERT_TRUE(store_->revoke_token(Actor::system(), second->info.id).ok());
    EXPECT_TRUE(try_create(std::nullopt, t0 + 2 * kDay).ok());
}

TEST_F(TokenPolicyStoreTest, ExistingTokensAreCountedNotTouched) {
    add_user("bob");
    const std::int64_t t0 = now_ms();
    ASSERT_TRUE(try_create(std::nullopt, t0).ok());  // never expires
    ASSERT_TRUE(try_create(100, t0).ok());
    ASSERT_TRUE(try_create(10, t0).ok());
    ASSERT_TRUE(try_create(std::nullopt, t0, "bob").ok());
    auto revoked = try_create(std::nullopt, t0, "bob");
    ASSERT_TRUE(revoked.ok());
    ASSERT_TRUE(store_->revoke_token(Actor::system(), revoked->info.id).ok());

    TokenPolicyChange change = set(update_of(true, std::optional<int>(30), std::optional<int>(1), std::nullopt), t0);
    EXPECT_EQ(change.never_expiring, 2u);         // alice's and bob's live ones without expiry
    EXPECT_EQ(change.beyond_expiry_maximum, 3u);  // those two and the 100-day one
    EXPECT_EQ(change.beyond_count_maximum, 2u);   // alice has 3, bob 1: 2 beyond 1 per user
    EXPECT_EQ(token_count(), 4u);                 // nothing revoked

    // A higher maximum finds nothing to count; a lower one counts again.
    change = set(update_of(std::nullopt, std::optional<int>(60), std::optional<int>(5), std::nullopt), t0);
    EXPECT_EQ(change.beyond_expiry_maximum, 0u);
    EXPECT_EQ(change.beyond_count_maximum, 0u);
    EXPECT_EQ(change.never_expiring, 0u);
    change = set(update_of(std::nullopt, std::optional<int>(5), std::nullopt, std::nullopt), t0);
    EXPECT_EQ(change.beyond_expiry_maximum, 4u);  // 10 days left is beyond 5
}

TEST_F(TokenPolicyStoreTest, ADamagedPolicyRefusesCreation) {
    ASSERT_TRUE(store_->engine()
                    .write(
                        [](kv::Txn& txn) -> Status {
                            return txn.put(kv::Table::meta, kTokenPolicyKey, "garbage") == 0
                                       ? Status::success()
                                       : Status{StatusCode::store_error, "put"};
                        },
                        kv::Space::ordinary)
                    .ok());
    EXPECT_EQ(store_->token_policy().status().code(), StatusCode::store_error);
    EXPECT_EQ(try_create(7).status().code(), StatusCode::store_error);
    EXPECT_EQ(token_count(), 0u);
}

}  // namespace
}  // namespace pat::testing
