// The source store (the store's rules over PostgreSQL), fleet init and
// import, the follower's apply and rebuild, prune and verify, against a real
// PostgreSQL 15 (fleet_pg_fixture.hpp) and real LMDB replicas.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../../src/fleet/admin.hpp"
#include "../../src/fleet/follower.hpp"
#include "../../src/fleet/pg.hpp"
#include "fleet_pg_fixture.hpp"
#include "pat/kv.hpp"
#include "pat/store.hpp"

namespace {

using pat::Status;
using pat::Store;
using pat::fleet::Connection;
using pat::fleet::Purpose;

constexpr const char* kPassword = "correct horse battery";

class FleetFollower : public ::testing::Test {
   protected:
    void SetUp() override {
        conninfo_ = fleet_test::server().fresh_database();
        char pattern[] = "/tmp/pat-fleet-node-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
        connfile_ = dir_ + "/source.conn";
        std::ofstream(connfile_) << conninfo_ << "\n";
        ::chmod(connfile_.c_str(), 0600);
        auto conn = Connection::open(conninfo_, "fleet-test-admin", Purpose::writer);
        ASSERT_TRUE(conn.ok()) << conn.status().message();
        admin_ = std::move(*conn);
    }
    void TearDown() override {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    void init() {
        auto r = pat::fleet::init_source(*admin_, {});
        ASSERT_TRUE(r.ok()) << r.status().message();
        ASSERT_TRUE(r->created);
    }

    std::unique_ptr<Store> source() {
        auto store = pat::fleet::open_source_store(connfile_, "fleet-test-writer");
        EXPECT_TRUE(store.ok()) << store.status().message();
        return store.ok() ? std::move(*store) : nullptr;
    }

    pat::fleet::FollowerOptions options(const std::string& name) {
        pat::fleet::FollowerOptions o;
        o.conninfo = conninfo_;
        o.db_path = dir_ + "/" + name + ".db";
        o.node = name;
        o.max_size = std::size_t{64} << 20;
        return o;
    }

    std::int64_t scalar(const std::string& sql) {
        pat::fleet::Result r = pat::fleet::exec_plain(admin_->raw(), sql);
        EXPECT_TRUE(r.tuples_ok()) << pat::fleet::pg_error(admin_->raw(), r);
        if (!r.tuples_ok() || r.rows() != 1 || r.is_null(0, 0)) return -1;
        return std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
    }

    // The replica's digest equals the source's at the replica's position.
    void expect_identical(const std::string& replica_path) {
        auto replica = Store::open(replica_path, Store::Mode::read_only);
        ASSERT_TRUE(replica.ok()) << replica.status().message();
        auto mine = pat::fleet::store_digest(**replica);
        ASSERT_TRUE(mine.ok()) << mine.status().message();
        auto theirs = pat::fleet::source_digest(*admin_, mine->position);
        ASSERT_TRUE(theirs.ok()) << theirs.status().message();
        EXPECT_EQ(theirs->position, mine->position);
        EXPECT_EQ(theirs->sha256, mine->sha256);
        EXPECT_EQ(theirs->records, mine->records);
        EXPECT_FALSE(mine->sha256.empty());
    }

    std::string conninfo_, dir_, connfile_;
    std::unique_ptr<Connection> admin_;
    std::vector<std::string> log_;
    pat::fleet::Follower::Log logger() {
        return [this](const std::string& line) { log_.push_back(line); };
    }
};

TEST_F(FleetFollower, InitIsTheEmptyStoreAndIsIdempotent) {
    init();
    const std::int64_t head = scalar("SELECT seq FROM pat_head");
    EXPECT_GT(head, 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_records"), head);
    // Byte-identical to an empty LMDB store.
    auto empty = Store::create(dir_ + "/empty.db", std::size_t{8} << 20);
    ASSERT_TRUE(empty.ok());
    auto local = pat::fleet::store_digest(**empty);
    auto remote = pat::fleet::source_digest(*admin_, static_cast<std::uint64_t>(head));
    ASSERT_TRUE(local.ok() && remote.ok());
    EXPECT_EQ(local->sha256, remote->sha256);

    auto again = pat::fleet::init_source(*admin_, {});
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->created);
    EXPECT_EQ(scalar("SELECT seq FROM pat_head"), head);

    ASSERT_TRUE(admin_->exec("DROP TABLE pat_changes").ok());
    auto half = pat::fleet::init_source(*admin_, {});
    ASSERT_FALSE(half.ok());
    EXPECT_NE(half.status().message().find("half-made"), std::string::npos) << half.status().message();
}

TEST_F(FleetFollower, TheRulesWriteTheSourceAndTheFollowerApplies) {
    init();
    auto store = source();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->add_user("alice", "Alice", false, kPassword).ok());
    const std::uint64_t after_user = store->engine().last_committed_position();
    EXPECT_EQ(static_cast<std::int64_t>(after_user), scalar("SELECT seq FROM pat_head"));
    auto token = store->create_token("alice", kPassword, "ci", std::nullopt, std::nullopt, pat::now_ms());
    ASSERT_TRUE(token.ok()) << token.status().message();
    // No token text or digest in a NOTIFY payload or the log's keys in clear: the
    // token text never reaches PostgreSQL at all.
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_changes WHERE position(convert_to('" + token->text +
                     "', 'UTF8') IN value) > 0 OR position(convert_to('" + token->text + "', 'UTF8') IN key) > 0"),
              0);

