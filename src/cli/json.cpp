#include "json.hpp"

namespace patctl {
namespace {

bool is_continuation(unsigned char byte, unsigned char low = 0x80, unsigned char high = 0xBF) {
    return byte >= low && byte <= high;
}

// Length of the valid UTF-8 sequence starting at text[i], or 0 when the byte
// there does not start one (overlong forms and surrogates count as invalid).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
    auto at = [&](std::size_t k) -> unsigned char {
        return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
    };
    unsigned char lead = at(0);
    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        return is_continuation(at(1)) ? 2 : 0;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
        unsigned char high = lead == 0xED ? 0x9F : 0xBF;
        return is_continuation(at(1), low, high) && is_continuation(at(2)) ? 3 : 0;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
        unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
        return is_continuation(at(1), low, high) && is_continuation(at(2)) && is_continuation(at(3))
                   ? 4
                   : 0;
    }
    return 0;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        auto byte = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; ++i; continue;
            case '\\': out += "\\\\"; ++i; continue;
            case '\b': out += "\\b"; ++i; continue;
            case '\f': out += "\\f"; ++i; continue;
            case '\n': out += "\\n"; ++i; continue;
            case '\r': out += "\\r"; ++i; continue;
            case '\t': out += "\\t"; ++i; continue;
            default: break;
        }
        if (byte < 0x20) {
            out += "\\u00";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xF];
            ++i;
            continue;
        }
        std::size_t length = utf8_sequence_length(text, i);
        if (length == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        out.append(text.substr(i, length));
        i += length;
    }
}

void JsonWriter::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!nesting_.empty()) {
        if (nesting_.back()) {
            out_ += ',';
        }
        nesting_.back() = true;
    }
    wrote_value_ = true;
}

JsonWriter& JsonWriter::begin_object() {
    before_value();
    out_ += '{';
    nesting_.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    out_ += '}';
    nesting_.pop_back();
    return *this;
}

JsonWriter& JsonWriter::begin_array() {
    before_value();
    out_ += '[';
    nesting_.push_back(false);
    return *this;
}

JsonWriter& JsonWriter::end_array() {
    out_ += ']';
    nesting_.pop_back();
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    before_value();
    out_ += '"';
    append_json_escaped(out_, name);
    out_ += "\":";
    after_key_ = true;
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view value) {
    before_value();
    out_ += '"';
    append_json_escaped(out_, value);
    out_ += '"';
    return *this;
}

JsonWriter& JsonWriter::number(std::int64_t value) {
    before_value();
    out_ += std::to_string(value);
    return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
    before_value();
    out_ += value ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::null() {
    before_value();
    out_ += "null";
    return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::string_view value) {
    return key(name).string(value);
}

JsonWriter& JsonWriter::field(std::string_view name, std::int64_t value) {
    return key(name).number(value);
}

JsonWriter& JsonWriter::field(std::string_view name, bool value) {
    return key(name).boolean(value);
}

JsonWriter& JsonWriter::optional_field(std::string_view name, const std::optional<std::string>& value) {
    key(name);
    return value ? string(*value) : null();
}

}  // namespace patctl
