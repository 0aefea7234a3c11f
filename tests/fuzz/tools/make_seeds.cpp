// Writes the seeds that are binary or hold tokens, with the core's own
// encoders: `make fuzz-seeds` (usage: make_seeds CORPUS_DIR). The route and
// JSON seeds are plain text files kept by hand in the corpus.
//
//   records/      user, token and grant records as encode_* writes them
//   store_file/   a real store (users, grants, tokens, a revocation, a
//                 disabled user, audit entries) and an empty one
//   token_format/ valid tokens and near misses
//   authorization/, base64/  real headers carrying the seed tokens
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "core/store/records.hpp"
#include "pat/store.hpp"
#include "support/base64.hpp"
#include "support/seed_store.hpp"

namespace fs = std::filesystem;

namespace {

fs::path corpus;

void write_seed(const std::string& target, const std::string& name, std::string_view bytes) {
    const fs::path dir = corpus / target;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "make_seeds: cannot write %s/%s\n", target.c_str(), name.c_str());
        std::exit(1);
    }
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

[[noreturn]] void fail(const pat::Status& status) {
    std::fprintf(stderr, "make_seeds: %s\n", status.message().c_str());
    std::exit(1);
}

void record_seeds() {
    pat::records::UserView user;
    user.active = true;
    user.display_name = "Alice Example";
    user.password.salt.fill(0x5a);
    user.password.key.fill(0xa5);
    write_seed("records", "user-active", std::string(1, '\0') + pat::records::encode_user(user));
    user.active = false;
    user.sysadmin = true;
    user.display_name = "";
    write_seed("records", "user-disabled-sysadmin", std::string(1, '\0') + pat::records::encode_user(user));

    pat::records::TokenView token;
    token.permissions = {pat::Level::read, pat::Level::write};
    token.created_ms = 1'700'000'000'000;
    token.expires_ms = 1'702'592'000'000;
    token.last_authenticated_ms = 1'700'000'500'000;
    token.id = "482913004417";
    token.owner = "alice";
    token.name = "CI deploy";
    write_seed("records", "token-expiring", std::string(1, '\1') + pat::records::encode_token(token));
    token.revoked = true;
    token.revoked_ms = 1'700'000'900'000;
    token.expires_ms = 0;
    token.name = "";
    write_seed("records", "token-revoked", std::string(1, '\1') + pat::records::encode_token(token));
    // Format 2 (rotation): a token rotated away, and its successor.
    token.revoked = false;
    token.rotated = true;
    token.name = "CI deploy";
    token.family = "482913004417";
    write_seed("records", "token-rotated", std::string(1, '\1') + pat::records::encode_token(token));
    token.rotated = false;
    token.revoked_ms = 0;
    token.id = "318807716245";
    write_seed("records", "token-successor", std::string(1, '\1') + pat::records::encode_token(token));

    for (const pat::Level level : {pat::Level::read, pat::Level::write, pat::Level::admin}) {
        write_seed("records", "level-" + std::string(pat::level_name(level)),
                   std::string(1, '\2') + std::string(1, static_cast<char>(level)));
    }
    write_seed("records", "group-local", std::string(1, '\3') + pat::records::encode_group({0}));
    write_seed("records", "group-directory", std::string(1, '\3') + pat::records::encode_group({1}));
    write_seed("records", "everyone-write",
               std::string(1, '\4') + pat::records::encode_everyone({pat::Level::write, false}));
    write_seed("records", "everyone-public",
               std::string(1, '\4') + pat::records::encode_everyone({pat::Level::none, true}));
    write_seed("records", "everyone-read-public",
               std::string(1, '\4') + pat::records::encode_everyone({pat::Level::read, true}));
}