    pat::fleet::Follower follower(options("a"), logger());
    Status s = follower.sync_once();
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(follower.rebuilds(), 1u);  // a new node bootstraps from a snapshot
    EXPECT_EQ(static_cast<std::int64_t>(follower.position()), scalar("SELECT seq FROM pat_head"));
    expect_identical(dir_ + "/a.db");
    {
        auto replica = Store::open(dir_ + "/a.db", Store::Mode::read_only);
        ASSERT_TRUE(replica.ok());
        auto got = (*replica)->get_token(token->info.id);
        ASSERT_TRUE(got.ok()) << got.status().message();
        EXPECT_EQ(got->owner, "alice");
        auto state = (*replica)->replica_state();
        ASSERT_TRUE(state.ok() && state->has_value());
        EXPECT_EQ((*state)->position, follower.position());
        EXPECT_EQ((*state)->source_head, follower.position());
        auto boot = pat::current_boot_id();
        ASSERT_TRUE(boot.ok());
        auto age = pat::verified_age_ms(**state, *boot, pat::boottime_ns());
        ASSERT_TRUE(age.has_value());
        EXPECT_LT(*age, 5000);
    }

    // A revocation is applied by the log (no rebuild) and "verified at" moves
    // on even when nothing changed.
    ASSERT_TRUE(store->revoke_token(pat::Actor::system(), token->info.id).ok());
    ASSERT_TRUE(follower.sync_once().ok());
    EXPECT_EQ(follower.rebuilds(), 1u);
    {
        auto replica = Store::open(dir_ + "/a.db", Store::Mode::read_only);
        ASSERT_TRUE(replica.ok());
        EXPECT_EQ((*replica)->get_token(token->info.id).status().code(), pat::StatusCode::not_found);
    }
    expect_identical(dir_ + "/a.db");
    std::int64_t first_verified = 0;
    {
        auto replica = Store::open(dir_ + "/a.db", Store::Mode::read_only);
        first_verified = (*(*replica)->replica_state())->verified_boot_ns;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(follower.sync_once().ok());
    {
        auto replica = Store::open(dir_ + "/a.db", Store::Mode::read_only);
        EXPECT_GT((*(*replica)->replica_state())->verified_boot_ns, first_verified);
    }
}

TEST_F(FleetFollower, RebuildsAfterPruneAfterARewindAndForAnotherSource) {
    init();
    auto store = source();
    ASSERT_NE(store, nullptr);
    pat::fleet::Follower follower(options("b"), logger());
    ASSERT_TRUE(follower.sync_once().ok());
    ASSERT_EQ(follower.rebuilds(), 1u);

    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(store->add_user("user" + std::to_string(i), "", false, kPassword).ok());
    }
    // Pruned past the follower's position: it rebuilds, by itself.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto pruned = pat::fleet::prune_changes(*admin_, 0);
    ASSERT_TRUE(pruned.ok()) << pruned.status().message();
    EXPECT_GT(*pruned, 0u);
    EXPECT_EQ(scalar("SELECT count(*) FROM pat_changes"), 1);  // the head's own row stays
    EXPECT_EQ(scalar("SELECT seq FROM pat_changes"), scalar("SELECT seq FROM pat_head"));
    ASSERT_TRUE(follower.sync_once().ok());
    EXPECT_EQ(follower.rebuilds(), 2u);
    expect_identical(dir_ + "/b.db");

