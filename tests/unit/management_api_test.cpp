// The token-management API against a real store: every endpoint, every
// error status, the owner/admin/other-user rules, paging, the permission
// table, tokens refused as credentials, and the throttle.
//
// Each password check runs scrypt (a few hundred ms on a busy CI machine), so
// the users are seeded with one precomputed hash and each test checks as few
// passwords as it can.
#include "pat/management_api.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pat/json.hpp"
#include "pat/sign_in_limiter.hpp"
#include "pat/token.hpp"
#include "store_fixture.hpp"

namespace pat::testing {
namespace {

constexpr std::string_view kPassword = "correct horse";
constexpr std::string_view kApi = "/rest/access-tokens/1.0/users/";
constexpr std::int64_t kNow = 1'700'000'000'000;

std::string base64(std::string_view bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                           static_cast<unsigned char>(bytes[i + 2]);
        for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
    }
    if (i + 1 == bytes.size()) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == bytes.size()) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8;
        for (int shift : {18, 12, 6}) out += kAlphabet[(v >> shift) & 63];
        out += '=';
    }
    return out;
}

std::string basic(std::string_view user, std::string_view password = kPassword) {
    return "Basic " + base64(std::string(user) + ":" + std::string(password));
}

json::Value body_of(const ApiResponse& response) {
    auto parsed = json::parse(response.body);
    EXPECT_TRUE(parsed.ok()) << response.body;
    return parsed.ok() ? *parsed : json::Value();
}

std::string error_message(const ApiResponse& response) {
    const json::Value body = body_of(response);
    const json::Value* errors = body.find("errors");
    if (errors == nullptr || !errors->is_array() || errors->size() != 1) {
        ADD_FAILURE() << "not Bitbucket's error shape: " << response.body;
        return "";
    }
    const json::Value& error = errors->elements()[0];
    EXPECT_TRUE(error.find("context") != nullptr && error.find("context")->is_null()) << response.body;
    EXPECT_NE(error.find("exceptionName"), nullptr) << response.body;
    return error.find("message")->as_string();
}

std::vector<std::string> permissions_of(const json::Value& token) {
    std::vector<std::string> out;
    for (const auto& p : token.find("permissions")->elements()) out.push_back(p.as_string());
    return out;
}

class ManagementApiTest : public StoreTest {
   protected:
    static void SetUpTestSuite() {
        auto hash = hash_password(kPassword);
        ASSERT_TRUE(hash.ok());
        shared_hash_ = new PasswordHash(*hash);
    }
    static void TearDownTestSuite() {
        delete shared_hash_;
        shared_hash_ = nullptr;
    }

    void SetUp() override {
        StoreTest::SetUp();
        Store::BulkLoad load;
        load.users = {{"alice", false}, {"bob", false}, {"root", true}};
        load.password = *shared_hash_;
        load.grants = {GrantInfo{"alice", "WORK", "", Level::write}};
        ASSERT_TRUE(store_->bulk_load(load).ok());
        api_ = std::make_unique<ManagementApi>(*store_, ManagementApiOptions{"Git \"server\"", limiter_, 1000});
    }

    // Tokens seeded without a password check; returns their ids in order.
    std::vector<std::string> seed_tokens(const std::string& owner, int count,
                                         TokenPermissions permissions = {Level::read, Level::read}) {
        Store::BulkLoad load;
        load.password = *shared_hash_;
        for (int i = 0; i < count; ++i) {
            auto text = generate_token();
            EXPECT_TRUE(text.ok());
            load.tokens.push_back({owner, "token " + std::to_string(i), permissions, *text, kNow + i, 0});
            seeded_texts_.push_back(*text);
        }
        auto ids = store_->bulk_load(load);
        EXPECT_TRUE(ids.ok()) << ids.status().message();
        return ids.ok() ? *ids : std::vector<std::string>{};
    }

    ApiResponse call(std::string_view method, std::string path, std::string_view body = {},
                     std::string authorization = basic("alice"), std::string_view query = {}) {
        ApiRequest request;
        request.method = method;
        request.path = path;
        request.query = query;
        request.body = body;
        if (!body.empty()) request.content_type = "application/json";
        request.authorization = authorization;
        request.client_address = "192.0.2.10";
        request.now_ms = kNow + 1000;
        return api_->handle(request);
    }

    static std::string tokens_path(std::string_view user) { return std::string(kApi) + std::string(user); }
    static std::string token_path(std::string_view user, std::string_view id) {
        return tokens_path(user) + "/" + std::string(id);
    }

    std::size_t audit_count(AuditAction action) {
        auto entries = store_->list_audit(std::nullopt, 1000);
        EXPECT_TRUE(entries.ok());
        std::size_t count = 0;
        for (const auto& entry : *entries) count += entry.action == action ? entry.count : 0;
        return count;
    }

    static PasswordHash* shared_hash_;
    PasswordAttemptLimiter* limiter_ = nullptr;
    std::unique_ptr<ManagementApi> api_;
    std::vector<std::string> seeded_texts_;
};

