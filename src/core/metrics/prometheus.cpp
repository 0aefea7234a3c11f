#include "pat/prometheus.hpp"

#include <cmath>
#include <cstdio>

namespace pat {

namespace {

// HELP text escapes backslash and line feed; label values also the double
// quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
    for (const char c : text) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '"':
                if (quote) {
                    out += "\\\"";
                    break;
                }
                [[fallthrough]];
            default: out += c;
        }
    }
}

}  // namespace

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
    text_ += "# HELP ";
    text_ += name;
    text_ += ' ';
    append_escaped(text_, help, false);
    text_ += "\n# TYPE ";
    text_ += name;
    text_ += ' ';
    text_ += type;
    text_ += '\n';
}

void PrometheusText::begin_sample(std::string_view name, std::initializer_list<Label> labels) {
    text_ += name;
    if (labels.size() != 0) {
        text_ += '{';
        bool first = true;
        for (const auto& [label, value] : labels) {
            if (!first) text_ += ',';
            first = false;
            text_ += label;
            text_ += "=\"";
            append_escaped(text_, value, true);
            text_ += '"';
        }
        text_ += '}';
    }
    text_ += ' ';
}

void PrometheusText::sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value) {
    begin_sample(name, labels);
    text_ += std::to_string(value);
    text_ += '\n';
}

void PrometheusText::gauge(std::string_view name, std::initializer_list<Label> labels, double value) {
    begin_sample(name, labels);
    if (std::isnan(value)) {
        text_ += "NaN";
    } else {
        char number[64];
        std::snprintf(number, sizeof number, "%.3f", value);
        std::string_view printed(number);
        // "12.000" -> "12", "0.500" -> "0.5"
        if (printed.find('.') != std::string_view::npos) {
            while (printed.back() == '0') printed.remove_suffix(1);
            if (printed.back() == '.') printed.remove_suffix(1);
        }
        text_ += printed;
    }
    text_ += '\n';
}

}  // namespace pat
