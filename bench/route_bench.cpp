// Google Benchmark of the route classifiers alone (no store): ns per
// classify_rest_request for typical REST requests, an unrecognised one, the
// deepest rows of the generated table, and with a sysadmin's rules in front;
// classify_git_request for comparison. Numbers are reported, not asserted
// (bench/RESULTS.md, docs/rest-routes.md).
//
//   make bench-routes      (build/bench/route_bench): ns per call
//   make bench-routes-ir   instructions per call under callgrind, which the
//                          noise of a shared machine cannot move: it runs
//                          `route_bench --calls CASE N` for each of
//                          `route_bench --cases` (the same inputs)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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

const pat::RouteInput kGitInfoRefs{"GET", "/scm/WORK/my-repo.git/info/refs", "service=git-upload-pack"};

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
    for (auto _ : state) {
        benchmark::DoNotOptimize(pat::classify_git_request(kGitInfoRefs));
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

// The cases --calls knows: every REST case, then git_info_refs.
void list_cases() {
    for (const Case& c : kRestCases) std::printf("%s\n", c.name);
    std::printf("git_info_refs\n");
}

// Classifies one case `count` times and does nothing else, for callgrind
// (--toggle-collect on the classifier counts its instructions alone). Prints
// what the classifier answered, so a reader sees what was measured.
int run_calls(std::string_view name, long count) {
    pat::Route route;
    if (name == "git_info_refs") {
        for (long i = 0; i < count; ++i) benchmark::DoNotOptimize(route = pat::classify_git_request(kGitInfoRefs));
    } else {
        const Case* found = nullptr;
        for (const Case& c : kRestCases) {
            if (name == c.name) found = &c;
        }
        if (found == nullptr) {
            std::fprintf(stderr, "route_bench: no case %.*s (see --cases)\n", int(name.size()), name.data());
            return 2;
        }
        const pat::RouteInput input{found->method, found->path, ""};
        for (long i = 0; i < count; ++i) benchmark::DoNotOptimize(route = pat::classify_rest_request(input));
    }
    const char* outcome = "unrecognised";
    if (route.outcome == pat::Route::Outcome::classified) outcome = "classified";
    if (route.outcome == pat::Route::Outcome::bad_request) outcome = "bad_request";
    const std::string_view need = pat::need_name(route.need);
    std::printf("%.*s: %s, %.*s\n", int(name.size()), name.data(), outcome, int(need.size()), need.data());
    return 0;
}

}  // namespace

BENCHMARK(BM_ClassifyRestMix);
BENCHMARK(BM_ClassifyGitInfoRefs);

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--cases") == 0) {
        list_cases();
        return 0;
    }
    if (argc == 4 && std::strcmp(argv[1], "--calls") == 0) return run_calls(argv[2], std::atol(argv[3]));
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
