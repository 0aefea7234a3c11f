// The password-failure throttle's policy over its fixed-size table.
#include "pat/failure_throttle.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

namespace pat {
namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kStart = 1'700'000'000'000;

class FailureThrottleTest : public ::testing::Test {
   protected:
    // Zeroed memory is an empty table, as nginx's shared memory will give it.
    std::unique_ptr<FailureThrottleTable> table_ = std::make_unique<FailureThrottleTable>();
    FailureThrottle throttle_{*table_};

    // An attempt that is let through and then fails (a wrong password).
    void fail(std::string_view user, std::string_view address, std::int64_t now) {
        ASSERT_EQ(throttle_.begin_attempt(user, address, now), 0) << user << " " << address;
    }
};

TEST_F(FailureThrottleTest, TableIsPlainMemory) {
    static_assert(std::is_trivially_copyable_v<FailureThrottleTable>);
    for (const auto& slot : table_->slots) ASSERT_EQ(slot.kind, FailureThrottleTable::free_slot);
    fail("alice", "192.0.2.1", kStart);
    // A byte copy (what shared memory holds) carries the state.
    auto copy = std::make_unique<FailureThrottleTable>();
    std::memcpy(copy.get(), table_.get(), sizeof *copy);
    FailureThrottle other(*copy);
    EXPECT_EQ(other.user_failures("alice", kStart), 1u);
    EXPECT_EQ(other.address_failures("192.0.2.1", kStart), 1u);
}

TEST_F(FailureThrottleTest, FiveUserFailuresBlockForFiveMinutes) {
    // From a different address each time: the user counter alone blocks.
    for (int i = 0; i < 5; ++i) fail("alice", "192.0.2." + std::to_string(i), kStart + i * 1000);
    EXPECT_EQ(throttle_.user_failures("alice", kStart + 5000), 5u);
    const std::int64_t blocked_at = kStart + 10'000;
    EXPECT_EQ(throttle_.begin_attempt("alice", "198.51.100.9", blocked_at), 5 * kMinute);
    // Case does not make another user.
    EXPECT_EQ(throttle_.begin_attempt("ALICE", "198.51.100.9", blocked_at + kMinute), 4 * kMinute);
    // Another user from the same address is not affected.
    EXPECT_EQ(throttle_.begin_attempt("bob", "198.51.100.9", blocked_at + kMinute), 0);
    // Refused attempts do not extend the block; once it ends, attempts go through.
    EXPECT_EQ(throttle_.begin_attempt("alice", "198.51.100.9", blocked_at + 5 * kMinute - 1), 1);
    EXPECT_EQ(throttle_.begin_attempt("alice", "198.51.100.9", blocked_at + 5 * kMinute), 0);
    EXPECT_EQ(throttle_.user_failures("alice", blocked_at + 5 * kMinute), 1u);
}

TEST_F(FailureThrottleTest, TwentyAddressFailuresBlockTheAddress) {
    for (int i = 0; i < 20; ++i) fail("user" + std::to_string(i), "203.0.113.7", kStart + i);
    EXPECT_EQ(throttle_.begin_attempt("someone-new", "203.0.113.7", kStart + 100), 5 * kMinute);
    // The same users from elsewhere are fine: each has one failure.
    EXPECT_EQ(throttle_.begin_attempt("user0", "203.0.113.8", kStart + 100), 0);
}

TEST_F(FailureThrottleTest, FailuresOutsideTheWindowAreForgotten) {
    for (int i = 0; i < 4; ++i) fail("alice", "192.0.2.1", kStart);
    EXPECT_EQ(throttle_.user_failures("alice", kStart + 5 * kMinute - 1), 4u);
    EXPECT_EQ(throttle_.user_failures("alice", kStart + 5 * kMinute), 0u);
    for (int i = 0; i < 5; ++i) fail("alice", "192.0.2.1", kStart + 5 * kMinute + i);
    EXPECT_GT(throttle_.begin_attempt("alice", "192.0.2.1", kStart + 6 * kMinute), 0);
}

TEST_F(FailureThrottleTest, SuccessResetsTheUserAndTakesBackTheAddressCount) {
    for (int i = 0; i < 4; ++i) fail("alice", "192.0.2.1", kStart + i);
    fail("alice", "192.0.2.1", kStart + 10);
    throttle_.attempt_succeeded("alice", "192.0.2.1", kStart + 11);
    EXPECT_EQ(throttle_.user_failures("alice", kStart + 12), 0u);
    EXPECT_EQ(throttle_.address_failures("192.0.2.1", kStart + 12), 4u);
    for (int i = 0; i < 4; ++i) fail("alice", "192.0.2.1", kStart + 20 + i);
    EXPECT_EQ(throttle_.begin_attempt("alice", "192.0.2.1", kStart + 30), 0);
}

TEST_F(FailureThrottleTest, AbandonedAttemptsDoNotCount) {
    for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(throttle_.begin_attempt("alice", "192.0.2.1", kStart + i), 0);
        throttle_.attempt_abandoned("alice", "192.0.2.1", kStart + i);
    }
    EXPECT_EQ(throttle_.user_failures("alice", kStart + 10), 0u);
    EXPECT_EQ(throttle_.address_failures("192.0.2.1", kStart + 10), 0u);
}