    // The source's head behind the replica (a restored backup): rebuild.
    ASSERT_TRUE(admin_
                    ->exec("DELETE FROM pat_changes WHERE seq = (SELECT seq FROM pat_head); "
                           "UPDATE pat_head SET seq = seq - 1")
                    .ok());
    ASSERT_TRUE(follower.sync_once().ok());
    EXPECT_EQ(follower.rebuilds(), 3u);
    EXPECT_EQ(static_cast<std::int64_t>(follower.position()), scalar("SELECT seq FROM pat_head"));

    // Another source (same numbers, another id): rebuild.
    ASSERT_TRUE(admin_->exec("UPDATE pat_head SET source_id = 'another'").ok());
    ASSERT_TRUE(follower.sync_once().ok());
    EXPECT_EQ(follower.rebuilds(), 4u);
    expect_identical(dir_ + "/b.db");

    // The replica removed behind its back: made again.
    std::filesystem::remove(dir_ + "/b.db");
    ASSERT_TRUE(follower.sync_once().ok());
    EXPECT_EQ(follower.rebuilds(), 5u);
    expect_identical(dir_ + "/b.db");
}

// A restored backup (or a failover that lost commits) whose new writes have
// taken the head past the replica's position again: the change at the
// position is another one (its commit time differs), so the follower
// rebuilds instead of applying the rest of a different history on top of
// commits the source no longer has.
TEST_F(FleetFollower, RebuildsWhenTheSourcesHistoryWasRewrittenPastItsPosition) {
    init();
    auto store = source();
    ASSERT_NE(store, nullptr);
    pat::fleet::Follower follower(options("h"), logger());
    ASSERT_TRUE(follower.sync_once().ok());
    ASSERT_EQ(follower.rebuilds(), 1u);
    ASSERT_TRUE(store->add_user("kept", "", false, kPassword).ok());
    const std::int64_t restored_to = scalar("SELECT seq FROM pat_head");
    ASSERT_TRUE(store->add_user("lost", "", false, kPassword).ok());
    ASSERT_TRUE(follower.sync_once().ok());
    const std::int64_t position = static_cast<std::int64_t>(follower.position());
    ASSERT_EQ(position, scalar("SELECT seq FROM pat_head"));
    ASSERT_EQ(follower.rebuilds(), 1u);

    // The source as a backup taken at restored_to had it: "lost"'s records and changes gone.
    const std::string cut = std::to_string(restored_to);
    ASSERT_TRUE(admin_
                    ->exec("DELETE FROM pat_records r USING pat_changes c WHERE c.seq > " + cut +
                           " AND r.tbl = c.tbl AND r.key = c.key; DELETE FROM pat_changes WHERE seq > " + cut +
                           "; UPDATE pat_head SET seq = " + cut)
                    .ok());
    // New writes take the head past the follower's position again.
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->add_user("new" + std::to_string(i), "", false, kPassword).ok());
    ASSERT_GT(scalar("SELECT seq FROM pat_head"), position);

    ASSERT_TRUE(follower.sync_once().ok());
    EXPECT_EQ(follower.rebuilds(), 2u);
    expect_identical(dir_ + "/h.db");
}