PasswordHash* ManagementApiTest::shared_hash_ = nullptr;

// ---- routing, methods, credentials: answered before any password check ----

TEST_F(ManagementApiTest, UnknownPathsAndMethods) {
    EXPECT_EQ(call("GET", "/rest/access-tokens/2.0/users/alice").status, 404);
    EXPECT_EQ(call("GET", "/rest/access-tokens/1.0/groups/alice").status, 404);
    EXPECT_EQ(call("GET", "/rest/access-tokens/1.0/users/alice/1/extra").status, 404);
    EXPECT_EQ(call("GET", "/rest/api/1.0/users/alice").status, 404);
    EXPECT_EQ(call("GET", "/elsewhere").status, 404);

    const ApiResponse patch = call("PATCH", tokens_path("alice"));
    EXPECT_EQ(patch.status, 405);
    EXPECT_EQ(patch.allow, "GET, HEAD, PUT");
    EXPECT_NE(error_message(patch).find("PATCH"), std::string::npos);
    EXPECT_EQ(call("PUT", token_path("alice", "123456789012")).allow, "GET, HEAD, POST, DELETE");
    EXPECT_EQ(call("GET", tokens_path("alice") + "/password").allow, "PUT, POST");
    EXPECT_EQ(call("DELETE", "/rest/api/latest/users/credentials").status, 405);
    EXPECT_EQ(audit_count(AuditAction::password_failed), 0u);
}

TEST_F(ManagementApiTest, MissingOrUnusableCredentialsGet401WithAChallenge) {
    const ApiResponse none = call("GET", tokens_path("alice"), {}, "");
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.www_authenticate, "Basic realm=\"Git \\\"server\\\"\"");
    EXPECT_EQ(none.content_type, "application/json;charset=UTF-8");
    EXPECT_NE(error_message(none).find("user name and password"), std::string::npos);

    EXPECT_EQ(call("GET", tokens_path("alice"), {}, "Digest abc").status, 401);
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, "Basic !!!!").status, 401);
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, "Basic " + base64("no-colon")).status, 401);
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, "Basic " + base64(":pw")).status, 401);
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, "Basic " + std::string(5000, 'A')).status, 401);
    // None of these reached a password check.
    EXPECT_EQ(audit_count(AuditAction::password_failed), 0u);
}

TEST_F(ManagementApiTest, TokensAreNeverAcceptedAsCredentials) {
    seed_tokens("alice", 1);
    const std::string token = seeded_texts_.at(0);
    for (const std::string& authorization : {basic("alice", token), "Bearer " + token}) {
        // Creation above all: a token must not mint tokens.
        const ApiResponse create = call("PUT", tokens_path("alice"), R"({"name":"minted"})", authorization);
        EXPECT_EQ(create.status, 401) << authorization;
        EXPECT_NE(error_message(create).find("Personal access tokens cannot be used"), std::string::npos);
        EXPECT_FALSE(create.www_authenticate.empty());
        EXPECT_EQ(call("GET", tokens_path("alice"), {}, authorization).status, 401);
    }
    // As the user name ("<token>:", the habit other forges teach), with or
    // without a password, in any case: refused, and never a claimed user.
    std::string lowered = token;
    for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const std::string& user : {token, lowered}) {
        for (const std::string& password : {std::string(), std::string("alice-pw")}) {
            const ApiResponse response = call("GET", tokens_path("alice"), {}, basic(user, password));
            EXPECT_EQ(response.status, 401);
            EXPECT_NE(error_message(response).find("Personal access tokens cannot be used"), std::string::npos);
            EXPECT_EQ(response.audit_line.find(lowered), std::string::npos);
        }
    }
    // A token-shaped text with a bad checksum is refused the same way, by arithmetic.
    std::string mistyped = token;
    mistyped.back() = mistyped.back() == 'a' ? 'b' : 'a';
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, "Bearer " + mistyped).status, 401);
    // No password check, no lookup, no new token.
    EXPECT_EQ(audit_count(AuditAction::password_failed), 0u);
    EXPECT_EQ(store_->list_tokens("alice")->size(), 1u);
}

