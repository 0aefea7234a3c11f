// Client-side deadlines (src/fleet/pg.hpp): with PostgreSQL frozen by
// SIGSTOP (postmaster and backends; the kernel still ACKs, so neither
// tcp_user_timeout nor the server's statement_timeout fires) a statement
// gives up after kClientDeadlineMs, its connection reports unusable, a
// connection attempt gives up after the connect timeout, and a follower
// told to stop returns within ~1 s; after SIGCONT everything works again.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "../../src/fleet/admin.hpp"
#include "../../src/fleet/follower.hpp"
#include "../../src/fleet/pg.hpp"
#include "fleet_pg_fixture.hpp"
#include "pat/store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using pat::fleet::Connection;
using pat::fleet::Purpose;

long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// The postmaster (postmaster.pid's first line) and its children.
std::vector<pid_t> server_pids() {
    std::vector<pid_t> pids;
    std::ifstream pidfile(fleet_test::server().dir() + "/data/postmaster.pid");
    long postmaster = 0;
    pidfile >> postmaster;
    if (postmaster <= 0) return pids;
    pids.push_back(static_cast<pid_t>(postmaster));
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return pids;
    while (dirent* e = ::readdir(proc)) {
        const long pid = std::strtol(e->d_name, nullptr, 10);
        if (pid <= 0) continue;
        std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
        std::string line;
        std::getline(stat, line);
        const std::size_t close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        long ppid = 0;
        if (std::sscanf(line.c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == postmaster) {
            pids.push_back(static_cast<pid_t>(pid));
        }
    }
    ::closedir(proc);
    return pids;
}

// SIGSTOP to the whole server while it lives (SIGCONT however the test ends).
class Freeze {
   public:
    Freeze() : pids_(server_pids()) {
        for (pid_t p : pids_) ::kill(p, SIGSTOP);  // the postmaster first: it forks no more
    }
    ~Freeze() { thaw(); }
    void thaw() {
        if (thawed_) return;
        thawed_ = true;
        for (pid_t p : pids_) ::kill(p, SIGCONT);
    }
    std::size_t count() const { return pids_.size(); }

   private:
    std::vector<pid_t> pids_;
    bool thawed_ = false;
};

class FleetDeadline : public ::testing::Test {
   protected:
    void SetUp() override {
        conninfo_ = fleet_test::server().fresh_database();
        char pattern[] = "/tmp/pat-fleet-deadline-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    std::unique_ptr<Connection> connect(const std::string& name) {
        auto c = Connection::open(conninfo_, name, Purpose::writer);
        EXPECT_TRUE(c.ok()) << c.status().message();
        return c.ok() ? std::move(*c) : nullptr;
    }
    bool answers(Connection& c) {
        pat::fleet::Result r = pat::fleet::exec_plain(c.raw(), "SELECT 1");
        return r.tuples_ok() && r.rows() == 1;
    }
    std::string conninfo_, dir_;
};

TEST_F(FleetDeadline, AStatementToAFrozenServerGivesUpAndItsConnectionIsClosed) {
    auto conn = connect("fleet-deadline");
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(answers(*conn));
    ASSERT_TRUE(conn->exec("BEGIN").ok());
    {
        Freeze freeze;
        ASSERT_GE(freeze.count(), 2u);
        const auto start = Clock::now();
        pat::fleet::Params p;
        p.int8(1);
        pat::fleet::Result r = pat::fleet::exec_params(conn->raw(), "SELECT $1::bigint", p);
        const long long took = ms_since(start);
        EXPECT_FALSE(r.tuples_ok());
        EXPECT_GE(took, pat::fleet::kClientDeadlineMs - 100);
        EXPECT_LE(took, pat::fleet::kClientDeadlineMs + 2000);
        const std::string message = pat::fleet::pg_error(conn->raw(), r);
        EXPECT_NE(message.find("PostgreSQL did not answer within 6 s"), std::string::npos) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos);
        // Never reused mid-transaction: the connection is closed.
        EXPECT_FALSE(conn->usable());
        const auto again = Clock::now();
        EXPECT_FALSE(conn->exec("COMMIT").ok());
        EXPECT_LT(ms_since(again), 500);

        // A new connection gives up after the connect timeout (3 s).
        const auto connecting = Clock::now();
        auto refused = Connection::open(conninfo_, "fleet-deadline-2", Purpose::writer);
        EXPECT_FALSE(refused.ok());
        EXPECT_LE(ms_since(connecting), 5000);
        if (!refused.ok()) {
            EXPECT_NE(refused.status().message().find("connect timeout"), std::string::npos)
                << refused.status().message();
        }
    }
    // Thawed: a new connection answers at once.
    auto fresh = connect("fleet-deadline-3");
    ASSERT_NE(fresh, nullptr);
    EXPECT_TRUE(answers(*fresh));
}

