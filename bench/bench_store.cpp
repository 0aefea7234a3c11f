#include "bench_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "pat/password.hpp"
#include "pat/store.hpp"
#include "pat/token.hpp"

namespace pat::bench {
namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
// Other projects the users hold grants on, so that the grant tables are as
// large and as spread as the token table.
constexpr unsigned kOtherProjects = 5000;
constexpr unsigned kReposPerProject = 50;

// The six cells of the token permission table, used in turn. Each allows a
// repository read, so every "valid" token is accepted on BENCH/repo.
constexpr std::array<TokenPermissions, 6> kPermissionCells = {{
    {Level::read, Level::read},
    {Level::read, Level::write},
    {Level::read, Level::admin},
    {Level::write, Level::write},
    {Level::write, Level::admin},
    {Level::admin, Level::admin},
}};

std::string user_name(std::size_t i) {
    char name[32];
    std::snprintf(name, sizeof name, "u%07zu", i);
    return name;
}

std::string other_project(unsigned i) {
    char key[32];
    std::snprintf(key, sizeof key, "P%04u", i);
    return key;
}

std::string group_name(unsigned i) {
    char name[32];
    std::snprintf(name, sizeof name, "bench-g%03u", i);
    return name;
}

std::string other_repo(unsigned i) {
    char slug[32];
    std::snprintf(slug, sizeof slug, "r%03u", i);
    return slug;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The hot token with its last checksum character replaced: still the token
// format, wrong checksum.
std::string with_bad_checksum(const std::string& token) {
    std::string bad = token;
    char& last = bad.back();
    last = last == 'z' ? 'y' : (last == '9' ? 'A' : (last == 'Z' ? 'a' : static_cast<char>(last + 1)));
    return bad;
}

Status write_all(int fd, const std::string& text, const std::string& path) {
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return {StatusCode::invalid_argument, "cannot write " + path + ": " + std::strerror(errno)};
        done += static_cast<std::size_t>(n);
    }
    return Status::success();
}

Status write_credentials(const std::string& path, const std::vector<Credential>& credentials) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return {StatusCode::invalid_argument, "cannot create " + path + ": " + std::strerror(errno)};
    std::string text;
    for (const auto& c : credentials) text += c.kind + ' ' + c.user + ' ' + c.token + '\n';
    Status s = write_all(fd, text, path);
    wipe(text);
    if (::close(fd) != 0 && s.ok()) s = {StatusCode::invalid_argument, "cannot write " + path};
    return s;
}

// Where the revoked token is among the special cases (seed_store's specials).
constexpr std::size_t kRevokedSpecial = 8;

// Three users who reach BENCH (write, a project grant) each in their own
// way, for the decision's cost by number of groups (decision_bench
// groups_*): bench-groups0 through a grant of their own and no group,
// bench-groups1 through the one group they are in, bench-groups50 through
// one of the fifty groups they are in, each group granting something (the
// others on other projects and repositories). Group grants are resolved
// when they are written (the effective table, store.hpp), so the three
// should cost the same per request.
constexpr unsigned kGroups = kGroupsOfTheBusiestUser;

void add_group_cases(Store::BulkLoad& load, std::mt19937_64& random) {
    for (const char* name : {"bench-groups0", "bench-groups1", "bench-groups50"}) load.users.push_back({name, false});
    load.grants.push_back({"bench-groups0", kProject, "", Level::write});
    for (unsigned g = 0; g < kGroups; ++g) {
        Store::BulkLoad::Group group;
        group.name = group_name(g);
        group.members = {"bench-groups50"};
        if (g == 0) group.members.push_back("bench-groups1");
        load.groups.push_back(std::move(group));
        GrantInfo grant;
        grant.user = group_name(g);
        grant.kind = GranteeKind::group;
        if (g == 0) {
            grant.project = kProject;
            grant.level = Level::write;
        } else {
            grant.project = other_project(random() % kOtherProjects);
            if (g % 2 == 0) grant.repo = other_repo(random() % kReposPerProject);
            grant.level = static_cast<Level>(1 + random() % 3);
        }
        load.grants.push_back(std::move(grant));
    }
}

