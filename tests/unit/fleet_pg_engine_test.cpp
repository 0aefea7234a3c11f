// The PostgreSQL kv::Engine against a real PostgreSQL 15
// (fleet_pg_fixture.hpp): result codes, memcmp ordering and prefix scans,
// the change log (gapless, in commit order, also with concurrent writers),
// NOTIFY, rollback on failure and on a lost connection, the CONNFILE.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "../../src/fleet/admin.hpp"
#include "../../src/fleet/pg.hpp"
#include "../../src/fleet/pg_engine.hpp"
#include "fleet_pg_fixture.hpp"

namespace {

using pat::Status;
using pat::StatusCode;
using pat::fleet::Connection;
using pat::fleet::PgEngine;
using pat::fleet::Purpose;
namespace kv = pat::kv;

class FleetPgEngine : public ::testing::Test {
   protected:
    void SetUp() override {
        conninfo_ = fleet_test::server().fresh_database();
        auto conn = Connection::open(conninfo_, "fleet-test", Purpose::writer);
        ASSERT_TRUE(conn.ok()) << conn.status().message();
        admin_ = std::move(*conn);
        ASSERT_TRUE(admin_->exec("BEGIN").ok());
        ASSERT_TRUE(pat::fleet::create_schema(*admin_, "test-source").ok());
        ASSERT_TRUE(admin_->exec("COMMIT").ok());
        auto engine = PgEngine::open(conninfo_, "fleet-test-engine");
        ASSERT_TRUE(engine.ok()) << engine.status().message();
        engine_ = std::move(*engine);
    }

    std::int64_t scalar(const std::string& sql) {
        pat::fleet::Result r = pat::fleet::exec_plain(admin_->raw(), sql);
        EXPECT_TRUE(r.tuples_ok()) << pat::fleet::pg_error(admin_->raw(), r);
        if (!r.tuples_ok() || r.rows() != 1 || r.is_null(0, 0)) return -1;
        return std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
    }

    Status put(kv::Table t, std::string_view key, std::string_view value, kv::Put mode = kv::Put::upsert,
               int* code = nullptr) {
        return engine_->write(
            [&](kv::Txn& txn) {
                int rc = txn.put(t, key, value, mode);
                if (code != nullptr) *code = rc;
                return rc == kv::kOk ? Status::success() : Status(StatusCode::refused, "rc " + std::to_string(rc));
            },
            kv::Space::ordinary);
    }

    std::string conninfo_;
    std::unique_ptr<Connection> admin_;
    std::unique_ptr<PgEngine> engine_;
};

TEST_F(FleetPgEngine, ResultCodesAndTheChangeLog) {
    // A binary key with NUL and 0xff, an empty value.
    const std::string key("a\0\xff", 3);
    ASSERT_TRUE(put(kv::Table::tokens, key, "v1").ok());
    EXPECT_EQ(engine_->last_committed_position(), 1u);
    ASSERT_TRUE(put(kv::Table::tokens, key, "").ok());
    EXPECT_EQ(engine_->last_committed_position(), 2u);

    int code = -1;
    EXPECT_FALSE(put(kv::Table::tokens, key, "v3", kv::Put::no_overwrite, &code).ok());
    EXPECT_EQ(code, kv::kKeyExists);

    Status s = engine_->write(
        [&](kv::Txn& txn) {
            EXPECT_EQ(txn.del(kv::Table::tokens, "missing"), kv::kNotFound);
            std::string_view v;
            EXPECT_EQ(txn.get(kv::Table::tokens, "missing", v), kv::kNotFound);
            EXPECT_EQ(txn.get(kv::Table::tokens, key, v), kv::kOk);
            EXPECT_EQ(v, "");
            EXPECT_EQ(txn.del(kv::Table::tokens, key), kv::kOk);
            return Status::success();
        },
        kv::Space::ordinary);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(engine_->last_committed_position(), 3u);
    // Neither the refused no_overwrite nor the missing delete left a change row.
    EXPECT_EQ(scalar("SELECT seq FROM pat_head"), 3);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_changes"), 3);
    EXPECT_EQ(scalar("SELECT max(seq) - min(seq) + 1 FROM pat_changes"), 3);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_changes WHERE seq = 3 AND value IS NULL"), 1);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_changes WHERE seq = 2 AND value = ''::bytea"), 1);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_records"), 0);

    auto txn = engine_->read();
    ASSERT_TRUE(txn.ok());
    std::string_view v;
    EXPECT_EQ((*txn)->get(kv::Table::tokens, key, v), kv::kNotFound);
    EXPECT_EQ((*txn)->put(kv::Table::tokens, "x", "y"), kv::kFailed);  // a read transaction
}

