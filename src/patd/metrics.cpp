#include "metrics.hpp"

#include "pat/prometheus.hpp"
#include "pat/version.hpp"

namespace patd {

void Metrics::count_request(std::string_view method, int status, bool password_checked) noexcept {
    constexpr auto relaxed = std::memory_order_relaxed;
    if (status >= kMinStatus && status <= kMaxStatus) by_status_[status - kMinStatus].fetch_add(1, relaxed);
    if (password_checked) (status == 401 ? refused_ : accepted_).fetch_add(1, relaxed);
    if (status == 429) throttled_.fetch_add(1, relaxed);
    if (method == "PUT" && status == 200) created_.fetch_add(1, relaxed);
    if (method == "DELETE" && status == 204) revoked_.fetch_add(1, relaxed);
}

std::string Metrics::text(unsigned connections) const {
    constexpr auto relaxed = std::memory_order_relaxed;
    pat::PrometheusText out;
    out.family("patd_build_info", "gauge", "patd's version.");
    out.sample("patd_build_info", {{"version", pat::kVersion}}, 1);

    out.family("patd_requests_total", "counter", "Token API requests answered, by status (GET /metrics not counted).");
    for (int status = kMinStatus; status <= kMaxStatus; ++status) {
        const unsigned long n = by_status_[status - kMinStatus].load(relaxed);
        if (n != 0) out.sample("patd_requests_total", {{"status", std::to_string(status)}}, n);
    }

    out.family("patd_sign_ins_total", "counter", "Password checks that ran, by result.");
    out.sample("patd_sign_ins_total", {{"result", "accepted"}}, accepted_.load(relaxed));
    out.sample("patd_sign_ins_total", {{"result", "refused"}}, refused_.load(relaxed));
    out.family("patd_sign_ins_throttled_total", "counter",
               "Sign-ins refused by the sign-in limiter (429) without a password check.");
    out.sample("patd_sign_ins_throttled_total", throttled_.load(relaxed));
    out.family("patd_sign_ins_busy_total", "counter",
               "Sign-ins refused (503) because --max-sign-ins checks were running.");
    out.sample("patd_sign_ins_busy_total", busy_.load(relaxed));
    out.family("patd_sign_ins_dropped_total", "counter", "Sign-ins dropped before their check: the client had gone.");
    out.sample("patd_sign_ins_dropped_total", dropped_.load(relaxed));

    out.family("patd_tokens_created_total", "counter", "Tokens created through the API.");
    out.sample("patd_tokens_created_total", created_.load(relaxed));
    out.family("patd_tokens_revoked_total", "counter", "Tokens revoked through the API.");
    out.sample("patd_tokens_revoked_total", revoked_.load(relaxed));

    out.family("patd_connections", "gauge", "Connections open now.");
    out.sample("patd_connections", connections);
    return out.take();
}

}  // namespace patd