// Store::bulk_load draws each token id (12 random digits) once and refuses
// the whole transaction when one exists already. Among a million ids such a
// collision is likely (birthday bound: p = 1 - exp(-n^2 / 2e12), about 0.4),
// so the tokens go in chunks of one transaction each, users and grants
// first, and a chunk refused for an existing id is loaded again with fresh
// ids (a refused transaction wrote nothing).
Expected<std::vector<std::string>> load_in_chunks(Store& store, Store::BulkLoad& load, std::size_t chunk,
                                                  std::size_t& retries) {
    Store::BulkLoad accounts;
    accounts.users = std::move(load.users);
    accounts.groups = std::move(load.groups);
    accounts.grants = std::move(load.grants);
    accounts.password = load.password;
    auto none = store.bulk_load(accounts, chunk);
    load.users = std::move(accounts.users);
    load.groups = std::move(accounts.groups);
    load.grants = std::move(accounts.grants);
    if (!none) return none.status();

    std::vector<std::string> ids;
    ids.reserve(load.tokens.size());
    for (std::size_t start = 0; start < load.tokens.size(); start += chunk) {
        Store::BulkLoad part;
        part.password = load.password;
        const std::size_t end = std::min(load.tokens.size(), start + chunk);
        part.tokens.assign(load.tokens.begin() + static_cast<std::ptrdiff_t>(start),
                           load.tokens.begin() + static_cast<std::ptrdiff_t>(end));
        Expected<std::vector<std::string>> loaded = Status{};
        for (int attempt = 0; attempt < 8; ++attempt) {
            loaded = store.bulk_load(part, chunk);
            if (loaded || loaded.status().code() != StatusCode::already_exists) break;
            ++retries;
        }
        for (auto& token : part.tokens) wipe(token.text);
        if (!loaded) return loaded.status();
        ids.insert(ids.end(), loaded->begin(), loaded->end());
    }
    return ids;
}

}  // namespace

