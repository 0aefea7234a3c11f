// The usage file (pat/usage.hpp) and the listing's merge of it: the workers'
// last-use times, kept apart from the store and never trusted.
#include "pat/usage.hpp"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>

#include <fstream>

#include "store_fixture.hpp"

namespace pat::testing {
namespace {

using Uses = std::vector<std::pair<std::string, std::int64_t>>;

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
}

// Writes a raw entry into a usage file, as a hostile member of the workers'
// group could.
void poke(const std::string& path, std::string_view key, std::string_view value) {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR, 0660), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

// A usage file in a directory of its own (no store needed).
class UsageTest : public ::testing::Test {
   protected:
    void SetUp() override {
        char dir_template[] = "/tmp/pat-usage-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
        store_path_ = dir_ + "/pat.db";
        usage_path_ = store_path_ + "-usage";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string dir_, store_path_, usage_path_;
};

TEST_F(UsageTest, ItLivesBesideTheStore) {
    EXPECT_EQ(UsageFile::path_for("/var/lib/nginx-pat/pat.db"), "/var/lib/nginx-pat/pat.db-usage");
    EXPECT_EQ(UsageFile(store_path_, UsageFile::Mode::read_only).path(), usage_path_);
}

TEST_F(UsageTest, TheWriterCreatesItGroupWritableAndKeepsTheNewestTime) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_FALSE(exists(usage_path_));
    const mode_t old_mask = ::umask(022);  // nginx's usual umask must not narrow the mode
    const auto written = writer.record({{"111111111111", 5000}, {"222222222222", 7000}});
    ::umask(old_mask);
    ASSERT_TRUE(written.status.ok()) << written.status.message();
    EXPECT_FALSE(written.full);
    EXPECT_EQ(mode_of(usage_path_), 0660u);
    EXPECT_EQ(mode_of(usage_path_ + "-lock"), 0660u);

    ASSERT_TRUE(writer.record({{"111111111111", 4000}, {"222222222222", 9000}}).status.ok());
    EXPECT_EQ(writer.lookup({"111111111111", "222222222222", "333333333333"}),
              (std::vector<std::int64_t>{5000, 9000, 0}));
}

TEST_F(UsageTest, WhatIsNotATokenIdOrATimeIsSkipped) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{"not-an-id", 5000}, {"111111111111", 0}, {"222222222222", -4}}).status.ok());
    EXPECT_EQ(writer.lookup({"not-an-id", "111111111111", "222222222222"}), (std::vector<std::int64_t>{0, 0, 0}));
}

TEST_F(UsageTest, OnlyTheCreateModeCreatesOrRecords) {
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
    EXPECT_FALSE(reader.record({{"111111111111", 5}}).status.ok());
    UsageFile manager(store_path_, UsageFile::Mode::read_write);
    EXPECT_TRUE(manager.forget({"111111111111"}).ok());  // nothing to forget
    EXPECT_EQ(manager.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
    EXPECT_FALSE(exists(usage_path_));
    EXPECT_FALSE(exists(usage_path_ + "-lock"));
}

TEST_F(UsageTest, ForgetDropsEntries) {
    {
        UsageFile writer(store_path_, UsageFile::Mode::create);
        ASSERT_TRUE(writer.record({{"111111111111", 5000}, {"222222222222", 7000}}).status.ok());
    }
    UsageFile manager(store_path_, UsageFile::Mode::read_write);
    ASSERT_TRUE(manager.forget({"111111111111", "999999999999"}).ok());
    EXPECT_EQ(manager.lookup({"111111111111", "222222222222"}), (std::vector<std::int64_t>{0, 7000}));
}

TEST_F(UsageTest, ForgedEntriesOfTheWrongShapeAreIgnored) {
    {
        UsageFile writer(store_path_, UsageFile::Mode::create);
        ASSERT_TRUE(writer.record({{"111111111111", 5000}}).status.ok());
    }
    poke(usage_path_, "222222222222", "abc");                                   // not 8 bytes
    poke(usage_path_, "333333333333", std::string(8, '\xff'));                  // negative
    poke(usage_path_, "111111111111", std::string("\0\0\0\0\0\0\x27\x10", 8));  // 10000: a forged time is just a time
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({"111111111111", "222222222222", "333333333333"}),
              (std::vector<std::int64_t>{10000, 0, 0}));
}

TEST_F(UsageTest, AGarbageFileMeansNoTimesAndNoCrash) {
    std::ofstream(usage_path_) << std::string(64 * 1024, 'x');
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
    UsageFile writer(store_path_, UsageFile::Mode::create);
    const auto written = writer.record({{"111111111111", 5}});
    EXPECT_FALSE(written.status.ok());
    EXPECT_FALSE(written.full);
    // A truncated copy of a real file (LMDB would read past its end) too.
    std::filesystem::remove(usage_path_);
    std::filesystem::remove(usage_path_ + "-lock");
    {
        UsageFile fresh(store_path_ + "2", UsageFile::Mode::create);
        ASSERT_TRUE(fresh.record({{"111111111111", 5}}).status.ok());
    }
    std::filesystem::copy_file(store_path_ + "2-usage", usage_path_);
    std::filesystem::resize_file(usage_path_, 4096);
    EXPECT_EQ(reader.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
}

TEST_F(UsageTest, AFileReplacedOrRemovedIsReopened) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{"111111111111", 5000}}).status.ok());
    std::filesystem::remove(usage_path_);
    // The next write creates a new file rather than writing to the unlinked one.
    ASSERT_TRUE(writer.record({{"222222222222", 6000}}).status.ok());
    ASSERT_TRUE(exists(usage_path_));
    EXPECT_EQ(writer.lookup({"111111111111", "222222222222"}), (std::vector<std::int64_t>{0, 6000}));
}

