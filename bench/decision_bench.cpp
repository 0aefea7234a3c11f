// Google Benchmark of the core decision (Store::decide), as the nginx module
// calls it for `auth_pat_route git` on GET .../info/refs?service=git-upload-pack:
// ns per decision for an accept (Bearer and Basic, one hot token and valid
// tokens in rotation), for an accept of a user in 0, 1 and 50 groups (the
// level through the user's own grant or a group's: accept_groups_N) and for
// each rejection reason, and ns for the digest and the format check alone,
// on stores of every size seeded by bench-seed.
//
//   decision_bench --stores DIR [--sizes 1000,1000000] [benchmark flags]
//   decision_bench --stores DIR --sizes N --calls KIND COUNT
//
// --calls decides the first credential of KIND (groups0, valid, ...) as
// Bearer for a repo read of BENCH/repo COUNT times on the store of N tokens
// and nothing else, for callgrind (bench/groups_cost.py counts the
// instructions inside Store::decide), and prints the last reason.
//
// DIR holds store-N.lmdb and credentials-N.txt (see bench/bench.mk). Before
// timing, each case checks that the decision gives the reason it is named
// after, so a benchmark cannot silently measure the wrong path.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench_store.hpp"
#include "pat/decision.hpp"
#include "pat/store.hpp"
#include "pat/token.hpp"

namespace {

using pat::AccessRequest;
using pat::Need;
using pat::Reason;

struct SizedStore {
    std::size_t tokens = 0;
    std::unique_ptr<pat::Store> store;
    std::vector<pat::bench::Credential> credentials;
};

// Stores and hasher live for the whole process: benchmarks borrow them.
std::vector<std::unique_ptr<SizedStore>> g_stores;
pat::TokenHasher g_hasher;
const std::int64_t g_now = pat::now_ms();

AccessRequest repo_request(std::string_view token, Need need = Need::repo_read) {
    AccessRequest request;
    request.token = token;
    request.need = need;
    request.project = pat::bench::kProject;
    request.repo = pat::bench::kRepo;
    return request;
}

AccessRequest basic_request(std::string_view user, std::string_view token) {
    AccessRequest request = repo_request(token);
    request.has_basic_user = true;
    request.basic_user = user;
    return request;
}

// Times decisions over requests in turn (one request: a hot token).
void run_decisions(benchmark::State& state, SizedStore& sized, const std::vector<AccessRequest>& requests,
                   Reason expected) {
    for (const auto& request : requests) {
        const pat::Decision decision = sized.store->decide(g_hasher, request, g_now);
        if (decision.reason != expected) {
            const std::string message = "expected \"" + std::string(pat::reason_name(expected)) + "\", got \"" +
                                        std::string(pat::reason_name(decision.reason)) + "\"";
            state.SkipWithError(message.c_str());
            return;
        }
    }
    std::size_t next = 0;
    for (auto _ : state) {
        pat::Decision decision = sized.store->decide(g_hasher, requests[next], g_now);
        benchmark::DoNotOptimize(decision);
        if (++next == requests.size()) next = 0;
    }
    state.SetItemsProcessed(state.iterations());
}

void register_size(SizedStore& sized) {
    const std::string size = std::to_string(sized.tokens);
    auto add = [&](const std::string& name, std::vector<AccessRequest> requests, Reason expected) {
        benchmark::RegisterBenchmark(
            ("decide/" + name + "/tokens:" + size).c_str(),
            [&sized, requests, expected](benchmark::State& state) { run_decisions(state, sized, requests, expected); });
    };

    // Token texts are kept in the credentials vector; requests borrow them.
    std::vector<AccessRequest> rotation_bearer, rotation_basic;
    for (const auto& c : sized.credentials) {
        if (c.kind != "valid") continue;
        rotation_bearer.push_back(repo_request(c.token));
        rotation_basic.push_back(basic_request(c.user, c.token));
    }
    const auto& hot = sized.credentials.front();
    auto token_of = [&](const char* kind) -> const std::string& {
        for (const auto& c : sized.credentials) {
            if (c.kind == kind) return c.token;
        }
        std::fprintf(stderr, "decision_bench: no \"%s\" credential for %s tokens\n", kind, size.c_str());
        std::exit(1);
    };

    add("accept_bearer_hot", {repo_request(hot.token)}, Reason::allowed);
    add("accept_basic_hot", {basic_request(hot.user, hot.token)}, Reason::allowed);
    add("accept_bearer_rotation_" + std::to_string(rotation_bearer.size()), rotation_bearer, Reason::allowed);
    add("accept_basic_rotation_" + std::to_string(rotation_basic.size()), rotation_basic, Reason::allowed);

    // The same decision for users in 0, 1 and 50 groups: group grants are
    // resolved when written, so these should cost the same (run_bench.py
    // reports them as ratios to accept_groups_0).
    add("accept_groups_0", {repo_request(token_of("groups0"))}, Reason::allowed);
    add("accept_groups_1", {repo_request(token_of("groups1"))}, Reason::allowed);
    add("accept_groups_" + std::to_string(pat::bench::kGroupsOfTheBusiestUser), {repo_request(token_of("groups50"))},
        Reason::allowed);

    add("reject_malformed_token", {repo_request(token_of("malformed"))}, Reason::malformed_token);
    add("reject_bad_checksum", {repo_request(token_of("badsum"))}, Reason::bad_checksum);
    add("reject_unknown_token", {repo_request(token_of("unknown"))}, Reason::unknown_token);
    add("reject_revoked", {repo_request(token_of("revoked"))}, Reason::revoked);
    add("reject_expired", {repo_request(token_of("expired"))}, Reason::expired);
    add("reject_wrong_user", {basic_request("somebody-else", hot.token)}, Reason::wrong_user);
    add("reject_user_unknown", {repo_request(token_of("ghost"))}, Reason::user_unknown);
    add("reject_user_disabled", {repo_request(token_of("disabled"))}, Reason::user_disabled);
    AccessRequest bad_target = repo_request(hot.token);
    bad_target.project = "NOT A KEY";
    add("reject_invalid_target", {bad_target}, Reason::invalid_target);
    add("reject_token_level_too_low", {repo_request(token_of("readonly"), Need::repo_write)},
        Reason::token_level_too_low);
    add("reject_user_level_too_low", {repo_request(token_of("noperm"))}, Reason::user_level_too_low);
    add("reject_route_not_allowed", {repo_request(hot.token, Need::unrecognised_route)}, Reason::route_not_allowed);
}

void register_primitives(const std::string& hot_token) {
    benchmark::RegisterBenchmark("digest_sha256", [hot_token](benchmark::State& state) {
        pat::TokenDigest digest;
        for (auto _ : state) {
            benchmark::DoNotOptimize(g_hasher.digest(hot_token, digest));
            benchmark::DoNotOptimize(digest);
        }
    });
    benchmark::RegisterBenchmark("check_token_format", [hot_token](benchmark::State& state) {
        for (auto _ : state) benchmark::DoNotOptimize(pat::check_token_format(hot_token));
    });
}

std::vector<std::size_t> parse_sizes(const std::string& text) {
    std::vector<std::size_t> sizes;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string::npos) comma = text.size();
        const std::string item = text.substr(start, comma - start);
        char* end = nullptr;
        const unsigned long long value = std::strtoull(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || value == 0) {
            std::fprintf(stderr, "decision_bench: --sizes takes positive numbers separated by commas\n");
            std::exit(2);
        }
        sizes.push_back(value);
        start = comma + 1;
    }
    return sizes;
}

