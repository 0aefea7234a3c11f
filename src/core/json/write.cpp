// The JSON writer: escaping per RFC 8259, always valid UTF-8 out.
#include <string>

#include "pat/json.hpp"
#include "utf8.hpp"

namespace pat::json {

void append_escaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        const auto byte = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                ++i;
                continue;
            case '\\':
                out += "\\\\";
                ++i;
                continue;
            case '\b':
                out += "\\b";
                ++i;
                continue;
            case '\f':
                out += "\\f";
                ++i;
                continue;
            case '\n':
                out += "\\n";
                ++i;
                continue;
            case '\r':
                out += "\\r";
                ++i;
                continue;
            case '\t':
                out += "\\t";
                ++i;
                continue;
            default: break;
        }
        if (byte < 0x20 || byte == 0x7f) {
            out += "\\u00";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xF];
            ++i;
            continue;
        }
        const std::size_t length = utf8::sequence_length(text, i);
        if (length == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        out.append(text.substr(i, length));
        i += length;
    }
}

void Writer::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!open_.empty()) {
        if (open_.back()) out_ += ',';
        open_.back() = true;
    }
    wrote_value_ = true;
}

Writer& Writer::begin_object() {
    before_value();
    out_ += '{';
    open_.push_back(false);
    return *this;
}

Writer& Writer::end_object() {
    out_ += '}';
    if (!open_.empty()) open_.pop_back();
    return *this;
}

Writer& Writer::begin_array() {
    before_value();
    out_ += '[';
    open_.push_back(false);
    return *this;
}

Writer& Writer::end_array() {
    out_ += ']';
    if (!open_.empty()) open_.pop_back();
    return *this;
}

Writer& Writer::key(std::string_view name) {
    before_value();
    out_ += '"';
    append_escaped(out_, name);
    out_ += "\":";
    after_key_ = true;
    return *this;
}

Writer& Writer::string(std::string_view value) {
    before_value();
    out_ += '"';
    append_escaped(out_, value);
    out_ += '"';
    return *this;
}

Writer& Writer::number(std::int64_t value) {
    before_value();
    out_ += std::to_string(value);
    return *this;
}

Writer& Writer::raw_number(std::string_view text) {
    before_value();
    out_.append(text);
    return *this;
}

Writer& Writer::boolean(bool value) {
    before_value();
    out_ += value ? "true" : "false";
    return *this;
}

Writer& Writer::null() {
    before_value();
    out_ += "null";
    return *this;
}

Writer& Writer::value(const Value& value) {
    switch (value.kind()) {
        case Value::Kind::null: return null();
        case Value::Kind::boolean: return boolean(value.as_bool());
        case Value::Kind::number: return raw_number(value.number_text());
        case Value::Kind::string: return string(value.as_string());
        case Value::Kind::array:
            begin_array();
            for (const Value& element : value.elements()) this->value(element);
            return end_array();
        case Value::Kind::object:
            begin_object();
            for (std::size_t i = 0; i < value.size(); ++i) {
                key(value.keys()[i]);
                this->value(value.elements()[i]);
            }
            return end_object();
    }
    return null();
}

std::string serialize(const Value& value) {
    Writer writer;
    writer.value(value);
    return std::move(writer.text());
}

}  // namespace pat::json