TEST_F(FleetPgEngine, AFailedBodyChangesNothing) {
    ASSERT_TRUE(put(kv::Table::users, "alice", "1").ok());
    Status s = engine_->write(
        [&](kv::Txn& txn) {
            EXPECT_EQ(txn.put(kv::Table::users, "bob", "2"), kv::kOk);
            EXPECT_EQ(txn.del(kv::Table::users, "alice"), kv::kOk);
            return Status(StatusCode::refused, "no");
        },
        kv::Space::ordinary);
    EXPECT_EQ(s.code(), StatusCode::refused);
    EXPECT_EQ(scalar("SELECT seq FROM pat_head"), 1);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_changes"), 1);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_records WHERE key = 'alice'::bytea"), 1);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_records WHERE key = 'bob'::bytea"), 0);
}

TEST_F(FleetPgEngine, ScansInMemcmpOrderWithPrefixes) {
    std::vector<std::string> keys = {std::string("\0", 1),
                                     std::string("\0\x01", 2),
                                     "a",
                                     "a\xff",
                                     "a\xff\xff",
                                     "ab",
                                     "b",
                                     "\x7f",
                                     "\x80",
                                     "\xff",
                                     "\xff\xff",
                                     "B",
                                     "a\0x"};
    keys.back() = std::string("a\0x", 3);
    ASSERT_TRUE(engine_
                    ->write(
                        [&](kv::Txn& txn) {
                            for (const auto& k : keys) EXPECT_EQ(txn.put(kv::Table::grants, k, "v" + k), kv::kOk);
                            EXPECT_EQ(txn.put(kv::Table::users, "a1", "other table"), kv::kOk);
                            return Status::success();
                        },
                        kv::Space::ordinary)
                    .ok());
    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());  // std::string compares as memcmp (char_traits<char> is unsigned)
    auto scan = [&](std::string_view prefix, bool reverse) {
        std::vector<std::string> seen;
        auto txn = engine_->read();
        EXPECT_TRUE(txn.ok());
        EXPECT_EQ((*txn)->scan(
                      kv::Table::grants, prefix,
                      [&](std::string_view k, std::string_view v) {
                          EXPECT_EQ(v, "v" + std::string(k));
                          seen.emplace_back(k);
                          return true;
                      },
                      reverse),
                  kv::kOk);
        return seen;
    };
    EXPECT_EQ(scan("", false), sorted);
    std::vector<std::string> reversed(sorted.rbegin(), sorted.rend());
    EXPECT_EQ(scan("", true), reversed);
    EXPECT_EQ(scan("a", false), (std::vector<std::string>{"a", std::string("a\0x", 3), "ab", "a\xff", "a\xff\xff"}));
    EXPECT_EQ(scan("a\xff", false), (std::vector<std::string>{"a\xff", "a\xff\xff"}));
    EXPECT_EQ(scan("\xff", false), (std::vector<std::string>{"\xff", "\xff\xff"}));
    EXPECT_EQ(scan(std::string("\0", 1), true),
              (std::vector<std::string>{std::string("\0\x01", 2), std::string("\0", 1)}));
    EXPECT_TRUE(scan("zz", false).empty());

    auto txn = engine_->read();
    std::size_t rows = 0;
    EXPECT_EQ((*txn)->count(kv::Table::grants, rows), kv::kOk);
    EXPECT_EQ(rows, keys.size());
    // Stopping early.
    int visited = 0;
    EXPECT_EQ((*txn)->scan(kv::Table::grants, "", [&](std::string_view, std::string_view) { return ++visited < 2; }),
              kv::kOk);
    EXPECT_EQ(visited, 2);
    // A visitor that reads (Store::list_tokens gets each token while it
    // scans): the scan's rows stay valid while get() adds results.
    std::vector<std::string> values;
    EXPECT_EQ((*txn)->scan(kv::Table::grants, "",
                           [&](std::string_view k, std::string_view) {
                               for (int i = 0; i < 3; ++i) {
                                   std::string_view v;
                                   EXPECT_EQ((*txn)->get(kv::Table::grants, k, v), kv::kOk);
                               }
                               values.emplace_back(k);
                               return true;
                           }),
              kv::kOk);
    EXPECT_EQ(values, sorted);
}

