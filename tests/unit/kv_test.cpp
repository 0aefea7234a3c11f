// The key-value interface (pat/kv.hpp) over LMDB, the replica state
// (pat/replica.hpp), and the store's rules run through Store::over.
#include "pat/kv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../src/core/store/lmdb_kv.hpp"
#include "pat/replica.hpp"
#include "pat/store.hpp"
#include "store_fixture.hpp"

namespace pat {
namespace {

using testing::StoreTest;
using Rows = std::vector<std::pair<std::string, std::string>>;

class KvTest : public StoreTest {
   protected:
    Status write(const std::function<Status(kv::Txn&)>& body, kv::Space space = kv::Space::ordinary) {
        return store_->engine().write(body, space);
    }
    Rows scan(kv::Table table, std::string_view prefix, bool reverse, std::size_t stop_after = 1000) {
        Rows rows;
        auto reading = store_->engine().read();
        EXPECT_TRUE(reading.ok()) << reading.status().message();
        if (!reading) return rows;
        int rc = (*reading)->scan(
            table, prefix,
            [&](std::string_view k, std::string_view v) {
                rows.emplace_back(k, v);
                return rows.size() < stop_after;
            },
            reverse);
        EXPECT_EQ(rc, kv::kOk);
        return rows;
    }
};

TEST_F(KvTest, TablesAreTheStoresNamedDatabases) {
    EXPECT_EQ(kv::table_name(kv::Table::sign_in_failures), "sign_in_failures");
    EXPECT_EQ(kv::table_named("effective"), kv::Table::effective);
    EXPECT_EQ(kv::table_named("replica"), std::nullopt);  // the replica's own table is not replicated
}

TEST_F(KvTest, CodesOfTheLmdbEngine) {
    Status s = write([](kv::Txn& txn) -> Status {
        std::string_view value;
        EXPECT_EQ(txn.get(kv::Table::groups, "nobody", value), kv::kNotFound);
        EXPECT_EQ(txn.del(kv::Table::groups, "nobody"), kv::kNotFound);
        EXPECT_EQ(txn.put(kv::Table::groups, "g", "one", kv::Put::no_overwrite), kv::kOk);
        EXPECT_EQ(txn.put(kv::Table::groups, "g", "two", kv::Put::no_overwrite), kv::kKeyExists);
        EXPECT_EQ(txn.get(kv::Table::groups, "g", value), kv::kOk);
        EXPECT_EQ(value, "one");
        EXPECT_EQ(txn.put(kv::Table::groups, "g", "two"), kv::kOk);  // upsert
        EXPECT_EQ(txn.get(kv::Table::groups, "g", value), kv::kOk);
        EXPECT_EQ(value, "two");
        // An empty key is LMDB's MDB_BAD_VALSIZE: kFailed, in LMDB's words.
        EXPECT_EQ(txn.put(kv::Table::groups, "", "x"), kv::kFailed);
        EXPECT_NE(txn.failure().find("MDB_BAD_VALSIZE"), std::string::npos) << txn.failure();
        EXPECT_EQ(txn.del(kv::Table::groups, "g"), kv::kOk);
        EXPECT_EQ(txn.get(kv::Table::groups, "g", value), kv::kNotFound);
        return Status::success();
    });
    EXPECT_TRUE(s.ok()) << s.message();
}

TEST_F(KvTest, AFailedBodyChangesNothing) {
    Status s = write([](kv::Txn& txn) -> Status {
        EXPECT_EQ(txn.put(kv::Table::groups, "g", "x"), kv::kOk);
        return {StatusCode::invalid_argument, "no"};
    });
    EXPECT_EQ(s.message(), "no");
    EXPECT_TRUE(scan(kv::Table::groups, "", false).empty());
}

TEST_F(KvTest, AppendTakesOnlyAKeyAfterEveryOther) {
    Status s = write([](kv::Txn& txn) -> Status {
        EXPECT_EQ(txn.put(kv::Table::audit, "b", "1", kv::Put::append), kv::kOk);
        EXPECT_EQ(txn.put(kv::Table::audit, "c", "2", kv::Put::append), kv::kOk);
        EXPECT_EQ(txn.put(kv::Table::audit, "a", "0", kv::Put::append), kv::kKeyExists);  // MDB_APPEND out of order
        return Status::success();
    });
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(scan(kv::Table::audit, "", false), (Rows{{"b", "1"}, {"c", "2"}}));
}

TEST_F(KvTest, ScanPrefixReverseAndCount) {
    const std::vector<std::string> keys = {
        std::string("a\0x", 3), std::string("a\0y", 3), "ab", "b", "b\xff", "b\xff\xff", "c"};
    Status s = write([&](kv::Txn& txn) -> Status {
        for (const std::string& k : keys) EXPECT_EQ(txn.put(kv::Table::group_members, k, "v" + k), kv::kOk);
        std::size_t rows = 0;
        EXPECT_EQ(txn.count(kv::Table::group_members, rows), kv::kOk);
        EXPECT_EQ(rows, keys.size());
        EXPECT_EQ(txn.count(kv::Table::user_groups, rows), kv::kOk);
        EXPECT_EQ(rows, 0u);
        return Status::success();
    });
    ASSERT_TRUE(s.ok()) << s.message();
    auto keys_of = [](const Rows& rows) {
        std::vector<std::string> out;
        for (const auto& row : rows) out.push_back(row.first);
        return out;
    };
    const std::string a0("a\0", 2);
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, a0, false)), (std::vector<std::string>{keys[0], keys[1]}));
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, a0, true)), (std::vector<std::string>{keys[1], keys[0]}));
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, "a", true)), (std::vector<std::string>{"ab", keys[1], keys[0]}));
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, "b", true)),
              (std::vector<std::string>{"b\xff\xff", "b\xff", "b"}));
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, "b\xff", true)), (std::vector<std::string>{"b\xff\xff", "b\xff"}));
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, "c", true)), (std::vector<std::string>{"c"}));
    EXPECT_TRUE(scan(kv::Table::group_members, "d", true).empty());
    EXPECT_TRUE(scan(kv::Table::group_members, "0", true).empty());
    std::vector<std::string> all(keys.rbegin(), keys.rend());
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, "", true)), all);
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, "", true, 2)), (std::vector<std::string>{"c", "b\xff\xff"}));
    EXPECT_EQ(keys_of(scan(kv::Table::group_members, "", false, 1)), (std::vector<std::string>{keys[0]}));
    EXPECT_EQ(scan(kv::Table::group_members, "ab", false), (Rows{{"ab", "vab"}}));
}

