// SignInLimiter: the adversarial cases of issue 12 against the class, with a
// clock the tests pass in (no sleeps, no timing).
#include "pat/sign_in_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pat/audit.hpp"
#include "pat/management_api.hpp"
#include "store_fixture.hpp"

namespace pat {
namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kStart = 1'700'000'000'000;

SignInLimiter::KnownUser users(std::set<std::string> names = {"admin", "alice", "bob"}) {
    return [names = std::move(names)](std::string_view user) { return names.count(std::string(user)) != 0; };
}

// A wrong password, as patd reports it.
std::int64_t guess(SignInLimiter& limiter, std::string_view user, std::string_view address, std::int64_t now) {
    const std::int64_t wait = limiter.begin_attempt(user, address, now);
    if (wait == 0) limiter.attempt_failed(user, address, now);
    return wait;
}

std::string v4(int n) {
    return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
           std::to_string(n & 255);
}

TEST(SignInLimiter, AddressKeysGroupIpv6PerSlash64AndMappedIpv4AsIpv4) {
    EXPECT_EQ(SignInLimiter::address_key("192.0.2.1"), SignInLimiter::address_key("::ffff:192.0.2.1"));
    EXPECT_NE(SignInLimiter::address_key("192.0.2.1"), SignInLimiter::address_key("192.0.2.2"));
    EXPECT_EQ(SignInLimiter::address_key("2001:db8:1:2::1"), SignInLimiter::address_key("2001:db8:1:2:ffff:1:2:3"));
    EXPECT_EQ(SignInLimiter::address_key("2001:db8:1:2::1"), SignInLimiter::address_key("2001:0DB8:1:2::9"));
    EXPECT_NE(SignInLimiter::address_key("2001:db8:1:2::1"), SignInLimiter::address_key("2001:db8:1:3::1"));
    EXPECT_EQ(SignInLimiter::address_key("192.0.2.1").size(), 5u);
    EXPECT_EQ(SignInLimiter::address_key("2001:db8::1").size(), 9u);
    EXPECT_EQ(SignInLimiter::address_key("unix:"), "tunix:");
    EXPECT_EQ(SignInLimiter::address_key(""), "");
    EXPECT_EQ(SignInLimiter::address_key(std::string(300, 'x')).size(), 65u);
}

TEST(SignInLimiter, AnIpv6Slash64IsOneAddress) {
    SignInLimiter limiter(users());
    // 20 unknown names from 20 addresses of one /64: the /64's limit.
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(guess(limiter, "nobody" + std::to_string(i), "2001:db8:1:2::" + std::to_string(i + 1), kStart), 0);
    }
    EXPECT_EQ(limiter.address_attempts("2001:db8:1:2:abcd::1", kStart), 20u);
    EXPECT_EQ(guess(limiter, "nobody99", "2001:db8:1:2:ffff::9", kStart + 1000), 5 * kMinute - 1000);
    // Also for a known user with no failures: the address holds 20 against it.
    EXPECT_GT(limiter.begin_attempt("alice", "2001:db8:1:2::77", kStart + 1000), 0);
    // The next /64 is another address.
    EXPECT_EQ(guess(limiter, "nobody99", "2001:db8:1:3::1", kStart + 1000), 0);
    // IPv4-mapped IPv6 counts with the IPv4 address.
    for (int i = 0; i < 20; ++i) EXPECT_EQ(guess(limiter, "x" + std::to_string(i), "192.0.2.7", kStart), 0);
    EXPECT_GT(guess(limiter, "y", "::ffff:192.0.2.7", kStart), 0);
}

