// patd's counters since its start, served at GET /metrics on its socket in
// Prometheus's text format (docs/metrics.md). Any thread may count; each
// count is one relaxed atomic add.
#pragma once

#include <array>
#include <atomic>
#include <string>
#include <string_view>

namespace patd {

class Metrics {
   public:
    // One answered token API request (not /metrics itself), by its status,
    // and what it did: a password check ran (accepted unless the answer is
    // 401), the sign-in limiter refused it (429), a token was created (PUT
    // answered 200: only creation answers a PUT with 200; the password
    // paths answer 204) or revoked (DELETE answered 204: only revocation
    // takes DELETE).
    void count_request(std::string_view method, int status, bool password_checked) noexcept;
    // A password check started (a place was free), refused because every
    // place was taken (503), dropped because the client had gone.
    void count_check() noexcept { checks_.fetch_add(1, std::memory_order_relaxed); }
    void count_busy() noexcept { busy_.fetch_add(1, std::memory_order_relaxed); }
    void count_dropped() noexcept { dropped_.fetch_add(1, std::memory_order_relaxed); }

    unsigned long checks() const noexcept { return checks_.load(std::memory_order_relaxed); }
    unsigned long busy() const noexcept { return busy_.load(std::memory_order_relaxed); }
    unsigned long dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

    // The exposition text; connections is the number open now.
    std::string text(unsigned connections) const;

   private:
    static constexpr int kMinStatus = 100;
    static constexpr int kMaxStatus = 599;
    std::array<std::atomic<unsigned long>, kMaxStatus - kMinStatus + 1> by_status_{};
    std::atomic<unsigned long> checks_{0}, busy_{0}, dropped_{0};
    std::atomic<unsigned long> accepted_{0}, refused_{0}, throttled_{0}, created_{0}, revoked_{0};
};

}  // namespace patd
