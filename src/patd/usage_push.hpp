// Fleet mode: the node's last-use times go to the source (docs/fleet.md).
//
// nginx's workers record each token's last use in the replica's usage file
// (pat/usage.hpp); they never connect to PostgreSQL. Every period (10 s)
// and once at a clean shutdown, a thread of patd reads that file and
// upserts the entries newer than what it pushed last into pat_usage, one
// statement per batch, keeping the newest time of each token
// (GREATEST). The API's listings read them back (PgEngine::last_used), so
// a use shows on every node within about a period.
//
// Failures (the source down, the file absent) log one line and are retried
// the next period; nothing on a request thread waits for this.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace pat::fleet {
class Connection;
}

namespace patd {

class UsagePush {
   public:
    UsagePush(std::string connfile, std::string replica_path,
              std::chrono::milliseconds period = std::chrono::seconds(10));
    ~UsagePush();  // stop()
    UsagePush(const UsagePush&) = delete;
    UsagePush& operator=(const UsagePush&) = delete;

    void start();
    // Wakes the thread for a last push and joins it.
    void stop();

   private:
    void loop();
    // One pass: false (logged) when the entries could not be written.
    bool push_once();

    std::string connfile_;
    std::string replica_path_;
    std::chrono::milliseconds period_;
    std::unique_ptr<pat::fleet::Connection> conn_;
    // What was pushed: id -> last use (ms). Bounded by the file's slots.
    std::unordered_map<std::string, std::int64_t> pushed_;
    bool failing_ = false;  // one log line per run of failures

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace patd
