// User names, project keys and repository slugs: validity and canonical forms.
#include "pat/names.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

namespace pat {
namespace {

using namespace std::string_view_literals;

// A buffer of exactly `size` bytes followed by guard bytes, to prove the
// no-allocation variants write no more than they return.
template <std::size_t size>
struct GuardedBuffer {
    static constexpr char kUntouched = '#';
    std::array<char, size + 16> bytes;
    GuardedBuffer() { bytes.fill(kUntouched); }
    char* data() { return bytes.data(); }
    bool untouched_from(std::size_t offset) const {
        for (std::size_t i = offset; i < bytes.size(); ++i) {
            if (bytes[i] != kUntouched) return false;
        }
        return true;
    }
};

std::string repeat(char c, std::size_t n) {
    return std::string(n, c);
}

// ---- user names ----

TEST(UserName, Valid) {
    for (std::string_view name :
         {"a"sv, "Z"sv, "7"sv, "alice"sv, "Alice.Smith-2_x"sv, "0day"sv, "a..b"sv, "a-"sv, "a."sv, "a_"sv}) {
        EXPECT_TRUE(is_valid_user_name(name)) << name;
    }
}

TEST(UserName, Invalid) {
    for (std::string_view name : {""sv, "-a"sv, ".a"sv, "_a"sv, "~a"sv, "a b"sv, "a/b"sv, "a@b"sv, "a:b"sv, "a~b"sv,
                                  "a%b"sv, "a+b"sv, "a\tb"sv, "a\nb"sv, "a\0b"sv, "\xc3\xa9t\xc3\xa9"sv, "a\x80"sv}) {
        EXPECT_FALSE(is_valid_user_name(name)) << name;
    }
}

TEST(UserName, TokenShapedNamesAreRefusedWithoutRepeatingThem) {
    const std::string shaped = "npat_" + std::string(43, 'a') + "AAAAAA";  // token length, any checksum
    auto name = canonical_user_name(shaped);
    ASSERT_FALSE(name.ok());
    EXPECT_EQ(name.status().code(), StatusCode::invalid_argument);
    EXPECT_EQ(name.status().message().find("npat_a"), std::string::npos);
    EXPECT_FALSE(canonical_user_name("NPAT_" + std::string(49, 'b')).ok());
    EXPECT_TRUE(canonical_user_name("npat_builder").ok());  // short: not token-shaped
}

TEST(UserName, LengthLimit) {
    EXPECT_TRUE(is_valid_user_name(repeat('u', kMaxUserName)));
    EXPECT_FALSE(is_valid_user_name(repeat('u', kMaxUserName + 1)));
    EXPECT_FALSE(canonical_user_name(repeat('u', kMaxUserName + 1)).ok());
}

TEST(UserName, CanonicalIsLowerCase) {
    Expected<std::string> canonical = canonical_user_name("Alice.SMITH-2_X");
    ASSERT_TRUE(canonical.ok());
    EXPECT_EQ(*canonical, "alice.smith-2_x");
    EXPECT_EQ(*canonical_user_name("alice"), "alice");
}

TEST(UserName, ErrorStatesTheAcceptedForm) {
    Expected<std::string> canonical = canonical_user_name("bad name");
    ASSERT_FALSE(canonical.ok());
    EXPECT_EQ(canonical.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(canonical.status().message().find("1 to 64 characters"), std::string::npos)
        << canonical.status().message();
    EXPECT_NE(canonical_user_name("").status().message().find("empty"), std::string::npos);
    EXPECT_NE(canonical_user_name(repeat('u', 65)).status().message().find("too long"), std::string::npos);
}

TEST(UserName, BufferVariantWritesOnlyTheName) {
    GuardedBuffer<kMaxUserName> buffer;
    std::size_t length = canonical_user_name("BoB", buffer.data());
    ASSERT_EQ(length, 3U);
    EXPECT_EQ(std::string_view(buffer.data(), length), "bob");
    EXPECT_TRUE(buffer.untouched_from(length));

    std::string longest = repeat('U', kMaxUserName);
    length = canonical_user_name(longest, buffer.data());
    ASSERT_EQ(length, kMaxUserName);
    EXPECT_EQ(std::string_view(buffer.data(), length), repeat('u', kMaxUserName));
    EXPECT_TRUE(buffer.untouched_from(kMaxUserName));
}

TEST(UserName, BufferVariantReturnsZeroAndWritesNothingWhenInvalid) {
    GuardedBuffer<kMaxUserName> buffer;
    for (std::string_view name : {""sv, "Bad Name"sv, "-x"sv}) {
        EXPECT_EQ(canonical_user_name(name, buffer.data()), 0U) << name;
    }
    EXPECT_EQ(canonical_user_name(repeat('u', kMaxUserName + 1), buffer.data()), 0U);
    EXPECT_TRUE(buffer.untouched_from(0));
}

// ---- project keys ----

TEST(ProjectKey, Valid) {
    for (std::string_view key :
         {"P"sv, "PRJ"sv, "prj"sv, "Proj_1-x"sv, "A-"sv, "a_"sv, "~alice"sv, "~Alice.Smith"sv, "~7"sv}) {
        EXPECT_TRUE(is_valid_project_key(key)) << key;
    }
}

TEST(ProjectKey, Invalid) {
    for (std::string_view key :
         {""sv, "1P"sv, "_P"sv, "-P"sv, ".P"sv, "P.Q"sv, "P Q"sv, "P/Q"sv, "P~"sv, "P\0"sv, "~"sv, "~~alice"sv,
          "~.alice"sv, "~-alice"sv, "~ali ce"sv, "~alice/x"sv, "~~"sv, "\xc3\x89"sv}) {
        EXPECT_FALSE(is_valid_project_key(key)) << key;
    }
}

TEST(ProjectKey, LengthLimit) {
    EXPECT_TRUE(is_valid_project_key(repeat('K', kMaxProjectKey)));
    EXPECT_FALSE(is_valid_project_key(repeat('K', kMaxProjectKey + 1)));
    // A personal key is bounded by the user name rule.
    EXPECT_TRUE(is_valid_project_key("~" + repeat('u', kMaxUserName)));
    EXPECT_FALSE(is_valid_project_key("~" + repeat('u', kMaxUserName + 1)));
}

TEST(ProjectKey, CanonicalIsUpperCase) {
    EXPECT_EQ(*canonical_project_key("prj"), "PRJ");
    EXPECT_EQ(*canonical_project_key("Proj_1-x"), "PROJ_1-X");
    EXPECT_EQ(*canonical_project_key("~alice"), "~ALICE");
    EXPECT_EQ(*canonical_project_key("~Alice.Smith"), "~ALICE.SMITH");
}

TEST(ProjectKey, ErrorStatesTheAcceptedForm) {
    Expected<std::string> canonical = canonical_project_key("1BAD");
    ASSERT_FALSE(canonical.ok());
    EXPECT_EQ(canonical.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(canonical.status().message().find("starting with a letter"), std::string::npos)
        << canonical.status().message();
    EXPECT_NE(canonical.status().message().find("personal project"), std::string::npos);
}

TEST(ProjectKey, BufferVariant) {
    GuardedBuffer<kMaxProjectKey> buffer;
    std::size_t length = canonical_project_key("~bob", buffer.data());
    ASSERT_EQ(length, 4U);
    EXPECT_EQ(std::string_view(buffer.data(), length), "~BOB");
    EXPECT_TRUE(buffer.untouched_from(length));

    length = canonical_project_key(repeat('k', kMaxProjectKey), buffer.data());
    ASSERT_EQ(length, kMaxProjectKey);
    EXPECT_EQ(std::string_view(buffer.data(), length), repeat('K', kMaxProjectKey));
    EXPECT_TRUE(buffer.untouched_from(kMaxProjectKey));

    GuardedBuffer<kMaxProjectKey> untouched;
    EXPECT_EQ(canonical_project_key("~", untouched.data()), 0U);
    EXPECT_EQ(canonical_project_key(repeat('k', kMaxProjectKey + 1), untouched.data()), 0U);
    EXPECT_TRUE(untouched.untouched_from(0));
}

TEST(ProjectKey, PersonalProjectOwner) {
    GuardedBuffer<kMaxUserName> buffer;
    std::string_view owner = personal_project_owner("~ALICE.SMITH", buffer.data());
    EXPECT_EQ(owner, "alice.smith");
    EXPECT_TRUE(buffer.untouched_from(owner.size()));

    GuardedBuffer<kMaxUserName> other;
    EXPECT_TRUE(personal_project_owner("PRJ", other.data()).empty());
    EXPECT_TRUE(personal_project_owner("", other.data()).empty());
    EXPECT_TRUE(personal_project_owner("~", other.data()).empty());
    EXPECT_TRUE(personal_project_owner("~BAD NAME", other.data()).empty());
    EXPECT_TRUE(personal_project_owner("~" + repeat('U', kMaxUserName + 1), other.data()).empty());
    EXPECT_TRUE(other.untouched_from(0));
}

// ---- repository slugs ----

TEST(RepoSlug, Valid) {
    for (std::string_view slug : {"r"sv, "7"sv, "repo"sv, "Repo.Name_1-x"sv, "git"sv, "repogit"sv, "repo.gi"sv,
                                  "repo.git2"sv, "repo.gitx"sv, "a.git.b"sv, "repo-git"sv, "repo_git"sv, "a.."sv}) {
        EXPECT_TRUE(is_valid_repo_slug(slug)) << slug;
    }
}

TEST(RepoSlug, Invalid) {
    for (std::string_view slug : {""sv, ".git"sv, "."sv, ".."sv, ".repo"sv, "-repo"sv, "_repo"sv, "re po"sv, "re/po"sv,
                                  "re\\po"sv, "re%2fpo"sv, "re;po"sv, "re~po"sv, "re\0po"sv, "r\xc3\xa9po"sv}) {
        EXPECT_FALSE(is_valid_repo_slug(slug)) << slug;
    }
}

TEST(RepoSlug, NeverEndsInGitSuffix) {
    for (std::string_view slug : {"repo.git"sv, "repo.GIT"sv, "repo.Git"sv, "a.b.git"sv, "repo.git.git"sv, "x.git"sv}) {
        EXPECT_FALSE(is_valid_repo_slug(slug)) << slug;
        Expected<std::string> canonical = canonical_repo_slug(slug);
        ASSERT_FALSE(canonical.ok()) << slug;
        EXPECT_NE(canonical.status().message().find(".git"), std::string::npos);
    }
    char buffer[kMaxRepoSlug];
    EXPECT_EQ(canonical_repo_slug("repo.git", buffer), 0U);
}

TEST(RepoSlug, LengthLimit) {
    EXPECT_TRUE(is_valid_repo_slug(repeat('r', kMaxRepoSlug)));
    EXPECT_FALSE(is_valid_repo_slug(repeat('r', kMaxRepoSlug + 1)));
    EXPECT_FALSE(is_valid_repo_slug(repeat('r', kMaxRepoSlug - 4) + ".git"));
    EXPECT_TRUE(is_valid_repo_slug(repeat('r', kMaxRepoSlug - 4) + ".gix"));
}

TEST(RepoSlug, CanonicalIsLowerCase) {
    EXPECT_EQ(*canonical_repo_slug("Repo.Name_1-X"), "repo.name_1-x");
    Expected<std::string> bad = canonical_repo_slug("re po");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(bad.status().message().find("1 to 128 characters"), std::string::npos) << bad.status().message();
}

TEST(RepoSlug, BufferVariant) {
    GuardedBuffer<kMaxRepoSlug> buffer;
    std::size_t length = canonical_repo_slug("My.Repo", buffer.data());
    ASSERT_EQ(length, 7U);
    EXPECT_EQ(std::string_view(buffer.data(), length), "my.repo");
    EXPECT_TRUE(buffer.untouched_from(length));

    length = canonical_repo_slug(repeat('R', kMaxRepoSlug), buffer.data());
    ASSERT_EQ(length, kMaxRepoSlug);
    EXPECT_EQ(std::string_view(buffer.data(), length), repeat('r', kMaxRepoSlug));
    EXPECT_TRUE(buffer.untouched_from(kMaxRepoSlug));
}

// ---- every byte ----

TEST(Names, EveryByteAfterTheFirst) {
    for (int byte = 0; byte < 256; ++byte) {
        const char c = static_cast<char>(byte);
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        std::string text = std::string("a") + c + "b";
        EXPECT_EQ(is_valid_user_name(text), alnum || c == '_' || c == '.' || c == '-') << byte;
        EXPECT_EQ(is_valid_repo_slug(text), alnum || c == '_' || c == '.' || c == '-') << byte;
        EXPECT_EQ(is_valid_project_key(text), alnum || c == '_' || c == '-') << byte;
    }
}

TEST(Names, CanonicalFormsAreFixedPoints) {
    for (std::string_view name : {"Alice"sv, "bob.B"sv}) {
        std::string once = *canonical_user_name(name);
        EXPECT_EQ(*canonical_user_name(once), once);
    }
    for (std::string_view key : {"prj"sv, "~Alice"sv}) {
        std::string once = *canonical_project_key(key);
        EXPECT_EQ(*canonical_project_key(once), once);
    }
    std::string slug = *canonical_repo_slug("My.Repo");
    EXPECT_EQ(*canonical_repo_slug(slug), slug);
}

}  // namespace
}  // namespace pat