// The cross-site request defence: a form post from another site cannot send
// application/json, and a browser names the site in Origin. Both are refused
// before the credentials are looked at, so neither is a sign-in attempt.
TEST_F(ManagementApiTest, CrossSiteRequestsAreRefusedBeforeSignIn) {
    const std::string body = R"({"name":"csrf","permissions":["REPO_READ"]})";
    const std::string authorization = basic("alice");
    auto send = [&](std::string_view content_type, std::optional<std::string_view> origin,
                    std::string_view host = "git.example:8443", std::string_view method = "PUT",
                    std::string_view with_body = {}) {
        ApiRequest request;
        request.method = method;
        const std::string path = tokens_path("alice");
        request.path = path;
        request.body = method == "PUT" ? std::string_view(body) : with_body;
        request.content_type = content_type;
        request.has_origin = origin.has_value();
        if (origin) request.origin = *origin;
        request.host = host;
        request.authorization = authorization;
        request.client_address = "192.0.2.10";
        request.now_ms = kNow + 1000;
        return api_->handle(request);
    };
    for (std::string_view type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                  "", "application/jsonp", "application/json-patch+json"}) {
        const ApiResponse response = send(type, std::nullopt);
        EXPECT_EQ(response.status, 415) << type;
        EXPECT_NE(error_message(response).find("application/json"), std::string::npos);
    }
    for (std::string_view origin : {"https://evil.example", "http://git.example", "https://git.example:8443.evil",
                                    "null", "", "git.example:8443"}) {
        const ApiResponse response = send("application/json", origin);
        EXPECT_EQ(response.status, 403) << origin;
        EXPECT_NE(error_message(response).find("Origin"), std::string::npos);
    }
    // A foreign Origin is refused whatever the method, even without a body.
    EXPECT_EQ(send("", std::string_view("https://evil.example"), "git.example:8443", "GET").status, 403);
    // Without a Host to compare with, any Origin is foreign.
    EXPECT_EQ(send("application/json", std::string_view("https://git.example:8443"), "").status, 403);
    EXPECT_EQ(audit_count(AuditAction::password_failed), 0u);
    EXPECT_TRUE(store_->list_tokens("alice")->empty());

    // The account page's own requests: same origin (scheme not compared: TLS
    // may end in front of nginx; host compared without case), JSON.
    for (std::string_view type : {"application/json", "Application/JSON; charset=UTF-8", " application/json ;x=y"}) {
        EXPECT_EQ(send(type, std::nullopt).status, 200) << type;
    }
    EXPECT_EQ(send("application/json", std::string_view("https://git.example:8443")).status, 200);
    EXPECT_EQ(send("application/json", std::string_view("http://GIT.example:8443")).status, 200);
    // No body, no Content-Type needed (GET, DELETE).
    EXPECT_EQ(send("", std::nullopt, "git.example:8443", "GET").status, 200);
    EXPECT_EQ(send("", std::string_view("https://git.example:8443"), "git.example:8443", "GET").status, 200);
}

TEST_F(ManagementApiTest, WrongPasswordIs401AndAudited) {
    const ApiResponse response = call("GET", tokens_path("alice"), {}, basic("alice", "guess"));
    EXPECT_EQ(response.status, 401);
    EXPECT_FALSE(response.www_authenticate.empty());
    EXPECT_NE(response.audit_line.find("password refused for alice from 192.0.2.10"), std::string::npos);
    EXPECT_EQ(response.audit_line.find("guess"), std::string::npos);
    auto entries = store_->list_audit("alice", 10);
    ASSERT_TRUE(entries.ok());
    ASSERT_FALSE(entries->empty());
    EXPECT_EQ((*entries)[0].action, AuditAction::password_failed);
    EXPECT_EQ((*entries)[0].address, "192.0.2.10");
}

// ---- create ----

TEST_F(ManagementApiTest, CreateAnswersBitbucketsShapeWithTheTokenOnce) {
    const ApiResponse response =
        call("PUT", "/bitbucket/rest/access-tokens/latest/users/Alice",
             R"({"name":"CI \"bot\"","permissions":["PROJECT_READ","REPO_WRITE"],"expiryDays":30})");
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_TRUE(response.body_is_secret);
    const json::Value token = body_of(response);
    const std::string id = token.find("id")->as_string();
    EXPECT_TRUE(is_valid_token_id(id));
    EXPECT_EQ(token.find("name")->as_string(), "CI \"bot\"");
    EXPECT_EQ(*token.find("createdDate")->as_int64(), kNow + 1000);
    EXPECT_EQ(token.find("lastAuthenticated"), nullptr);  // never used yet
    EXPECT_EQ(*token.find("expiryDays")->as_int64(), 30);
    EXPECT_EQ(*token.find("expiryDate")->as_int64(), kNow + 1000 + 30 * 86'400'000LL);
    EXPECT_EQ(permissions_of(token), (std::vector<std::string>{"PROJECT_READ", "REPO_WRITE"}));
    const json::Value* user = token.find("user");
    ASSERT_NE(user, nullptr);
    EXPECT_EQ(user->find("name")->as_string(), "alice");
    EXPECT_EQ(user->find("slug")->as_string(), "alice");
    EXPECT_EQ(user->find("type")->as_string(), "NORMAL");
    EXPECT_TRUE(user->find("active")->as_bool());
    const std::string text = token.find("token")->as_string();
    EXPECT_EQ(check_token_format(text), TokenFormat::valid);

    // The token works, with the permissions asked for.
    EXPECT_EQ(decide(text, Need::repo_write, "WORK", "app", kNow + 2000).reason, Reason::allowed);
    EXPECT_EQ(decide(text, Need::project_write, "WORK", "", kNow + 2000).reason, Reason::token_level_too_low);
    // The log line names the token by id, never by text.
    EXPECT_NE(response.audit_line.find("token " + id + " created for alice"), std::string::npos);
    EXPECT_EQ(response.audit_line.find(text), std::string::npos);
    auto entries = store_->list_audit("alice", 1);
    ASSERT_TRUE(entries.ok());
    EXPECT_EQ((*entries)[0].action, AuditAction::token_created);
    EXPECT_EQ((*entries)[0].actor, "alice");
    EXPECT_EQ((*entries)[0].address, "192.0.2.10");

    // Reading it back never shows the text again.
    const ApiResponse again = call("GET", token_path("alice", id));
    ASSERT_EQ(again.status, 200);
    EXPECT_EQ(body_of(again).find("token"), nullptr);
    EXPECT_FALSE(again.body_is_secret);
}