// The --calls mode: COUNT decisions of one credential, nothing timed.
int run_calls(SizedStore& sized, const std::string& kind, long count) {
    const auto found = pat::bench::find_credential(sized.credentials, kind);
    if (!found) {
        std::fprintf(stderr, "decision_bench: %s\n", found.status().message().c_str());
        return 2;
    }
    const AccessRequest request = repo_request(found->token);
    Reason last = Reason::store_error;
    for (long i = 0; i < count; ++i) {
        pat::Decision decision = sized.store->decide(g_hasher, request, g_now);
        benchmark::DoNotOptimize(decision);
        last = decision.reason;
    }
    const std::string_view reason = pat::reason_name(last);
    std::printf("%s: %ld decisions, %.*s\n", kind.c_str(), count, static_cast<int>(reason.size()), reason.data());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Our own flags first; the rest go to Google Benchmark.
    std::string dir;
    std::vector<std::size_t> sizes = {1000, 1000000};
    std::vector<char*> rest = {argv[0]};
    std::string calls_kind;
    long calls = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--calls" && i + 2 < argc) {
            calls_kind = argv[++i];
            calls = std::atol(argv[++i]);
        } else if ((arg == "--stores" || arg == "--sizes") && i + 1 < argc) {
            if (arg == "--stores")
                dir = argv[++i];
            else
                sizes = parse_sizes(argv[++i]);
        } else {
            rest.push_back(argv[i]);
        }
    }
    if (dir.empty()) {
        std::fprintf(stderr,
                     "usage: decision_bench --stores DIR [--sizes N,N...] [benchmark flags]\n"
                     "       decision_bench --stores DIR --sizes N --calls KIND COUNT\n");
        return 2;
    }
    if (!g_hasher.ready()) {
        std::fprintf(stderr, "decision_bench: OpenSSL provides no SHA-256\n");
        return 1;
    }

    for (std::size_t size : sizes) {
        auto sized = std::make_unique<SizedStore>();
        sized->tokens = size;
        const std::string n = std::to_string(size);
        auto store = pat::Store::open(dir + "/store-" + n + ".lmdb", pat::Store::Mode::read_only);
        if (!store) {
            std::fprintf(stderr, "decision_bench: %s\n", store.status().message().c_str());
            return 1;
        }
        sized->store = std::move(*store);
        auto credentials = pat::bench::read_credentials(dir + "/credentials-" + n + ".txt");
        if (!credentials || credentials->empty() || credentials->front().kind != "valid") {
            std::fprintf(
                stderr, "decision_bench: %s\n",
                credentials ? "the credentials file has no valid token first" : credentials.status().message().c_str());
            return 1;
        }
        sized->credentials = std::move(*credentials);
        g_stores.push_back(std::move(sized));
    }
    if (calls >= 0) {
        const int status = run_calls(*g_stores.front(), calls_kind, calls);
        for (auto& sized : g_stores) {
            for (auto& c : sized->credentials) pat::wipe(c.token);
        }
        return status;
    }
    register_primitives(g_stores.front()->credentials.front().token);
    for (auto& sized : g_stores) register_size(*sized);

    int rest_argc = static_cast<int>(rest.size());
    benchmark::Initialize(&rest_argc, rest.data());
    if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    for (auto& sized : g_stores) {
        for (auto& c : sized->credentials) pat::wipe(c.token);
    }
    return 0;
}