void store_seeds() {
    const fs::path dir = fs::temp_directory_path() / ("pat-make-seeds-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string empty_path = (dir / "empty.db").string();
    const std::string full_path = (dir / "full.db").string();
    {
        auto empty = pat::Store::create(empty_path);
        if (!empty) fail(empty.status());
    }
    {
        auto created = pat::Store::create(full_path);
        if (!created) fail(created.status());
        pat::Store& store = **created;
        pat::Store::BulkLoad load;
        load.users = {{"alice", false}, {"bob", true}, {"carol", false}, {"dave", false}};
        load.grants = {{"alice", "WORK", "", pat::Level::write},
                       {"alice", "WORK", "my-repo", pat::Level::admin},
                       {"carol", "WORK", "", pat::Level::read},
                       {"dave", "OTHER", "x", pat::Level::read}};
        for (std::size_t i = 0; i < fuzz_seed::kSeedTokens.size(); ++i) {
            const auto& seed = fuzz_seed::kSeedTokens[i];
            pat::Store::BulkLoad::Token token;
            token.owner = seed.owner;
            token.name = "seed " + std::to_string(i);
            token.permissions = seed.permissions;
            token.text = fuzz_seed::token(static_cast<int>(i));
            token.created_ms = fuzz_seed::kSeedNowMs - 86'400'000;
            token.expires_ms = seed.expired ? fuzz_seed::kSeedNowMs - 1000 : 0;
            load.tokens.push_back(token);
        }
        auto ids = store.bulk_load(load);
        if (!ids) fail(ids.status());
        for (std::size_t i = 0; i < fuzz_seed::kSeedTokens.size(); ++i) {
            if (!fuzz_seed::kSeedTokens[i].revoked) continue;
            if (auto s = store.revoke_token(pat::Actor::system(), (*ids)[i], {"seed", "local"}); !s.ok()) fail(s);
        }
        if (auto s = store.set_user_active("carol", false, {"seed", "local"}); !s.ok()) fail(s);
        if (auto s = store.grant_repo("bob", "~dave", "notes", pat::Level::read, {"seed", "local"}); !s.ok()) fail(s);
        // Schema 2: groups, a group grant, an all-users default, public targets.
        const pat::AuditContext seed{"seed", "local"};
        if (auto s = store.add_group("backend", seed); !s.ok()) fail(s);
        if (auto s = store.add_group_members("backend", {"alice", "dave"}, seed); !s.ok()) fail(s);
        if (auto s = store.set_grant(pat::Grantee::group("backend"), "OTHER", "", pat::Level::write, seed); !s.ok())
            fail(s);
        if (auto s = store.set_grant(pat::Grantee::all_users(), "WORK", "", pat::Level::read, seed); !s.ok()) fail(s);
        if (auto s = store.set_public("WORK", "my-repo", true, seed); !s.ok()) fail(s);
        if (auto s = store.set_public("OTHER", "", true, seed); !s.ok()) fail(s);
    }
    // The schema-1 seeds (schema1-*) were made by the generator of the last
    // schema-1 release and are kept as they are: they cover the reading
    // and the upgrade of old stores.
    write_seed("store_file", "empty-store", read_file(empty_path));
    write_seed("store_file", "seeded-store", read_file(full_path));
    fs::remove_all(dir);
}

void token_seeds() {
    for (std::size_t i = 0; i < fuzz_seed::kSeedTokens.size(); i += 2) {
        const std::string token = fuzz_seed::token(static_cast<int>(i));
        const std::string n = std::to_string(i);
        write_seed("token_format", "valid-" + n, std::string(1, '\0') + token);
        std::string typo = token;
        typo[20] = typo[20] == 'a' ? 'b' : 'a';
        write_seed("token_format", "bad-checksum-" + n, std::string(1, '\0') + typo);
        write_seed("token_format", "truncated-" + n, std::string(1, '\0') + token.substr(0, 53));
        write_seed("token_format", "build-" + n, std::string(1, '\1') + token.substr(5) + "\x10Z\x30z");

        write_seed("authorization", "bearer-" + n, "Bearer " + token);
        write_seed("authorization", "basic-" + n, "Basic " + fuzz_reference::base64_encode("alice:" + token));
        write_seed("base64", "credentials-" + n,
                   std::string(1, '\0') + fuzz_reference::base64_encode("alice:" + token));
        write_seed("base64", "bytes-" + n, std::string(1, '\1') + "bob:" + token);
    }
    // Basic with each padding length, and the refusals the parser names.
    write_seed("authorization", "basic-pad1", "Basic " + fuzz_reference::base64_encode("al:pw"));
    write_seed("authorization", "basic-pad2", "Basic " + fuzz_reference::base64_encode("a:pw"));
    write_seed("authorization", "basic-nopad", "Basic " + fuzz_reference::base64_encode("ab:pw"));
    write_seed("authorization", "basic-no-colon", "Basic " + fuzz_reference::base64_encode("alice"));
    write_seed("authorization", "basic-empty-user", "Basic " + fuzz_reference::base64_encode(":secret"));
    write_seed("authorization", "basic-nul", "Basic " + fuzz_reference::base64_encode(std::string("a:b\0c", 5)));
    write_seed("authorization", "lower-case-scheme", "basic " + fuzz_reference::base64_encode("alice:x"));
    write_seed("authorization", "extra-spaces", "Bearer    abc");
    write_seed("authorization", "two-words", "Bearer abc def");
    write_seed("authorization", "scheme-only", "Basic");
    write_seed("authorization", "unknown-scheme", "Digest username=\"alice\"");
    write_seed("authorization", "junk-after-padding", "Basic YWw6cHc=YQ==");
    write_seed("base64", "bad-unused-bits", std::string(1, '\0') + "YR==");
    write_seed("base64", "missing-padding", std::string(1, '\0') + "YWw6cHc");
    write_seed("base64", "url-alphabet", std::string(1, '\0') + "-_-_");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    corpus = argv[1];
    record_seeds();
    store_seeds();
    token_seeds();
    return 0;
}
