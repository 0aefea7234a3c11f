// The store's space: failed sign-ins cannot grow it, the audit trail can be
// pruned, and a store filled by ordinary changes still revokes, disables and
// ungrants (the reserve).
#include <lmdb.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "store_fixture.hpp"

namespace pat::testing {
namespace {

using L = Level;

std::size_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
}

std::vector<AuditEntry> failures_in(Store& store) {
    std::vector<AuditEntry> failures;
    auto entries = store.list_audit(std::nullopt, 1'000'000);
    EXPECT_TRUE(entries.ok()) << entries.status().message();
    if (!entries.ok()) return failures;
    for (AuditEntry& entry : *entries) {
        if (entry.action == AuditAction::password_failed) failures.push_back(std::move(entry));
    }
    return failures;
}

bool is_full(const Status& status) {
    return status.message().find("store: full") != std::string::npos;
}

class StoreSpaceTest : public StoreTest {
   protected:
    // A 1 MiB store with alice (write on WORK, one token) and bob.
    void make_small_store() {
        small_path_ = dir_ + "/small.db";
        auto created = Store::create(small_path_, kMinStoreSize);
        ASSERT_TRUE(created.ok()) << created.status().message();
        small_ = std::move(*created);
        ASSERT_TRUE(small_->add_user("alice", "", false, "alice-pw").ok());
        ASSERT_TRUE(small_->add_user("bob", "", false, "bob-pw").ok());
        ASSERT_TRUE(small_->grant_project("alice", "WORK", L::write).ok());
        auto token = small_->create_token("alice", "alice-pw", "ci", std::nullopt, std::nullopt, now_ms());
        ASSERT_TRUE(token.ok()) << token.status().message();
        token_ = token->text;
        token_id_ = token->info.id;
    }

    // Ordinary changes (bob's repository grants with long names, audited)
    // until the store refuses one as full. Returns how many fitted.
    int fill_with_grants() {
        const std::string key(kMaxProjectKey, 'K');
        for (int i = 0;; ++i) {
            Status s = small_->grant_repo("bob", key, std::string(100, 's') + std::to_string(i), L::read);
            if (!s.ok()) {
                EXPECT_TRUE(is_full(s)) << s.message();
                return i;
            }
        }
    }

    Decision decide_small(Need need) {
        AccessRequest request;
        request.token = token_;
        request.need = need;
        request.project = "WORK";
        request.repo = "code";
        return small_->decide(hasher_, request, now_ms());
    }

    std::string small_path_;
    std::unique_ptr<Store> small_;
    std::string token_;
    std::string token_id_;
};

TEST_F(StoreSpaceTest, FailedSignInsAreCountedPerUserAddressAndHourNotAppended) {
    add_user("alice");
    const AuditContext from{"alice", "192.0.2.7"};
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(store_->authenticate_user("alice", "guess", from).code(), StatusCode::refused);
    EXPECT_EQ(store_->authenticate_user("alice", "guess", {"alice", "192.0.2.8"}).code(), StatusCode::refused);

    auto failures = failures_in(*store_);
    ASSERT_EQ(failures.size(), 2u);
    EXPECT_EQ(failures[0].address, "192.0.2.8");  // newest first
    EXPECT_EQ(failures[0].count, 1u);
    EXPECT_EQ(failures[0].detail, "");
    EXPECT_EQ(failures[1].address, "192.0.2.7");
    EXPECT_EQ(failures[1].count, 3u);
    EXPECT_EQ(failures[1].user, "alice");
    EXPECT_EQ(failures[1].actor, "alice");
    EXPECT_EQ(failures[1].detail.rfind("3 failures since ", 0), 0u) << failures[1].detail;
    // Nothing went to the trail of changes: only user-added is there.
    auto all = store_->list_audit(std::nullopt, 100);
    EXPECT_EQ(all->size(), 3u);
    EXPECT_EQ(all->back().action, AuditAction::user_added);
}

TEST_F(StoreSpaceTest, FailedSignInsFromEverywhereStayWithinTheBoundAndDoNotFillTheStore) {
    make_small_store();
    // Invalid user names are refused before the (slow) password hash: many
    // failures from many addresses, cheaply. Twice the bound and more.
    auto fail_from = [&](int i) {
        const std::string address = "198.51." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        EXPECT_EQ(small_->authenticate_user("-no such name-", "x", {"", address}).code(), StatusCode::refused);
    };
    for (int i = 0; i < 1200; ++i) fail_from(i);
    EXPECT_EQ(failures_in(*small_).size(), kMaxSignInFailureRows);
    const std::size_t size_at_bound = file_size(small_path_);
    for (int i = 1200; i < 3000; ++i) fail_from(i);

    auto failures = failures_in(*small_);
    ASSERT_EQ(failures.size(), kMaxSignInFailureRows);
    // The oldest rows made room for the newest (failures within one
    // millisecond are ties: allow a few of them either way).
    EXPECT_EQ(failures.front().address, "198.51.11.183");  // i = 2999
    for (const AuditEntry& failure : failures) {
        unsigned a = 0, b = 0;
        ASSERT_EQ(std::sscanf(failure.address.c_str(), "198.51.%u.%u", &a, &b), 2) << failure.address;
        EXPECT_GE(a * 256 + b, 3000u - kMaxSignInFailureRows - 64) << failure.address;
    }
    // The file did not grow with the traffic (LMDB reuses the freed pages),
    // and ordinary changes still fit.
    EXPECT_LE(file_size(small_path_), size_at_bound + 16 * 4096);
    EXPECT_TRUE(small_->grant_project("bob", "WORK", L::read).ok());
}

TEST_F(StoreSpaceTest, AFullStoreStillRevokesDisablesAndUngrants) {
    make_small_store();
    EXPECT_GT(fill_with_grants(), 100);
    // Full for ordinary changes, whoever asks.
    EXPECT_TRUE(is_full(small_->grant_project("alice", "MORE", L::read)));
    EXPECT_TRUE(is_full(small_->add_user("carol", "", false, "carol-pw")));
    EXPECT_EQ(decide_small(Need::repo_write).reason, Reason::allowed);

    // Taking access away works, each audited, several times in a row.
    ASSERT_TRUE(small_->revoke_project_grant("alice", "WORK").ok());
    EXPECT_EQ(decide_small(Need::repo_read).reason, Reason::user_level_too_low);
    ASSERT_TRUE(small_->set_user_active("alice", false, {"patctl:root", ""}).ok());
    EXPECT_EQ(decide_small(Need::authenticated).reason, Reason::user_disabled);
    ASSERT_TRUE(small_->revoke_token(Actor::system(), token_id_, {"patctl:root", ""}).ok());
    EXPECT_EQ(decide_small(Need::authenticated).reason, Reason::revoked);
    // Many more in a row. The module lets go of its snapshot when idle, as
    // here; a snapshot kept would keep the pages it sees from reuse.
    small_->release_snapshot();
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(
            small_
                ->revoke_repo_grant("bob", std::string(kMaxProjectKey, 'K'), std::string(100, 's') + std::to_string(i))
                .ok())
            << i;
    }
    // Enabling gives access back: an ordinary change, still refused.
    EXPECT_TRUE(is_full(small_->set_user_active("alice", true)));
    auto trail = small_->list_audit("alice", 3);
    ASSERT_EQ(trail->size(), 3u);
    EXPECT_EQ((*trail)[0].action, AuditAction::token_revoked);
    EXPECT_EQ((*trail)[1].action, AuditAction::user_disabled);
    EXPECT_EQ((*trail)[2].action, AuditAction::grant_removed);