TEST_F(KvTest, FullIsKFullAndTheStoresFullMessage) {
    store_.reset();
    std::filesystem::remove(path_);
    auto created = Store::create(path_, kMinStoreSize);
    ASSERT_TRUE(created.ok()) << created.status().message();
    store_ = std::move(*created);
    int last = kv::kOk;
    const std::string big(64 * 1024, 'x');
    for (int i = 0; i < 64 && last == kv::kOk; ++i) {
        Status s = write(
            [&](kv::Txn& txn) -> Status {
                last = txn.put(kv::Table::groups, "g" + std::to_string(i), big);
                return last == kv::kOk ? Status::success() : Status{StatusCode::store_error, txn.failure()};
            },
            kv::Space::reserve);
        if (last == kv::kOk) {
            EXPECT_TRUE(s.ok()) << s.message();
        }
    }
    EXPECT_EQ(last, kv::kFull);
    // An ordinary write is then refused up front with the store's message.
    Status refused = write([](kv::Txn&) { return Status::success(); });
    EXPECT_EQ(refused.message().rfind("store: full: ", 0), 0u) << refused.message();
    // The rules give the same text for a kFull they meet.
    Status rule = store_->add_user("zed", "", false, "zed-pw-long-enough");
    EXPECT_EQ(rule.message().rfind("store: full: ", 0), 0u) << rule.message();
}

TEST_F(KvTest, ReadOnlyStoreRefusesWrites) {
    store_.reset();
    auto opened = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(opened.ok());
    Status s = (*opened)->engine().write([](kv::Txn&) { return Status::success(); }, kv::Space::ordinary);
    EXPECT_EQ(s.message(), "store: opened read-only");
    EXPECT_EQ((*opened)->engine().describe(), path_);
}

ReplicaState sample_state() {
    ReplicaState state;
    state.position = 1234567890123ull;
    state.source_head = 1234567890200ull;
    state.verified_boot_ns = 987654321012345;
    for (std::size_t i = 0; i < state.boot_id.size(); ++i) state.boot_id[i] = static_cast<std::uint8_t>(i * 17);
    state.verified_wall_ms = 1764672000123;
    state.position_mark = 1764672000123456;
    state.source_id = "4f1c2e0a-source";
    return state;
}

void expect_same(const ReplicaState& a, const ReplicaState& b) {
    EXPECT_EQ(a.position, b.position);
    EXPECT_EQ(a.source_head, b.source_head);
    EXPECT_EQ(a.verified_boot_ns, b.verified_boot_ns);
    EXPECT_EQ(a.boot_id, b.boot_id);
    EXPECT_EQ(a.verified_wall_ms, b.verified_wall_ms);
    EXPECT_EQ(a.position_mark, b.position_mark);
    EXPECT_EQ(a.source_id, b.source_id);
}

