// A small JSON writer for --json output: compact, one document per call,
// strings escaped per RFC 8259 and always valid UTF-8 (an invalid byte
// becomes U+FFFD, since store text such as token names is not trusted).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patctl {

class JsonWriter {
public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();

    JsonWriter& key(std::string_view name);
    JsonWriter& string(std::string_view value);
    JsonWriter& number(std::int64_t value);
    JsonWriter& boolean(bool value);
    JsonWriter& null();

    // key + value in one call.
    JsonWriter& field(std::string_view name, std::string_view value);
    JsonWriter& field(std::string_view name, const char* value) { return field(name, std::string_view(value)); }
    JsonWriter& field(std::string_view name, std::int64_t value);
    JsonWriter& field(std::string_view name, bool value);
    JsonWriter& field(std::string_view name, const std::string& value) { return field(name, std::string_view(value)); }
    // An empty optional writes null.
    JsonWriter& optional_field(std::string_view name, const std::optional<std::string>& value);

    // Reserve room up front when the document will hold a secret, so no
    // reallocation leaves a copy behind in freed memory.
    void reserve(std::size_t bytes) { out_.reserve(bytes); }

    // The document so far; complete once every begin has its end.
    std::string& text() { return out_; }
    bool complete() const { return nesting_.empty() && wrote_value_; }

private:
    void before_value();

    std::string out_;
    std::vector<bool> nesting_;  // per open container: has it an element yet?
    bool after_key_ = false;
    bool wrote_value_ = false;
};

// The escaped body of a JSON string, without the quotes.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace patctl
