// The Prometheus text of the module's auth_pat_status location and of patd.
#include <gtest/gtest.h>

#include <string>

#include "pat/access_metrics.hpp"
#include "pat/prometheus.hpp"

namespace pat {
namespace {

TEST(PrometheusText, FamilyAndSamples) {
    PrometheusText out;
    out.family("x_total", "counter", "Things.");
    out.sample("x_total", 3);
    out.sample("x_total", {{"a", "1"}, {"b", "two"}}, 18446744073709551615ULL);
    EXPECT_EQ(out.text(),
              "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"
              "x_total{a=\"1\",b=\"two\"} 18446744073709551615\n");
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
    PrometheusText out;
    out.family("y", "gauge", "back\\slash \"quoted\"\nnext");
    out.sample("y", {{"store", "/a\"b\\c\nd"}}, 1);
    EXPECT_EQ(out.text(),
              "# HELP y back\\\\slash \"quoted\"\\nnext\n# TYPE y gauge\n"
              "y{store=\"/a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(PrometheusText, Gauges) {
    PrometheusText out;
    out.gauge("g", {}, 12.0);
    out.gauge("g", {}, 0.5);
    out.gauge("g", {}, 1.25);
    out.gauge("g", {}, 0.0004);
    EXPECT_EQ(out.text(), "g 12\ng 0.5\ng 1.25\ng 0\n");
}

TEST(AccessOutcome, EveryReasonKeepsItsNameAndStatus) {
    EXPECT_EQ(outcome_label(outcome_of(Reason::unknown_token)), "unknown_token");
    EXPECT_EQ(outcome_label(outcome_of(Reason::token_level_too_low)), "token_level_too_low");
    EXPECT_EQ(outcome_label(outcome_of(Reason::store_error)), "store_error");
    for (int i = 0; i <= static_cast<int>(Reason::store_error); ++i) {
        const auto reason = static_cast<Reason>(i);
        const int status = outcome_status(outcome_of(reason));
        switch (verdict_of(reason)) {
            case Verdict::allow: EXPECT_EQ(status, 0); break;
            case Verdict::unauthenticated: EXPECT_EQ(status, 401); break;
            case Verdict::forbidden: EXPECT_EQ(status, 403); break;
            case Verdict::fault: EXPECT_EQ(status, 500); break;
        }
    }
    EXPECT_EQ(outcome_status(AccessOutcome::no_credentials), 401);
    EXPECT_EQ(outcome_status(AccessOutcome::malformed_authorization), 401);
    EXPECT_EQ(outcome_status(AccessOutcome::bad_request), 400);
    EXPECT_EQ(outcome_status(AccessOutcome::store_unavailable), 500);
    EXPECT_EQ(outcome_status(AccessOutcome::subrequest_refused), 403);
}

TEST(AccessOutcome, LabelsAreDistinctIdentifiers) {
    for (std::size_t i = 0; i < kAccessOutcomeCount; ++i) {
        const std::string_view label = outcome_label(static_cast<AccessOutcome>(i));
        EXPECT_FALSE(label.empty());
        EXPECT_EQ(label.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos) << label;
        for (std::size_t j = 0; j < i; ++j) EXPECT_NE(label, outcome_label(static_cast<AccessOutcome>(j)));
    }
}

TEST(AccessMetrics, Text) {
    AccessCounts counts;
    counts.outcomes[static_cast<std::size_t>(AccessOutcome::allowed)] = 7;
    counts.outcomes[static_cast<std::size_t>(AccessOutcome::unknown_token)] = 2;
    counts.outcomes[static_cast<std::size_t>(AccessOutcome::no_credentials)] = 3;
    counts.outcomes[static_cast<std::size_t>(AccessOutcome::token_level_too_low)] = 4;
    counts.outcomes[static_cast<std::size_t>(AccessOutcome::store_unavailable)] = 5;
    counts.outcomes[static_cast<std::size_t>(AccessOutcome::store_error)] = 1;
    counts.outcomes[static_cast<std::size_t>(AccessOutcome::public_read)] = 3;
    counts.store_open_failures = 9;
    std::vector<StoreFileFacts> stores(2);
    stores[0] = {"/var/lib/nginx-pat/pat.db", true, 8192, 1'000'000};
    stores[1] = {"/missing.db", false, 0, 0};
    const std::string text = format_access_metrics(counts, stores, 1'061'500, "1.2.3");

    EXPECT_NE(text.find("auth_pat_build_info{version=\"1.2.3\",schema=\"2\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE auth_pat_requests_allowed_total counter\nauth_pat_requests_allowed_total 7\n"),
              std::string::npos);
    EXPECT_NE(text.find("auth_pat_requests_refused_total{reason=\"unknown_token\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_requests_refused_total{reason=\"revoked\"} 0\n"), std::string::npos);
    EXPECT_EQ(text.find("auth_pat_requests_refused_total{reason=\"allowed\"}"), std::string::npos);
    // Reads without credentials of public repositories: their own family, never a refusal.
    EXPECT_NE(text.find("auth_pat_requests_public_total 3\n"), std::string::npos);
    EXPECT_EQ(text.find("reason=\"public_read\""), std::string::npos);
    EXPECT_EQ(outcome_status(AccessOutcome::public_read), 0);
    EXPECT_NE(text.find("auth_pat_responses_total{status=\"401\"} 5\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_responses_total{status=\"403\"} 4\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_responses_total{status=\"500\"} 6\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_responses_total{status=\"400\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_store_open_failures_total 9\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_store_exists{store=\"/var/lib/nginx-pat/pat.db\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_store_exists{store=\"/missing.db\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_store_size_bytes{store=\"/var/lib/nginx-pat/pat.db\"} 8192\n"), std::string::npos);
    EXPECT_NE(text.find("auth_pat_store_age_seconds{store=\"/var/lib/nginx-pat/pat.db\"} 61.5\n"), std::string::npos);
    EXPECT_EQ(text.find("auth_pat_store_size_bytes{store=\"/missing.db\"}"), std::string::npos);
    EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace pat