TEST_F(FleetPgEngine, AReadIsOneSnapshot) {
    ASSERT_TRUE(put(kv::Table::users, "alice", "1").ok());
    auto txn = engine_->read();
    ASSERT_TRUE(txn.ok());
    std::string_view v;
    ASSERT_EQ((*txn)->get(kv::Table::users, "alice", v), kv::kOk);
    ASSERT_TRUE(put(kv::Table::users, "alice", "2").ok());  // another connection of the pool
    ASSERT_TRUE(put(kv::Table::users, "bob", "3").ok());
    std::string_view again;
    EXPECT_EQ((*txn)->get(kv::Table::users, "alice", again), kv::kOk);
    EXPECT_EQ(again, "1");
    EXPECT_EQ(v, "1");  // still valid
    EXPECT_EQ((*txn)->get(kv::Table::users, "bob", again), kv::kNotFound);
}

TEST_F(FleetPgEngine, ConcurrentWritersLeaveAGaplessLogInCommitOrder) {
    constexpr int kPerWriter = 150;
    auto writer = [&](int id) {
        auto engine = PgEngine::open(conninfo_, "fleet-test-writer");
        ASSERT_TRUE(engine.ok());
        for (int i = 0; i < kPerWriter; ++i) {
            Status s = (*engine)->write(
                [&](kv::Txn& txn) {
                    std::string k = "w" + std::to_string(id) + "-" + std::to_string(i);
                    EXPECT_EQ(txn.put(kv::Table::tokens, k, "x"), kv::kOk);
                    EXPECT_EQ(txn.put(kv::Table::token_ids, k, "y"), kv::kOk);
                    return Status::success();
                },
                kv::Space::ordinary);
            ASSERT_TRUE(s.ok()) << s.message();
        }
    };
    // A reader polling like a follower: every time it reads, the rows after
    // what it has seen start right after it and have no hole.
    std::atomic<bool> done{false};
    std::atomic<int> gaps{0};
    std::thread reader([&] {
        auto conn = Connection::open(conninfo_, "fleet-test-reader", Purpose::reader);
        ASSERT_TRUE(conn.ok());
        std::int64_t position = 0;
        while (!done.load()) {
            pat::fleet::Result r =
                pat::fleet::exec_plain((*conn)->raw(), "SELECT seq FROM pat_changes WHERE seq > " +
                                                           std::to_string(position) + " ORDER BY seq");
            ASSERT_TRUE(r.tuples_ok());
            for (int i = 0; i < r.rows(); ++i) {
                std::int64_t seq = std::strtoll(PQgetvalue(r.get(), i, 0), nullptr, 10);
                if (seq != position + 1) ++gaps;
                position = seq;
            }
        }
    });
    std::thread a(writer, 1), b(writer, 2);
    a.join();
    b.join();
    done = true;
    reader.join();
    EXPECT_EQ(gaps.load(), 0);
    EXPECT_EQ(scalar("SELECT seq FROM pat_head"), 4 * kPerWriter);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_changes"), 4 * kPerWriter);
    EXPECT_EQ(scalar("SELECT max(seq) FROM pat_changes"), 4 * kPerWriter);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_records"), 4 * kPerWriter);
}

