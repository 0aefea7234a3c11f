// The fixed error bodies: each is exactly what the core's JSON writer makes
// of its message in Bitbucket's error shape, so the access phase's REST
// errors, the API glue's own answers and the core's answers cannot drift.
#include "pat/error_body.hpp"

#include <gtest/gtest.h>

#include <string>

#include "pat/json.hpp"

namespace pat::testing {
namespace {

std::string written(std::string_view message) {
    json::Writer out;
    out.begin_object().key("errors").begin_array().begin_object();
    out.key("context").null();
    out.key("message").string(message);
    out.key("exceptionName").null();
    out.end_object().end_array().end_object();
    return out.text();
}

TEST(FixedErrorBody, EachBodyIsItsMessageInBitbucketsShape) {
    for (int status : {400, 401, 403, 500, 503}) {
        SCOPED_TRACE(status);
        const std::string_view message = fixed_error_message(status);
        EXPECT_FALSE(message.empty());
        EXPECT_EQ(fixed_error_body(status), written(message));
        auto parsed = json::parse(fixed_error_body(status));
        ASSERT_TRUE(parsed.ok());
    }
}

TEST(FixedErrorBody, TheMessagesAreDistinctAndSayNothingAboutWhy) {
    EXPECT_EQ(fixed_error_message(401), "Authentication failed. Please check your credentials and try again.");
    EXPECT_NE(fixed_error_message(400), fixed_error_message(403));
    EXPECT_NE(fixed_error_message(500), fixed_error_message(503));
}

TEST(FixedErrorBody, AStaleReplicaSaysSoNotThatTheStoreIsBeingReopened) {
    EXPECT_EQ(stale_replica_error_message(), "This node's token replica is not up to date. Try again later.");
    EXPECT_EQ(stale_replica_error_body(), written(stale_replica_error_message()));
    EXPECT_NE(stale_replica_error_body(), fixed_error_body(503));
    EXPECT_TRUE(json::parse(stale_replica_error_body()).ok());
}

TEST(FixedErrorBody, AnyOtherStatusIsAnInternalError) {
    EXPECT_EQ(fixed_error_body(502), fixed_error_body(500));
    EXPECT_EQ(fixed_error_body(0), fixed_error_body(500));
    const ApiResponse response = fixed_error_response(418);
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(response.body, fixed_error_body(500));
}

TEST(FixedErrorBody, ApiAnswers) {
    for (int status : {400, 401, 403, 500, 503}) {
        SCOPED_TRACE(status);
        const ApiResponse response = fixed_error_response(status);
        EXPECT_EQ(response.status, status);
        EXPECT_EQ(response.content_type, "application/json;charset=UTF-8");
        EXPECT_EQ(response.body, fixed_error_body(status));
        EXPECT_EQ(response.retry_after_s, status == 503 ? 1 : 0);
        EXPECT_TRUE(response.www_authenticate.empty());
        EXPECT_FALSE(response.body_is_secret);
    }
}

}  // namespace
}  // namespace pat::testing