TEST_F(ManagementApiTest, CreateFillsOmittedPermissions) {
    // Omitted: the user's own level (admin/admin, capped by the user's grants at each request).
    const ApiResponse defaulted = call("PUT", tokens_path("alice"), R"({"name":"all"})");
    ASSERT_EQ(defaulted.status, 200) << defaulted.body;
    EXPECT_EQ(permissions_of(body_of(defaulted)), (std::vector<std::string>{"PROJECT_ADMIN", "REPO_ADMIN"}));
    EXPECT_EQ(body_of(defaulted).find("expiryDays"), nullptr);
    // A project permission alone covers the same level on repositories.
    const ApiResponse project_only =
        call("PUT", tokens_path("alice"), R"({"name":"p","permissions":["PROJECT_WRITE"]})");
    ASSERT_EQ(project_only.status, 200) << project_only.body;
    EXPECT_EQ(permissions_of(body_of(project_only)), (std::vector<std::string>{"PROJECT_WRITE", "REPO_WRITE"}));
    // A repository permission alone comes with the least project permission.
    const ApiResponse repo_only = call("PUT", tokens_path("alice"), R"({"name":"r","permissions":["REPO_ADMIN"]})");
    ASSERT_EQ(repo_only.status, 200) << repo_only.body;
    EXPECT_EQ(permissions_of(body_of(repo_only)), (std::vector<std::string>{"PROJECT_READ", "REPO_ADMIN"}));
}

TEST_F(ManagementApiTest, CreateRefusesBadBodiesWith400BeforeAnyPasswordCheck) {
    struct Case {
        std::string body;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"", "empty"},
        {"not json", "not valid JSON"},
        {R"({"name":"a"} trailing)", "not valid JSON"},
        {R"({"name":"a","name":"b"})", "duplicate"},
        {R"(["name"])", "JSON object"},
        {R"({"permissions":["REPO_READ"]})", "needs a name"},
        {R"({"name":null})", "needs a name"},
        {R"({"name":"   "})", "blank"},
        {R"({"name":7})", "name must be a string"},
        {R"({"name":"a","permissions":["REPO_DELETE"]})", "unknown permission \"REPO_DELETE\""},
        {R"({"name":"a","permissions":["project_read"]})", "unknown permission"},
        {R"({"name":"a","permissions":[]})", "at least one permission"},
        {R"({"name":"a","permissions":"REPO_READ"})", "must be a list"},
        {R"({"name":"a","permissions":[1]})", "must be a string"},
        {R"({"name":"a","permissions":["PROJECT_READ","PROJECT_WRITE"]})", "one project permission"},
        {R"({"name":"a","permissions":["PROJECT_ADMIN","REPO_READ"]})",
         "repository permission must be at least its project permission"},
        {R"({"name":"a","permissions":["PROJECT_WRITE","REPO_READ"]})", "at least its project permission"},
        {R"({"name":"a","expiryDays":0})", "1 to 3650"},
        {R"({"name":"a","expiryDays":3651})", "1 to 3650"},
        {R"({"name":"a","expiryDays":1.5})", "1 to 3650"},
        {R"({"name":"a","expiryDays":"30"})", "1 to 3650"},
        {R"({"name":")" + std::string(300, 'x') + R"("})", "at most 255"},
        {R"({"name":"tab\there"})", "control character"},
    };
    for (const Case& c : cases) {
        const ApiResponse response = call("PUT", tokens_path("alice"), c.body, basic("alice", "any password"));
        EXPECT_EQ(response.status, 400) << c.body << " -> " << response.body;
        EXPECT_NE(error_message(response).find(c.says), std::string::npos) << c.body << " -> " << response.body;
    }
    // Too large, whether the glue stopped reading or passed it all.
    ApiRequest request;
    request.method = "PUT";
    request.path = "/rest/access-tokens/1.0/users/alice";
    const std::string authorization = basic("alice");
    request.authorization = authorization;
    request.body_too_large = true;
    EXPECT_EQ(api_->handle(request).status, 400);
    const std::string huge = R"({"name":")" + std::string(70 * 1024, 'x') + R"("})";
    request.body_too_large = false;
    request.body = huge;
    const ApiResponse too_large = api_->handle(request);
    EXPECT_EQ(too_large.status, 400);
    EXPECT_NE(error_message(too_large).find("64 KiB"), std::string::npos);

    // The password ("any password") was never checked, so nothing failed.
    EXPECT_EQ(audit_count(AuditAction::password_failed), 0u);
    EXPECT_TRUE(store_->list_tokens("alice")->empty());
}