// The ordering test: two overlapping writes where the later-starting
// one would commit first. With seq taken under the head's lock the later one
// waits, so a reader never passes a seq that commits afterwards. The same
// scenario with a bigserial shows the hole the head lock prevents.
TEST_F(FleetPgEngine, AnOverlappingSlowWriterIsNeverSkipped) {
    std::atomic<bool> slow_inside{false};
    std::uint64_t slow_seq = 0, fast_seq = 0;
    std::thread slow([&] {
        auto engine = PgEngine::open(conninfo_, "fleet-test-slow");
        ASSERT_TRUE(engine.ok());
        Status s = (*engine)->write(
            [&](kv::Txn& txn) {
                EXPECT_EQ(txn.put(kv::Table::users, "slow", "1"), kv::kOk);
                slow_inside = true;
                std::this_thread::sleep_for(std::chrono::milliseconds(600));
                return Status::success();
            },
            kv::Space::ordinary);
        ASSERT_TRUE(s.ok()) << s.message();
        slow_seq = (*engine)->last_committed_position();
    });
    while (!slow_inside.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // The fast writer starts while the slow one is open; a reader looks meanwhile.
    std::thread fast([&] {
        ASSERT_TRUE(put(kv::Table::users, "fast", "2").ok());
        fast_seq = engine_->last_committed_position();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_changes"), 0);  // nothing visible past which a reader could move
    fast.join();
    slow.join();
    EXPECT_EQ(slow_seq, 1u);
    EXPECT_EQ(fast_seq, 2u);

    // The bigserial way: T1 takes 1 and stays open, T2 takes 2 and commits;
    // a reader then sees 2 without 1: the gap check fires (a follower that
    // trusted "max seen" would skip 1 for ever).
    ASSERT_TRUE(admin_->exec("CREATE TABLE serial_log (seq bigserial PRIMARY KEY, v text)").ok());
    auto t1 = Connection::open(conninfo_, "t1", Purpose::writer);
    auto t2 = Connection::open(conninfo_, "t2", Purpose::writer);
    ASSERT_TRUE(t1.ok() && t2.ok());
    ASSERT_TRUE((*t1)->exec("BEGIN; INSERT INTO serial_log (v) VALUES ('slow')").ok());
    ASSERT_TRUE((*t2)->exec("BEGIN; INSERT INTO serial_log (v) VALUES ('fast'); COMMIT").ok());
    EXPECT_EQ(scalar("SELECT min(seq) FROM serial_log"), 2);  // 1 is not there: a reader at 0 would see a gap
    ASSERT_TRUE((*t1)->exec("COMMIT").ok());
}

TEST_F(FleetPgEngine, NotifiesTheSeqOnly) {
    auto listener = Connection::open(conninfo_, "fleet-test-listen", Purpose::reader);
    ASSERT_TRUE(listener.ok());
    ASSERT_TRUE((*listener)->exec("LISTEN pat_changes").ok());
    ASSERT_TRUE(put(kv::Table::tokens, "secret-digest", "secret-record").ok());
    PGnotify* n = nullptr;
    for (int i = 0; i < 100 && n == nullptr; ++i) {
        PQconsumeInput((*listener)->raw());
        n = PQnotifies((*listener)->raw());
        if (n == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(n, nullptr);
    EXPECT_STREQ(n->relname, "pat_changes");
    EXPECT_STREQ(n->extra, "1");
    PQfreemem(n);
    // The server logs every statement (log_statement=all), never the
    // parameters' values (hex of "secret-record" and "secret-digest").
    std::ifstream in(fleet_test::server().dir() + "/server.log");
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(log.find("INSERT INTO pat_changes"), std::string::npos);
    EXPECT_EQ(log.find(pat::fleet::hex("secret-record")), std::string::npos);
    EXPECT_EQ(log.find(pat::fleet::hex("secret-digest")), std::string::npos);
    EXPECT_EQ(log.find("secret-record"), std::string::npos);
}

TEST_F(FleetPgEngine, ALostConnectionRollsBackAndTheNextWriteReconnects) {
    ASSERT_TRUE(put(kv::Table::users, "alice", "1").ok());
    Status s = engine_->write(
        [&](kv::Txn& txn) {
            EXPECT_EQ(txn.put(kv::Table::users, "bob", "2"), kv::kOk);
            // Kill this transaction's backend from outside.
            EXPECT_EQ(scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                             "application_name = 'fleet-test-engine' AND state = 'idle in transaction'"),
                      1);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            int rc = txn.put(kv::Table::users, "carol", "3");
            return rc == kv::kOk ? Status::success() : Status(StatusCode::store_error, txn.failure());
        },
        kv::Space::ordinary);
    EXPECT_EQ(s.code(), StatusCode::store_error);
    EXPECT_EQ(s.message().find("password"), std::string::npos);
    EXPECT_EQ(scalar("SELECT seq FROM pat_head"), 1);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_records"), 1);
    ASSERT_TRUE(put(kv::Table::users, "dave", "4").ok());
    EXPECT_EQ(scalar("SELECT seq FROM pat_head"), 2);
}

TEST_F(FleetPgEngine, LastUsedReadsPatUsageAndGivesZerosWhenItCannot) {
    ASSERT_TRUE(admin_
                    ->exec("INSERT INTO pat_usage (token_id, last_used_ms) VALUES "
                           "('111111111111', 5000), ('222222222222', 7000)")
                    .ok());
    EXPECT_EQ(engine_->last_used({}), (std::vector<std::int64_t>{}));
    EXPECT_EQ(engine_->last_used({"222222222222", "333333333333", "111111111111", "not-an-id", "',1}", "222222222222"}),
              (std::vector<std::int64_t>{7000, 0, 5000, 0, 0, 7000}));
    // No table (or no right to read it): zeros, never a failure.
    ASSERT_TRUE(admin_->exec("DROP TABLE pat_usage").ok());
    EXPECT_EQ(engine_->last_used({"111111111111", "222222222222"}), (std::vector<std::int64_t>{0, 0}));
    // The engine's connections still work.
    ASSERT_TRUE(put(kv::Table::users, "alice", "1").ok());
}

TEST_F(FleetPgEngine, AnUnreachableSourceFailsWithinTheConnectTimeout) {
    const auto start = std::chrono::steady_clock::now();
    // A blackholed address: connect_timeout (3 s) bounds it.
    auto engine = PgEngine::open("host=10.255.255.1 port=5432 dbname=x user=y password=hunter2", "t");
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(engine.ok());
    EXPECT_LT(ms, 6500);
    EXPECT_EQ(engine.status().message().find("hunter2"), std::string::npos) << engine.status().message();
}

class FleetConnfile : public ::testing::Test {
   protected:
    void SetUp() override {
        char pattern[] = "/tmp/pat-connfile-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& text, mode_t mode) {
        std::string path = dir_ + "/conn";
        std::ofstream(path) << text;
        ::chmod(path.c_str(), mode);
        return path;
    }
    std::string dir_;
};

TEST_F(FleetConnfile, ReadsTheFirstStringAndRefusesWhatItMust) {
    auto ok = pat::fleet::read_connfile(write("# the fleet\n\n host=db port=5432 dbname=pat user=w \n", 0640));
    ASSERT_TRUE(ok.ok()) << ok.status().message();
    EXPECT_EQ(*ok, "host=db port=5432 dbname=pat user=w");
    EXPECT_TRUE(pat::fleet::read_connfile(write("postgresql://w@db/pat?sslmode=verify-full\n", 0600)).ok());

    auto world = pat::fleet::read_connfile(write("host=db password=hunter2\n", 0644));
    ASSERT_FALSE(world.ok());
    EXPECT_NE(world.status().message().find("readable by every user"), std::string::npos);
    EXPECT_EQ(world.status().message().find("hunter2"), std::string::npos);

    auto empty = pat::fleet::read_connfile(write("# nothing\n\n", 0600));
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.status().message().find("holds no connection string"), std::string::npos);

    auto bad = pat::fleet::read_connfile(write("host=db password='hunter2\n", 0600));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().message().find("hunter2"), std::string::npos) << bad.status().message();

    auto missing = pat::fleet::read_connfile(dir_ + "/none");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("cannot read"), std::string::npos);
}

}  // namespace
