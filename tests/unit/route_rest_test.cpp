// classify_rest_request: every row of the REST table (README "REST routes"),
// context paths, personal projects, case, trailing slashes, dot segments and
// everything that must stay unrecognised.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pat/route.hpp"

namespace pat {
namespace {

using Outcome = Route::Outcome;

struct RestCase {
    const char* method;
    const char* path;
    Need need;            // Need::unrecognised_route: expect Outcome::unrecognised
    const char* project;  // checked when classified
    const char* repo;     // likewise; "" for project needs
};

constexpr Need kNone = Need::unrecognised_route;

void expect_cases(const std::vector<RestCase>& cases) {
    for (const RestCase& c : cases) {
        SCOPED_TRACE(std::string(c.method) + " " + c.path);
        const Route route = classify_rest_request({c.method, c.path, ""});
        if (c.need == kNone) {
            EXPECT_EQ(route.outcome, Outcome::unrecognised);
            EXPECT_EQ(route.need, kNone);
            continue;
        }
        ASSERT_EQ(route.outcome, Outcome::classified);
        EXPECT_EQ(route.need, c.need);
        EXPECT_EQ(route.project, c.project);
        EXPECT_EQ(route.repo, c.repo);
    }
}

constexpr const char* kRepo = "/rest/api/1.0/projects/PRJ/repos/my-repo";

std::string repo_path(const std::string& tail) {
    return std::string(kRepo) + tail;
}

TEST(RouteRest, TheRepositoryItself) {
    expect_cases({
        {"GET", kRepo, Need::repo_read, "PRJ", "my-repo"},
        {"HEAD", kRepo, Need::repo_read, "PRJ", "my-repo"},
        {"POST", kRepo, Need::repo_fork, "PRJ", "my-repo"},
        {"PUT", kRepo, Need::repo_admin, "PRJ", "my-repo"},
        {"DELETE", kRepo, Need::repo_admin, "PRJ", "my-repo"},
        {"PATCH", kRepo, kNone, "", ""},
        {"OPTIONS", kRepo, kNone, "", ""},
        {"get", kRepo, kNone, "", ""},
        {"", kRepo, kNone, "", ""},
    });
}

TEST(RouteRest, UnderTheRepository) {
    const std::string browse = repo_path("/browse/src/main.c");
    const std::string commits = repo_path("/commits");
    const std::string pr = repo_path("/pull-requests");
    const std::string pr_merge = repo_path("/pull-requests/7/merge");
    const std::string pr_approve = repo_path("/pull-requests/7/approve");
    const std::string pr_comment = repo_path("/pull-requests/7/comments/3");
    const std::string commit_comment = repo_path("/commits/abc123/comments");
    const std::string labels = repo_path("/labels");
    const std::string labels_one = repo_path("/labels/team-a");
    const std::string default_branch = repo_path("/branches/default");
    const std::string default_branch2 = repo_path("/default-branch");
    const std::string branches = repo_path("/branches");
    const std::string recreate = repo_path("/recreate");
    expect_cases({
        {"GET", browse.c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"HEAD", commits.c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"GET", pr.c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"POST", pr.c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"POST", pr_merge.c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"POST", pr_approve.c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"DELETE", pr_approve.c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"PUT", pr_comment.c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"DELETE", pr_comment.c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"POST", commit_comment.c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"PUT", browse.c_str(), Need::repo_write, "PRJ", "my-repo"},  // edit a file
        {"POST", branches.c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"GET", branches.c_str(), Need::repo_read, "PRJ", "my-repo"},
        // Writes Bitbucket reserves to repository administrators.
        {"GET", labels.c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"POST", labels.c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"DELETE", labels_one.c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"GET", default_branch.c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"PUT", default_branch.c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"PUT", default_branch2.c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"POST", recreate.c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"PATCH", pr.c_str(), kNone, "", ""},
    });
}

TEST(RouteRest, RepositoryAdministrationWhateverTheMethod) {
    for (const char* area :
         {"/settings", "/settings/hooks", "/settings/hooks/com.example:hook/enabled", "/settings/pull-requests",
          "/webhooks", "/webhooks/12", "/hooks", "/permissions", "/permissions/users", "/secret-scanning/allowlist",
          "/SETTINGS/hooks", "/Permissions/groups"}) {
        const std::string path = repo_path(area);
        for (const char* method : {"GET", "HEAD", "POST", "PUT", "DELETE"}) {
            SCOPED_TRACE(std::string(method) + " " + path);
            const Route route = classify_rest_request({method, path, ""});
            ASSERT_EQ(route.outcome, Outcome::classified);
            EXPECT_EQ(route.need, Need::repo_admin);
            EXPECT_EQ(route.project, "PRJ");
            EXPECT_EQ(route.repo, "my-repo");
        }
        EXPECT_EQ(classify_rest_request({"PATCH", path, ""}).outcome, Outcome::unrecognised);
    }
}

TEST(RouteRest, TheProjectAndItsRepositoryList) {
    expect_cases({
        {"GET", "/rest/api/1.0/projects/PRJ", Need::project_read, "PRJ", ""},
        {"HEAD", "/rest/api/1.0/projects/PRJ", Need::project_read, "PRJ", ""},
        {"PUT", "/rest/api/1.0/projects/PRJ", Need::project_admin, "PRJ", ""},
        {"DELETE", "/rest/api/1.0/projects/PRJ", Need::project_admin, "PRJ", ""},
        {"POST", "/rest/api/1.0/projects/PRJ", Need::project_admin, "PRJ", ""},  // no such call: stricter
        {"GET", "/rest/api/1.0/projects/PRJ/repos", Need::project_read, "PRJ", ""},
        {"HEAD", "/rest/api/1.0/projects/PRJ/repos", Need::project_read, "PRJ", ""},
        {"POST", "/rest/api/1.0/projects/PRJ/repos", Need::project_admin, "PRJ", ""},  // create
        {"PUT", "/rest/api/1.0/projects/PRJ/repos", Need::project_admin, "PRJ", ""},
        // Other project resources: read with GET, project admin for writes.
        {"GET", "/rest/api/1.0/projects/PRJ/avatar.png", Need::project_read, "PRJ", ""},
        {"POST", "/rest/api/1.0/projects/PRJ/avatar.png", Need::project_admin, "PRJ", ""},
        {"DELETE", "/rest/api/1.0/projects/PRJ/something/else", Need::project_admin, "PRJ", ""},
        {"PATCH", "/rest/api/1.0/projects/PRJ", kNone, "", ""},
        {"OPTIONS", "/rest/api/1.0/projects/PRJ/repos", kNone, "", ""},
    });
}

TEST(RouteRest, ProjectAdministrationWhateverTheMethod) {
    for (const char* area :
         {"/permissions", "/permissions/users", "/permissions/PROJECT_READ/all", "/settings", "/settings/hooks",
          "/settings/pull-requests/git", "/webhooks", "/webhooks/3", "/hooks", "/secret-scanning/rules", "/WEBHOOKS"}) {
        const std::string path = std::string("/rest/api/latest/projects/PRJ") + area;
        for (const char* method : {"GET", "HEAD", "POST", "PUT", "DELETE"}) {
            SCOPED_TRACE(std::string(method) + " " + path);
            const Route route = classify_rest_request({method, path, ""});
            ASSERT_EQ(route.outcome, Outcome::classified);
            EXPECT_EQ(route.need, Need::project_admin);
            EXPECT_EQ(route.project, "PRJ");
            EXPECT_TRUE(route.repo.empty());
        }
    }
}

TEST(RouteRest, VersionsContextPathsAndCase) {
    expect_cases({
        {"GET", "/rest/api/latest/projects/PRJ/repos/r", Need::repo_read, "PRJ", "r"},
        {"GET", "/bitbucket/rest/api/1.0/projects/PRJ/repos/r", Need::repo_read, "PRJ", "r"},
        {"DELETE", "/a/b/rest/api/latest/projects/PRJ/repos/r", Need::repo_admin, "PRJ", "r"},
        // Keywords ignore case; names pass through as written.
        {"GET", "/REST/API/LATEST/PROJECTS/prj/REPOS/My.Repo", Need::repo_read, "prj", "My.Repo"},
        {"POST", "/rest/api/1.0/Projects/Prj/Repos", Need::project_admin, "Prj", ""},
        // Other versions and APIs.
        {"GET", "/rest/api/2.0/projects/PRJ", kNone, "", ""},
        {"GET", "/rest/api/projects/PRJ", kNone, "", ""},
        {"GET", "/rest/branch-utils/1.0/projects/PRJ/repos/r/branches", kNone, "", ""},
        {"GET", "/rest/api/1.0/PRJ/repos/r", kNone, "", ""},
        // The first "rest" starts the route.
        {"GET", "/rest/rest/api/1.0/projects/PRJ", kNone, "", ""},
        {"GET", "/api/1.0/projects/PRJ", kNone, "", ""},
    });
}

TEST(RouteRest, PersonalProjects) {
    expect_cases({
        {"GET", "/rest/api/1.0/projects/~alice", Need::project_read, "~alice", ""},
        {"GET", "/rest/api/1.0/projects/~alice/repos/dotfiles", Need::repo_read, "~alice", "dotfiles"},
        {"POST", "/rest/api/1.0/projects/~alice/repos/dotfiles/pull-requests", Need::repo_write, "~alice", "dotfiles"},
        {"GET", "/rest/api/1.0/projects/~alice/repos/dotfiles/permissions/users", Need::repo_admin, "~alice",
         "dotfiles"},
        {"GET", "/rest/api/1.0/projects/~/repos/dotfiles", kNone, "", ""},
        // The users/ alias is not recognised.
        {"GET", "/rest/api/1.0/users/alice/repos/dotfiles", kNone, "", ""},
    });
}

TEST(RouteRest, EverythingElseIsUnrecognised) {
    expect_cases({
        {"GET", "/rest/api/1.0/projects", kNone, "", ""},
        {"POST", "/rest/api/1.0/projects", kNone, "", ""},
        {"GET", "/rest/api/1.0/repos", kNone, "", ""},
        {"GET", "/rest/api/1.0/users", kNone, "", ""},
        {"GET", "/rest/api/1.0/admin/users", kNone, "", ""},
        {"PUT", "/rest/api/1.0/admin/permissions/users", kNone, "", ""},
        {"GET", "/rest/api/1.0/application-properties", kNone, "", ""},
        {"GET", "/rest/api/1.0", kNone, "", ""},
        {"GET", "/rest/api", kNone, "", ""},
        {"GET", "/rest", kNone, "", ""},
        {"GET", "/", kNone, "", ""},
        {"GET", "", kNone, "", ""},
        {"GET", "rest/api/1.0/projects/PRJ", kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", kNone, "", ""},
        // Invalid names.
        {"GET", "/rest/api/1.0/projects/1PRJ", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/P.RJ", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/-r", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r.git", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r%2Fx", kNone, "", ""},
    });
}

TEST(RouteRest, TrailingSlashesEmptySegmentsAndDotSegments) {
    expect_cases({
        // One trailing slash names the same resource.
        {"GET", "/rest/api/1.0/projects/PRJ/", Need::project_read, "PRJ", ""},
        {"POST", "/rest/api/1.0/projects/PRJ/repos/", Need::project_admin, "PRJ", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/", Need::repo_read, "PRJ", "r"},
        {"POST", "/rest/api/1.0/projects/PRJ/repos/r/", Need::repo_fork, "PRJ", "r"},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/settings/", Need::repo_admin, "PRJ", "r"},
        // More than one, or empty segments inside: unrecognised.
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r//", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ//repos/r", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects//repos/r", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos//settings", kNone, "", ""},
        {"GET", "/rest//api/1.0/projects/PRJ", kNone, "", ""},
        {"GET", "//rest/api/1.0/projects/PRJ", kNone, "", ""},
        // Dot segments anywhere.
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/../../OTHER", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/..", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/.", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/./settings", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/browse/../settings", kNone, "", ""},
        {"GET", "/ctx/../rest/api/1.0/projects/PRJ", kNone, "", ""},
        {"GET", "/rest/api/1.0/./projects/PRJ", kNone, "", ""},
        // Path parameters and backslashes.
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/settings;x", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r;x/browse", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/browse\\..\\settings", kNone, "", ""},
    });
    const std::string with_nul = std::string("/rest/api/1.0/projects/PRJ/repos/r/browse") + '\0' + "x";
    EXPECT_EQ(classify_rest_request({"GET", with_nul, ""}).outcome, Outcome::unrecognised);
}

TEST(RouteRest, QueryStringDoesNotChangeTheNeed) {
    const Route route = classify_rest_request({"GET", kRepo, "at=refs%2Fheads%2Fmain&limit=10"});
    ASSERT_EQ(route.outcome, Outcome::classified);
    EXPECT_EQ(route.need, Need::repo_read);
}

}  // namespace
}  // namespace pat
