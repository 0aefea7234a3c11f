// GET .../rest/access-tokens/1.0/policy: the token policy (pat/token_policy.hpp),
// read-only, for any signed-in user (the account page offers only what it
// allows). Signed in like every other endpoint: Basic with a password.
//
//   {"requireExpiry":true,"maxExpiryDays":90,"maxTokensPerUser":null,"creationEnabled":true}
#include "internal.hpp"

namespace pat::api {

ApiResponse Exchange::get_policy() {
    Session session;
    if (auto refused = authenticate(session)) return std::move(*refused);
    auto policy = store_.token_policy();
    if (!policy) return store_failure(policy.status(), "reading the token policy");
    json::Writer out;
    out.begin_object();
    out.key("requireExpiry").boolean(policy->require_expiry);
    out.key("maxExpiryDays");
    if (policy->max_expiry_days) {
        out.number(*policy->max_expiry_days);
    } else {
        out.null();
    }
    out.key("maxTokensPerUser");
    if (policy->max_tokens_per_user) {
        out.number(*policy->max_tokens_per_user);
    } else {
        out.null();
    }
    out.key("creationEnabled").boolean(policy->creation_enabled);
    out.end_object();
    return json_response(200, std::move(out.text()));
}

}  // namespace pat::api
