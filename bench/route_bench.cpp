// Google Benchmark of the route classifiers alone (no store): ns per
// classify_rest_request for typical REST requests, an unrecognised one, the
// deepest rows of the generated table, and with a sysadmin's rules in front;
// classify_git_request for comparison. Numbers are reported, not asserted
// (bench/RESULTS.md, docs/rest-routes.md).
//
//   make bench-routes      (build/bench/route_bench)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "pat/route.hpp"

namespace {

struct Case {
    const char* name;
    const char* method;
    const char* path;
};

constexpr Case kRestCases[] = {
    {"commits", "GET", "/rest/api/1.0/projects/WORK/repos/my-repo/commits"},
    {"browse_deep", "GET", "/bitbucket/rest/api/latest/projects/WORK/repos/my-repo/browse/src/main/java/App.java"},
    {"pr_merge", "POST", "/rest/api/1.0/projects/WORK/repos/my-repo/pull-requests/42/merge"},
    {"hook_enable", "PUT", "/rest/api/1.0/projects/WORK/repos/my-repo/settings/hooks/com.example:hook/enabled"},
    {"project", "GET", "/rest/api/1.0/projects/WORK"},
    {"unrecognised", "GET", "/rest/api/1.0/no/such/route"},
    {"pr_comment_reaction", "PUT",
     "/rest/comment-likes/1.0/projects/WORK/repos/my-repo/pull-requests/42/comments/7/reactions/thumbsup"},
};

void BM_ClassifyRest(benchmark::State& state, Case c) {
    const pat::RouteInput input{c.method, c.path, ""};
    if (pat::classify_rest_request(input).outcome == pat::Route::Outcome::bad_request) std::abort();
    for (auto _ : state) {
        benchmark::DoNotOptimize(pat::classify_rest_request(input));
    }
}

void BM_ClassifyRestMix(benchmark::State& state) {
    std::size_t i = 0;
    for (auto _ : state) {
        const Case& c = kRestCases[i];
        i = i + 1 == std::size(kRestCases) ? 0 : i + 1;
        benchmark::DoNotOptimize(pat::classify_rest_request({c.method, c.path, ""}));
    }
}

void BM_ClassifyGitInfoRefs(benchmark::State& state) {
    const pat::RouteInput input{"GET", "/scm/WORK/my-repo.git/info/refs", "service=git-upload-pack"};
    for (auto _ : state) {
        benchmark::DoNotOptimize(pat::classify_git_request(input));
    }
}

#ifdef PAT_ROUTE_BENCH_RULES
// Ten rules in front of the table, none matching: the cost a site pays for them.
void BM_ClassifyRestBehindTenRules(benchmark::State& state) {
    pat::RestRules rules;
    for (int i = 0; i < 10; ++i) {
        const std::string path = "/rest/plugin" + std::to_string(i) + "/latest/projects/{projectKey}/things/{id}";
        if (!rules.add("GET", path, "project-read").ok()) std::abort();
    }
    const pat::RouteInput input{"GET", "/rest/api/1.0/projects/WORK/repos/my-repo/commits", ""};
    for (auto _ : state) {
        benchmark::DoNotOptimize(pat::classify_rest_request(input, &rules));
    }
}
BENCHMARK(BM_ClassifyRestBehindTenRules);
#endif

int register_cases() {
    for (const Case& c : kRestCases) {
        benchmark::RegisterBenchmark((std::string("BM_ClassifyRest/") + c.name).c_str(), BM_ClassifyRest, c);
    }
    return 0;
}
const int registered = register_cases();

}  // namespace

BENCHMARK(BM_ClassifyRestMix);
BENCHMARK(BM_ClassifyGitInfoRefs);
BENCHMARK_MAIN();