TEST_F(ManagementApiTest, CreateNeedsTheOwnersOwnPassword) {
    const ApiResponse wrong = call("PUT", tokens_path("alice"), R"({"name":"x"})", basic("alice", "guess"));
    EXPECT_EQ(wrong.status, 401);
    // An administrator, correctly signed in, cannot create for someone else.
    const ApiResponse admin = call("PUT", tokens_path("alice"), R"({"name":"x"})", basic("root"));
    EXPECT_EQ(admin.status, 403);
    EXPECT_NE(error_message(admin).find("an administrator cannot create tokens for another user"), std::string::npos);
    // And a wrong password there is still a 401, not a 403.
    EXPECT_EQ(call("PUT", tokens_path("alice"), R"({"name":"x"})", basic("root", "guess")).status, 401);
    EXPECT_TRUE(store_->list_tokens(std::nullopt)->empty());
}

// ---- list ----

TEST_F(ManagementApiTest, ListIsPagedLikeBitbucket) {
    const auto ids = seed_tokens("alice", 5);
    seed_tokens("bob", 2);

    const ApiResponse first = call("GET", tokens_path("alice"), {}, basic("alice"), "limit=2");
    ASSERT_EQ(first.status, 200) << first.body;
    json::Value page = body_of(first);
    EXPECT_EQ(*page.find("size")->as_int64(), 2);
    EXPECT_EQ(*page.find("limit")->as_int64(), 2);
    EXPECT_EQ(*page.find("start")->as_int64(), 0);
    EXPECT_FALSE(page.find("isLastPage")->as_bool());
    EXPECT_EQ(*page.find("nextPageStart")->as_int64(), 2);
    ASSERT_EQ(page.find("values")->size(), 2u);
    EXPECT_EQ(page.find("values")->elements()[0].find("id")->as_string(), ids[0]);
    EXPECT_EQ(page.find("values")->elements()[1].find("id")->as_string(), ids[1]);
    EXPECT_EQ(page.find("values")->elements()[0].find("token"), nullptr);

    page = body_of(call("GET", tokens_path("alice"), {}, basic("alice"), "start=4&limit=2&avatarSize=48"));
    EXPECT_EQ(*page.find("size")->as_int64(), 1);
    EXPECT_TRUE(page.find("isLastPage")->as_bool());
    EXPECT_EQ(page.find("nextPageStart"), nullptr);
    EXPECT_EQ(page.find("values")->elements()[0].find("id")->as_string(), ids[4]);

    // Defaults: start 0, limit 25; past the end an empty last page.
    page = body_of(call("GET", tokens_path("alice")));
    EXPECT_EQ(*page.find("size")->as_int64(), 5);
    EXPECT_EQ(*page.find("limit")->as_int64(), 25);
    EXPECT_TRUE(page.find("isLastPage")->as_bool());
    page = body_of(call("GET", tokens_path("alice"), {}, basic("alice"), "start=10&limit=5000"));
    EXPECT_EQ(*page.find("size")->as_int64(), 0);
    EXPECT_EQ(*page.find("limit")->as_int64(), 1000);  // capped
    EXPECT_TRUE(page.find("isLastPage")->as_bool());
}

TEST_F(ManagementApiTest, ListRefusesBadPagingWith400) {
    for (const char* query : {"limit=0", "limit=abc", "start=-1", "limit=", "start=1&start=2", "limit=1e3"}) {
        const ApiResponse response = call("GET", tokens_path("alice"), {}, basic("alice", "unchecked"), query);
        EXPECT_EQ(response.status, 400) << query;
    }
    EXPECT_EQ(audit_count(AuditAction::password_failed), 0u);
}

TEST_F(ManagementApiTest, ListingAnotherUsersTokens) {
    seed_tokens("alice", 2);
    const ApiResponse bob = call("GET", tokens_path("alice"), {}, basic("bob"));
    EXPECT_EQ(bob.status, 403);
    EXPECT_NE(error_message(bob).find("only your own tokens"), std::string::npos);
    const ApiResponse root = call("GET", tokens_path("alice"), {}, basic("root"));
    ASSERT_EQ(root.status, 200);
    const json::Value page = body_of(root);
    EXPECT_EQ(*page.find("size")->as_int64(), 2);
    EXPECT_EQ(page.find("values")->elements()[0].find("user")->find("name")->as_string(), "alice");
    EXPECT_EQ(call("GET", tokens_path("nobody"), {}, basic("root")).status, 404);
    EXPECT_EQ(call("GET", tokens_path("not_valid!"), {}, basic("root")).status, 404);
}

// ---- one token: get, change, revoke ----