TEST_F(FleetDeadline, AFollowerRidesOutAFreezeAndStopsWithinASecondWhileFrozen) {
    auto admin = connect("fleet-deadline-admin");
    ASSERT_NE(admin, nullptr);
    auto init = pat::fleet::init_source(*admin, {});
    ASSERT_TRUE(init.ok()) << init.status().message();
    const std::string connfile = dir_ + "/source.conn";
    std::ofstream(connfile) << conninfo_ << "\n";
    std::filesystem::permissions(connfile, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto store = pat::fleet::open_source_store(connfile, "fleet-deadline-writer");
    ASSERT_TRUE(store.ok()) << store.status().message();

    pat::fleet::FollowerOptions o;
    o.conninfo = conninfo_;
    o.db_path = dir_ + "/n.db";
    o.node = "n";
    o.max_size = std::size_t{64} << 20;
    std::vector<std::string> log;
    std::mutex log_mutex;
    pat::fleet::Follower follower(o, [&](const std::string& line) {
        std::lock_guard<std::mutex> lock(log_mutex);
        log.push_back(line);
    });
    std::atomic<bool> stop{false};
    std::atomic<bool> done{false};
    std::thread runner([&] {
        follower.run(stop);
        done = true;
    });
    auto reaches = [&](std::uint64_t seq, int within_ms) {
        const auto start = Clock::now();
        while (follower.position() < seq && ms_since(start) < within_ms) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return follower.position() >= seq;
    };
    ASSERT_TRUE((*store)->add_group("before").ok());
    EXPECT_TRUE(reaches((*store)->engine().last_committed_position(), 10000));

    // Frozen longer than the deadline: the follower's statement gives up
    // (logged), and once thawed it follows again within 2 s.
    // Frozen until the follower reports it (its round may start up to a
    // second after the freeze, and a busy machine stretches that), at most
    // the deadline plus 10 s.
    // Whichever deadline fires first is reported: the statement's own (6 s),
    // or the kernel's tcp_user_timeout dropping the connection (then the
    // reconnect's connect timeout), which a loaded machine can make first.
    auto gave_up = [&] {
        std::lock_guard<std::mutex> lock(log_mutex);
        for (const std::string& line : log) {
            if (line.find("did not answer within") != std::string::npos ||
                line.find("connection to the source dropped") != std::string::npos ||
                line.find("(connect timeout)") != std::string::npos)
                return true;
        }
        return false;
    };
    {
        Freeze freeze;
        const auto frozen = Clock::now();
        while (!gave_up() && ms_since(frozen) < pat::fleet::kClientDeadlineMs + 10000) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    {
        std::string lines;
        {
            std::lock_guard<std::mutex> lock(log_mutex);
            for (const std::string& line : log) lines += line + "\n";
        }
        EXPECT_TRUE(gave_up()) << "the follower never reported the deadline; its log:\n" << lines;
    }
    const auto thawed = Clock::now();
    ASSERT_TRUE((*store)->add_group("after").ok());
    EXPECT_TRUE(reaches((*store)->engine().last_committed_position(), 3000));
    EXPECT_LE(ms_since(thawed), 3000);
    EXPECT_FALSE(done.load());

    // Stopped while frozen (its once-a-second synchronisation is waiting on
    // the server): it returns within ~1 s.
    long long stopped_in = -1;
    {
        Freeze freeze;
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        const auto stopping = Clock::now();
        stop = true;
        while (!done.load() && ms_since(stopping) < 8000) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        stopped_in = done.load() ? ms_since(stopping) : -1;
    }
    runner.join();
    EXPECT_GE(stopped_in, 0) << "the follower did not stop while the server was frozen";
    EXPECT_LE(stopped_in, 2000);

    // Thawed: a new follower on the same replica synchronises.
    pat::fleet::Follower again(o, [](const std::string&) {});
    pat::Status s = again.sync_once();
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(again.position(), (*store)->engine().last_committed_position());
}

}  // namespace
