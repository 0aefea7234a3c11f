// classify_rest_request: the table generated from Bitbucket's OpenAPI
// description (docs/rest-routes.md) walked row by row against the permission
// each operation states, segment matching, context paths, personal projects,
// case, trailing slashes, dot segments, everything that must stay
// unrecognised, and a sysadmin's rules.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <string_view>
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

// Each as Bitbucket's description states it. Where the previous hand-written
// table said otherwise, the spec wins (noted per line).
TEST(RouteRest, UnderTheRepository) {
    expect_cases({
        {"GET", repo_path("/browse/src/main.c").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"HEAD", repo_path("/commits").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"GET", repo_path("/pull-requests").c_str(), Need::repo_read, "PRJ", "my-repo"},
        // Creating a pull request, approving and commenting need REPO_READ
        // (was repo-write).
        {"POST", repo_path("/pull-requests").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"POST", repo_path("/pull-requests/7/approve").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"DELETE", repo_path("/pull-requests/7/approve").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"PUT", repo_path("/pull-requests/7/comments/3").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"DELETE", repo_path("/pull-requests/7/comments/3").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"POST", repo_path("/commits/abc123/comments").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"POST", repo_path("/pull-requests/7/merge").c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"PUT", repo_path("/browse/src/main.c").c_str(), Need::repo_write, "PRJ", "my-repo"},  // edit a file
        {"POST", repo_path("/branches").c_str(), Need::repo_write, "PRJ", "my-repo"},
        {"GET", repo_path("/branches").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"GET", repo_path("/labels").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"POST", repo_path("/labels").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"DELETE", repo_path("/labels/team-a").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"GET", repo_path("/branches/default").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"PUT", repo_path("/branches/default").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"PUT", repo_path("/default-branch").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        // PROJECT_ADMIN for the project (was repo-admin).
        {"POST", repo_path("/recreate").c_str(), Need::project_admin, "PRJ", ""},
        {"DELETE", repo_path("/permissions").c_str(), Need::project_admin, "PRJ", ""},
        // REPO_ADMIN, also to read (was repo-read for these GETs).
        {"GET", repo_path("/hook-scripts").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"GET", repo_path("/ref-change-activities").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"DELETE", repo_path("/commits/abc123/builds").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"DELETE", repo_path("/commits/abc123/deployments").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"DELETE", repo_path("/attachments/5").c_str(), Need::repo_admin, "PRJ", "my-repo"},
        {"PATCH", repo_path("/pull-requests").c_str(), kNone, "", ""},
        // A resource Bitbucket does not have (was repo-read / repo-write).
        {"GET", repo_path("/no-such-resource").c_str(), kNone, "", ""},
        {"POST", repo_path("/no-such-resource/x").c_str(), kNone, "", ""},
    });
}

TEST(RouteRest, RepositoryAdministration) {
    for (const char* area : {"/settings/hooks", "/settings/hooks/com.example:hook/enabled", "/webhooks", "/webhooks/12",
                             "/permissions/users", "/secret-scanning/allowlist", "/Permissions/groups"}) {
        int methods = 0;
        for (const char* method : {"GET", "HEAD", "PUT", "POST", "DELETE"}) {
            const std::string path = repo_path(area);
            SCOPED_TRACE(std::string(method) + " " + path);
            const Route route = classify_rest_request({method, path, ""});
            // Whatever methods the resource has, each needs repository admin.
            if (route.outcome != Outcome::classified) continue;
            ++methods;
            EXPECT_EQ(route.need, Need::repo_admin);
            EXPECT_EQ(route.project, "PRJ");
            EXPECT_EQ(route.repo, "my-repo");
        }
        EXPECT_GT(methods, 0) << area;
        EXPECT_EQ(classify_rest_request({"PATCH", repo_path(area), ""}).outcome, Outcome::unrecognised);
    }
}

TEST(RouteRest, TheProjectAndItsRepositoryList) {
    expect_cases({
        // PROJECT_VIEW: any valid token, Bitbucket decides what it shows (was project-read).
        {"GET", "/rest/api/1.0/projects/PRJ", Need::authenticated, "", ""},
        {"HEAD", "/rest/api/1.0/projects/PRJ", Need::authenticated, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/avatar.png", Need::authenticated, "", ""},
        {"PUT", "/rest/api/1.0/projects/PRJ", Need::project_admin, "PRJ", ""},
        {"DELETE", "/rest/api/1.0/projects/PRJ", Need::project_admin, "PRJ", ""},
        {"POST", "/rest/api/1.0/projects/PRJ", kNone, "", ""},  // no such operation (was project-admin)
        {"GET", "/rest/api/1.0/projects/PRJ/repos", Need::project_read, "PRJ", ""},
        {"HEAD", "/rest/api/1.0/projects/PRJ/repos", Need::project_read, "PRJ", ""},
        {"POST", "/rest/api/1.0/projects/PRJ/repos", Need::project_admin, "PRJ", ""},  // create
        {"PUT", "/rest/api/1.0/projects/PRJ/repos", kNone, "", ""},
        {"POST", "/rest/api/1.0/projects/PRJ/avatar.png", Need::project_admin, "PRJ", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/hook-scripts", Need::project_admin, "PRJ", ""},  // was project-read
        {"GET", "/rest/api/1.0/projects/PRJ/permissions/users", Need::project_admin, "PRJ", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/webhooks", Need::project_admin, "PRJ", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/settings/hooks", Need::project_read, "PRJ", ""},  // PROJECT_READ
        {"PUT", "/rest/api/1.0/projects/PRJ/settings/hooks/h/enabled", Need::project_admin, "PRJ", ""},
        {"DELETE", "/rest/api/1.0/projects/PRJ/something/else", kNone, "", ""},
        {"PATCH", "/rest/api/1.0/projects/PRJ", kNone, "", ""},
        {"OPTIONS", "/rest/api/1.0/projects/PRJ/repos", kNone, "", ""},
    });
}

TEST(RouteRest, FamiliesRealClientsUse) {
    expect_cases({
        {"POST", "/rest/branch-utils/1.0/projects/PRJ/repos/r/branches", Need::repo_write, "PRJ", "r"},
        {"DELETE", "/rest/branch-utils/latest/projects/PRJ/repos/r/branches", Need::repo_write, "PRJ", "r"},
        {"GET", "/rest/branch-utils/1.0/projects/PRJ/repos/r/branches", kNone, "", ""},  // no GET there
        {"POST", "/rest/git/1.0/projects/PRJ/repos/r/tags", Need::repo_write, "PRJ", "r"},
        {"GET", "/rest/build-status/1.0/commits/0123abcd", Need::authenticated, "", ""},
        {"POST", "/rest/build-status/1.0/commits/0123abcd", Need::authenticated, "", ""},
        {"GET", "/rest/default-reviewers/1.0/projects/PRJ/repos/r/reviewers", Need::repo_read, "PRJ", "r"},
        {"GET", "/rest/api/1.0/projects", Need::authenticated, "", ""},
        {"GET", "/rest/api/1.0/repos", Need::authenticated, "", ""},
        {"GET", "/rest/api/1.0/users", Need::authenticated, "", ""},
        {"GET", "/rest/api/1.0/application-properties", Need::authenticated, "", ""},
        {"GET", "/rest/api/1.0/dashboard/pull-requests", Need::authenticated, "", ""},
    });
}

TEST(RouteRest, GlobalAdministrationNeedsASysadmin) {
    expect_cases({
        {"POST", "/rest/api/1.0/projects", Need::sysadmin, "", ""},  // PROJECT_CREATE
        {"PUT", "/rest/api/1.0/admin/permissions/users", Need::sysadmin, "", ""},
        {"POST", "/rest/api/latest/admin/users", Need::sysadmin, "", ""},
        {"PUT", "/rest/api/latest/admin/banner", Need::sysadmin, "", ""},
        {"GET", "/rest/api/latest/admin/banner", Need::sysadmin, "", ""},  // unstated: the default
        {"GET", "/rest/mirroring/latest/mirrorServers", Need::sysadmin, "", ""},
        // LICENSED_USER: every signed-in user may list users and groups.
        {"GET", "/rest/api/1.0/admin/users", Need::authenticated, "", ""},
        {"GET", "/rest/api/1.0/admin/groups", Need::authenticated, "", ""},
    });
}

TEST(RouteRest, RefusedOnPurpose) {
    for (const char* path : {"/rest/api/latest/users", "/rest/api/latest/users/credentials"}) {
        const Route route = classify_rest_request({"PUT", path, ""});
        EXPECT_EQ(route.outcome, Outcome::unrecognised) << path;
        EXPECT_EQ(route.need, Need::unrecognised_route) << path;
        ASSERT_NE(route.rest_route, nullptr) << path;  // the row that says so
        EXPECT_EQ(route.rest_route->need, Need::unrecognised_route);
    }
    // The token API is never routed here.
    EXPECT_EQ(classify_rest_request({"GET", "/rest/access-tokens/latest/users/alice", ""}).outcome,
              Outcome::unrecognised);
}

TEST(RouteRest, SegmentsMethodsAndSpecificity) {
    expect_cases({
        // A parameter is one segment: {commitId} never takes a '/'.
        {"GET", repo_path("/commits/abc123").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"GET", repo_path("/commits/abc/123").c_str(), kNone, "", ""},
        {"DELETE", repo_path("/commits/abc/def/builds").c_str(), kNone, "", ""},
        // A trailing {path} takes one or more segments.
        {"GET", repo_path("/browse/a/b/c/d.txt").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"GET", repo_path("/raw/a/b").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"GET", repo_path("/compare/diff").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"GET", repo_path("/compare/diff/src/x.c").c_str(), Need::repo_read, "PRJ", "my-repo"},
        // A suffixed parameter.
        {"GET", repo_path("/pull-requests/7.diff").c_str(), Need::repo_read, "PRJ", "my-repo"},
        {"GET", repo_path("/pull-requests/7.patch").c_str(), Need::repo_read, "PRJ", "my-repo"},
        // Method-sensitive: the path's node has no DELETE.
        {"DELETE", repo_path("/pull-requests").c_str(), kNone, "", ""},
        // A literal wins over a parameter; a case variant of a literal that
        // a parameter could also take is refused: which one the server
        // picks depends on its routing.
        {"GET", "/rest/api/latest/users/credentials", kNone, "", ""},          // the literal: no GET
        {"GET", "/rest/api/latest/users/alice", Need::authenticated, "", ""},  // the parameter
        {"PUT", "/rest/api/latest/users/CREDENTIALS", kNone, "", ""},
        {"GET", "/rest/api/latest/users/CREDENTIALS", kNone, "", ""},
        {"GET", "/rest/api/latest/users/Credentials/avatar.png", kNone, "", ""},
    });
}

TEST(RouteRest, TheRowThatDecided) {
    const Route route = classify_rest_request({"POST", "/ctx/rest/branch-utils/1.0/projects/PRJ/repos/r/branches", ""});
    ASSERT_NE(route.rest_route, nullptr);
    EXPECT_EQ(route.rest_route->operation_id, "createBranch");
    EXPECT_EQ(route.rest_route->stated, "REPO_WRITE");
    EXPECT_EQ(route.rest_route->path_template,
              "/branch-utils/latest/projects/{projectKey}/repos/{repositorySlug}/branches");
    EXPECT_EQ(route.rest_rule, -1);
}

TEST(RouteRest, VersionsContextPathsAndCase) {
    expect_cases({
        {"GET", "/rest/api/latest/projects/PRJ/repos/r", Need::repo_read, "PRJ", "r"},
        {"GET", "/bitbucket/rest/api/1.0/projects/PRJ/repos/r", Need::repo_read, "PRJ", "r"},
        {"DELETE", "/a/b/rest/api/latest/projects/PRJ/repos/r", Need::repo_admin, "PRJ", "r"},
        // Keywords ignore case where no parameter could take the segment; names pass through.
        {"GET", "/REST/API/LATEST/PROJECTS/prj/REPOS/My.Repo", Need::repo_read, "prj", "My.Repo"},
        {"POST", "/rest/api/1.0/Projects/Prj/Repos", Need::project_admin, "Prj", ""},
        // Other versions, missing parts, other nesting.
        {"GET", "/rest/api/2.0/projects/PRJ/repos", kNone, "", ""},
        {"GET", "/rest/api/projects/PRJ", kNone, "", ""},
        {"GET", "/rest/api/1.0/PRJ/repos/r", kNone, "", ""},
        // Only the first "rest" segment starts the route.
        {"GET", "/rest/rest/api/1.0/projects/PRJ", kNone, "", ""},
        {"GET", "/api/1.0/projects/PRJ", kNone, "", ""},
    });
}

TEST(RouteRest, PersonalProjects) {
    expect_cases({
        {"GET", "/rest/api/1.0/projects/~alice/repos", Need::project_read, "~alice", ""},
        {"GET", "/rest/api/1.0/projects/~alice/repos/dotfiles", Need::repo_read, "~alice", "dotfiles"},
        {"POST", "/rest/api/1.0/projects/~alice/repos/dotfiles/pull-requests/1/merge", Need::repo_write, "~alice",
         "dotfiles"},
        {"GET", "/rest/api/1.0/projects/~alice/repos/dotfiles/permissions/users", Need::repo_admin, "~alice",
         "dotfiles"},
        {"GET", "/rest/api/1.0/projects/~/repos/dotfiles", kNone, "", ""},
        {"GET", "/rest/api/1.0/users/alice/repos/dotfiles", kNone, "", ""},
    });
}

TEST(RouteRest, EverythingElseIsUnrecognised) {
    expect_cases({
        {"GET", "/rest/api/1.0", kNone, "", ""},
        {"GET", "/rest/api", kNone, "", ""},
        {"GET", "/rest", kNone, "", ""},
        {"GET", "/", kNone, "", ""},
        {"GET", "", kNone, "", ""},
        {"GET", "rest/api/1.0/projects/PRJ/repos", kNone, "", ""},
        {"GET", "/scm/PRJ/repo/info/refs", kNone, "", ""},
        {"GET", "/rest/no-such-plugin/1.0/things", kNone, "", ""},
        // Names that are not project keys or slugs.
        {"GET", "/rest/api/1.0/projects/1PRJ/repos", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/P.RJ/repos", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/-r", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r.git", kNone, "", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r%2Fx", kNone, "", ""},
    });
}

// The check the issue measured: every row of the generated table, from a path
// built from its template, with tokens at read, write, repo-admin and
// project-admin level, against the permission Bitbucket's description states.
// Stated rows must agree exactly; reviewed rows with a statement may only be
// stricter; none may be more permissive.
std::string concrete_path(std::string_view template_path, std::size_t row) {
    std::string out = row % 3 == 0 ? "/bitbucket/rest" : "/rest";
    std::size_t start = 1;
    int index = 0;
    while (start <= template_path.size()) {
        std::size_t slash = template_path.find('/', start);
        if (slash == std::string_view::npos) slash = template_path.size();
        std::string_view segment = template_path.substr(start, slash - start);
        std::string text(segment);
        if (index == 1 && segment == "latest")
            text = row % 2 == 0 ? "latest" : "1.0";
        else if (segment == "{projectKey}")
            text = row % 5 == 0 ? "~alice" : "PRJ";
        else if (segment == "{repositorySlug}")
            text = "my-repo";
        else if (segment == "{path}")
            text = "dir/file.txt";
        else if (!segment.empty() && segment.front() == '{') {
            const std::size_t close = segment.find('}');
            text = "7" + std::string(segment.substr(close + 1));
        }
        out += "/" + text;
        start = slash + 1;
        ++index;
    }
    return out;
}

// Which of the four tokens Bitbucket lets call an operation stating `stated`.
// Tokens: read (project read / repo read), write (write / write),
// repo-admin (read / admin), project-admin (admin / admin).
constexpr TokenPermissions kTokens[] = {{Level::read, Level::read},
                                        {Level::write, Level::write},
                                        {Level::read, Level::admin},
                                        {Level::admin, Level::admin}};
constexpr const char* kTokenNames[] = {"read", "write", "repo-admin", "project-admin"};

bool bitbucket_allows(std::string_view stated, std::size_t token) {
    if (stated == "REPO_WRITE") return token != 0;
    if (stated == "REPO_ADMIN") return token >= 2;
    if (stated == "PROJECT_ADMIN" || stated == "REPO_CREATE" || stated == "ADMIN" || stated == "SYS_ADMIN" ||
        stated == "PROJECT_CREATE") {
        return token == 3;
    }
    // REPO_READ, REPO_VIEW, PROJECT_READ, PROJECT_VIEW, LICENSED_USER,
    // LICENSED, AUTHENTICATED: every token.
    return true;
}

bool is_global_permission(std::string_view stated) {
    return stated == "ADMIN" || stated == "SYS_ADMIN" || stated == "PROJECT_CREATE";
}

TEST(RouteRestTable, EveryOperationAsBitbucketStatesIt) {
    std::size_t stated_rows = 0, agree = 0, stricter = 0, more_permissive = 0, reviewed = 0, unstated = 0;
    const auto rows = builtin_rest_routes();
    ASSERT_GT(rows.size(), 400U);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const RestRouteInfo& row = rows[i];
        const std::string path = concrete_path(row.path_template, i);
        SCOPED_TRACE(std::string(row.method) + " " + path + " (" + std::string(row.operation_id) + ")");
        // The tree gives back this very row.
        const Route route = classify_rest_request({row.method, path, ""});
        ASSERT_EQ(route.rest_route, &row);
        EXPECT_EQ(route.need, row.need == Need::unrecognised_route ? Need::unrecognised_route : row.need);
        if (row.method == "GET") {
            EXPECT_EQ(classify_rest_request({"HEAD", path, ""}).rest_route, &row);
        }
        if (is_repo_need(row.need)) {
            EXPECT_EQ(route.repo, "my-repo");
            EXPECT_FALSE(route.project.empty());
        }
        if (row.basis == RestRouteInfo::Basis::unstated) ++unstated;
        if (row.stated.empty()) continue;
        // The statement is checkable at the token and, for global
        // permissions, the user's sysadmin flag.
        if (is_global_permission(row.stated)) {
            EXPECT_EQ(row.need, Need::sysadmin);
        }
        bool same = true, looser = false;
        for (std::size_t t = 0; t < 4; ++t) {
            const bool module = token_allows(kTokens[t], route.need);
            const bool bitbucket = bitbucket_allows(row.stated, t);
            same = same && module == bitbucket;
            if (module && !bitbucket) {
                looser = true;
                ADD_FAILURE() << "a " << kTokenNames[t] << " token passes where Bitbucket states " << row.stated;
            }
        }
        if (row.basis == RestRouteInfo::Basis::reviewed) {
            ++reviewed;
            more_permissive += looser;
            continue;
        }
        ++stated_rows;
        agree += same;
        stricter += !same && !looser;
        more_permissive += looser;
        EXPECT_TRUE(same) << "stated " << row.stated << ", need " << need_name(row.need);
    }
    std::cout << "[ REST table ] " << rows.size() << " rows; of " << stated_rows << " stating a permission, " << agree
              << " decided as stated, " << stricter << " stricter, " << more_permissive << " more permissive; "
              << reviewed << " reviewed rows with a statement, " << unstated
              << " unstated rows on the documented default\n";
    EXPECT_EQ(agree, stated_rows);
    EXPECT_EQ(more_permissive, 0U);
}

TEST(RestRules, AddRefusesWhatCannotBeChecked) {
    RestRules rules;
    EXPECT_TRUE(rules.add("GET", "/rest/myplugin/latest/projects/{projectKey}/status", "project-read").ok());
    EXPECT_TRUE(rules.add("*", "/rest/internal/**", "deny").ok());
    EXPECT_EQ(rules.size(), 2U);
    struct Bad {
        const char* method;
        const char* path;
        const char* need;
        const char* says;
    };
    for (const Bad& bad : {
             Bad{"FETCH", "/rest/x", "authenticated", "invalid method"},
             Bad{"get", "/rest/x", "authenticated", "invalid method"},
             Bad{"GET", "/rest/x", "repo-reader", "invalid need"},
             Bad{"GET", "/rest/x", "unrecognised-route", "invalid need"},
             Bad{"GET", "/api/x", "authenticated", "must start with /rest/"},
             Bad{"GET", "/rest/", "authenticated", "must start with /rest/"},
             Bad{"GET", "/rest/a//b", "authenticated", "empty"},
             Bad{"GET", "/rest/a/../b", "authenticated", "dot segment"},
             Bad{"GET", "/rest/a/**/b", "authenticated", "last"},
             Bad{"GET", "/rest/a/x{id}", "authenticated", "whole"},
             Bad{"GET", "/rest/a/x{id}y", "authenticated", "mixes"},
             Bad{"GET", "/rest/a/{id", "authenticated", "whole"},
             Bad{"GET", "/rest/a/%2F", "authenticated", "character"},
             Bad{"GET", "/rest/a/{projectKey}/b", "repo-read", "{repositorySlug}"},
             Bad{"GET", "/rest/a/b", "project-admin", "{projectKey}"},
             Bad{"GET", "/rest/a/{repositorySlug}", "authenticated", "must follow"},
         }) {
        const Status status = rules.add(bad.method, bad.path, bad.need);
        EXPECT_FALSE(status.ok()) << bad.method << " " << bad.path << " " << bad.need;
        EXPECT_NE(status.message().find(bad.says), std::string::npos) << status.message();
    }
    EXPECT_EQ(rules.size(), 2U);
}

TEST(RestRules, EvaluatedBeforeTheTableFirstMatchWins) {
    RestRules rules;
    ASSERT_TRUE(rules
                    .add("PUT",
                         "/rest/insights/latest/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}/"
                         "reports/{key}",
                         "repo-read")
                    .ok());
    ASSERT_TRUE(rules.add("GET", "/rest/myplugin/latest/projects/{projectKey}/status", "project-read").ok());
    ASSERT_TRUE(rules.add("*", "/rest/internal/**", "deny").ok());
    ASSERT_TRUE(rules.add("*", "/rest/internal/open", "authenticated").ok());  // shadowed by the rule above
    ASSERT_TRUE(rules.add("POST", "/rest/ci/hooks/{id}", "sysadmin").ok());

    const std::string report = "/ctx/rest/insights/1.0/projects/PRJ/repos/r/commits/abc/reports/lint";
    Route route = classify_rest_request({"PUT", report, ""}, &rules);
    ASSERT_EQ(route.outcome, Outcome::classified);
    EXPECT_EQ(route.need, Need::repo_read);
    EXPECT_EQ(route.project, "PRJ");
    EXPECT_EQ(route.repo, "r");
    EXPECT_EQ(route.rest_rule, 0);
    EXPECT_EQ(route.rest_route, nullptr);
    EXPECT_EQ(rules.describe(0).substr(0, 4), "PUT ");
    // Without the rules: the table's default for this unstated write.
    route = classify_rest_request({"PUT", report, ""});
    EXPECT_EQ(route.need, Need::repo_write);
    EXPECT_NE(route.rest_route, nullptr);
    // Another method falls through to the table.
    EXPECT_EQ(classify_rest_request({"DELETE", report, ""}, &rules).rest_rule, -1);

    route = classify_rest_request({"HEAD", "/rest/myplugin/latest/projects/~bob/status", ""}, &rules);
    EXPECT_EQ(route.need, Need::project_read);
    EXPECT_EQ(route.project, "~bob");
    EXPECT_EQ(route.rest_rule, 1);
    // Literals are exact in a rule; an invalid key does not match.
    EXPECT_EQ(classify_rest_request({"GET", "/rest/MyPlugin/latest/projects/P/status", ""}, &rules).outcome,
              Outcome::unrecognised);
    EXPECT_EQ(classify_rest_request({"GET", "/rest/myplugin/1.0/projects/1P/status", ""}, &rules).outcome,
              Outcome::unrecognised);
    // ** takes one or more segments, never none.
    route = classify_rest_request({"POST", "/rest/internal/open", ""}, &rules);
    EXPECT_EQ(route.outcome, Outcome::unrecognised);
    EXPECT_EQ(route.rest_rule, 2);
    EXPECT_EQ(classify_rest_request({"GET", "/rest/internal", ""}, &rules).rest_rule, -1);
    // A parameter is one segment.
    EXPECT_EQ(classify_rest_request({"POST", "/rest/ci/hooks/7", ""}, &rules).need, Need::sysadmin);
    EXPECT_EQ(classify_rest_request({"POST", "/rest/ci/hooks/7/8", ""}, &rules).rest_rule, -1);
    // The raw path rules still apply before any rule.
    EXPECT_EQ(classify_rest_request({"POST", "/rest/ci/hooks/../hooks/7", ""}, &rules).rest_rule, -1);
}

TEST(RouteRest, TrailingSlashesEmptySegmentsAndDotSegments) {
    expect_cases({
        // One trailing slash names the same resource.
        {"GET", "/rest/api/1.0/projects/PRJ/", Need::authenticated, "", ""},
        {"POST", "/rest/api/1.0/projects/PRJ/repos/", Need::project_admin, "PRJ", ""},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/", Need::repo_read, "PRJ", "r"},
        {"POST", "/rest/api/1.0/projects/PRJ/repos/r/", Need::repo_fork, "PRJ", "r"},
        {"GET", "/rest/api/1.0/projects/PRJ/repos/r/settings/hooks/", Need::repo_admin, "PRJ", "r"},
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
