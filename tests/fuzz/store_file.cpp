// Fuzz target: a store FILE made of the input bytes. The store file is input
// too (a truncated copy, a disk error, a hostile admin's file), so opening
// it and answering from it must never crash: errors, yes; crashes, never.
//
// Each input is written to a file in a private temporary directory, opened
// read-only (as workers do) and, for inputs of odd length, also read-write
// (as patctl and the API do; a schema-1 file is upgraded then). Then decide() is asked about the seed store's
// tokens (support/seed_store.hpp) for every need, Basic and Bearer, and
// every listing is read. Invariants besides "no crash": a decision is one of
// the known reasons; an allowed decision names a valid token id and a valid
// user; a store error is never an allow.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pat/names.hpp"
#include "pat/store.hpp"
#include "support/check.hpp"
#include "support/seed_store.hpp"

namespace {

// $TMPDIR when set (make points it into build/fuzz/, where a directory left
// behind by a crash is cleaned by make clean), else /dev/shm, else /tmp.
std::string make_private_dir() {
    const char* tmpdir = std::getenv("TMPDIR");
    const std::string base = tmpdir != nullptr && *tmpdir != '\0'        ? tmpdir
                             : std::filesystem::is_directory("/dev/shm") ? "/dev/shm"
                                                                         : "/tmp";
    std::string dir = base + "/pat-fuzz-store-XXXXXX";
    if (mkdtemp(dir.data()) == nullptr) {
        std::perror("mkdtemp");
        std::abort();
    }
    return dir;
}

struct Scratch {
    std::string dir = make_private_dir();
    std::string path = dir + "/pat.db";
    ~Scratch() { std::filesystem::remove_all(dir); }
};

void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    FUZZ_CHECK(file != nullptr, "cannot write the scratch store file");
    if (size > 0) FUZZ_CHECK(std::fwrite(data, 1, size, file) == size, "short write of the scratch store file");
    std::fclose(file);
}

void check_decision(const pat::Decision& decision) {
    FUZZ_CHECK(static_cast<int>(decision.reason) <= static_cast<int>(pat::Reason::store_error),
               "decide returned an unknown reason");
    FUZZ_CHECK(std::strlen(decision.logged_token_id()) <= pat::kTokenIdLength &&
                   std::strlen(decision.logged_user()) <= pat::kMaxUserName,
               "decision strings are not terminated");
    if (decision.allowed()) {
        FUZZ_CHECK(pat::is_valid_token_id(decision.allowed_token_id()), "an allowed decision without a valid token id");
        FUZZ_CHECK(pat::is_valid_user_name(decision.allowed_user()), "an allowed decision without a valid user");
    } else {
        FUZZ_CHECK(decision.allowed_token_id()[0] == '\0' && decision.allowed_user()[0] == '\0',
                   "a refused decision publishes an identity");
    }
}

void exercise(pat::Store& store) {
    pat::TokenHasher hasher;
    const std::string_view targets[][2] = {
        {"WORK", "my-repo"}, {"work", "MY-REPO"}, {"~dave", "notes"}, {"OTHER", "x"}};
    for (std::size_t t = 0; t < fuzz_seed::kSeedTokens.size(); ++t) {
        const std::string text = fuzz_seed::token(static_cast<int>(t));
        for (const pat::Need need : pat::kAllNeeds) {
            const auto& target = targets[(t + static_cast<std::size_t>(need)) % std::size(targets)];
            pat::AccessRequest request;
            request.token = text;
            request.need = need;
            request.project = target[0];
            request.repo = pat::is_repo_need(need) ? target[1] : std::string_view{};
            check_decision(store.decide(hasher, request, fuzz_seed::kSeedNowMs));
            request.has_basic_user = true;
            request.basic_user = fuzz_seed::kSeedTokens[t].owner;
            check_decision(store.decide(hasher, request, fuzz_seed::kSeedNowMs));
        }
    }
    // Requests without credentials: allowed only as a public read, never
    // with an identity.
    for (const auto& target : targets) {
        for (const pat::Need need : {pat::Need::repo_read, pat::Need::repo_write}) {
            pat::AccessRequest request;
            request.need = need;
            request.project = target[0];
            request.repo = target[1];
            const pat::Decision decision = store.decide_public(request, fuzz_seed::kSeedNowMs);
            FUZZ_CHECK(decision.reason == pat::Reason::allowed || decision.reason == pat::Reason::no_credentials ||
                           decision.reason == pat::Reason::store_error,
                       "decide_public returned a reason of a token decision");
            FUZZ_CHECK(!decision.allowed() || need == pat::Need::repo_read, "a public write was allowed");
            FUZZ_CHECK(decision.allowed_user()[0] == '\0' && decision.allowed_token_id()[0] == '\0',
                       "a public read published an identity");
        }
    }
    (void)store.explain_level("alice", "WORK", "my-repo");
    (void)store.list_groups();
    (void)store.list_group_members("backend");
    (void)store.list_user_groups("alice");
    (void)store.list_grants_of(pat::Grantee::group("backend"));
    (void)store.list_grants_of(pat::Grantee::all_users());
    (void)store.list_public();
    (void)store.export_state();
    // Listings walk every table; any of them may be corrupt.
    (void)store.list_users();
    (void)store.list_grants(std::nullopt);
    (void)store.list_grants("alice");
    (void)store.list_tokens(std::nullopt);
    (void)store.list_tokens("alice");
    (void)store.list_audit(std::nullopt, 20);
    (void)store.get_user("alice");
    if (auto tokens = store.list_tokens(std::nullopt); tokens.ok() && !tokens->empty()) {
        (void)store.get_token(tokens->front().id);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Scratch scratch;
    write_file(scratch.path, data, size);
    std::filesystem::remove(scratch.path + "-lock");

    if (auto store = pat::Store::open(scratch.path, pat::Store::Mode::read_only); store.ok()) {
        exercise(**store);
    } else {
        FUZZ_CHECK(!store.status().message().empty(), "an open failure without a message");
    }
    if (size % 2 == 1) {
        if (auto store = pat::Store::open(scratch.path, pat::Store::Mode::read_write); store.ok()) {
            exercise(**store);
        }
    }
    return 0;
}
