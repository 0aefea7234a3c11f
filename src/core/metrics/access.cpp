#include <string>

#include "pat/access_metrics.hpp"
#include "pat/prometheus.hpp"
#include "pat/store.hpp"

namespace pat {

// Every Reason has the outcome of the same name and value.
#define PAT_SAME_VALUE(name) static_assert(static_cast<int>(AccessOutcome::name) == static_cast<int>(Reason::name))
PAT_SAME_VALUE(allowed);
PAT_SAME_VALUE(malformed_token);
PAT_SAME_VALUE(bad_checksum);
PAT_SAME_VALUE(unknown_token);
PAT_SAME_VALUE(revoked);
PAT_SAME_VALUE(expired);
PAT_SAME_VALUE(wrong_user);
PAT_SAME_VALUE(user_unknown);
PAT_SAME_VALUE(user_disabled);
PAT_SAME_VALUE(invalid_target);
PAT_SAME_VALUE(token_level_too_low);
PAT_SAME_VALUE(user_level_too_low);
PAT_SAME_VALUE(route_not_allowed);
PAT_SAME_VALUE(store_error);
PAT_SAME_VALUE(no_credentials);
PAT_SAME_VALUE(rotated);
#undef PAT_SAME_VALUE

std::string_view outcome_label(AccessOutcome outcome) noexcept {
    switch (outcome) {
        case AccessOutcome::allowed: return "allowed";
        case AccessOutcome::malformed_token: return "malformed_token";
        case AccessOutcome::bad_checksum: return "bad_checksum";
        case AccessOutcome::unknown_token: return "unknown_token";
        case AccessOutcome::revoked: return "revoked";
        case AccessOutcome::expired: return "expired";
        case AccessOutcome::wrong_user: return "wrong_user";
        case AccessOutcome::user_unknown: return "user_unknown";
        case AccessOutcome::user_disabled: return "user_disabled";
        case AccessOutcome::invalid_target: return "invalid_target";
        case AccessOutcome::token_level_too_low: return "token_level_too_low";
        case AccessOutcome::user_level_too_low: return "user_level_too_low";
        case AccessOutcome::route_not_allowed: return "route_not_allowed";
        case AccessOutcome::store_error: return "store_error";
        case AccessOutcome::no_credentials: return "no_credentials";
        case AccessOutcome::rotated: return "rotated";
        case AccessOutcome::malformed_authorization: return "malformed_authorization";
        case AccessOutcome::bad_request: return "bad_request";
        case AccessOutcome::store_unavailable: return "store_unavailable";
        case AccessOutcome::internal_error: return "internal_error";
        case AccessOutcome::subrequest_refused: return "subrequest_refused";
        case AccessOutcome::public_read: return "public_read";
    }
    return "internal_error";
}

int outcome_status(AccessOutcome outcome) noexcept {
    switch (outcome) {
        case AccessOutcome::allowed:
        case AccessOutcome::public_read: return 0;
        case AccessOutcome::bad_request: return 400;
        case AccessOutcome::subrequest_refused: return 403;
        case AccessOutcome::no_credentials:
        case AccessOutcome::malformed_authorization: return 401;
        case AccessOutcome::store_unavailable:
        case AccessOutcome::internal_error: return 500;
        default: break;
    }
    // The core's own mapping, the one every caller uses.
    switch (verdict_of(static_cast<Reason>(outcome))) {
        case Verdict::allow: return 0;
        case Verdict::unauthenticated: return 401;
        case Verdict::forbidden: return 403;
        case Verdict::fault: return 500;
    }
    return 500;
}

std::string format_access_metrics(const AccessCounts& counts, const std::vector<StoreFileFacts>& stores,
                                  std::int64_t now_ms, std::string_view version) {
    PrometheusText out;
    const std::string schema = std::to_string(kSchemaVersion);
    out.family("auth_pat_build_info", "gauge", "The module's version and the store schema it reads.");
    out.sample("auth_pat_build_info", {{"version", version}, {"schema", schema}}, 1);

    out.family("auth_pat_requests_allowed_total", "counter",
               "Requests auth_pat allowed with a token, summed over all workers.");
    out.sample("auth_pat_requests_allowed_total", counts.outcomes[0]);

    // A separate family, so that the allowed count keeps meaning "with a
    // token" and anonymous reads can be watched on their own.
    out.family("auth_pat_requests_public_total", "counter",
               "Requests without credentials auth_pat allowed as reads of a public repository, summed over all "
               "workers.");
    out.sample("auth_pat_requests_public_total", counts.outcomes[static_cast<std::size_t>(AccessOutcome::public_read)]);

    out.family("auth_pat_requests_refused_total", "counter",
               "Requests auth_pat refused, by reason, summed over all workers.");
    for (std::size_t i = 1; i < kAccessOutcomeCount; ++i) {
        const auto outcome = static_cast<AccessOutcome>(i);
        if (outcome == AccessOutcome::public_read) continue;  // allowed, above
        out.sample("auth_pat_requests_refused_total", {{"reason", outcome_label(outcome)}}, counts.outcomes[i]);
    }

    out.family("auth_pat_responses_total", "counter",
               "Refusals by the status auth_pat answered (under satisfy any an allow rule may still pass a 401 or "
               "403).");
    for (const int status : {400, 401, 403, 500}) {
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < kAccessOutcomeCount; ++i) {
            if (outcome_status(static_cast<AccessOutcome>(i)) == status) sum += counts.outcomes[i];
        }
        out.sample("auth_pat_responses_total", {{"status", std::to_string(status)}}, sum);
    }

    out.family("auth_pat_store_open_failures_total", "counter",
               "Failed attempts of a worker to open a store (missing, unreadable, damaged, another schema).");
    out.sample("auth_pat_store_open_failures_total", counts.store_open_failures);

    out.family("auth_pat_store_exists", "gauge", "1 when the store file exists, 0 when it does not.");
    for (const StoreFileFacts& store : stores)
        out.sample("auth_pat_store_exists", {{"store", store.path}}, store.exists);
    out.family("auth_pat_store_size_bytes", "gauge", "The store file's size.");
    for (const StoreFileFacts& store : stores) {
        if (store.exists) out.sample("auth_pat_store_size_bytes", {{"store", store.path}}, store.size_bytes);
    }
    out.family("auth_pat_store_age_seconds", "gauge",
               "Seconds since the store file was last written (its mtime; every commit writes it).");
    for (const StoreFileFacts& store : stores) {
        if (!store.exists) continue;
        const double age = static_cast<double>(now_ms - store.modified_ms) / 1000.0;
        out.gauge("auth_pat_store_age_seconds", {{"store", store.path}}, age < 0 ? 0.0 : age);
    }
    return out.take();
}

}  // namespace pat
