// The fixed error bodies (pat/error_body.hpp): each message written once,
// the JSON around it put together at compile time, so the glue can point a
// response buffer at the text without allocating.
#include <array>
#include <cstddef>
#include <string_view>

#include "internal.hpp"
#include "pat/error_body.hpp"

namespace pat {
namespace {

constexpr std::string_view kHead = R"({"errors":[{"context":null,"message":")";
constexpr std::string_view kTail = R"(","exceptionName":null}]})";

template <std::size_t N>
struct FixedError {
    std::array<char, kHead.size() + (N - 1) + kTail.size()> body;
    std::string_view message;  // the literal it was made from

    constexpr std::string_view text() const { return {body.data(), body.size()}; }
};

// The message goes into the JSON string as it is: it must need no escape
// (a compile-time error otherwise).
template <std::size_t N>
constexpr FixedError<N> fixed_error(const char (&message)[N]) {
    FixedError<N> out{};
    std::size_t at = 0;
    for (char c : kHead) out.body[at++] = c;
    for (std::size_t i = 0; i + 1 < N; ++i) {
        const char c = message[i];
        if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) throw "the message needs a JSON escape";
        out.body[at++] = c;
    }
    for (char c : kTail) out.body[at++] = c;
    out.message = std::string_view(message, N - 1);
    return out;
}

constexpr auto kBadRequest = fixed_error("The request is malformed or ambiguous.");
constexpr auto kUnauthenticated = fixed_error("Authentication failed. Please check your credentials and try again.");
constexpr auto kForbidden = fixed_error("You are not permitted to access this resource.");
constexpr auto kInternal = fixed_error("An internal error occurred. The server log has the details.");
constexpr auto kReopening = fixed_error("The token store is being reopened. Try again in a second.");
constexpr auto kStaleReplica = fixed_error("This node's token replica is not up to date. Try again later.");

}  // namespace

std::string_view fixed_error_body(int status) noexcept {
    switch (status) {
        case 400: return kBadRequest.text();
        case 401: return kUnauthenticated.text();
        case 403: return kForbidden.text();
        case 503: return kReopening.text();
        default: return kInternal.text();
    }
}

std::string_view fixed_error_message(int status) noexcept {
    switch (status) {
        case 400: return kBadRequest.message;
        case 401: return kUnauthenticated.message;
        case 403: return kForbidden.message;
        case 503: return kReopening.message;
        default: return kInternal.message;
    }
}

std::string_view stale_replica_error_body() noexcept {
    return kStaleReplica.text();
}

std::string_view stale_replica_error_message() noexcept {
    return kStaleReplica.message;
}

ApiResponse fixed_error_response(int status) {
    const bool fixed = status == 400 || status == 401 || status == 403 || status == 503;
    ApiResponse response;
    response.status = fixed ? status : 500;
    response.content_type = api::kJsonContentType;
    response.body = fixed_error_body(status);
    if (response.status == 503) response.retry_after_s = 1;
    return response;
}

}  // namespace pat
