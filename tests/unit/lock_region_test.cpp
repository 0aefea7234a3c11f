// Store::check_lock_region against real processes: a store file replaced
// by a rename while another process keeps the old one open leaves PATH-lock
// describing the old file; an opener sees the disagreement, and sees it gone
// once the other process has let go.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "pat/store.hpp"

namespace pat::testing {
namespace {

class LockRegionTest : public ::testing::Test {
   protected:
    void SetUp() override {
        char dir_template[] = "/tmp/pat-lock-region-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
        path_ = dir_ + "/pat.db";
        staging_ = dir_ + "/staging.db";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    static std::unique_ptr<Store> open(const std::string& path) {
        auto opened = Store::open(path, Store::Mode::read_write);
        EXPECT_TRUE(opened.ok()) << opened.status().message();
        return opened.ok() ? std::move(opened.value()) : nullptr;
    }

    static bool has_grant(Store& store, std::string_view key) {
        auto grants = store.list_grants(std::nullopt);
        if (!grants.ok()) return false;
        for (const GrantInfo& grant : *grants) {
            if (grant.project == key) return true;
        }
        return false;
    }

    std::string dir_, path_, staging_;
};

TEST_F(LockRegionTest, AStoreNobodyReplacedAgrees) {
    {
        auto created = Store::create(path_);
        ASSERT_TRUE(created.ok()) << created.status().message();
        EXPECT_TRUE((*created)->check_lock_region().ok());
    }
    auto store = open(path_);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->add_user("alice", "", false, "alice-pw").ok());
    ASSERT_TRUE(store->grant_project("alice", "ONE", Level::read).ok());
    EXPECT_TRUE(store->check_lock_region().ok());
}

TEST_F(LockRegionTest, AFileReplacedWhileAnotherProcessHoldsTheOldOne) {
    {
        auto created = Store::create(path_);
        ASSERT_TRUE(created.ok()) << created.status().message();
        ASSERT_TRUE((*created)->add_user("alice", "", false, "alice-pw").ok());
        ASSERT_TRUE((*created)->grant_project("alice", "ONE", Level::read).ok());
    }
    // The replacement: a copy with one more change (one more transaction).
    std::filesystem::copy_file(path_, staging_);
    {
        auto copy = open(staging_);
        ASSERT_NE(copy, nullptr);
        ASSERT_TRUE(copy->grant_project("alice", "TWO", Level::read).ok());
    }
    std::filesystem::remove(staging_ + "-lock");

    // Another process opens the old file and keeps it open until told.
    int ready[2], release[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(release), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        close(ready[0]);
        close(release[1]);
        auto held = Store::open(path_, Store::Mode::read_only);
        const char status = held.ok() ? 'y' : 'n';
        if (write(ready[1], &status, 1) != 1) _exit(2);
        char byte;
        while (read(release[0], &byte, 1) > 0) {
        }
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    char status = 0;
    ASSERT_EQ(read(ready[0], &status, 1), 1);
    ASSERT_EQ(status, 'y');

    std::filesystem::rename(staging_, path_);
    {
        auto store = open(path_);
        ASSERT_NE(store, nullptr);
        const Status region = store->check_lock_region();
        EXPECT_FALSE(region.ok());
        EXPECT_NE(region.message().find("-lock"), std::string::npos) << region.message();
    }

    close(release[1]);
    int wait_status = 0;
    ASSERT_EQ(waitpid(child, &wait_status, 0), child);
    ASSERT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0);
    close(ready[0]);

    // Nobody holds the old file: the next opener fills PATH-lock afresh.
    auto store = open(path_);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->check_lock_region().ok());
    EXPECT_TRUE(has_grant(*store, "TWO"));
}

}  // namespace
}  // namespace pat::testing
