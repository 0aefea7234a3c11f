// The store path rule and the configuration file (pat/config.hpp): the
// precedence --db > PAT_DB > the file > the default, and the file's strict
// format, each malformed line an error naming FILE:LINE.
#include "pat/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

namespace pat::testing {
namespace {

const std::string kFile = "/etc/nginx-pat/nginx-pat.conf";

std::string error_of(std::string_view text) {
    Expected<Config> parsed = parse_config(text, kFile);
    EXPECT_FALSE(parsed.ok()) << text;
    return parsed.ok() ? std::string() : parsed.status().message();
}

TEST(ConfigParse, EmptyFilesCommentsAndBlankLinesSetNothing) {
    for (std::string_view text : {"", "\n", "# only a comment\n", "  \t\n   # indented comment\n\n"}) {
        Expected<Config> parsed = parse_config(text, kFile);
        ASSERT_TRUE(parsed.ok()) << parsed.status().message();
        EXPECT_FALSE(parsed->db.has_value());
    }
}

TEST(ConfigParse, ReadsDbWithBlanksAroundKeyAndValue) {
    Expected<Config> parsed = parse_config("# store\n  db\t=  /srv/pat store/pat.db \r\n", kFile);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    EXPECT_EQ(*parsed->db, "/srv/pat store/pat.db");
    EXPECT_EQ(parsed->db_line, 2u);
    // No final line end; '=' and '#' inside the value are part of it.
    parsed = parse_config("db=/a=b#c", kFile);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed->db, "/a=b#c");
}

TEST(ConfigParse, EveryMalformedLineIsAnErrorNamingFileAndLine) {
    EXPECT_EQ(error_of("# ok\ndb /x\n"), kFile + ":2: expected 'key = value' or a '#' comment");
    EXPECT_EQ(error_of("store = /x\n"), kFile + ":1: unknown key 'store' (known: db)");
    EXPECT_EQ(error_of("DB = /x\n"), kFile + ":1: unknown key 'DB' (known: db)");
    EXPECT_EQ(error_of("= /x\n"), kFile + ":1: a value without a key");
    EXPECT_EQ(error_of("db =\n"), kFile + ":1: db needs a path");
    EXPECT_EQ(error_of("db = pat.db\n"), kFile + ":1: db must be an absolute path");
    EXPECT_EQ(error_of("db = /a\n\ndb = /b\n"), kFile + ":3: db given twice (first on line 1)");
    EXPECT_EQ(error_of("db = /a\x01\n"), kFile + ":1: a control character");
    EXPECT_EQ(error_of(std::string("db = /a\0b\n", 10)), kFile + ":1: a control character");
    // An inline comment is not one: it would be part of the value silently.
    EXPECT_EQ(error_of("db = /a # the store\nx\n"), kFile + ":2: expected 'key = value' or a '#' comment");
    // Keys are shown printable and short.
    EXPECT_EQ(error_of("k\xff = 1\n"), kFile + ":1: unknown key 'k?' (known: db)");
}

TEST(ConfigParse, RefusesAnOversizedFile) {
    std::string text(kMaxConfigSize + 1, '#');
    EXPECT_NE(error_of(text).find("larger than 64 KiB"), std::string::npos);
}

class ConfigFiles : public ::testing::Test {
   protected:
    void SetUp() override {
        char dir_template[] = "/tmp/pat-config-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
    }
    void TearDown() override {
        for (const std::string& path : written_) ::unlink(path.c_str());
        ::rmdir(dir_.c_str());
    }
    std::string write(const std::string& name, std::string_view text) {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path, std::ios::binary) << text;
        written_.push_back(path);
        return path;
    }
    std::string dir_;
    std::vector<std::string> written_;
};

TEST_F(ConfigFiles, PrecedenceIsOptionThenEnvironmentThenFileThenDefault) {
    const std::string file = write("a.conf", "db = /from/file.db\n");
    auto pick = [&](std::optional<std::string> option, const char* env_db, const char* env_config) {
        Expected<StorePath> chosen = resolve_store_path(option, env_db, env_config);
        EXPECT_TRUE(chosen.ok()) << chosen.status().message();
        return chosen.ok() ? chosen->path + " <- " + chosen->source : std::string();
    };
    EXPECT_EQ(pick("/opt.db", "/env.db", file.c_str()), "/opt.db <- --db");
    EXPECT_EQ(pick(std::nullopt, "/env.db", file.c_str()), "/env.db <- PAT_DB");
    EXPECT_EQ(pick(std::nullopt, nullptr, file.c_str()), "/from/file.db <- " + file + ":1");
    EXPECT_EQ(pick(std::nullopt, "", file.c_str()), "/from/file.db <- " + file + ":1");  // empty: unset
    const std::string empty = write("empty.conf", "# nothing set\n");
    EXPECT_EQ(pick(std::nullopt, nullptr, empty.c_str()), std::string(kDefaultStorePath) + " <- built-in default");
}

TEST_F(ConfigFiles, AFileNamedByPatConfigMustExistAndParse) {
    Expected<StorePath> missing = resolve_store_path(std::nullopt, nullptr, (dir_ + "/absent.conf").c_str());
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().message(),
              "cannot read the configuration file " + dir_ + "/absent.conf: No such file or directory");
    const std::string bad = write("bad.conf", "db = /x\nlisten = y\n");
    Expected<StorePath> malformed = resolve_store_path(std::nullopt, nullptr, bad.c_str());
    ASSERT_FALSE(malformed.ok());
    EXPECT_EQ(malformed.status().message(), bad + ":2: unknown key 'listen' (known: db)");
    // --db and PAT_DB never read the file: a broken one does not stand in their way.
    EXPECT_TRUE(resolve_store_path(std::string("/x.db"), nullptr, bad.c_str()).ok());
    EXPECT_TRUE(resolve_store_path(std::nullopt, "/x.db", bad.c_str()).ok());
    Expected<Config> directory = load_config(dir_, false);
    ASSERT_FALSE(directory.ok());
    EXPECT_NE(directory.status().message().find("is not a regular file"), std::string::npos)
        << directory.status().message();
}

TEST_F(ConfigFiles, TheDefaultFileMayBeAbsent) {
    Expected<Config> absent = load_config(dir_ + "/absent.conf", true);
    ASSERT_TRUE(absent.ok());
    EXPECT_FALSE(absent->db.has_value());
}

}  // namespace
}  // namespace pat::testing