TEST_F(FailureThrottleTest, ConcurrentAttemptsCannotOvershootTheLimit) {
    // Five attempts begun before any outcome is known: the sixth is refused,
    // because each was counted when it began.
    for (int i = 0; i < 5; ++i) fail("alice", "192.0.2.1", kStart);
    EXPECT_GT(throttle_.begin_attempt("alice", "192.0.2.1", kStart), 0);
}

TEST_F(FailureThrottleTest, InvalidUserNamesCountByAddressOnly) {
    for (int i = 0; i < 20; ++i) fail("not a user name!", "192.0.2.1", kStart);
    EXPECT_EQ(throttle_.user_failures("not a user name!", kStart), 0u);
    EXPECT_EQ(throttle_.address_failures("192.0.2.1", kStart), 20u);
    EXPECT_GT(throttle_.begin_attempt("alice", "192.0.2.1", kStart), 0);
}

TEST_F(FailureThrottleTest, CustomPolicy) {
    FailureThrottle strict(*table_, ThrottlePolicy{2, 3, kMinute, 10 * kMinute});
    ASSERT_EQ(strict.begin_attempt("carol", "192.0.2.5", kStart), 0);
    ASSERT_EQ(strict.begin_attempt("carol", "192.0.2.5", kStart), 0);
    EXPECT_EQ(strict.begin_attempt("carol", "192.0.2.5", kStart), 10 * kMinute);
}

TEST_F(FailureThrottleTest, StaleSlotsAreReusedWhenTheTableIsFull) {
    for (std::size_t i = 0; i < kThrottleSlots; ++i) fail("", "10.0." + std::to_string(i), kStart);
    // Every slot holds one failure in its window: the oldest unblocked one is reused.
    EXPECT_EQ(throttle_.begin_attempt("", "192.0.2.200", kStart + 1), 0);
    EXPECT_EQ(throttle_.address_failures("192.0.2.200", kStart + 1), 1u);
    // After the window every slot is stale.
    EXPECT_EQ(throttle_.begin_attempt("alice", "192.0.2.201", kStart + 6 * kMinute), 0);
}

TEST_F(FailureThrottleTest, AFullTableOfBlocksFailsClosed) {
    // Every slot blocked: a new key cannot be counted without forgetting a
    // block, so the attempt is refused until the soonest block ends.
    FailureThrottle one_strike(*table_, ThrottlePolicy{1, 1, kMinute, 5 * kMinute});
    for (std::size_t i = 0; i < kThrottleSlots; ++i) {
        const std::string address = "10.1." + std::to_string(i);
        ASSERT_EQ(one_strike.begin_attempt("", address, kStart), 0);
        ASSERT_GT(one_strike.begin_attempt("", address, kStart + 1), 0);
    }
    EXPECT_EQ(one_strike.begin_attempt("", "192.0.2.9", kStart + 2), 5 * kMinute - 1);
    EXPECT_EQ(one_strike.begin_attempt("", "192.0.2.9", kStart + 1 + 5 * kMinute), 0);
}

}  // namespace
}  // namespace pat