TEST_F(FleetFollower, AGapOrAnUnknownTableAppliesNothing) {
    init();
    auto store = source();
    pat::fleet::Follower follower(options("c"), logger());
    ASSERT_TRUE(follower.sync_once().ok());
    const std::uint64_t position = follower.position();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->add_user("u" + std::to_string(i), "", false, kPassword).ok());
    // A hole in the middle of what the follower needs (not at its start,
    // which would mean "pruned").
    ASSERT_TRUE(admin_->exec("DELETE FROM pat_changes WHERE seq = " + std::to_string(position + 2)).ok());
    Status s = follower.sync_once();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("gap"), std::string::npos) << s.message();
    EXPECT_EQ(follower.position(), position);

    ASSERT_TRUE(pat::fleet::init_source(*admin_, {}).ok());  // already initialised: nothing changes
    ASSERT_TRUE(admin_->exec("TRUNCATE pat_changes").ok());
    pat::fleet::Follower other(options("d"), logger());
    ASSERT_TRUE(admin_->exec("INSERT INTO pat_records VALUES (99, 'k', 'v')").ok());
    Status unknown = other.sync_once();
    EXPECT_FALSE(unknown.ok());
    EXPECT_NE(unknown.message().find("does not know"), std::string::npos) << unknown.message();
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/d.db"));
}

TEST_F(FleetFollower, ImportKeepsEveryTokenAndRefusesANonEmptySource) {
    init();
    const std::string path = dir_ + "/single.db";
    std::string token_text;
    std::string token_id;
    {
        auto single = Store::create(path, std::size_t{16} << 20);
        ASSERT_TRUE(single.ok());
        ASSERT_TRUE((*single)->add_user("bob", "Bob", true, kPassword).ok());
        ASSERT_TRUE((*single)->add_group("backend").ok());
        ASSERT_TRUE((*single)->add_group_members("backend", {"bob"}).ok());
        ASSERT_TRUE((*single)->set_grant(pat::Grantee::group("backend"), "WORK", "", pat::Level::write).ok());
        auto token = (*single)->create_token("bob", kPassword, "laptop", std::nullopt, std::nullopt, pat::now_ms());
        ASSERT_TRUE(token.ok());
        token_text = token->text;
        token_id = token->info.id;
    }
    auto single = Store::open(path, Store::Mode::read_only);
    ASSERT_TRUE(single.ok());
    auto imported = pat::fleet::import_store(*admin_, **single);
    ASSERT_TRUE(imported.ok()) << imported.status().message();
    EXPECT_EQ(static_cast<std::int64_t>(imported->head), scalar("SELECT seq FROM pat_head"));
    auto local = pat::fleet::store_digest(**single);
    auto remote = pat::fleet::source_digest(*admin_, imported->head);
    ASSERT_TRUE(local.ok() && remote.ok());
    EXPECT_EQ(local->sha256, remote->sha256);

    // A follower replaying the whole log from 0 reaches the same bytes.
    ASSERT_TRUE(admin_->exec("SELECT 1").ok());
    EXPECT_EQ(scalar("SELECT min(seq) FROM pat_changes"), 1);
    pat::fleet::Follower follower(options("e"), logger());
    ASSERT_TRUE(follower.sync_once().ok());
    expect_identical(dir_ + "/e.db");
    auto replica = Store::open(dir_ + "/e.db", Store::Mode::read_only);
    auto got = (*replica)->get_token(token_id);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->owner, "bob");

    auto again = pat::fleet::import_store(*admin_, **single);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.status().message().find("not empty"), std::string::npos) << again.status().message();
    EXPECT_EQ(static_cast<std::int64_t>(imported->head), scalar("SELECT seq FROM pat_head"));
}

TEST_F(FleetFollower, FleetNodesReadsTheFollowersApplicationName) {
    init();
    pat::fleet::Follower follower(options("node-7"), logger());
    ASSERT_TRUE(follower.sync_once().ok());
    ASSERT_TRUE(follower.sync_once().ok());  // reports its position after applying
    auto nodes = pat::fleet::fleet_nodes(*admin_);
    ASSERT_TRUE(nodes.ok()) << nodes.status().message();
    ASSERT_EQ(nodes->size(), 1u);
    EXPECT_EQ((*nodes)[0].node, "node-7");
    EXPECT_EQ((*nodes)[0].position, follower.position());
    EXPECT_EQ(pat::fleet::nodes_at(*nodes, follower.position()), 1u);
    EXPECT_EQ(pat::fleet::nodes_at(*nodes, follower.position() + 1), 0u);
}

