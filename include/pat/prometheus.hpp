// Prometheus's text exposition format (version 0.0.4), written by the
// module's auth_pat_status location and by patd's GET /metrics: one
// "# HELP" and "# TYPE" line per family, then its samples, one a line:
//
//   # HELP auth_pat_requests_total Requests decided by auth_pat, by result.
//   # TYPE auth_pat_requests_total counter
//   auth_pat_requests_total{result="allowed"} 12
//
// Label values and help texts are escaped as the format says (backslash,
// double quote and line feed), so a store path can be a label value.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace pat {

// The Content-Type of the text format.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

class PrometheusText {
   public:
    using Label = std::pair<std::string_view, std::string_view>;  // name, value

    // Starts a family: the samples after it must use its name (counters
    // end in _total by convention, the caller's choice).
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
    void sample(std::string_view name, std::uint64_t value) { sample(name, {}, value); }
    // A gauge that may be fractional or negative (printed with up to three
    // decimals).
    void gauge(std::string_view name, std::initializer_list<Label> labels, double value);

    const std::string& text() const noexcept { return text_; }
    std::string take() noexcept { return std::move(text_); }

   private:
    void begin_sample(std::string_view name, std::initializer_list<Label> labels);
    std::string text_;
};

}  // namespace pat
