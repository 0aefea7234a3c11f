// Store::backup_to and restore_store (pat/store.hpp): a private, lock-free
// copy renamed into place; a restore that checks its source first and
// changes nothing when it refuses.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "store_fixture.hpp"

namespace pat::testing {
namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> user_names(const std::string& path) {
    auto store = Store::open(path, Store::Mode::read_only);
    EXPECT_TRUE(store.ok()) << store.status().message();
    std::vector<std::string> names;
    if (!store.ok()) return names;
    Expected<std::vector<UserInfo>> users = (*store)->list_users();
    EXPECT_TRUE(users.ok());
    if (users.ok()) {
        for (const UserInfo& user : *users) names.push_back(user.name);
    }
    return names;
}

using BackupTest = StoreTest;

TEST_F(BackupTest, BackupIsPrivateLockFreeAndRestoresTheSnapshot) {
    add_user("alice");
    const std::string backup = dir_ + "/backup.db";
    ASSERT_TRUE(store_->backup_to(backup, false).ok());
    struct stat st {};
    ASSERT_EQ(::stat(backup.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_FALSE(exists(backup + "-lock"));
    add_user("bob");
    store_.reset();  // one open per file and process: the restore opens it to wait
    Expected<Restored> restored = restore_store(backup, path_, 5000);
    ASSERT_TRUE(restored.ok()) << restored.status().message();
    EXPECT_TRUE(restored->in_use);
    EXPECT_FALSE(exists(backup + "-lock"));
    EXPECT_EQ(user_names(path_), std::vector<std::string>{"alice"});
}

TEST_F(BackupTest, BackupRefusesAnExistingFileUnlessReplacing) {
    const std::string dest = dir_ + "/taken.db";
    std::ofstream(dest) << "keep me";
    const Status refused = store_->backup_to(dest, false);
    EXPECT_EQ(refused.code(), StatusCode::already_exists);
    EXPECT_EQ(contents(dest), "keep me");
    ASSERT_TRUE(store_->backup_to(dest, true).ok());
    EXPECT_NE(contents(dest), "keep me");
    EXPECT_FALSE(store_->backup_to(path_, true).ok());  // never over the store itself
}

TEST_F(BackupTest, RestoreRefusesWhatIsNotAStoreAndChangesNothing) {
    add_user("alice");
    store_.reset();
    const std::string before = contents(path_);
    const std::string junk = dir_ + "/junk.db";
    std::ofstream(junk) << std::string(8192, 'x');
    for (const std::string& source : {junk, dir_ + "/absent.db", path_ + "-usage", path_}) {
        Expected<Restored> restored = restore_store(source, path_, 1000);
        EXPECT_FALSE(restored.ok()) << source;
        if (source == junk) {
            EXPECT_FALSE(exists(junk + "-lock"));
        }
    }
    EXPECT_EQ(contents(path_), before);
}

}  // namespace
}  // namespace pat::testing
