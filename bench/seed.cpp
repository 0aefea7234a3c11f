// bench-seed: creates a benchmark store of N tokens through Store::bulk_load
// (large write transactions, one password hash for every user) and writes
// the credentials file that the benchmarks read. Bench-only: no product
// command exposes bulk loading.
//
//   bench-seed --db PATH --credentials PATH --tokens N [--export K]
//              [--tokens-per-user M] [--batch B]
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bench_store.hpp"

namespace {

void usage() {
    std::fprintf(stderr,
                 "usage: bench-seed --db PATH --credentials PATH --tokens N [--export K]\n"
                 "                  [--tokens-per-user M] [--batch B]\n"
                 "Creates a new store (refuses an existing one) and writes the credentials file:\n"
                 "the first K valid tokens spread over the store (default 10000) and one of each\n"
                 "special case (see bench/bench_store.hpp).\n");
}

bool parse_count(const char* text, std::size_t& out) {
    char* end = nullptr;
    errno = 0;
    unsigned long long value = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value == 0 || text[0] == '-') return false;
    out = static_cast<std::size_t>(value);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    pat::bench::SeedOptions options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage();
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench-seed: %s needs a value\n", argv[i]);
            usage();
            return 2;
        }
        const char* value = argv[++i];
        bool ok = true;
        if (arg == "--db") {
            options.store_path = value;
        } else if (arg == "--credentials") {
            options.credentials_path = value;
        } else if (arg == "--tokens") {
            ok = parse_count(value, options.tokens);
        } else if (arg == "--export") {
            ok = parse_count(value, options.export_valid);
        } else if (arg == "--tokens-per-user") {
            ok = parse_count(value, options.tokens_per_user);
        } else if (arg == "--batch") {
            ok = parse_count(value, options.batch_size);
        } else {
            std::fprintf(stderr, "bench-seed: unknown option %s\n", argv[i - 1]);
            usage();
            return 2;
        }
        if (!ok) {
            std::fprintf(stderr, "bench-seed: %s takes a positive whole number, not \"%s\"\n", argv[i - 1], value);
            return 2;
        }
    }
    if (options.store_path.empty() || options.credentials_path.empty()) {
        usage();
        return 2;
    }

    auto report = pat::bench::seed_store(options);
    if (!report) {
        std::fprintf(stderr, "bench-seed: %s\n", report.status().message().c_str());
        return 1;
    }
    std::printf(
        "seeded %s: %zu tokens, %zu users, %zu grants in %.1f s (input %.1f s, bulk load %.1f s); "
        "%zu valid tokens in %s; %zu chunk(s) reloaded after a token id collision\n",
        options.store_path.c_str(), report->tokens, report->users, report->grants,
        report->generate_seconds + report->load_seconds, report->generate_seconds, report->load_seconds,
        report->exported, options.credentials_path.c_str(), report->id_collision_retries);
    return 0;
}
