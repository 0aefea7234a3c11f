// A decision never trusts PATH-lock's transaction id against the data file.
// nginx's workers must be able to write PATH-lock, so a process of their
// user can point readers at the data file's older meta page: the state
// before the last change, e.g. before a revocation. Reproduced here with
// the lock file left describing an older file than the one at the path (a
// second process holds the old one open while a copy with one more
// transaction is renamed over it): the reader's snapshot then lags behind
// the data file exactly as after such a rewrite. A lag is tolerated for at
// most a second (a commit in flight looks the same for an instant); a lock
// file ahead of the data file is refused at once.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "pat/decision.hpp"
#include "pat/store.hpp"
#include "pat/token.hpp"

namespace pat::testing {
namespace {

constexpr const char* kPassword = "alice's password";

class LockRewindTest : public ::testing::Test {
   protected:
    void SetUp() override {
        char dir_template[] = "/tmp/pat-lock-rewind-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
        path_ = dir_ + "/pat.db";
        staging_ = dir_ + "/staging.db";
    }
    void TearDown() override {
        release_holder();
        std::filesystem::remove_all(dir_);
    }

    static std::unique_ptr<Store> open(const std::string& path, Store::Mode mode) {
        auto opened = Store::open(path, mode);
        EXPECT_TRUE(opened.ok()) << opened.status().message();
        return opened.ok() ? std::move(opened.value()) : nullptr;
    }

    // alice with a read token, in a new store at path_.
    void make_store() {
        auto created = Store::create(path_);
        ASSERT_TRUE(created.ok()) << created.status().message();
        Store& store = **created;
        ASSERT_TRUE(store.add_user("alice", "", false, kPassword).ok());
        ASSERT_TRUE(store.grant_project("alice", "WORK", Level::write).ok());
        auto token = store.create_token("alice", kPassword, "ci", std::nullopt, std::nullopt, now_ms());
        ASSERT_TRUE(token.ok()) << token.status().message();
        token_ = token->text;
        token_id_ = token->info.id;
    }

    // A second process opens path_ and keeps it (and so PATH-lock's
    // description of it) until release_holder().
    void hold_the_old_file() {
        int ready[2], release[2];
        ASSERT_EQ(pipe(ready), 0);
        ASSERT_EQ(pipe(release), 0);
        holder_ = fork();
        ASSERT_GE(holder_, 0);
        if (holder_ == 0) {
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
        release_fd_ = release[1];
        char status = 0;
        ASSERT_EQ(read(ready[0], &status, 1), 1);
        close(ready[0]);
        ASSERT_EQ(status, 'y');
    }

    void release_holder() {
        if (holder_ <= 0) return;
        close(release_fd_);
        int wait_status = 0;
        waitpid(holder_, &wait_status, 0);
        holder_ = 0;
    }

    Decision decide(Store& store, std::int64_t now) {
        AccessRequest request;
        request.token = token_;
        request.need = Need::repo_read;
        request.project = "WORK";
        request.repo = "my-repo";
        return store.decide(hasher_, request, now);
    }

    std::string dir_, path_, staging_, token_, token_id_;
    pid_t holder_ = 0;
    int release_fd_ = -1;
    TokenHasher hasher_;
};

TEST_F(LockRewindTest, ALockFileBehindTheDataFileFailsClosedWithinASecond) {
    make_store();
    // The file at the path will have the token revoked, one transaction
    // after the state PATH-lock goes on describing.
    std::filesystem::copy_file(path_, staging_);
    {
        auto copy = open(staging_, Store::Mode::read_write);
        ASSERT_NE(copy, nullptr);
        ASSERT_TRUE(copy->revoke_token(Actor::system(), token_id_).ok());
    }
    std::filesystem::remove(staging_ + "-lock");
    hold_the_old_file();
    std::filesystem::rename(staging_, path_);

    auto store = open(path_, Store::Mode::read_only);
    ASSERT_NE(store, nullptr);
    ASSERT_FALSE(store->check_lock_region().ok());  // the setup is what it should be
    const std::int64_t start = now_ms();
    // Within the second a commit in flight may take, the lagging snapshot
    // may still be read (the state before the newest transaction).
    const Reason first = decide(*store, start).reason;
    EXPECT_TRUE(first == Reason::allowed || first == Reason::store_error) << reason_name(first);
    // Past it, never again: the state before the revocation is refused.
    for (std::int64_t later : {start + 1001, start + 1500, start + 60'000}) {
        EXPECT_EQ(decide(*store, later).reason, Reason::store_error) << later - start;
    }

    // Once nobody holds the old file, an opener fills PATH-lock from the
    // data file: the revocation holds.
    store.reset();
    release_holder();
    auto fresh = open(path_, Store::Mode::read_only);
    ASSERT_NE(fresh, nullptr);
    EXPECT_EQ(decide(*fresh, now_ms()).reason, Reason::revoked);
}

TEST_F(LockRewindTest, ALockFileAheadOfTheDataFileFailsClosedAtOnce) {
    make_store();
    // The file at the path is one transaction older than the state
    // PATH-lock describes (the old file gets one more change after the copy).
    std::filesystem::copy_file(path_, staging_);
    {
        auto store = open(path_, Store::Mode::read_write);
        ASSERT_NE(store, nullptr);
        ASSERT_TRUE(store->grant_project("alice", "OTHER", Level::read).ok());
    }
    hold_the_old_file();
    std::filesystem::remove(staging_ + "-lock");
    std::filesystem::rename(staging_, path_);

    auto store = open(path_, Store::Mode::read_only);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(decide(*store, now_ms()).reason, Reason::store_error);
}

TEST_F(LockRewindTest, AStoreNobodyReplacedDecidesAcrossCommits) {
    make_store();
    auto reader = open(path_, Store::Mode::read_only);
    auto writer = open(path_, Store::Mode::read_write);
    ASSERT_NE(reader, nullptr);
    ASSERT_NE(writer, nullptr);
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(decide(*reader, now_ms()).reason, Reason::allowed) << i;
        ASSERT_TRUE(writer->grant_project("alice", "P" + std::to_string(i), Level::read).ok());
    }
    ASSERT_TRUE(writer->revoke_token(Actor::system(), token_id_).ok());
    EXPECT_EQ(decide(*reader, now_ms()).reason, Reason::revoked);
}

}  // namespace
}  // namespace pat::testing