TEST_F(ManagementApiTest, GetOneTokenOwnerAdminAndOthers) {
    const std::string id = seed_tokens("alice", 1)[0];
    const ApiResponse own = call("GET", token_path("alice", id));
    ASSERT_EQ(own.status, 200);
    EXPECT_EQ(body_of(own).find("id")->as_string(), id);
    EXPECT_EQ(body_of(own).find("name")->as_string(), "token 0");

    // Another user learns nothing: the same 404 as for a token that does not exist.
    const ApiResponse bob = call("GET", token_path("alice", id), {}, basic("bob"));
    const ApiResponse missing = call("GET", token_path("alice", "999999999999"), {}, basic("bob"));
    EXPECT_EQ(bob.status, 404);
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(error_message(bob), "No token " + id + " exists for user alice.");

    EXPECT_EQ(call("GET", token_path("alice", id), {}, basic("root")).status, 200);
    // The token must belong to the user in the path, even for an admin.
    EXPECT_EQ(call("GET", token_path("bob", id), {}, basic("root")).status, 404);
}

TEST_F(ManagementApiTest, ChangeKeepsOmittedFields) {
    const std::string id = seed_tokens("alice", 1)[0];
    ApiResponse changed = call("POST", token_path("alice", id), R"({"permissions":["REPO_WRITE"]})");
    ASSERT_EQ(changed.status, 200) << changed.body;
    EXPECT_EQ(permissions_of(body_of(changed)), (std::vector<std::string>{"PROJECT_READ", "REPO_WRITE"}));
    EXPECT_EQ(body_of(changed).find("name")->as_string(), "token 0");
    EXPECT_NE(changed.audit_line.find("token " + id + " of alice changed by alice"), std::string::npos);

    changed = call("POST", token_path("alice", id), R"({"name":"renamed"})");
    ASSERT_EQ(changed.status, 200) << changed.body;
    EXPECT_EQ(body_of(changed).find("name")->as_string(), "renamed");
    EXPECT_EQ(permissions_of(body_of(changed)), (std::vector<std::string>{"PROJECT_READ", "REPO_WRITE"}));

    // Nothing named: nothing changes, and nothing is written.
    const std::size_t modifications = audit_count(AuditAction::token_modified);
    changed = call("POST", token_path("alice", id), "{}");
    ASSERT_EQ(changed.status, 200);
    EXPECT_EQ(body_of(changed).find("name")->as_string(), "renamed");
    EXPECT_EQ(audit_count(AuditAction::token_modified), modifications);

    auto stored = store_->get_token(id);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->name, "renamed");
    EXPECT_EQ(stored->permissions, (TokenPermissions{Level::read, Level::write}));
}

TEST_F(ManagementApiTest, ChangeValidatesAgainstTheTable) {
    const std::string id = seed_tokens("alice", 1)[0];  // PROJECT_READ REPO_READ
    // Raising the project level alone would leave the repository level below it.
    const ApiResponse response = call("POST", token_path("alice", id), R"({"permissions":["PROJECT_ADMIN"]})");
    EXPECT_EQ(response.status, 400);
    EXPECT_NE(error_message(response).find("at least its project permission"), std::string::npos);
    EXPECT_EQ(store_->get_token(id)->permissions, (TokenPermissions{Level::read, Level::read}));
    // Checked before the password.
    EXPECT_EQ(call("POST", token_path("alice", id), R"({"expiryDays":5})", basic("alice", "x")).status, 400);
    EXPECT_EQ(
        call("POST", token_path("alice", id), R"({"permissions":["PROJECT_ADMIN","REPO_READ"]})", basic("alice", "x"))
            .status,
        400);
    EXPECT_EQ(call("POST", token_path("alice", id), "", basic("alice", "x")).status, 400);
    EXPECT_EQ(audit_count(AuditAction::password_failed), 0u);
}

TEST_F(ManagementApiTest, ChangeByOthersAndByAdmin) {
    const std::string id = seed_tokens("alice", 1)[0];
    EXPECT_EQ(call("POST", token_path("alice", id), R"({"name":"mine now"})", basic("bob")).status, 404);
    EXPECT_EQ(store_->get_token(id)->name, "token 0");
    const ApiResponse admin = call("POST", token_path("alice", id), R"({"name":"by root"})", basic("root"));
    ASSERT_EQ(admin.status, 200);
    EXPECT_EQ(body_of(admin).find("user")->find("name")->as_string(), "alice");
    EXPECT_NE(admin.audit_line.find("changed by root"), std::string::npos);
    auto entries = store_->list_audit("alice", 1);
    EXPECT_EQ((*entries)[0].action, AuditAction::token_modified);
    EXPECT_EQ((*entries)[0].actor, "root");
}