TEST_F(UsageTest, AFullFileDropsTheBatchAndSaysSo) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{"100000000001", 1}}).status.ok());
    Uses many;
    for (int i = 0; i < 700'000; ++i) {
        char id[13];
        std::snprintf(id, sizeof id, "2%011d", i);
        many.emplace_back(id, 42);
    }
    const auto written = writer.record(many);
    EXPECT_TRUE(written.full);
    EXPECT_FALSE(written.status.ok());
    EXPECT_EQ(writer.lookup({many.front().first}), (std::vector<std::int64_t>{0}));  // nothing of the batch
    EXPECT_LE(std::filesystem::file_size(usage_path_), kUsageFileSize);
    // What was there stays, and a small batch still fits.
    EXPECT_EQ(writer.lookup({"100000000001"}), (std::vector<std::int64_t>{1}));
    EXPECT_TRUE(writer.record({{"100000000002", 2}}).status.ok());
}

// ---- the Store's merge ----

class UsageMergeTest : public StoreTest {
   protected:
    // As the workers do, from an object of their own: the store's own
    // usage environment is closed meanwhile (one per file per process).
    void workers_record(const Uses& uses) {
        store_.reset();
        {
            UsageFile writer(path_, UsageFile::Mode::create);
            const auto written = writer.record(uses);
            ASSERT_TRUE(written.status.ok()) << written.status.message();
        }
        store_ = std::move(*Store::open(path_, Store::Mode::read_write));
    }

    std::string token_id(const std::string& owner, const std::string& name, std::int64_t now) {
        auto created = store_->create_token(owner, owner + "-pw", name, std::nullopt, std::nullopt, now);
        EXPECT_TRUE(created.ok()) << created.status().message();
        return created.ok() ? created->info.id : std::string();
    }

    std::int64_t listed_last_use(const std::string& id) {
        auto tokens = store_->list_tokens(std::nullopt);
        EXPECT_TRUE(tokens.ok()) << tokens.status().message();
        for (const TokenInfo& token : *tokens) {
            if (token.id == id) return token.last_authenticated_ms;
        }
        ADD_FAILURE() << "token " << id << " not listed";
        return -1;
    }
};

TEST_F(UsageMergeTest, InitCreatesTheUsageFile) {
    EXPECT_TRUE(exists(path_ + "-usage"));
    EXPECT_EQ(mode_of(path_ + "-usage"), 0660u);
}

TEST_F(UsageMergeTest, ListingShowsTheNewerOfTheStoreAndTheUsageFile) {
    add_user("alice");
    const std::string used = token_id("alice", "used", 1000);
    const std::string recorded = token_id("alice", "recorded", 1000);
    const std::string never = token_id("alice", "never", 1000);
    ASSERT_TRUE(store_->record_token_uses({{recorded, 9000}}).ok());
    workers_record({{used, 5000}, {recorded, 3000}});

    EXPECT_EQ(listed_last_use(used), 5000);
    EXPECT_EQ(listed_last_use(recorded), 9000);  // the store's record is newer
    EXPECT_EQ(listed_last_use(never), 0);
    EXPECT_EQ(store_->get_token(used)->last_authenticated_ms, 5000);
    auto alices = store_->list_tokens("alice");
    ASSERT_TRUE(alices.ok());
    for (const TokenInfo& token : *alices) {
        EXPECT_EQ(token.last_authenticated_ms, token.id == used ? 5000 : token.id == recorded ? 9000 : 0);
    }
    TokenChange rename;
    rename.name = "renamed";
    EXPECT_EQ(store_->modify_token(Actor::system(), used, rename)->last_authenticated_ms, 5000);

    // A read-only store (patctl run by a user who may only read) merges too.
    store_.reset();
    auto reader = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    EXPECT_EQ((*reader)->get_token(used)->last_authenticated_ms, 5000);
}

TEST_F(UsageMergeTest, AMissingOrDamagedUsageFileNeverFailsTheListing) {
    add_user("alice");
    const std::string id = token_id("alice", "t", 1000);
    ASSERT_TRUE(store_->record_token_uses({{id, 2000}}).ok());
    store_.reset();
    std::filesystem::remove(path_ + "-usage");
    std::filesystem::remove(path_ + "-usage-lock");
    store_ = std::move(*Store::open(path_, Store::Mode::read_write));
    EXPECT_EQ(listed_last_use(id), 2000);
    EXPECT_FALSE(exists(path_ + "-usage"));  // listing creates nothing

    store_.reset();
    std::ofstream(path_ + "-usage") << std::string(16 * 1024, '\x07');
    store_ = std::move(*Store::open(path_, Store::Mode::read_write));
    EXPECT_EQ(listed_last_use(id), 2000);
    EXPECT_TRUE(store_->revoke_token(Actor::system(), id).ok());  // forgetting fails quietly
}

TEST_F(UsageMergeTest, RevokingOrDeletingDropsTheUsageEntry) {
    add_user("alice");
    add_user("bob");
    const std::string revoked = token_id("alice", "revoked", 1000);
    const std::string kept = token_id("alice", "kept", 1000);
    const std::string bobs = token_id("bob", "bobs", 1000);
    workers_record({{revoked, 5000}, {kept, 5000}, {bobs, 5000}});

    ASSERT_TRUE(store_->revoke_token(Actor::system(), revoked).ok());
    ASSERT_TRUE(store_->delete_user("bob").ok());
    store_.reset();
    UsageFile reader(path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({revoked, kept, bobs}), (std::vector<std::int64_t>{0, 5000, 0}));
}

}  // namespace
}  // namespace pat::testing
