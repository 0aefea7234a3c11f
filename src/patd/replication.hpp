// Fleet mode: after the token API committed a change to the fleet's source,
// wait for this node's replica to have it, and say how many live nodes do
// (X-Pat-Replicated: N/M, docs/patd.md#fleet-mode).
//
// The wait: up to 2 s after the commit, until the replica's position
// (Store::replica_state, written by the node's follower with each batch it
// applies) reaches the change's seq, polling every 5 ms: then the user who
// just created a token can use it at once on this node. Then the live nodes:
// the followers connected to the source, each reporting its position in its
// application_name (pat::fleet::fleet_nodes); while some of them have not
// reported the seq yet, asked again every 20 ms for up to 0.2 s more
// (within the 2 s), as a follower reports just after it applied.
//
// Thread contract: await() may be called from any thread; one connection
// for the nodes' query, under a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "store_holder.hpp"

namespace pat::fleet {
class Connection;
}

namespace patd {

class ReplicationWatch {
   public:
    ReplicationWatch(StoreHolder& replica, std::string connfile);
    ~ReplicationWatch();

    struct Outcome {
        bool local = false;                // this node's replica reached seq in time
        std::optional<std::string> nodes;  // "N/M"; nullopt when the source could not say
    };
    Outcome await(std::uint64_t seq);

   private:
    std::optional<std::pair<std::size_t, std::size_t>> count_nodes(std::uint64_t seq);

    StoreHolder& replica_;
    const std::string connfile_;
    std::mutex mutex_;
    std::unique_ptr<pat::fleet::Connection> connection_;
    std::string last_failure_;
};

}  // namespace patd