TEST_F(ManagementApiTest, RevokeOwnerAdminAndOthers) {
    const auto ids = seed_tokens("alice", 2);
    EXPECT_EQ(call("DELETE", token_path("alice", ids[0]), {}, basic("bob")).status, 404);
    EXPECT_EQ(decide(seeded_texts_[0], Need::repo_read).reason, Reason::allowed);

    const ApiResponse own = call("DELETE", token_path("alice", ids[0]));
    EXPECT_EQ(own.status, 204);
    EXPECT_TRUE(own.body.empty());
    EXPECT_NE(own.audit_line.find("token " + ids[0] + " of alice revoked by alice"), std::string::npos);
    EXPECT_EQ(decide(seeded_texts_[0], Need::repo_read).reason, Reason::revoked);
    EXPECT_EQ(call("DELETE", token_path("alice", ids[0])).status, 404);

    EXPECT_EQ(call("DELETE", token_path("alice", ids[1]), {}, basic("root")).status, 204);
    EXPECT_EQ(decide(seeded_texts_[1], Need::repo_read).reason, Reason::revoked);
    EXPECT_TRUE(store_->list_tokens("alice")->empty());
}

// ---- passwords ----

TEST_F(ManagementApiTest, ChangeOwnPassword) {
    const ApiResponse changed = call("PUT", tokens_path("alice") + "/password",
                                     R"({"oldPassword":"correct horse","password":"battery staple",)"
                                     R"("passwordConfirm":"battery staple"})");
    EXPECT_EQ(changed.status, 204) << changed.body;
    EXPECT_EQ(changed.audit_line.find("battery"), std::string::npos);
    EXPECT_EQ(call("GET", tokens_path("alice")).status, 401);
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, basic("alice", "battery staple")).status, 200);
    EXPECT_EQ(audit_count(AuditAction::password_changed), 1u);
}

TEST_F(ManagementApiTest, ChangePasswordThroughBitbucketsCredentialsPath) {
    const ApiResponse changed = call("PUT", "/rest/api/1.0/users/credentials",
                                     R"({"oldPassword":"correct horse","password":"new one here"})", basic("bob"));
    EXPECT_EQ(changed.status, 204) << changed.body;
    EXPECT_TRUE(store_->authenticate_user("bob", "new one here").ok());
}

TEST_F(ManagementApiTest, PasswordChangeRules) {
    // Body problems, found before any password check.
    EXPECT_EQ(call("PUT", tokens_path("alice") + "/password", R"({"oldPassword":"correct horse"})").status, 400);
    EXPECT_EQ(call("PUT", tokens_path("alice") + "/password", R"({"password":"n"})").status, 400);
    const ApiResponse mismatch = call("PUT", tokens_path("alice") + "/password",
                                      R"({"oldPassword":"correct horse","password":"a","passwordConfirm":"b"})");
    EXPECT_EQ(mismatch.status, 400);
    EXPECT_NE(error_message(mismatch).find("passwordConfirm"), std::string::npos);
    EXPECT_EQ(call("PUT", tokens_path("alice") + "/password", R"({"oldPassword":"other","password":"new pw"})").status,
              400);
    auto token_like = generate_token();
    ASSERT_TRUE(token_like.ok());
    const ApiResponse looks_like_token = call("PUT", tokens_path("alice") + "/password",
                                              R"({"oldPassword":"correct horse","password":")" + *token_like + "\"}");
    EXPECT_EQ(looks_like_token.status, 400);
    EXPECT_NE(error_message(looks_like_token).find("look like a personal access token"), std::string::npos);
    EXPECT_EQ(audit_count(AuditAction::password_failed), 0u);

    // Someone else's password: refused even for an administrator.
    const ApiResponse admin = call("PUT", tokens_path("alice") + "/password",
                                   R"({"oldPassword":"correct horse","password":"pwned pw"})", basic("root"));
    EXPECT_EQ(admin.status, 403);
    EXPECT_NE(error_message(admin).find("patctl user passwd"), std::string::npos);
    EXPECT_EQ(audit_count(AuditAction::password_changed), 0u);
}

// ---- the sign-in limits (patd's SignInLimiter, two attempts per user) ----

class ThrottledManagementApiTest : public ManagementApiTest {
   protected:
    void SetUp() override {
        limiter_ = &sign_ins_;
        ManagementApiTest::SetUp();
    }
    SignInLimiter sign_ins_{[this](std::string_view user) { return store_->get_user(user).ok(); },
                            SignInLimits{.user_attempts = 2}};
};

TEST_F(ThrottledManagementApiTest, RepeatedFailuresGet429WithoutAPasswordCheck) {
    seed_tokens("alice", 1);
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, basic("alice", "guess 1")).status, 401);
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, basic("Alice", "guess 2")).status, 401);
    const ApiResponse throttled = call("GET", tokens_path("alice"), {}, basic("alice"));
    EXPECT_EQ(throttled.status, 429);
    EXPECT_EQ(throttled.retry_after_s, 300);
    EXPECT_NE(error_message(throttled).find("Try again in 300 seconds"), std::string::npos);
    EXPECT_NE(throttled.audit_line.find("sign-in as alice from 192.0.2.10 throttled"), std::string::npos);
    // Creation is throttled too, and the right password does not get through.
    EXPECT_EQ(call("PUT", tokens_path("alice"), R"({"name":"x"})").status, 429);
    EXPECT_TRUE(store_->list_tokens("alice")->size() == 1);
    // Only the two real attempts reached the store.
    EXPECT_EQ(audit_count(AuditAction::password_failed), 2u);
    // Git access with tokens is untouched.
    EXPECT_EQ(decide(seeded_texts_[0], Need::repo_read).reason, Reason::allowed);
    // Other users are not affected.
    EXPECT_EQ(call("GET", tokens_path("bob"), {}, basic("bob")).status, 200);
}