TEST(ReplicaStateTest, RecordRoundTripsAndBadOnesAreRefused) {
    const ReplicaState state = sample_state();
    const std::string record = encode_replica_state(state);
    auto decoded = decode_replica_state(record);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    expect_same(*decoded, state);

    EXPECT_FALSE(decode_replica_state("").ok());
    EXPECT_FALSE(decode_replica_state(record.substr(0, 20)).ok());                 // short
    EXPECT_FALSE(decode_replica_state(record.substr(0, record.size() - 1)).ok());  // source id cut
    EXPECT_FALSE(decode_replica_state(record + "x").ok());                         // trailing bytes
    std::string other = record;
    other[0] = 2;  // a version this build does not know
    auto refused = decode_replica_state(other);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("unknown version"), std::string::npos) << refused.status().message();
}

TEST(ReplicaStateTest, AgeCountsOnlyOnTheSameBoot) {
    auto boot = current_boot_id();
    ASSERT_TRUE(boot.ok()) << boot.status().message();
    ReplicaState state;
    state.boot_id = *boot;
    const std::int64_t now = boottime_ns();
    EXPECT_GT(now, 0);
    state.verified_boot_ns = now - 2'500'000'000;
    EXPECT_EQ(verified_age_ms(state, *boot, now), 2500);
    auto other = *boot;
    other[0] ^= 0xff;
    EXPECT_EQ(verified_age_ms(state, other, now), std::nullopt);  // another boot: never verified
    ReplicaState never;
    EXPECT_EQ(verified_age_ms(never, *boot, now), std::nullopt);
    EXPECT_GE(boottime_ns(), now);
}

TEST_F(KvTest, ReplicaStateIsWrittenWithTheChangesAndReadByReaders) {
    auto none = store_->replica_state();
    ASSERT_TRUE(none.ok()) << none.status().message();
    EXPECT_FALSE(none->has_value());  // a single-host store

    // A worker's read-only store, opened before the follower made the table.
    store_.reset();
    auto writer = Store::open(path_, Store::Mode::read_write);
    ASSERT_TRUE(writer.ok());
    store_ = std::move(*writer);
    auto reader = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(reader.ok());
    auto before = (*reader)->replica_state();
    ASSERT_TRUE(before.ok()) << before.status().message();
    EXPECT_FALSE(before->has_value());

    // A failed write leaves neither the change nor the state.
    Status failed = store_->engine().write(
        [&](kv::Txn& txn) -> Status {
            EXPECT_EQ(txn.put(kv::Table::groups, "g", "x"), kv::kOk);
            if (Status s = store_->put_replica_state(txn, sample_state()); !s.ok()) return s;
            return {StatusCode::store_error, "gap"};
        },
        kv::Space::ordinary);
    EXPECT_EQ(failed.message(), "gap");
    auto still = store_->replica_state();
    ASSERT_TRUE(still.ok()) << still.status().message();
    EXPECT_FALSE(still->has_value());

    Status s = store_->engine().write(
        [&](kv::Txn& txn) -> Status {
            EXPECT_EQ(txn.put(kv::Table::groups, "g", "x"), kv::kOk);
            return store_->put_replica_state(txn, sample_state());
        },
        kv::Space::ordinary);
    ASSERT_TRUE(s.ok()) << s.message();
    for (Store* store : {store_.get(), reader->get()}) {
        auto read = store->replica_state();
        ASSERT_TRUE(read.ok()) << read.status().message();
        ASSERT_TRUE(read->has_value());
        expect_same(**read, sample_state());
    }
    ReplicaState next = sample_state();
    next.position += 5;
    ASSERT_TRUE(store_->engine()
                    .write([&](kv::Txn& txn) { return store_->put_replica_state(txn, next); }, kv::Space::ordinary)
                    .ok());
    auto read = (*reader)->replica_state();
    ASSERT_TRUE(read.ok() && read->has_value());
    EXPECT_EQ((*read)->position, next.position);
    // The replica table is no kv::Table: the replicated tables hold only the change.
    EXPECT_EQ(scan(kv::Table::groups, "", false), (Rows{{"g", "x"}}));
}

class OverTest : public StoreTest {
   protected:
    std::string other_path() { return dir_ + "/other.db"; }
    std::unique_ptr<Store> over_other() {
        {
            auto made = Store::create(other_path());
            EXPECT_TRUE(made.ok()) << made.status().message();
        }
        auto engine = LmdbEngine::open(other_path(), Store::Mode::read_write);
        EXPECT_TRUE(engine.ok()) << engine.status().message();
        auto over = Store::over(std::move(*engine));
        EXPECT_TRUE(over.ok()) << over.status().message();
        return over.ok() ? std::move(*over) : nullptr;
    }
};

