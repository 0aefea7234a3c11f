// Benchmark stores: seeding a store of N tokens spread over many users and
// grants through Store::bulk_load, and the credentials file that the seeder
// writes beside it for wrk, the Lua peer, the auth_request checker and
// decision_bench.
//
// The credentials file has one line per credential, "KIND USER TOKEN":
//
//   valid     USER TOKEN   accepted for repo read on BENCH/repo (the first one
//                          is the hot token; the others are spread over the store)
//   groups0   USER TOKEN   accepted for repo read on BENCH/repo through the user's
//                          own project grant; the user is in no group
//   groups1   USER TOKEN   ... through the grant of the one group the user is in
//   groups50  USER TOKEN   ... through one of the 50 groups the user is in (each
//                          group grants something)
//   noperm    USER TOKEN   valid token of a user with no grant: user level too low
//   readonly  USER TOKEN   read/read token of a user with write: token level too low
//                          for a push
//   disabled  USER TOKEN   the owner is disabled
//   ghost     USER TOKEN   the owner does not exist
//   expired   USER TOKEN   expired yesterday
//   revoked   USER TOKEN   revoked after seeding
//   unknown   USER TOKEN   well-formed, right checksum, not in the store
//   badsum    USER TOKEN   the hot token with one checksum character changed
//   malformed USER TOKEN   not the token format
//
// It holds live secrets of a throwaway benchmark store: mode 0600.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pat/status.hpp"

namespace pat::bench {

// Every benchmark request targets this repository (git: /scm/BENCH/repo.git).
inline constexpr const char* kProject = "BENCH";
inline constexpr const char* kRepo = "repo";
// The groups of the groups50 user (issue 14: a user in 50 groups must cost
// no more per request than a user in one).
inline constexpr unsigned kGroupsOfTheBusiestUser = 50;

struct SeedOptions {
    std::string store_path;
    std::string credentials_path;
    std::size_t tokens = 1000;
    std::size_t tokens_per_user = 10;   // users = tokens / tokens_per_user
    std::size_t export_valid = 10'000;  // valid tokens written to the credentials file
    std::size_t batch_size = 50'000;
};

struct SeedReport {
    std::size_t users = 0;
    std::size_t grants = 0;
    std::size_t tokens = 0;
    std::size_t exported = 0;
    double generate_seconds = 0;           // token texts and the load's input
    double load_seconds = 0;               // Store::bulk_load and the special cases
    std::size_t id_collision_retries = 0;  // chunks loaded again after a token id collision
};

// Creates the store (refuses an existing one) and writes the credentials file.
Expected<SeedReport> seed_store(const SeedOptions& options);

struct Credential {
    std::string kind;
    std::string user;
    std::string token;
};

// Reads a credentials file; an unreadable or malformed file is an error.
Expected<std::vector<Credential>> read_credentials(const std::string& path);

// The first credential of a kind; a not_found Status when there is none.
Expected<Credential> find_credential(const std::vector<Credential>& all, const std::string& kind);

}  // namespace pat::bench
