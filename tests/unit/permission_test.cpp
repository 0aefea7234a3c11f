// The token permission table, cell by cell, against every need.
#include "pat/permission.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace pat {
namespace {

constexpr Level kTokenLevels[] = {Level::read, Level::write, Level::admin};
constexpr Level kAllLevels[] = {Level::none, Level::read, Level::write, Level::admin};

// One row per cell of the 3x3 project/repository grid. `allows` has one
// character per need, in kAllNeeds order:
//   authenticated repo_read repo_write repo_admin project_read project_write
//   project_admin repo_fork sysadmin unrecognised_route
// Written out by hand from Bitbucket's table, not computed.
struct Cell {
    Level project;
    Level repo;
    bool valid;
    std::string_view allows;
};

constexpr Cell kGrid[] = {
    {Level::read, Level::read, true, "1100100000"},   {Level::read, Level::write, true, "1110100000"},
    {Level::read, Level::admin, true, "1111100000"},  {Level::write, Level::read, false, "0000000000"},
    {Level::write, Level::write, true, "1110110000"}, {Level::write, Level::admin, true, "1111110000"},
    {Level::admin, Level::read, false, "0000000000"}, {Level::admin, Level::write, false, "0000000000"},
    {Level::admin, Level::admin, true, "1111111110"},
};

std::string cell_name(Level project, Level repo) {
    return "project " + std::string(level_name(project)) + " / repo " + std::string(level_name(repo));
}

TEST(PermissionTable, NeedOrderMatchesTheGridColumns) {
    static_assert(std::size(kAllNeeds) == 10);
    const std::string_view expected[] = {"authenticated", "repo-read",         "repo-write",    "repo-admin",
                                         "project-read",  "project-write",     "project-admin", "repo-fork",
                                         "sysadmin",      "unrecognised-route"};
    for (std::size_t i = 0; i < std::size(kAllNeeds); ++i) {
        EXPECT_EQ(need_name(kAllNeeds[i]), expected[i]);
    }
}

TEST(PermissionTable, GridCoversEveryCellOnce) {
    int seen = 0;
    for (Level project : kTokenLevels) {
        for (Level repo : kTokenLevels) {
            int matches = 0;
            for (const Cell& cell : kGrid) matches += cell.project == project && cell.repo == repo;
            EXPECT_EQ(matches, 1) << cell_name(project, repo);
            ++seen;
        }
    }
    EXPECT_EQ(seen, 9);
}

TEST(PermissionTable, ExactlySixCellsAreValid) {
    int valid = 0;
    for (const Cell& cell : kGrid) {
        Status status = validate_token_permissions({cell.project, cell.repo});
        EXPECT_EQ(status.ok(), cell.valid) << cell_name(cell.project, cell.repo);
        valid += status.ok();
        if (!cell.valid) {
            EXPECT_EQ(status.code(), StatusCode::invalid_argument);
            EXPECT_NE(status.message().find("a token's repository permission must be at least "
                                            "its project permission"),
                      std::string::npos)
                << status.message();
        }
    }
    EXPECT_EQ(valid, 6);
}

TEST(PermissionTable, LevelNoneIsNeverAValidTokenLevel) {
    for (Level other : kAllLevels) {
        for (TokenPermissions permissions :
             {TokenPermissions{Level::none, other}, TokenPermissions{other, Level::none}}) {
            Status status = validate_token_permissions(permissions);
            EXPECT_FALSE(status.ok()) << cell_name(permissions.project, permissions.repo);
            EXPECT_EQ(status.code(), StatusCode::invalid_argument);
            EXPECT_FALSE(status.message().empty());
        }
    }
}

TEST(PermissionTable, EveryCellAgainstEveryNeed) {
    for (const Cell& cell : kGrid) {
        ASSERT_EQ(cell.allows.size(), std::size(kAllNeeds));
        for (std::size_t i = 0; i < std::size(kAllNeeds); ++i) {
            bool expected = cell.allows[i] == '1';
            EXPECT_EQ(token_allows({cell.project, cell.repo}, kAllNeeds[i]), expected)
                << cell_name(cell.project, cell.repo) << ", need " << need_name(kAllNeeds[i]);
        }
    }
}

TEST(PermissionTable, PairsWithLevelNoneAllowNothing) {
    for (Level other : kAllLevels) {
        for (Need need : kAllNeeds) {
            EXPECT_FALSE(token_allows({Level::none, other}, need)) << need_name(need);
            EXPECT_FALSE(token_allows({other, Level::none}, need)) << need_name(need);
        }
    }
}

TEST(PermissionTable, OutOfRangeLevelsAllowNothing) {
    // A corrupt record could hold any byte.
    const auto bogus = static_cast<Level>(7);
    for (Need need : kAllNeeds) {
        EXPECT_FALSE(token_allows({bogus, bogus}, need)) << need_name(need);
        EXPECT_FALSE(token_allows({Level::read, bogus}, need)) << need_name(need);
    }
    EXPECT_FALSE(validate_token_permissions({bogus, Level::admin}).ok());
}

TEST(PermissionTable, DefaultIsAdminAdminAndValid) {
    TokenPermissions defaults;
    EXPECT_EQ(defaults.project, Level::admin);
    EXPECT_EQ(defaults.repo, Level::admin);
    EXPECT_TRUE(validate_token_permissions(defaults).ok());
}

TEST(PermissionNeeds, UserLevelRequired) {
    EXPECT_EQ(user_level_required(Need::authenticated), Level::none);
    EXPECT_EQ(user_level_required(Need::repo_read), Level::read);
    EXPECT_EQ(user_level_required(Need::repo_write), Level::write);
    EXPECT_EQ(user_level_required(Need::repo_admin), Level::admin);
    EXPECT_EQ(user_level_required(Need::project_read), Level::read);
    EXPECT_EQ(user_level_required(Need::project_write), Level::write);
    EXPECT_EQ(user_level_required(Need::project_admin), Level::admin);
    EXPECT_EQ(user_level_required(Need::repo_fork), Level::read);
    EXPECT_EQ(user_level_required(Need::sysadmin), Level::admin);
    EXPECT_EQ(user_level_required(Need::unrecognised_route), Level::none);
}

TEST(PermissionNeeds, RepoAndProjectNeeds) {
    for (Need need : kAllNeeds) {
        bool repo =
            need == Need::repo_read || need == Need::repo_write || need == Need::repo_admin || need == Need::repo_fork;
        bool project = need == Need::project_read || need == Need::project_write || need == Need::project_admin;
        EXPECT_EQ(is_repo_need(need), repo) << need_name(need);
        EXPECT_EQ(is_project_need(need), project) << need_name(need);
    }
}

TEST(PermissionNeeds, ParseNeedRoundTripsEveryChoice) {
    for (Need need : kAllNeeds) {
        std::optional<Need> parsed = parse_need(need_name(need));
        if (need == Need::unrecognised_route) {
            EXPECT_FALSE(parsed.has_value());
        } else {
            ASSERT_TRUE(parsed.has_value()) << need_name(need);
            EXPECT_EQ(*parsed, need);
        }
    }
}

TEST(PermissionNeeds, ParseNeedRefusesOtherText) {
    for (std::string_view text : {"", "repo", "read", "repo_read", "repo-read ", " repo-read", "repo-reader", "fork",
                                  "unrecognised-route", "project-admin\n"}) {
        EXPECT_FALSE(parse_need(text).has_value()) << '"' << text << '"';
    }
}

TEST(PermissionLevels, ParseLevelIgnoresCase) {
    EXPECT_EQ(parse_level("read"), Level::read);
    EXPECT_EQ(parse_level("READ"), Level::read);
    EXPECT_EQ(parse_level("Write"), Level::write);
    EXPECT_EQ(parse_level("wRiTe"), Level::write);
    EXPECT_EQ(parse_level("admin"), Level::admin);
    EXPECT_EQ(parse_level("ADMIN"), Level::admin);
}

TEST(PermissionLevels, ParseLevelRefusesOtherText) {
    using namespace std::string_view_literals;
    for (std::string_view text : {""sv, "none"sv, "NONE"sv, "r"sv, "reads"sv, " read"sv, "read "sv, "adm"sv,
                                  "administrator"sv, "1"sv, "read\0"sv}) {
        EXPECT_FALSE(parse_level(text).has_value()) << '"' << text << '"';
    }
}

TEST(PermissionLevels, NamesAndOrder) {
    EXPECT_EQ(level_name(Level::none), "none");
    EXPECT_EQ(level_name(Level::read), "read");
    EXPECT_EQ(level_name(Level::write), "write");
    EXPECT_EQ(level_name(Level::admin), "admin");
    for (Level level : kTokenLevels) EXPECT_EQ(parse_level(level_name(level)), level);
    EXPECT_LT(Level::none, Level::read);
    EXPECT_LT(Level::read, Level::write);
    EXPECT_LT(Level::write, Level::admin);
}

TEST(PermissionLevels, BitbucketNames) {
    EXPECT_EQ(bitbucket_project_permission_name(Level::read), "PROJECT_READ");
    EXPECT_EQ(bitbucket_project_permission_name(Level::write), "PROJECT_WRITE");
    EXPECT_EQ(bitbucket_project_permission_name(Level::admin), "PROJECT_ADMIN");
    EXPECT_EQ(bitbucket_repo_permission_name(Level::read), "REPO_READ");
    EXPECT_EQ(bitbucket_repo_permission_name(Level::write), "REPO_WRITE");
    EXPECT_EQ(bitbucket_repo_permission_name(Level::admin), "REPO_ADMIN");
    // No Bitbucket name exists for "no permission".
    EXPECT_EQ(bitbucket_project_permission_name(Level::none), "");
    EXPECT_EQ(bitbucket_repo_permission_name(Level::none), "");
}

}  // namespace
}  // namespace pat
