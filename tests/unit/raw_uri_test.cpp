// is_safe_raw_uri: every refused form, raw and encoded, in the path and in
// the query, and the ordinary targets that must pass.
#include <gtest/gtest.h>

#include <string>

#include "pat/route.hpp"

namespace pat {
namespace {

TEST(RawUri, OrdinaryTargetsPass) {
    for (const char* uri : {
             "/", "/scm/PRJ/repo.git/info/refs?service=git-upload-pack",
             "/bitbucket/scm/~alice/dotfiles/git-receive-pack", "/rest/api/1.0/projects/PRJ/repos/r/browse/src/a%20b.c",
             "/rest/api/1.0/projects/PRJ/repos/r/",  // a trailing slash
             "/rest/api/1.0/projects/PRJ/repos/r/browse?at=refs%2Fheads%2Fmain",
             "/rest/api/1.0/projects/PRJ/repos/r/browse?path=a%5Cb&x=%2e%2e",
             "/a/.../b",       // three dots are a name
             "/a/..b/.c/b..",  // dots inside names
             "/a/%2e%2e%2e",   // likewise, encoded
             "/a/100%25",      // an encoded '%' that starts no new escape
             "/a/50%25off",
             "/a/%41%42",       // other escapes
             "/a?x=..&y=/../",  // dot segments in the query are just text
             "/a?%25252e",      // double encoding in the query is not decoded as a path
         }) {
        SCOPED_TRACE(uri);
        EXPECT_TRUE(is_safe_raw_uri(uri));
    }
}

TEST(RawUri, EncodedSlashAndBackslashInThePath) {
    for (const char* uri : {
             "/scm/PRJ%2Frepo/info/refs",
             "/scm/PRJ%2frepo/info/refs",
             "/scm/PRJ/repo%5C..%5Cother/info/refs",
             "/scm/PRJ/repo%5c/info/refs",
             "/scm/PRJ/repo\\x/info/refs",
             "/scm/PRJ/repo/info/refs\\",
         }) {
        SCOPED_TRACE(uri);
        EXPECT_FALSE(is_safe_raw_uri(uri));
    }
}

TEST(RawUri, DotSegmentsRawOrEncoded) {
    for (const char* uri : {
             "/scm/PRJ/repo/../other/info/refs",
             "/scm/PRJ/./repo/info/refs",
             "/..",
             "/.",
             "/scm/PRJ/repo/..",
             "/scm/PRJ/repo/.",
             "/scm/PRJ/repo/../?service=git-upload-pack",
             "/scm/PRJ/repo/..?x",
             "/scm/PRJ/%2e%2e/other/info/refs",
             "/scm/PRJ/%2E%2E/other/info/refs",
             "/scm/PRJ/%2e%2E/other",
             "/scm/PRJ/.%2e/other",
             "/scm/PRJ/%2e./other",
             "/scm/PRJ/%2E./other",
             "/scm/PRJ/%2e/repo",
             "/scm/PRJ/repo/%2e",
         }) {
        SCOPED_TRACE(uri);
        EXPECT_FALSE(is_safe_raw_uri(uri));
    }
}

TEST(RawUri, DoubleEncodingThatASecondDecodeWouldTurnIntoAnEscape) {
    for (const char* uri : {
             "/scm/PRJ/%252e%252e/other",
             "/scm/PRJ/%252E./other",
             "/scm/PRJ%252Frepo/info/refs",
             "/scm/PRJ/repo%255c",
             "/scm/PRJ/%25%32%65",  // "%" then the encoded digits: "%2e" after a decode
             "/scm/PRJ/%2541",
             "/scm/PRJ/%25252e",
         }) {
        SCOPED_TRACE(uri);
        EXPECT_FALSE(is_safe_raw_uri(uri));
    }
}

TEST(RawUri, SemicolonNulHashAndControlCharactersAnywhere) {
    for (const char* uri : {
             "/scm/PRJ/repo;jsessionid=1/info/refs",
             "/scm/PRJ/repo/info/refs?service=git-upload-pack;service=git-receive-pack",
             "/scm/PRJ/repo/info/refs?x=1;y=2",
             "/scm/PRJ/repo%00/info/refs",
             "/scm/PRJ/repo/info/refs?service=git-upload-pack%00",
             "/scm/PRJ/repo/info/refs#/../../other",
             "/a?b#c",
             "/scm/PRJ/re\tpo",
             "/scm/PRJ/repo?x=\x7f",
             "/scm/PRJ/repo?x=\r\n",
         }) {
        SCOPED_TRACE(uri);
        EXPECT_FALSE(is_safe_raw_uri(uri));
    }
    const std::string raw_nul_in_path = std::string("/scm/PRJ/re") + '\0' + "po";
    const std::string raw_nul_in_query = std::string("/scm/PRJ/repo?service=git-upload-pack") + '\0';
    EXPECT_FALSE(is_safe_raw_uri(raw_nul_in_path));
    EXPECT_FALSE(is_safe_raw_uri(raw_nul_in_query));
}

TEST(RawUri, MalformedEscapesAndEmptySegmentsInThePath) {
    for (const char* uri : {
             "/scm/PRJ/repo%",
             "/scm/PRJ/repo%2",
             "/scm/PRJ/repo%zz/info/refs",
             "/scm/PRJ/repo%2g",
             "/scm//PRJ/repo/info/refs",
             "//scm/PRJ/repo",
             "/scm/PRJ/repo//",
         }) {
        SCOPED_TRACE(uri);
        EXPECT_FALSE(is_safe_raw_uri(uri));
    }
    // In the query, a malformed escape or "//" is the upstream's business.
    EXPECT_TRUE(is_safe_raw_uri("/scm/PRJ/repo?x=%zz&y=//"));
}

TEST(RawUri, NotAnOriginFormTarget) {
    for (const char* uri : {"", "*", "scm/PRJ/repo", "?service=git-upload-pack", "http://h/scm/PRJ/repo"}) {
        SCOPED_TRACE(uri);
        EXPECT_FALSE(is_safe_raw_uri(uri));
    }
}

}  // namespace
}  // namespace pat
