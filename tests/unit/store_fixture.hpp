// A fresh store in a temporary directory for each test.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "pat/store.hpp"

namespace pat::testing {

class StoreTest : public ::testing::Test {
   protected:
    void SetUp() override {
        char dir_template[] = "/tmp/pat-store-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
        path_ = dir_ + "/pat.db";
        auto created = Store::create(path_);
        ASSERT_TRUE(created.ok()) << created.status().message();
        store_ = std::move(created.value());
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }

    // A user with a password equal to their name + "-pw".
    void add_user(const std::string& name, bool sysadmin = false) {
        Status s = store_->add_user(name, "", sysadmin, name + "-pw");
        ASSERT_TRUE(s.ok()) << s.message();
    }

    std::string create_token(const std::string& owner, TokenPermissions permissions,
                             std::optional<int> expiry_days = std::nullopt, std::int64_t now = now_ms()) {
        auto created = store_->create_token(owner, owner + "-pw", "test", permissions, expiry_days, now);
        EXPECT_TRUE(created.ok()) << created.status().message();
        return created.ok() ? created->text : std::string();
    }

    Decision decide(const std::string& token, Need need, std::string_view project = "WORK",
                    std::string_view repo = "my-repo", std::int64_t now = now_ms()) {
        AccessRequest request;
        request.token = token;
        request.need = need;
        request.project = project;
        request.repo = repo;
        return store_->decide(hasher_, request, now);
    }

    std::string dir_;
    std::string path_;
    std::unique_ptr<Store> store_;
    TokenHasher hasher_;
};

}  // namespace pat::testing