TEST_F(OverTest, TheRulesRunThroughTheInterface) {
    auto store = over_other();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->path(), other_path());
    ASSERT_TRUE(store->add_user("alice", "Alice", false, "alice-pw").ok());
    ASSERT_TRUE(store->add_group("devs").ok());
    ASSERT_TRUE(store->add_group_members("devs", {"alice"}).ok());
    ASSERT_TRUE(store->set_grant(Grantee::group("devs"), "WORK", "", Level::write).ok());
    ASSERT_TRUE(store->grant_repo("alice", "WORK", "site", Level::admin).ok());
    auto created = store->create_token("alice", "alice-pw", "laptop", TokenPermissions{}, 30, now_ms());
    ASSERT_TRUE(created.ok()) << created.status().message();
    auto tokens = store->list_tokens(std::nullopt);
    ASSERT_TRUE(tokens.ok()) << tokens.status().message();
    ASSERT_EQ(tokens->size(), 1u);
    EXPECT_EQ((*tokens)[0].owner, "alice");
    EXPECT_EQ((*tokens)[0].name, "laptop");
    auto level = store->explain_level("alice", "WORK", "other");
    ASSERT_TRUE(level.ok()) << level.status().message();
    EXPECT_EQ(level->level, Level::write);
    EXPECT_EQ(level->group, "devs");
    EXPECT_EQ(store->authenticate_user("alice", "wrong").code(), StatusCode::refused);
    auto audit = store->list_audit(std::nullopt, 100);
    ASSERT_TRUE(audit.ok()) << audit.status().message();
    EXPECT_GE(audit->size(), 6u);  // user, group, member, two grants, token, failed password
    EXPECT_EQ(audit->front().action, AuditAction::password_failed);
    ASSERT_TRUE(store->revoke_token(Actor{"alice", false}, created->info.id).ok());

    // What only LMDB does is refused.
    TokenHasher hasher;
    AccessRequest request;
    request.token = created->text;
    request.need = Need::repo_read;
    request.project = "WORK";
    request.repo = "site";
    EXPECT_EQ(store->decide(hasher, request, now_ms()).reason, Reason::store_error);
    EXPECT_EQ(store->backup_to(dir_ + "/copy.db", false).message(),
              "store: not available on the fleet source (decisions are made on a node's replica)");
    EXPECT_FALSE(store->replica_state().ok());

    // The rules wrote the other file, not this fixture's store.
    store.reset();
    auto reopened = Store::open(other_path(), Store::Mode::read_only);
    ASSERT_TRUE(reopened.ok());
    auto users = (*reopened)->list_users();
    ASSERT_TRUE(users.ok());
    ASSERT_EQ(users->size(), 1u);
    EXPECT_EQ((*users)[0].display_name, "Alice");
    auto mine = store_->list_users();
    ASSERT_TRUE(mine.ok());
    EXPECT_TRUE(mine->empty());
}

TEST_F(OverTest, AnEngineWithoutSchemaTwoIsRefused) {
    // The engine opens a schema-2 file; its meta is then changed through
    // the engine itself, and Store::over reads it there.
    auto over_with = [&](const std::string& path, std::optional<std::string> version) -> Status {
        {
            auto made = Store::create(path);
            EXPECT_TRUE(made.ok());
        }
        auto engine = LmdbEngine::open(path, Store::Mode::read_write);
        EXPECT_TRUE(engine.ok()) << engine.status().message();
        if (!engine) return engine.status();
        Status s = (*engine)->write(
            [&](kv::Txn& txn) {
                int rc = version ? txn.put(kv::Table::meta, "schema_version", *version)
                                 : txn.del(kv::Table::meta, "schema_version");
                return rc == kv::kOk ? Status::success() : Status{StatusCode::store_error, txn.failure()};
            },
            kv::Space::ordinary);
        EXPECT_TRUE(s.ok()) << s.message();
        auto over = Store::over(std::move(*engine));
        return over.ok() ? Status::success() : over.status();
    };
    Status three = over_with(dir_ + "/three.db", "3");
    EXPECT_EQ(three.message(),
              "store: " + dir_ + "/three.db has schema version 3; this build uses 2 over another engine");
    Status missing = over_with(dir_ + "/missing.db", std::nullopt);
    EXPECT_EQ(missing.message(), "store: " + dir_ + "/missing.db has no schema version (not an nginx-pat store)");
    EXPECT_TRUE(over_with(dir_ + "/two.db", "2").ok());
}

}  // namespace
}  // namespace pat
