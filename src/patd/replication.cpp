#include "replication.hpp"

#include <chrono>
#include <thread>

#include "log.hpp"
#include "pat/fleet.hpp"

namespace patd {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kLocalWait = std::chrono::milliseconds(2000);
constexpr auto kLocalPoll = std::chrono::milliseconds(5);
constexpr auto kNodesGrace = std::chrono::milliseconds(200);
constexpr auto kNodesPoll = std::chrono::milliseconds(20);

}  // namespace

ReplicationWatch::ReplicationWatch(StoreHolder& replica, std::string connfile)
    : replica_(replica), connfile_(std::move(connfile)) {}

ReplicationWatch::~ReplicationWatch() = default;

std::optional<std::pair<std::size_t, std::size_t>> ReplicationWatch::count_nodes(std::uint64_t seq) {
    const std::lock_guard lock(mutex_);
    if (!connection_ || !connection_->usable()) {
        connection_.reset();
        auto opened = pat::fleet::Connection::open_connfile(connfile_, "nginx-pat patd", pat::fleet::Purpose::reader);
        if (!opened) {
            if (opened.status().message() != last_failure_) {
                last_failure_ = opened.status().message();
                log_line(Level::error, "cannot count the fleet's nodes: " + last_failure_);
            }
            return std::nullopt;
        }
        connection_ = std::move(opened.value());
    }
    auto nodes = pat::fleet::fleet_nodes(*connection_);
    if (!nodes) {
        if (nodes.status().message() != last_failure_) {
            last_failure_ = nodes.status().message();
            log_line(Level::error, "cannot count the fleet's nodes: " + last_failure_);
        }
        connection_.reset();
        return std::nullopt;
    }
    last_failure_.clear();
    return std::make_pair(pat::fleet::nodes_at(*nodes, seq), nodes->size());
}

ReplicationWatch::Outcome ReplicationWatch::await(std::uint64_t seq) {
    Outcome outcome;
    const auto deadline = Clock::now() + kLocalWait;
    for (;;) {
        if (const std::shared_ptr<pat::Store> replica = replica_.lease()) {
            auto state = replica->replica_state();
            if (state && *state && (*state)->position >= seq) {
                outcome.local = true;
                break;
            }
        }
        if (Clock::now() >= deadline) break;
        std::this_thread::sleep_for(kLocalPoll);
    }
    auto counted = count_nodes(seq);
    if (outcome.local) {
        const auto grace_end = std::min(deadline, Clock::now() + kNodesGrace);
        while (counted && counted->first < counted->second && Clock::now() < grace_end) {
            std::this_thread::sleep_for(kNodesPoll);
            counted = count_nodes(seq);
        }
    }
    if (counted) outcome.nodes = std::to_string(counted->first) + "/" + std::to_string(counted->second);
    return outcome;
}

}  // namespace patd
