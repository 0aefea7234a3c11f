// The token policy over the fleet's PostgreSQL source (a real PostgreSQL 15,
// fleet_pg_fixture.hpp): the same rules through the same kv::Txn, so
// `patctl policy set --source` stores it where every replica gets it, and a
// creation on the source obeys it.

#include <gtest/gtest.h>

#include "../../src/fleet/admin.hpp"
#include "../../src/fleet/pg.hpp"
#include "../../src/fleet/pg_engine.hpp"
#include "fleet_pg_fixture.hpp"
#include "pat/store.hpp"
#include "pat/token_policy.hpp"

namespace {

using namespace pat;

TEST(FleetTokenPolicy, TheSourceKeepsAndEnforcesThePolicy) {
    const std::string conninfo = fleet_test::server().fresh_database();
    {
        auto admin = fleet::Connection::open(conninfo, "policy-test", fleet::Purpose::writer);
        ASSERT_TRUE(admin.ok()) << admin.status().message();
        ASSERT_TRUE((*admin)->exec("BEGIN").ok());
        ASSERT_TRUE(fleet::create_schema(**admin, "policy-test").ok());
        ASSERT_TRUE((*admin)->exec("COMMIT").ok());
    }
    auto engine = fleet::PgEngine::open(conninfo, "policy-test-engine");
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    ASSERT_TRUE((*engine)
                    ->write(
                        [](kv::Txn& txn) {
                            return txn.put(kv::Table::meta, "schema_version", std::to_string(kSchemaVersion)) == 0
                                       ? Status::success()
                                       : Status{StatusCode::store_error, "put"};
                        },
                        kv::Space::ordinary)
                    .ok());
    auto over = Store::over(std::move(*engine));
    ASSERT_TRUE(over.ok()) << over.status().message();
    Store& store = **over;
    ASSERT_TRUE(store.add_user("alice", "", false, "alice-pw").ok());
    EXPECT_EQ(*store.token_policy(), TokenPolicy{});

    TokenPolicyUpdate update;
    update.require_expiry = true;
    update.max_expiry_days = std::optional<int>(7);
    update.max_tokens_per_user = std::optional<int>(1);
    auto change = store.set_token_policy(update, now_ms(), AuditContext{"patctl:root", ""});
    ASSERT_TRUE(change.ok()) << change.status().message();
    EXPECT_EQ(*store.token_policy(), (TokenPolicy{true, 7, 1, true}));

    // The record is in the source's meta table, as on a file.
    {
        auto reading = store.engine().read();
        ASSERT_TRUE(reading.ok());
        std::string_view bytes;
        ASSERT_EQ((*reading)->get(kv::Table::meta, kTokenPolicyKey, bytes), kv::kOk);
        EXPECT_EQ(decode_token_policy(bytes), (TokenPolicy{true, 7, 1, true}));
    }

    EXPECT_EQ(store.create_token("alice", "alice-pw", "t", std::nullopt, std::nullopt, now_ms()).status().code(),
              StatusCode::invalid_argument);
    EXPECT_EQ(store.create_token("alice", "alice-pw", "t", std::nullopt, 8, now_ms()).status().code(),
              StatusCode::invalid_argument);
    ASSERT_TRUE(store.create_token("alice", "alice-pw", "t", std::nullopt, 7, now_ms()).ok());
    auto second = store.create_token("alice", "alice-pw", "t", std::nullopt, 7, now_ms());
    EXPECT_EQ(second.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(second.status().message().find("at most 1 live token per user"), std::string::npos);

    auto audit = store.list_audit(std::nullopt, 100);
    ASSERT_TRUE(audit.ok());
    std::size_t policy_changes = 0;
    for (const AuditEntry& entry : *audit) {
        if (entry.action != AuditAction::policy_changed) continue;
        ++policy_changes;
        EXPECT_EQ(entry.detail, "require-expiry:no->yes, max-expiry-days:none->7, max-tokens-per-user:none->1");
    }
    EXPECT_EQ(policy_changes, 1u);
}

}  // namespace