    // Pruning the audit trail works too, and gives ordinary changes room.
    auto pruned = small_->prune_audit(now_ms() + 1, {"patctl:root", ""});
    ASSERT_TRUE(pruned.ok()) << pruned.status().message();
    EXPECT_GT(*pruned, 100u);
    // The freed pages are reused once no snapshot predates the prune.
    small_->release_snapshot();
    EXPECT_TRUE(small_->grant_project("alice", "MORE", L::read).ok());
}

TEST_F(StoreSpaceTest, PruneDeletesWhatIsOlderAndRecordsItself) {
    add_user("alice");
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::read).ok());
    EXPECT_FALSE(store_->authenticate_user("-bad-", "x", {"", "192.0.2.1"}).ok());
    const std::int64_t cutoff = now_ms() + 1;
    while (now_ms() <= cutoff) {
    }
    ASSERT_TRUE(store_->grant_project("alice", "NEWER", L::read).ok());

    auto pruned = store_->prune_audit(cutoff, {"patctl:root", ""});
    ASSERT_TRUE(pruned.ok()) << pruned.status().message();
    EXPECT_EQ(*pruned, 3u);  // user-added, grant-set WORK, the failure row
    auto trail = store_->list_audit(std::nullopt, 100);
    ASSERT_EQ(trail->size(), 2u);
    EXPECT_EQ((*trail)[0].action, AuditAction::audit_pruned);
    EXPECT_EQ((*trail)[0].actor, "patctl:root");
    EXPECT_EQ((*trail)[0].detail.rfind("3 entries before ", 0), 0u) << (*trail)[0].detail;
    EXPECT_EQ((*trail)[1].detail, "project NEWER read");
    // The store's content is untouched.
    EXPECT_EQ(store_->list_grants("alice")->size(), 2u);
    // Nothing older left: a second prune deletes nothing.
    EXPECT_EQ(*store_->prune_audit(cutoff), 0u);
}

TEST_F(StoreSpaceTest, AStoreMadeBeforeTheFailureTableKeepsWorking) {
    add_user("alice");
    store_.reset();
    {  // Remove the table, as in a store made before it existed.
        MDB_env* env = nullptr;
        ASSERT_EQ(mdb_env_create(&env), 0);
        mdb_env_set_maxdbs(env, 16);
        ASSERT_EQ(mdb_env_open(env, path_.c_str(), MDB_NOSUBDIR, 0640), 0);
        MDB_txn* txn = nullptr;
        MDB_dbi dbi = 0;
        ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
        ASSERT_EQ(mdb_dbi_open(txn, "sign_in_failures", 0, &dbi), 0);
        ASSERT_EQ(mdb_drop(txn, dbi, 1), 0);
        ASSERT_EQ(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
    }
    auto reader = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    EXPECT_FALSE((*reader)->authenticate_user("alice", "guess").ok());  // refused, not counted
    EXPECT_EQ((*reader)->list_audit(std::nullopt, 10)->size(), 1u);
    reader->reset();

    auto writer = Store::open(path_, Store::Mode::read_write);  // adds the table
    ASSERT_TRUE(writer.ok()) << writer.status().message();
    EXPECT_FALSE((*writer)->authenticate_user("alice", "guess").ok());
    EXPECT_EQ(failures_in(**writer).size(), 1u);
    EXPECT_TRUE((*writer)->authenticate_user("alice", "alice-pw").ok());
}

}  // namespace
}  // namespace pat::testing