Expected<SeedReport> seed_store(const SeedOptions& options) {
    if (options.tokens == 0 || options.tokens_per_user == 0) {
        return Status{StatusCode::invalid_argument, "a store needs at least one token and one token per user"};
    }
    const auto started = std::chrono::steady_clock::now();
    const std::int64_t now = now_ms();
    std::mt19937_64 random(20240601);  // fixed: every run seeds the same layout

    Store::BulkLoad load;
    auto password = hash_password("bench-password-never-used");
    if (!password) return password.status();
    load.password = *password;

    const std::size_t users = std::max<std::size_t>(1, options.tokens / options.tokens_per_user);
    load.users.reserve(users + 4);
    load.grants.reserve(users * 4 + 4);
    for (std::size_t i = 0; i < users; ++i) {
        const std::string name = user_name(i);
        load.users.push_back({name, false});
        // Half reach BENCH/repo through a project grant, half through a
        // repository grant; both paths of the decision are exercised.
        if (random() % 2 == 0) {
            load.grants.push_back({name, kProject, "", Level::write});
        } else {
            load.grants.push_back({name, kProject, kRepo, Level::read});
        }
        for (int k = 0; k < 2; ++k) {
            load.grants.push_back(
                {name, other_project(random() % kOtherProjects), "", static_cast<Level>(1 + random() % 3)});
        }
        load.grants.push_back({name, other_project(random() % kOtherProjects), other_repo(random() % kReposPerProject),
                               static_cast<Level>(1 + random() % 3)});
    }

    load.tokens.reserve(options.tokens + 8);
    for (std::size_t t = 0; t < options.tokens; ++t) {
        auto text = generate_token();
        if (!text) return text.status();
        Store::BulkLoad::Token token;
        token.owner = user_name(t % users);
        token.name = "bench";
        token.permissions = kPermissionCells[t % kPermissionCells.size()];
        token.text = std::move(*text);
        token.created_ms = now;
        token.expires_ms = t % 2 == 1 ? now + 3650 * kDayMs : 0;
        load.tokens.push_back(std::move(token));
    }

    // The special cases, after the regular tokens.
    for (const char* name : {"bench-noperm", "bench-disabled", "bench-special"}) load.users.push_back({name, false});
    load.grants.push_back({"bench-disabled", kProject, "", Level::write});
    load.grants.push_back({"bench-special", kProject, "", Level::write});
    add_group_cases(load, random);
    struct Special {
        const char* kind;
        const char* owner;
        TokenPermissions permissions;
        std::int64_t expires_ms;
    };
    const Special specials[] = {
        {"groups0", "bench-groups0", {Level::admin, Level::admin}, 0},
        {"groups1", "bench-groups1", {Level::admin, Level::admin}, 0},
        {"groups50", "bench-groups50", {Level::admin, Level::admin}, 0},
        {"noperm", "bench-noperm", {Level::admin, Level::admin}, 0},
        {"readonly", "bench-special", {Level::read, Level::read}, 0},
        {"disabled", "bench-disabled", {Level::admin, Level::admin}, 0},
        {"ghost", "bench-ghost", {Level::admin, Level::admin}, 0},
        {"expired", "bench-special", {Level::admin, Level::admin}, now - kDayMs},
        {"revoked", "bench-special", {Level::admin, Level::admin}, 0},
    };
    const std::size_t first_special = load.tokens.size();
    for (const auto& special : specials) {
        auto text = generate_token();
        if (!text) return text.status();
        load.tokens.push_back({special.owner, special.kind, special.permissions, std::move(*text),
                               special.expires_ms == 0 ? now : now - 2 * kDayMs, special.expires_ms});
    }

    SeedReport report;
    static_assert(std::size(specials) == kRevokedSpecial + 1, "the revoked token is the last special case");
    report.users = load.users.size();
    report.grants = load.grants.size();
    report.tokens = load.tokens.size();
    report.generate_seconds = seconds_since(started);

    const auto load_started = std::chrono::steady_clock::now();
    auto created = Store::create(options.store_path);
    if (!created) return created.status();
    Store& store = **created;
    auto ids = load_in_chunks(store, load, options.batch_size, report.id_collision_retries);
    if (!ids) return ids.status();
    const std::string& revoked_id = (*ids)[first_special + kRevokedSpecial];
    if (Status s = store.revoke_token(Actor::system(), revoked_id); !s.ok()) return s;
    if (Status s = store.set_user_active("bench-disabled", false); !s.ok()) return s;
    report.load_seconds = seconds_since(load_started);

    // The credentials file: the hot token first, then valid tokens spread
    // evenly over the whole store, then one of each special case.
    std::vector<Credential> credentials;
    const std::size_t exported = std::min(options.export_valid, options.tokens);
    const std::size_t step = options.tokens / std::max<std::size_t>(1, exported);
    for (std::size_t i = 0; i < exported; ++i) {
        const auto& token = load.tokens[i * step];
        credentials.push_back({"valid", token.owner, token.text});
    }
    for (std::size_t i = 0; i < std::size(specials); ++i) {
        const auto& token = load.tokens[first_special + i];
        credentials.push_back({specials[i].kind, token.owner, token.text});
    }
    auto unknown = generate_token();
    if (!unknown) return unknown.status();
    credentials.push_back({"unknown", load.tokens[0].owner, *unknown});
    wipe(*unknown);
    credentials.push_back({"badsum", load.tokens[0].owner, with_bad_checksum(load.tokens[0].text)});
    credentials.push_back({"malformed", load.tokens[0].owner, "npat_not-a-token"});
    report.exported = exported;

    Status written = write_credentials(options.credentials_path, credentials);
    for (auto& c : credentials) wipe(c.token);
    for (auto& token : load.tokens) wipe(token.text);
    if (!written.ok()) return written;
    return report;
}

Expected<std::vector<Credential>> read_credentials(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Status{StatusCode::not_found, "cannot read " + path + " (run the seeder first)"};
    std::vector<Credential> credentials;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        std::istringstream fields(line);
        Credential c;
        if (!(fields >> c.kind >> c.user >> c.token)) {
            wipe(line);
            return Status{StatusCode::invalid_argument, path + ":" + std::to_string(number) + ": not KIND USER TOKEN"};
        }
        credentials.push_back(std::move(c));
        wipe(line);
    }
    return credentials;
}

Expected<Credential> find_credential(const std::vector<Credential>& all, const std::string& kind) {
    for (const auto& c : all) {
        if (c.kind == kind) return c;
    }
    return Status{StatusCode::not_found, "no \"" + kind + "\" credential in the credentials file"};
}

}  // namespace pat::bench
