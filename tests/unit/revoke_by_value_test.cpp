// Revoking a token by its text (Store::revoke_tokens_by_value) and the
// credential-less API endpoint over it.
#include <gtest/gtest.h>

#include "pat/management_api.hpp"
#include "store_fixture.hpp"

namespace pat::testing {
namespace {

class RevokeByValueTest : public StoreTest {
   protected:
    void SetUp() override {
        StoreTest::SetUp();
        add_user("alice");
        add_user("bob");
    }

    std::string id_of(const std::string& text) {
        TokenHasher hasher;
        AccessRequest request;
        request.token = text;
        request.need = Need::authenticated;
        const Decision decision = store_->decide(hasher, request, now_ms());
        return decision.logged_token_id();
    }

    std::vector<AuditEntry> audit() {
        auto entries = store_->list_audit(std::nullopt, 100);
        EXPECT_TRUE(entries.ok());
        return *entries;
    }

    ApiResponse post(std::string_view body, std::string_view address = "192.0.2.7",
                     std::function<std::int64_t(std::string_view, std::int64_t)> throttle = {}) {
        ManagementApiOptions options;
        options.note_revoke_request = std::move(throttle);
        ManagementApi api(*store_, options);
        ApiRequest request;
        request.method = "POST";
        request.path = "/rest/access-tokens/1.0/revoke";
        request.body = body;
        request.content_type = "application/json";
        request.client_address = address;
        request.now_ms = now_ms();
        return api.handle(request);
    }
};

TEST_F(RevokeByValueTest, ALiveTokenIsRevokedAndAuditedByValue) {
    const std::string text = create_token("alice", TokenPermissions{});
    const std::string id = id_of(text);
    ASSERT_FALSE(id.empty());
    auto revoked = store_->revoke_token_by_value(text, AuditContext{"root", "local"});
    ASSERT_TRUE(revoked.ok()) << revoked.status().message();
    EXPECT_EQ(revoked->id, id);
    EXPECT_EQ(revoked->owner, "alice");
    EXPECT_EQ(decide(text, Need::authenticated).reason, Reason::revoked);
    const auto entries = audit();
    ASSERT_FALSE(entries.empty());
    EXPECT_EQ(entries.front().action, AuditAction::token_revoked);
    EXPECT_EQ(entries.front().token_id, id);
    EXPECT_EQ(entries.front().user, "alice");
    EXPECT_EQ(entries.front().detail, "by value");

    // A second time: no live token has it.
    EXPECT_EQ(store_->revoke_token_by_value(text).status().code(), StatusCode::not_found);
}

TEST_F(RevokeByValueTest, NotATokenOrAnUnknownOneChangesNothing) {
    const std::string text = create_token("alice", TokenPermissions{});
    const std::size_t audited = audit().size();
    std::string bad_checksum = text;
    bad_checksum[10] = bad_checksum[10] == 'a' ? 'b' : 'a';
    EXPECT_EQ(store_->revoke_token_by_value(bad_checksum).status().code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->revoke_token_by_value("hello").status().code(), StatusCode::invalid_argument);
    auto unknown = generate_token();
    ASSERT_TRUE(unknown.ok());
    EXPECT_EQ(store_->revoke_token_by_value(*unknown).status().code(), StatusCode::not_found);
    EXPECT_EQ(audit().size(), audited);
    EXPECT_EQ(decide(text, Need::authenticated).reason, Reason::allowed);
}

TEST_F(RevokeByValueTest, ABatchRevokesOnlyTheLiveOnesOnce) {
    const std::string a = create_token("alice", TokenPermissions{});
    const std::string b = create_token("bob", TokenPermissions{});
    const std::string kept = create_token("bob", TokenPermissions{});
    auto unknown = generate_token();
    auto revoked = store_->revoke_tokens_by_value({a, "junk", *unknown, b, a}, AuditContext{"anonymous", "192.0.2.7"});
    ASSERT_TRUE(revoked.ok()) << revoked.status().message();
    ASSERT_EQ(revoked->size(), 2u);
    EXPECT_EQ((*revoked)[0].owner, "alice");
    EXPECT_EQ((*revoked)[1].owner, "bob");
    EXPECT_EQ(decide(a, Need::authenticated).reason, Reason::revoked);
    EXPECT_EQ(decide(b, Need::authenticated).reason, Reason::revoked);
    EXPECT_EQ(decide(kept, Need::authenticated).reason, Reason::allowed);
    std::size_t by_value = 0;
    for (const AuditEntry& entry : audit()) {
        if (entry.detail == "by value") {
            ++by_value;
            EXPECT_EQ(entry.address, "192.0.2.7");
            EXPECT_EQ(entry.actor, "anonymous");
        }
    }
    EXPECT_EQ(by_value, 2u);
}

TEST_F(RevokeByValueTest, TheEndpointAnswersAlikeWhateverTheTokens) {
    const std::string live = create_token("alice", TokenPermissions{});
    const std::string other = create_token("alice", TokenPermissions{});
    auto unknown = generate_token();
    const ApiResponse valid = post(R"({"tokens":[")" + live + R"("]})");
    EXPECT_EQ(valid.status, 202);
    EXPECT_EQ(decide(live, Need::authenticated).reason, Reason::revoked);
    EXPECT_EQ(valid.audit_line.find(live), std::string::npos);            // never the token in a log line
    for (const std::string& body : {R"({"tokens":[")" + live + R"("]})",  // revoked already
                                    R"({"tokens":[")" + *unknown + R"("]})", std::string(R"({"tokens":["nope"]})"),
                                    std::string(R"({"tokens":[]})")}) {
        const ApiResponse answer = post(body);
        EXPECT_EQ(answer.status, 202) << body;
        EXPECT_EQ(answer.body, valid.body) << body;
        EXPECT_EQ(answer.content_type, valid.content_type);
    }
    EXPECT_EQ(decide(other, Need::authenticated).reason, Reason::allowed);
}

TEST_F(RevokeByValueTest, TheEndpointRefusesMalformedOrTooLongListsAndThrottles) {
    std::string many = R"({"tokens":[)";
    for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + R"("x")";
    many += "]}";
    EXPECT_EQ(post(many).status, 400);
    EXPECT_EQ(post(R"({"tokens":"npat_x"})").status, 400);
    EXPECT_EQ(post(R"({"tokens":[1]})").status, 400);
    EXPECT_EQ(post("[]").status, 400);
    EXPECT_EQ(post("").status, 400);
    std::string address_seen;
    const ApiResponse throttled =
        post(R"({"tokens":[]})", "198.51.100.4", [&](std::string_view address, std::int64_t) -> std::int64_t {
            address_seen = address;
            return 2500;
        });
    EXPECT_EQ(throttled.status, 429);
    EXPECT_EQ(throttled.retry_after_s, 3);
    EXPECT_EQ(address_seen, "198.51.100.4");
}

TEST_F(RevokeByValueTest, OnlyPostAndNoCredentialsAreRead) {
    ManagementApi api(*store_);
    ApiRequest request;
    request.method = "GET";
    request.path = "/rest/access-tokens/latest/revoke";
    EXPECT_EQ(api.handle(request).status, 405);
    // Basic credentials sent along are ignored, wrong or not.
    const std::string live = create_token("alice", TokenPermissions{});
    const std::string body = R"({"tokens":[")" + live + R"("]})";
    request.method = "POST";
    request.body = body;
    request.content_type = "application/json";
    request.authorization = "Basic YWxpY2U6d3Jvbmc=";  // alice:wrong
    EXPECT_EQ(api.handle(request).status, 202);
    EXPECT_EQ(decide(live, Need::authenticated).reason, Reason::revoked);
}

}  // namespace
}  // namespace pat::testing