TEST_F(ThrottledManagementApiTest, OnlyCheckedPasswordsCountAndSuccessTakesItselfBack) {
    EXPECT_EQ(call("GET", tokens_path("alice"), {}, basic("alice", "guess")).status, 401);
    EXPECT_EQ(sign_ins_.user_attempts("alice", kNow + 1000), 1u);
    // The right password: this attempt is taken back, the earlier failure stays.
    EXPECT_EQ(call("GET", tokens_path("alice")).status, 200);
    EXPECT_EQ(sign_ins_.user_attempts("alice", kNow + 1000), 1u);
    EXPECT_EQ(sign_ins_.user_pending("alice", kNow + 1000), 0u);
    // A creation refused for its body checked no password: nothing counted.
    EXPECT_EQ(call("PUT", tokens_path("alice"), R"({"name":""})", basic("alice", "guess")).status, 400);
    EXPECT_EQ(call("PUT", tokens_path("alice"), R"({"name":"x","expiryDays":0})", basic("alice", "guess")).status, 400);
    EXPECT_EQ(sign_ins_.user_attempts("alice", kNow + 1000), 1u);
    // A wrong password at creation counts.
    EXPECT_EQ(call("PUT", tokens_path("alice"), R"({"name":"x"})", basic("alice", "guess")).status, 401);
    EXPECT_EQ(sign_ins_.user_attempts("alice", kNow + 1000), 2u);
    EXPECT_EQ(sign_ins_.address_attempts("192.0.2.10", kNow + 1000), 2u);
}

// ---- rotation (src/core/api/rotate.cpp, docs/token-lifecycle.md) ----

TEST_F(ManagementApiTest, RotateGivesTheOwnerANewTokenAndRefusesTheOldOne) {
    const std::vector<std::string> ids = seed_tokens("alice", 1, {Level::read, Level::write});
    const std::string rotate_path = token_path("alice", ids[0]) + "/rotate";
    EXPECT_EQ(call("GET", rotate_path).status, 405);
    EXPECT_EQ(call("GET", rotate_path).allow, "POST");
    EXPECT_EQ(call("POST", rotate_path, R"({"name":"x"})").status, 400);

    const ApiResponse rotated = call("POST", rotate_path, "{}");
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    EXPECT_TRUE(rotated.body_is_secret);
    const json::Value body = body_of(rotated);
    const std::string text = body.find("token")->as_string();
    EXPECT_NE(body.find("id")->as_string(), ids[0]);
    EXPECT_EQ(body.find("name")->as_string(), "token 0");
    EXPECT_EQ(permissions_of(body), (std::vector<std::string>{"PROJECT_READ", "REPO_WRITE"}));
    EXPECT_EQ(decide(seeded_texts_[0], Need::repo_read, "WORK", "app", kNow + 2000).reason, Reason::rotated);
    EXPECT_EQ(decide(text, Need::repo_write, "WORK", "app", kNow + 2000).reason, Reason::allowed);
    EXPECT_NE(rotated.audit_line.find("rotated to " + body.find("id")->as_string()), std::string::npos);
    EXPECT_EQ(audit_count(AuditAction::token_rotated), 1u);

    // Again on the rotated one: reuse, 400, and the new token is revoked.
    const ApiResponse reused = call("POST", rotate_path);
    EXPECT_EQ(reused.status, 400) << reused.body;
    EXPECT_NE(error_message(reused).find("already rotated"), std::string::npos);
    EXPECT_EQ(decide(text, Need::repo_read, "WORK", "app", kNow + 2000).reason, Reason::revoked);
    EXPECT_EQ(audit_count(AuditAction::token_family_revoked), 1u);
}

TEST_F(ManagementApiTest, OnlyTheOwnerRotates) {
    const std::vector<std::string> ids = seed_tokens("alice", 1);
    // A sysadmin naming alice: 403, as for creating her a token.
    const ApiResponse admin = call("POST", token_path("alice", ids[0]) + "/rotate", {}, basic("root"));
    EXPECT_EQ(admin.status, 403) << admin.body;
    EXPECT_NE(error_message(admin).find("an administrator cannot create tokens for another user"), std::string::npos);
    // bob naming himself: alice's token is no token of his.
    EXPECT_EQ(call("POST", token_path("bob", ids[0]) + "/rotate", {}, basic("bob")).status, 404);
    EXPECT_EQ(call("POST", token_path("alice", ids[0]) + "/rotate", {}, basic("alice", "wrong")).status, 401);
    EXPECT_EQ(decide(seeded_texts_[0], Need::repo_read, "WORK", "app", kNow + 2000).reason, Reason::allowed);
    EXPECT_EQ(audit_count(AuditAction::token_rotated), 0u);
}

}  // namespace
}  // namespace pat::testing
