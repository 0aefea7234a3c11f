// classify_git_request: every rule of the git smart HTTP / LFS table, and the
// tricks (".git" variants, context paths, duplicated or encoded service=,
// dot segments), plus an invariant over generated requests: nothing that
// mentions receive-pack is ever classified with a read need.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pat/route.hpp"

namespace pat {
namespace {

using Outcome = Route::Outcome;

struct GitCase {
    const char* method;
    const char* path;
    const char* args;
    Outcome outcome;
    Need need;            // only checked when classified
    const char* project;  // likewise
    const char* repo;     // likewise
};

constexpr Outcome kOk = Outcome::classified;
constexpr Outcome kNo = Outcome::unrecognised;
constexpr Outcome kBad = Outcome::bad_request;
constexpr Need kRead = Need::repo_read;
constexpr Need kWrite = Need::repo_write;
constexpr Need kNone = Need::unrecognised_route;

void expect_cases(const std::vector<GitCase>& cases) {
    for (const GitCase& c : cases) {
        SCOPED_TRACE(std::string(c.method) + " " + c.path + "?" + c.args);
        const Route route = classify_git_request({c.method, c.path, c.args});
        ASSERT_EQ(route.outcome, c.outcome);
        if (c.outcome == kOk) {
            EXPECT_EQ(route.need, c.need);
            EXPECT_EQ(route.project, c.project);
            EXPECT_EQ(route.repo, c.repo);
        } else {
            EXPECT_EQ(route.need, Need::unrecognised_route);
            EXPECT_TRUE(route.project.empty());
            EXPECT_TRUE(route.repo.empty());
        }
    }
}

TEST(RouteGit, SmartProtocolEndpoints) {
    expect_cases({
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack", kOk, kRead, "PRJ", "repo"},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-receive-pack", kOk, kWrite, "PRJ", "repo"},
        {"POST", "/scm/PRJ/repo/git-upload-pack", "", kOk, kRead, "PRJ", "repo"},
        {"POST", "/scm/PRJ/repo/git-receive-pack", "", kOk, kWrite, "PRJ", "repo"},
        // Other parameters beside service are fine.
        {"GET", "/scm/PRJ/repo/info/refs", "foo=bar&service=git-upload-pack", kOk, kRead, "PRJ", "repo"},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&x=%2F", kOk, kRead, "PRJ", "repo"},
    });
}

TEST(RouteGit, GitSuffixVariantsNameTheSameRepository) {
    expect_cases({
        {"GET", "/scm/PRJ/repo.git/info/refs", "service=git-upload-pack", kOk, kRead, "PRJ", "repo"},
        {"POST", "/scm/PRJ/repo.git/git-receive-pack", "", kOk, kWrite, "PRJ", "repo"},
        {"POST", "/scm/PRJ/my.repo.git/git-upload-pack", "", kOk, kRead, "PRJ", "my.repo"},
        // The suffix is removed once: "x.git.git" is the slug "x.git", invalid.
        {"POST", "/scm/PRJ/repo.git.git/git-upload-pack", "", kNo, kNone, "", ""},
        // ".git" alone is no slug; neither is an upper-case suffix.
        {"POST", "/scm/PRJ/.git/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo.GIT/git-upload-pack", "", kNo, kNone, "", ""},
        // The repository alone, with or without a slash, is no endpoint.
        {"GET", "/scm/PRJ/repo.git", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo.git/", "", kNo, kNone, "", ""},
    });
}

TEST(RouteGit, NamesPassThroughAsWrittenAndPersonalProjects) {
    expect_cases({
        {"POST", "/scm/prj/Repo/git-upload-pack", "", kOk, kRead, "prj", "Repo"},
        {"POST", "/scm/~alice/dotfiles.git/git-receive-pack", "", kOk, kWrite, "~alice", "dotfiles"},
        {"GET", "/scm/~Alice/dotfiles/info/refs", "service=git-upload-pack", kOk, kRead, "~Alice", "dotfiles"},
        // Invalid names are unrecognised.
        {"POST", "/scm/1PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/~/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/-repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/re po/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/P?J/repo/git-upload-pack", "", kNo, kNone, "", ""},
    });
}

TEST(RouteGit, ContextPaths) {
    expect_cases({
        {"GET", "/bitbucket/scm/PRJ/repo.git/info/refs", "service=git-upload-pack", kOk, kRead, "PRJ", "repo"},
        {"POST", "/a/b/c/scm/PRJ/repo/git-receive-pack", "", kOk, kWrite, "PRJ", "repo"},
        // The first "scm" starts the route: here the project is "scm".
        {"POST", "/scm/scm/repo/git-upload-pack", "", kOk, kRead, "scm", "repo"},
        // ... and here "scm" is the slug, so "x/git-upload-pack" is no endpoint.
        {"POST", "/scm/PRJ/scm/x/git-upload-pack", "", kNo, kNone, "", ""},
        // No "scm" segment at all, or one only spelled like it.
        {"POST", "/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/SCM/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scms/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
    });
}

TEST(RouteGit, MissingPartsEmptySegmentsAndTrailingSlashes) {
    expect_cases({
        {"GET", "/scm", "", kNo, kNone, "", ""},
        {"GET", "/scm/", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/info/refs", "service=git-upload-pack", kNo, kNone, "", ""},  // slug "info"
        {"POST", "/scm/PRJ/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm//repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ//git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "//scm/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo//git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/git-upload-pack/", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs/", "service=git-upload-pack", kNo, kNone, "", ""},
        {"POST", "", "", kNo, kNone, "", ""},
        {"POST", "/", "", kNo, kNone, "", ""},
        {"POST", "scm/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},  // not absolute
    });
}

TEST(RouteGit, DotSegmentsAndSeparatorsAreNeverTrusted) {
    expect_cases({
        {"POST", "/scm/PRJ/repo/../other/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/../PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/./repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/./git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/../scm/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/ctx/./scm/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/git-upload-pack/..", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo;x=1/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/git-upload-pack;jsessionid=1", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo\\x/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/ctx;x=1/scm/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"POST", "/ctx\\/scm/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        // "..." is an ordinary (if odd) name, not a dot segment.
        {"POST", "/ctx/.../scm/PRJ/repo/git-upload-pack", "", kOk, kRead, "PRJ", "repo"},
    });
    // A NUL inside the path (here in the context path, where no name check
    // would catch it), which a C string table cannot carry.
    const std::string with_nul = std::string("/ctx") + '\0' + "/scm/PRJ/repo/git-upload-pack";
    EXPECT_EQ(classify_git_request({"POST", with_nul, ""}).outcome, kNo);
}

TEST(RouteGit, ServiceParameterTricks) {
    expect_cases({
        // Duplicated, in every combination: never read.
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&service=git-receive-pack", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-receive-pack&service=git-upload-pack", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&service=git-upload-pack", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&service", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&SERVICE=git-receive-pack", kBad, kNone, "", ""},
        // Any escape in the name or the value.
        {"GET", "/scm/PRJ/repo/info/refs", "servic%65=git-receive-pack", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "%73ervice=git-upload-pack", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&%73ervice=git-receive-pack", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload%2Dpack", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git%2dreceive-pack", kBad, kNone, "", ""},
        // receive-pack in another parameter, visible only once decoded (found by the fuzzer)
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&x=receive%2Dpack", kBad, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/git-upload-pack", "x=%72eceive-pack", kBad, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/git-upload-pack", "x=receive%", kBad, kNone, "", ""},
        // ... and in a path that still holds an escape (it was encoded twice)
        {"GET", "/scm/PRJ/repo/info/lfs/objects/receive%2Dpack", "", kOk, kWrite, "PRJ", "repo"},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack+", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=%67it-upload-pack", kBad, kNone, "", ""},
        // A name that only spells "service" after case folding.
        {"GET", "/scm/PRJ/repo/info/refs", "Service=git-upload-pack", kBad, kNone, "", ""},
        // A malformed escape in any name: we cannot tell what it names.
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&%zz=1", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&x%", kBad, kNone, "", ""},
        // ';' could split parameters on some servers.
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack;service=git-receive-pack", kBad, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "x=1;y=2&service=git-upload-pack", kBad, kNone, "", ""},
        // receive-pack mentioned beside an upload-pack service.
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&x=git-receive-pack", kBad, kNone, "", ""},
        // Escaped names of other parameters are harmless.
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-pack&a%62c=1", kOk, kRead, "PRJ", "repo"},
        // Unknown service values, and the dumb protocol: unrecognised.
        {"GET", "/scm/PRJ/repo/info/refs", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "foo=bar", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-upload-archive", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=GIT-RECEIVE-PACK", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "service=git-receive-pack2", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", "xservice=git-receive-pack", kNo, kNone, "", ""},
    });
}

TEST(RouteGit, WrongMethodsAndDumbProtocolAreUnrecognised) {
    expect_cases({
        {"POST", "/scm/PRJ/repo/info/refs", "service=git-upload-pack", kNo, kNone, "", ""},
        {"HEAD", "/scm/PRJ/repo/info/refs", "service=git-upload-pack", kNo, kNone, "", ""},
        {"get", "/scm/PRJ/repo/info/refs", "service=git-upload-pack", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/git-upload-pack", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo/git-receive-pack", "", kNo, kNone, "", ""},
        {"PUT", "/scm/PRJ/repo/git-receive-pack", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo.git/HEAD", "", kNo, kNone, "", ""},
        {"HEAD", "/scm/PRJ/repo.git/HEAD", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo.git/objects/info/packs", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo.git/objects/ab/cdef0123", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo.git/info/alternates", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/git-upload-archive", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/GIT-UPLOAD-PACK", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo/x/git-upload-pack", "", kNo, kNone, "", ""},
    });
}

TEST(RouteGit, GitLfs) {
    const char* oid =
        "/scm/PRJ/repo.git/info/lfs/objects/"
        "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";
    const std::string verify = std::string(oid) + "/verify";
    expect_cases({
        // batch: always write, whatever the body says.
        {"POST", "/scm/PRJ/repo.git/info/lfs/objects/batch", "", kOk, kWrite, "PRJ", "repo"},
        {"POST", "/bitbucket/scm/~bob/repo/info/lfs/objects/batch", "", kOk, kWrite, "~bob", "repo"},
        {"GET", "/scm/PRJ/repo.git/info/lfs/objects/batch", "", kNo, kNone, "", ""},
        {"PUT", "/scm/PRJ/repo.git/info/lfs/objects/batch", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo.git/info/lfs/objects/batch/x", "", kNo, kNone, "", ""},
        // Basic transfer.
        {"GET", oid, "", kOk, kRead, "PRJ", "repo"},
        {"HEAD", oid, "", kOk, kRead, "PRJ", "repo"},
        {"PUT", oid, "", kOk, kWrite, "PRJ", "repo"},
        {"POST", verify.c_str(), "", kOk, kWrite, "PRJ", "repo"},
        {"DELETE", oid, "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo.git/info/lfs/objects", "", kNo, kNone, "", ""},
        // Locks.
        {"GET", "/scm/PRJ/repo.git/info/lfs/locks", "path=a.bin", kOk, kRead, "PRJ", "repo"},
        {"POST", "/scm/PRJ/repo.git/info/lfs/locks", "", kOk, kWrite, "PRJ", "repo"},
        {"POST", "/scm/PRJ/repo.git/info/lfs/locks/verify", "", kOk, kWrite, "PRJ", "repo"},
        {"POST", "/scm/PRJ/repo.git/info/lfs/locks/42/unlock", "", kOk, kWrite, "PRJ", "repo"},
        {"GET", "/scm/PRJ/repo.git/info/lfs/locks/verify", "", kNo, kNone, "", ""},
        {"GET", "/scm/PRJ/repo.git/info/lfs/locks/42/unlock", "", kNo, kNone, "", ""},
        {"DELETE", "/scm/PRJ/repo.git/info/lfs/locks", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo.git/info/lfs/locks/42", "", kNo, kNone, "", ""},
        // Elsewhere under info/lfs.
        {"GET", "/scm/PRJ/repo.git/info/lfs", "", kNo, kNone, "", ""},
        {"POST", "/scm/PRJ/repo.git/info/lfs/other", "", kNo, kNone, "", ""},
    });
}

TEST(RouteGit, ReceivePackInThePathIsNeverRead) {
    // A repository or context name that contains the word needs write even to
    // be read: the invariant holds by construction.
    expect_cases({
        {"POST", "/scm/PRJ/git-receive-pack/git-upload-pack", "", kOk, kWrite, "PRJ", "git-receive-pack"},
        {"GET", "/scm/PRJ/receive-pack-tools/info/refs", "service=git-upload-pack", kOk, kWrite, "PRJ",
         "receive-pack-tools"},
        {"GET", "/Receive-Pack/scm/PRJ/repo/info/lfs/locks", "", kOk, kWrite, "PRJ", "repo"},
    });
}

// Every generated request whose path or query mentions receive-pack (in any
// case) is denied, refused as a bad request, or needs write.
TEST(RouteGit, InvariantReceivePackIsNeverClassifiedAsRead) {
    const std::vector<std::string> methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "get"};
    const std::vector<std::string> prefixes = {"", "/bitbucket", "/a/b", "/receive-pack", "/x/scm/../"};
    const std::vector<std::string> repos = {
        "PRJ/repo", "PRJ/repo.git", "~u/r", "PRJ/receive-pack", "PRJ/git-receive-pack.git", "RECEIVE-PACK/r", "PRJ/.."};
    const std::vector<std::string> endpoints = {"info/refs",
                                                "git-upload-pack",
                                                "git-receive-pack",
                                                "git-receive-pack/",
                                                "info/refs/",
                                                "info/lfs/objects/batch",
                                                "info/lfs/objects/abc",
                                                "info/lfs/locks",
                                                "info/lfs/locks/verify",
                                                "git-upload-pack/git-receive-pack",
                                                "receive-pack",
                                                "HEAD",
                                                ""};
    const std::vector<std::string> args = {
        "",
        "service=git-upload-pack",
        "service=git-receive-pack",
        "service=git-upload-pack&service=git-receive-pack",
        "service=git-receive-pack&service=git-upload-pack",
        "service=git-upload-pack&service=git-upload-pack",
        "service=git-upload-pack&x=receive-pack",
        "x=git-receive-pack&service=git-upload-pack",
        "service=git-upload-pack;service=git-receive-pack",
        "service=git-%72eceive-pack",
        "servic%65=git-receive-pack&service=git-upload-pack",
        "service=git-upload-pack&Service=git-receive-pack",
        "service=GIT-RECEIVE-PACK",
        "service=git-upload-pack#receive-pack",
        "receive-pack",
    };
    auto mentions_receive_pack = [](std::string text) {
        for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return text.find("receive-pack") != std::string::npos;
    };
    std::size_t checked = 0;
    std::size_t classified_as_write = 0;
    for (const auto& method : methods) {
        for (const auto& prefix : prefixes) {
            for (const auto& repo : repos) {
                for (const auto& endpoint : endpoints) {
                    const std::string path = prefix + "/scm/" + repo + "/" + endpoint;
                    for (const auto& arg : args) {
                        if (!mentions_receive_pack(path) && !mentions_receive_pack(arg)) continue;
                        ++checked;
                        const Route route = classify_git_request({method, path, arg});
                        if (route.outcome != Outcome::classified) continue;
                        SCOPED_TRACE(method + " " + path + "?" + arg);
                        EXPECT_NE(route.need, Need::repo_read);
                        EXPECT_NE(route.need, Need::project_read);
                        EXPECT_NE(route.need, Need::authenticated);
                        if (route.need == Need::repo_write) ++classified_as_write;
                    }
                }
            }
        }
    }
    // The generator really produced requests, and some of them were real
    // receive-pack routes (so the invariant was not met by denying all).
    EXPECT_GT(checked, 5000u);
    EXPECT_GT(classified_as_write, 50u);
}

// docs/git-routes.md's "Checked examples" table, row by row: the page and
// the classifier cannot drift apart. make test-unit runs from the root.
std::string trimmed(const std::string& text) {
    const auto begin = text.find_first_not_of(' ');
    if (begin == std::string::npos) return "";
    return text.substr(begin, text.find_last_not_of(' ') - begin + 1);
}

TEST(RouteGit, TheDocumentedTableIsWhatTheClassifierDoes) {
    std::ifstream in("docs/git-routes.md");
    if (!in) in.open("../docs/git-routes.md");
    ASSERT_TRUE(in) << "docs/git-routes.md not found (run from the repository root)";
    std::string line;
    bool in_examples = false;
    int rows = 0;
    while (std::getline(in, line)) {
        if (line.rfind("## ", 0) == 0) in_examples = line == "## Checked examples";
        if (!in_examples || line.rfind("| ", 0) != 0 || line.rfind("| Method", 0) == 0) continue;
        std::vector<std::string> cells;
        std::stringstream row(line.substr(1));
        for (std::string cell; std::getline(row, cell, '|');) cells.push_back(trimmed(cell));
        ASSERT_GE(cells.size(), 4u) << line;
        const std::string &method = cells[0], &path = cells[1], &query = cells[2], &need = cells[3];
        SCOPED_TRACE(line);
        const Route route = classify_git_request({method, path, query});
        if (need == "refused") {
            EXPECT_EQ(route.outcome, Outcome::unrecognised);
        } else if (need == "bad-request") {
            EXPECT_EQ(route.outcome, Outcome::bad_request);
        } else {
            ASSERT_EQ(route.outcome, Outcome::classified);
            EXPECT_EQ(need_name(route.need), need);
            EXPECT_FALSE(route.project.empty());
            EXPECT_FALSE(route.repo.empty());
        }
        ++rows;
    }
    EXPECT_GT(rows, 30);
}

}  // namespace
}  // namespace pat