// Attack (a) of issue 12: 4 guesses for alice, then ~4,100 sign-ins for
// random names from 216 addresses (which filled and recycled the old shared
// table), then alice again: her budget of 5 still holds.
TEST(SignInLimiter, EvictionAttackCannotReleaseAKnownUsersBudget) {
    SignInLimiter limiter(users());
    std::int64_t now = kStart;
    for (int i = 0; i < 4; ++i) EXPECT_EQ(guess(limiter, "alice", v4(i), now += 5), 0);

    // Wrong passwords for 4,100 random names, then as many empty passwords.
    std::mt19937 random(12);
    int refused = 0;
    for (int i = 0; i < 4100; ++i) {
        std::string name = "u";
        for (int c = 0; c < 10; ++c) name += static_cast<char>('a' + random() % 26);
        refused += guess(limiter, name, v4(1000 + i % 216), now += 5) > 0;
    }
    for (int i = 0; i < 4100; ++i) refused += limiter.note_empty_password(v4(1000 + i % 216), now += 5) > 0;
    // The last ~224 names found the table full; then each address met its limit of 20.
    EXPECT_GT(refused, 3000);
    EXPECT_EQ(limiter.address_attempts(v4(1000), now), 20u);
    EXPECT_LE(limiter.other_entries(), limiter.limits().other_entries);
    EXPECT_EQ(limiter.known_entries(), 1u);
    EXPECT_EQ(limiter.user_attempts("alice", now), 4u);

    // Alice's guesses from every address of the pool and from fresh ones:
    // exactly one more (the 5th) gets through.
    int admitted = 0;
    for (int i = 0; i < 216; ++i) admitted += guess(limiter, "Alice", v4(1000 + i), now += 5) == 0;
    for (int i = 0; i < 200; ++i) admitted += guess(limiter, "alice", v4(50'000 + i), now += 5) == 0;
    EXPECT_EQ(admitted, 1);
    EXPECT_EQ(limiter.user_attempts("alice", now), 5u);
    // Refused until the first guess leaves the 5-minute window, not renewed by asking.
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.99", now), kStart + 5 + 5 * kMinute - now);
}

// Attack (b) of issue 12: 19,920 empty-password requests from 830 addresses;
// then admin, alice and bob from fresh addresses get through.
TEST(SignInLimiter, EmptyPasswordFloodLocksOutNobodyElse) {
    SignInLimiter limiter(users());
    std::int64_t now = kStart;
    int refused = 0;
    for (int i = 0; i < 19'920; ++i) refused += limiter.note_empty_password(v4(i % 830), now += 1) > 0;
    EXPECT_EQ(refused, 830 * 4);  // 20 counted per address, then 429
    EXPECT_EQ(limiter.address_attempts(v4(5), now), 20u);
    int host = 0;
    for (const char* user : {"admin", "alice", "bob"}) {
        const std::string fresh = "192.0.2." + std::to_string(++host);
        EXPECT_EQ(limiter.begin_attempt(user, fresh, now), 0) << user;
        limiter.attempt_succeeded(user, fresh, now);
    }
}

// The same under table pressure: the table for unknown names and addresses
// is full of live entries (here 64 of them, each at its limit).
TEST(SignInLimiter, AFullTableOfBlocksRefusesUnknownKeysButNeverAFreshKnownUser) {
    SignInLimits limits;
    limits.other_entries = 64;
    SignInLimiter limiter(users(), limits);
    std::int64_t now = kStart;
    EXPECT_EQ(guess(limiter, "alice", "192.0.2.1", now), 0);
    for (int i = 0; i < 20'000; ++i) {
        if (i % 3 == 0) {
            guess(limiter, "random" + std::to_string(i), v4(i % 830), now += 1);
        } else {
            limiter.note_empty_password(v4(i % 830), now += 1);
        }
    }
    EXPECT_EQ(limiter.other_entries(), 64u);
    // Keys nobody owns: refused, until an entry ages out.
    const std::int64_t wait = limiter.begin_attempt("mallory", "198.51.100.1", now);
    EXPECT_GT(wait, 0);
    EXPECT_LE(wait, 5 * kMinute);
    EXPECT_GT(limiter.note_empty_password("198.51.100.2", now), 0);
    // Known users with fresh addresses and nothing against them go through,
    // and alice's earlier failure is still counted.
    for (const char* user : {"admin", "alice", "bob"}) {
        EXPECT_EQ(limiter.begin_attempt(user, "203.0.113.9", now), 0) << user;
        limiter.attempt_succeeded(user, "203.0.113.9", now);
    }
    EXPECT_EQ(limiter.user_attempts("alice", now), 1u);
    // Once the window has passed, the table makes room again.
    now += 5 * kMinute;
    EXPECT_EQ(limiter.begin_attempt("mallory", "198.51.100.1", now), 0);
}

TEST(SignInLimiter, ParallelCorrectSignInsNeverTripTheLimit) {
    SignInLimiter limiter(users());
    std::int64_t now = kStart;
    // Four typos first: one attempt of budget left.
    for (int i = 0; i < 4; ++i) EXPECT_EQ(guess(limiter, "alice", "192.0.2.1", now), 0);
    for (int round = 0; round < 1000; ++round) {
        now += 10;
        ASSERT_EQ(limiter.begin_attempt("alice", "192.0.2.1", now), 0);
        // The budget is full of one pending attempt: a short wait, not a block.
        ASSERT_EQ(limiter.begin_attempt("alice", "192.0.2.2", now), 1000);
        limiter.attempt_succeeded("alice", "192.0.2.1", now);
    }
    EXPECT_EQ(limiter.user_attempts("alice", now), 4u);
    EXPECT_EQ(limiter.user_pending("alice", now), 0u);

    // With no failures, two at a time, forever.
    now += 5 * kMinute;
    for (int round = 0; round < 1000; ++round) {
        ASSERT_EQ(limiter.begin_attempt("bob", "192.0.2.1", now), 0);
        ASSERT_EQ(limiter.begin_attempt("bob", "192.0.2.2", now), 0);
        limiter.attempt_succeeded("bob", "192.0.2.2", now);
        limiter.attempt_succeeded("bob", "192.0.2.1", now);
    }
    EXPECT_EQ(limiter.user_attempts("bob", now), 0u);
    EXPECT_EQ(limiter.address_attempts("192.0.2.1", now), 0u);
}

TEST(SignInLimiter, ConcurrentWrongGuessesCannotExceedTheBudget) {
    SignInLimits limits;
    limits.user_in_flight = 100;  // leave the fair share out of this test
    SignInLimiter limiter(users(), limits);
    int admitted = 0;
    for (int i = 0; i < 50; ++i) admitted += limiter.begin_attempt("alice", v4(i), kStart) == 0;
    EXPECT_EQ(admitted, 5);
    EXPECT_EQ(limiter.begin_attempt("alice", v4(99), kStart), 1000);  // only pending ones fill it
    for (int i = 0; i < 5; ++i) limiter.attempt_failed("alice", v4(i), kStart + 50);
    EXPECT_EQ(limiter.begin_attempt("alice", v4(99), kStart + 50), 5 * kMinute - 50);
    EXPECT_EQ(limiter.user_attempts("alice", kStart + 50), 5u);
}

TEST(SignInLimiter, FairShareCapsPendingChecksPerUser) {
    SignInLimiter limiter(users());
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", kStart), 0);
    EXPECT_EQ(limiter.begin_attempt("ALICE", "192.0.2.2", kStart), 0);
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.3", kStart), limiter.limits().busy_wait_ms);
    EXPECT_EQ(limiter.user_pending("alice", kStart), 2u);
    // Others are not held back by alice's checks.
    EXPECT_EQ(limiter.begin_attempt("bob", "192.0.2.1", kStart), 0);
    EXPECT_EQ(limiter.begin_attempt("nobody", "192.0.2.2", kStart), 0);
    // One ends: alice may start another.
    limiter.attempt_succeeded("alice", "192.0.2.1", kStart + 80);
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.3", kStart + 80), 0);
    // The cap also holds for unknown names.
    EXPECT_EQ(limiter.begin_attempt("nobody", "192.0.2.9", kStart), 0);
    EXPECT_EQ(limiter.begin_attempt("nobody", "192.0.2.9", kStart), limiter.limits().busy_wait_ms);
}

TEST(SignInLimiter, UnresolvedAttemptsBecomeFailuresAfterTheTimeout) {
    // Today's ManagementApi calls nothing after a wrong password.
    SignInLimiter limiter(users());
    std::int64_t now = kStart;
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", now), 0);
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", now), 0);
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", now + 9'999), 1000);
    now += 10'000;
    EXPECT_EQ(limiter.user_pending("alice", now), 0u);
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", now), 0);
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", now), 0);
    now += 10'000;
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", now), 0);
    now += 10'000;
    EXPECT_EQ(limiter.user_attempts("alice", now), 5u);
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", now), kStart + 5 * kMinute - now);
    // A late success finds no pending attempt: the failure stays counted.
    limiter.attempt_succeeded("alice", "192.0.2.1", now);
    EXPECT_EQ(limiter.user_attempts("alice", now), 5u);
}

TEST(SignInLimiter, TheWindowSlides) {
    SignInLimiter limiter(users());
    for (int i = 0; i < 4; ++i) EXPECT_EQ(guess(limiter, "alice", "192.0.2.1", kStart + i * kMinute), 0);
    const std::int64_t late = kStart + 4 * kMinute + 59'000;
    EXPECT_EQ(guess(limiter, "alice", "192.0.2.1", late), 0);
    EXPECT_EQ(guess(limiter, "alice", "192.0.2.1", late), kStart + 5 * kMinute - late);
    // No fixed-window boundary to straddle: one more as each guess ages out.
    EXPECT_EQ(guess(limiter, "alice", "192.0.2.1", kStart + 5 * kMinute), 0);
    EXPECT_GT(guess(limiter, "alice", "192.0.2.1", kStart + 5 * kMinute + 1), 0);
    EXPECT_EQ(guess(limiter, "alice", "192.0.2.1", kStart + 6 * kMinute), 0);
    // A success takes back only itself.
    const std::int64_t much_later = kStart + 60 * kMinute;
    EXPECT_EQ(limiter.user_attempts("alice", much_later), 0u);
    EXPECT_EQ(limiter.known_entries(), 1u);
    EXPECT_EQ(limiter.begin_attempt("alice", "192.0.2.1", much_later), 0);
    limiter.attempt_abandoned("alice", "192.0.2.1", much_later);
    EXPECT_EQ(limiter.user_attempts("alice", much_later), 0u);
    EXPECT_EQ(limiter.address_attempts("192.0.2.1", much_later), 0u);
}

TEST(SignInLimiter, InvalidNamesAreCountedByAddressOnly) {
    SignInLimiter limiter(users());
    for (int i = 0; i < 20; ++i) EXPECT_EQ(guess(limiter, "bad name!", "192.0.2.1", kStart), 0);
    EXPECT_GT(guess(limiter, "bad name!", "192.0.2.1", kStart), 0);
    EXPECT_EQ(limiter.user_attempts("bad name!", kStart), 0u);
    EXPECT_EQ(limiter.known_entries(), 0u);
    EXPECT_EQ(limiter.other_entries(), 1u);
}

TEST(SignInLimiter, ThreadsShareOneBudget) {
    SignInLimiter limiter(users());
    std::atomic<int> alice_admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            const std::string address = v4(t);
            // Wrong guesses for alice until a real block (longer than the busy wait) is answered.
            for (;;) {
                const std::int64_t wait = limiter.begin_attempt("alice", address, kStart);
                if (wait == 0) {
                    ++alice_admitted;
                    limiter.attempt_failed("alice", address, kStart);
                } else if (wait > limiter.limits().busy_wait_ms) {
                    break;
                }
            }
            // Correct sign-ins and other traffic meanwhile.
            for (int i = 0; i < 2000; ++i) {
                const char* user = i % 2 == 0 ? "bob" : "admin";
                if (limiter.begin_attempt(user, v4(100 + t), kStart) == 0) {
                    limiter.attempt_succeeded(user, v4(100 + t), kStart);
                }
                guess(limiter, "nobody" + std::to_string(t * 10'000 + i), v4(200 + t), kStart);
                limiter.note_empty_password(v4(300 + t), kStart);
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(alice_admitted.load(), 5);
    EXPECT_EQ(limiter.user_attempts("alice", kStart), 5u);
    EXPECT_EQ(limiter.user_attempts("bob", kStart), 0u);
    EXPECT_EQ(limiter.user_pending("admin", kStart), 0u);
    EXPECT_LE(limiter.known_entries(), 3u);
    EXPECT_LE(limiter.other_entries(), limiter.limits().other_entries);
}

// The ManagementApi drives the limiter unchanged (begin_attempt, then
// attempt_succeeded / attempt_abandoned; nothing after a wrong password),
// against a real store that says who is a user.
class LimitedManagementApiTest : public testing::StoreTest {
   protected:
    void SetUp() override {
        StoreTest::SetUp();
        add_user("alice");
        add_user("bob");
        limiter_ = std::make_unique<SignInLimiter>([this](std::string_view user) {
            ++lookups_;
            return store_->get_user(user).ok();
        });
        ManagementApiOptions options{"git", limiter_.get(), 1000};
        options.note_empty_password = [this](std::string_view address, std::int64_t now) {
            return limiter_->note_empty_password(address, now);
        };
        api_ = std::make_unique<ManagementApi>(*store_, std::move(options));
    }

    std::size_t failed_sign_ins_in_audit() {
        auto entries = store_->list_audit(std::nullopt, 1000);
        EXPECT_TRUE(entries.ok());
        std::size_t failed = 0;
        for (const AuditEntry& entry : *entries) {
            if (entry.action == AuditAction::password_failed) failed += entry.count;
        }
        return failed;
    }

    static std::string basic(std::string_view user_and_password) {
        static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        std::string out = "Basic ";
        for (std::size_t i = 0; i < user_and_password.size(); i += 3) {
            unsigned v = 0;
            for (std::size_t j = 0; j < 3; ++j) {
                v = v << 8 |
                    (i + j < user_and_password.size() ? static_cast<unsigned char>(user_and_password[i + j]) : 0);
            }
            const std::size_t chars = std::min<std::size_t>(user_and_password.size() - i, 3) + 1;
            for (std::size_t k = 0; k < 4; ++k) out += k < chars ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
        }
        return out;
    }

    ApiResponse list(std::string_view user, std::string_view password, std::int64_t now,
                     PasswordCheckGate* gate = nullptr, std::string address = {}) {
        const std::string path = "/rest/access-tokens/1.0/users/" + std::string(user);
        return call("GET", path, {}, user, password, now, gate, std::move(address));
    }

    ApiResponse call(std::string_view method, const std::string& path, std::string_view body, std::string_view user,
                     std::string_view password, std::int64_t now, PasswordCheckGate* gate = nullptr,
                     std::string address = {}) {
        const std::string authorization = basic(std::string(user) + ":" + std::string(password));
        ApiRequest request;
        request.method = method;
        request.path = path;
        request.authorization = authorization;
        request.body = body;
        if (!body.empty()) request.content_type = "application/json";
        // Outlives handle().
        if (address.empty()) address = "2001:db8:5:6::" + std::to_string(now % 1000);
        request.client_address = address;
        request.now_ms = now;
        request.check_gate = gate;
        return api_->handle(request);
    }

    std::unique_ptr<SignInLimiter> limiter_;
    std::unique_ptr<ManagementApi> api_;
    int lookups_ = 0;  // calls of the limiter's is_known_user
};

// The glue's check gate as patd uses it, with a verdict the test chooses.
class ScriptedGate final : public PasswordCheckGate {
   public:
    explicit ScriptedGate(Verdict verdict) : verdict_(verdict) {}
    Verdict enter() override {
        ++entered;
        if (verdict_ == Verdict::go) ++inside;
        return verdict_;
    }
    void leave() noexcept override {
        ++left;
        --inside;
    }
    int entered = 0, left = 0, inside = 0;

   private:
    Verdict verdict_;
};

// Issue 12: an empty password is refused before any lookup (no user read,
// no scrypt: no failed sign-in reaches the store's audit) and still counted,
// against the address: the 21st from one address is answered 429, for any
// name, while the user's own budget is untouched.
TEST_F(LimitedManagementApiTest, AnEmptyPasswordIsRefusedBeforeAnyLookupAndCountedAgainstTheAddress) {
    const std::string address = "198.51.100.40";
    for (int i = 0; i < 20; ++i) {
        const ApiResponse refused = list(i % 2 == 0 ? "alice" : "nobody", "", kStart + i, nullptr, address);
        EXPECT_EQ(refused.status, 401);
        EXPECT_FALSE(refused.www_authenticate.empty());
        EXPECT_NE(refused.audit_line.find("empty password refused"), std::string::npos) << refused.audit_line;
    }
    EXPECT_EQ(lookups_, 0);
    EXPECT_EQ(failed_sign_ins_in_audit(), 0u);
    EXPECT_EQ(limiter_->address_attempts(address, kStart + 20), 20u);
    EXPECT_EQ(limiter_->user_attempts("alice", kStart + 20), 0u);
    EXPECT_EQ(limiter_->known_entries(), 0u);

    const ApiResponse blocked = list("alice", "", kStart + 21, nullptr, address);
    EXPECT_EQ(blocked.status, 429);
    EXPECT_GT(blocked.retry_after_s, 0);
    // The address is full for a password too; alice from elsewhere is not.
    EXPECT_EQ(list("alice", "alice-pw", kStart + 22, nullptr, address).status, 429);
    EXPECT_EQ(list("alice", "alice-pw", kStart + 23).status, 200);
}

TEST_F(LimitedManagementApiTest, AnEmptyPasswordWithoutACounterIsStillRefusedBeforeAnyLookup) {
    api_ = std::make_unique<ManagementApi>(*store_, ManagementApiOptions{"git", limiter_.get(), 1000});
    for (int i = 0; i < 30; ++i) EXPECT_EQ(list("alice", "", kStart + i).status, 401);
    EXPECT_EQ(lookups_, 0);
    EXPECT_EQ(failed_sign_ins_in_audit(), 0u);
}

// The check gate is asked after the limiter, right before the check: a
// client that has gone is dropped (nothing checked, the attempt taken back),
// a full gate answers 503 with Retry-After: 1 at once, and an attempt the
// limiter refuses never takes a place.
TEST_F(LimitedManagementApiTest, TheCheckGateDropsAGoneClientAndAnswersBusyWith503) {
    ScriptedGate gone(PasswordCheckGate::Verdict::client_gone);
    const ApiResponse dropped = list("alice", "wrong", kStart, &gone);
    EXPECT_EQ(dropped.status, 503);
    EXPECT_NE(dropped.audit_line.find("dropped before its password check"), std::string::npos) << dropped.audit_line;
    EXPECT_EQ(gone.entered, 1);
    EXPECT_EQ(failed_sign_ins_in_audit(), 0u);  // the wrong password was never checked
    EXPECT_EQ(limiter_->user_attempts("alice", kStart), 0u);
    EXPECT_EQ(limiter_->user_pending("alice", kStart), 0u);

    ScriptedGate busy(PasswordCheckGate::Verdict::busy);
    const ApiResponse refused = list("alice", "alice-pw", kStart, &busy);
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.retry_after_s, 1);
    EXPECT_EQ(limiter_->user_attempts("alice", kStart), 0u);
    // Creation checks the password inside the store: the gate is asked there too.
    const std::string create_path = "/rest/access-tokens/1.0/users/alice";
    EXPECT_EQ(call("PUT", create_path, R"({"name":"x"})", "alice", "alice-pw", kStart, &busy).status, 503);
    EXPECT_EQ(busy.entered, 2);
    EXPECT_TRUE(store_->list_tokens("alice")->empty());

    ScriptedGate go(PasswordCheckGate::Verdict::go);
    EXPECT_EQ(list("alice", "alice-pw", kStart, &go).status, 200);
    EXPECT_EQ(call("PUT", create_path, R"({"name":"y"})", "alice", "alice-pw", kStart, &go).status, 200);
    EXPECT_EQ(list("alice", "wrong", kStart + 1, &go).status, 401);
    EXPECT_EQ(go.entered, 3);
    EXPECT_EQ(go.left, 3);
    EXPECT_EQ(go.inside, 0);

    // Throttled by the limiter (alice's 5 guesses are used): no place taken.
    for (int i = 0; i < 4; ++i) EXPECT_EQ(list("alice", "wrong", kStart + 2 + i).status, 401);
    ScriptedGate unused(PasswordCheckGate::Verdict::go);
    EXPECT_EQ(list("alice", "alice-pw", kStart + 10, &unused).status, 429);
    EXPECT_EQ(unused.entered, 0);
}

TEST_F(LimitedManagementApiTest, FiveGuessesThen429AndOtherUsersUnaffected) {
    std::int64_t now = kStart;
    // The API reports each wrong password (attempt_failed): it counts at
    // once and holds no fair-share slot, so the next guess is not kept
    // waiting.
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(list("alice", "guess", now).status, 401);
        EXPECT_EQ(limiter_->user_attempts("alice", now), static_cast<std::size_t>(i + 1));
        now += 1'000;
    }
    // The sixth attempt, even with the right password, waits until the
    // first guess leaves the window.
    const ApiResponse blocked = list("Alice", "alice-pw", now);
    EXPECT_EQ(blocked.status, 429);
    EXPECT_EQ(blocked.retry_after_s, (kStart + 5 * kMinute - now) / 1000);
    EXPECT_EQ(limiter_->user_attempts("alice", now), 5u);
    // bob signs in, again and again, from the same /64: nothing is counted.
    for (int i = 0; i < 3; ++i) EXPECT_EQ(list("bob", "bob-pw", now).status, 200);
    EXPECT_EQ(limiter_->user_attempts("bob", now), 0u);
    EXPECT_EQ(limiter_->known_entries(), 1u);  // bob's entry went with his last success
    // A name that is no user is kept apart.
    EXPECT_EQ(list("mallory", "guess", now).status, 401);
    EXPECT_EQ(limiter_->known_entries(), 1u);
    EXPECT_EQ(limiter_->user_attempts("mallory", now), 1u);
    // Once alice's first guess leaves the window, her password works.
    EXPECT_EQ(list("alice", "alice-pw", kStart + 5 * kMinute).status, 200);
}

}  // namespace
}  // namespace pat