TEST_F(FleetFollower, NoDigestOrPasswordHashInTheServersStatementLog) {
    init();
    auto store = source();
    ASSERT_TRUE(store->add_user("erin", "", false, kPassword).ok());
    auto token = store->create_token("erin", kPassword, "ci", std::nullopt, std::nullopt, pat::now_ms());
    ASSERT_TRUE(token.ok());
    pat::fleet::Result r =
        pat::fleet::exec_plain(admin_->raw(),
                               "SELECT encode(key, 'hex') FROM pat_records WHERE tbl = 3 UNION ALL "
                               "SELECT encode(value, 'hex') FROM pat_records WHERE tbl = 1 AND key = 'erin'::bytea");
    ASSERT_TRUE(r.tuples_ok());
    ASSERT_EQ(r.rows(), 2);
    std::ifstream in(fleet_test::server().dir() + "/server.log");
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_NE(log.find("pat_records"), std::string::npos);  // statements are logged
    for (int i = 0; i < r.rows(); ++i) {
        EXPECT_EQ(log.find(r.text(i, 0).substr(0, 32)), std::string::npos) << "row " << i;
    }
    EXPECT_EQ(log.find(token->text), std::string::npos);
    EXPECT_EQ(log.find(kPassword), std::string::npos);
}

TEST_F(FleetFollower, ARecordThatDoesNotDecodeAppliesNothing) {
    init();
    pat::fleet::Follower follower(options("f"), logger());
    ASSERT_TRUE(follower.sync_once().ok());
    const std::uint64_t position = follower.position();
    ASSERT_TRUE(admin_
                    ->exec("BEGIN; "
                           "INSERT INTO pat_changes (seq, tbl, key, value) SELECT seq + 1, 1, 'mallory', '\\x00' "
                           "FROM pat_head; UPDATE pat_head SET seq = seq + 1; COMMIT")
                    .ok());
    Status s = follower.sync_once();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("does not decode"), std::string::npos) << s.message();
    EXPECT_EQ(follower.position(), position);
    auto replica = Store::open(dir_ + "/f.db", Store::Mode::read_only);
    ASSERT_TRUE(replica.ok());
    EXPECT_EQ((*(*replica)->replica_state())->position, position);
}

// A running follower is woken by NOTIFY: each change is applied (and its
// position reported) well before the one-second poll would find it.
TEST_F(FleetFollower, ARunningFollowerAppliesOnTheNotification) {
    init();
    auto store = source();
    std::atomic<bool> stop{false};
    pat::fleet::Follower follower(options("g"), logger());
    std::thread runner([&] { follower.run(stop); });
    auto reported = [&]() -> std::uint64_t {
        auto nodes = pat::fleet::fleet_nodes(*admin_);
        return nodes.ok() && nodes->size() == 1 ? (*nodes)[0].position : 0;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (reported() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::vector<std::int64_t> latencies;
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(store->add_group("g" + std::to_string(i)).ok());  // cheap: no password hashing
        const std::uint64_t seq = store->engine().last_committed_position();
        const auto start = std::chrono::steady_clock::now();
        while (reported() < seq && std::chrono::steady_clock::now() - start < std::chrono::seconds(3)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        latencies.push_back(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
        // Spread the writes over the follower's one-second cycle.
        std::this_thread::sleep_for(std::chrono::milliseconds(37));
    }
    stop = true;
    runner.join();
    std::sort(latencies.begin(), latencies.end());
    // The poll alone would average 500 ms; the notification makes it a few ms.
    EXPECT_LT(latencies[latencies.size() / 2], 200) << "median";
    EXPECT_LT(latencies.back(), 900) << "max";
    EXPECT_EQ(follower.rebuilds(), 1u);
    expect_identical(dir_ + "/g.db");
}

}  // namespace
