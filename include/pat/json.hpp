// A small strict JSON parser (RFC 8259) and writer for the management API.
//
// The parser takes untrusted request bodies, so it is strict and bounded:
// UTF-8 only (overlong forms, surrogates and stray bytes are refused), string
// escapes including surrogate pairs (a lone surrogate is refused), numbers in
// the RFC's grammar only, no trailing garbage, no duplicate keys in an object
// (two parsers that pick different duplicates are a classic smuggling bug),
// a nesting limit and a size limit. It is not on the request path of git
// traffic, so it builds ordinary values and allocates freely.
//
// The writer escapes per RFC 8259 and always emits valid UTF-8: text from the
// store (token names) is not trusted to be, and an invalid byte becomes U+FFFD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pat/status.hpp"

namespace pat::json {

class Value {
   public:
    enum class Kind : std::uint8_t { null, boolean, number, string, array, object };

    Value() = default;  // null

    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::null; }
    bool is_bool() const { return kind_ == Kind::boolean; }
    bool is_number() const { return kind_ == Kind::number; }
    bool is_string() const { return kind_ == Kind::string; }
    bool is_array() const { return kind_ == Kind::array; }
    bool is_object() const { return kind_ == Kind::object; }

    bool as_bool() const { return flag_; }
    // A string's decoded UTF-8 content.
    const std::string& as_string() const { return text_; }
    // A number as it was written ("-12", "1.5e3").
    const std::string& number_text() const { return text_; }
    // The number when it was written as an integer (no fraction, no
    // exponent) that fits; nullopt otherwise ("30.0" is not an integer here).
    std::optional<std::int64_t> as_int64() const;
    double as_double() const;

    // Arrays: the elements. Objects: the member values, in document order.
    const std::vector<Value>& elements() const { return items_; }
    // Objects: member names, parallel to elements().
    const std::vector<std::string>& keys() const { return keys_; }
    std::size_t size() const { return items_.size(); }
    // Objects: the member called key, or nullptr.
    const Value* find(std::string_view key) const;

    // Overwrites every string in the value, recursively: for a parsed body
    // that carried a password. The value is left with empty strings.
    void wipe_strings();

    static Value null_value() { return Value(); }
    static Value boolean(bool value);
    static Value number(std::string text);  // the caller passes a valid JSON number
    static Value string(std::string text);
    static Value array(std::vector<Value> elements);
    static Value object(std::vector<std::string> keys, std::vector<Value> values);

    friend bool operator==(const Value&, const Value&) = default;

   private:
    Kind kind_ = Kind::null;
    bool flag_ = false;
    std::string text_;
    std::vector<std::string> keys_;
    std::vector<Value> items_;
};

struct ParseLimits {
    std::size_t max_bytes = 64 * 1024;
    std::size_t max_depth = 32;  // nested arrays and objects
};

// The whole text must be one JSON value, optionally surrounded by
// whitespace. Errors are invalid_argument with a message such as
// "invalid JSON at byte 12: expected ':' after an object key".
Expected<Value> parse(std::string_view text, const ParseLimits& limits = {});

// The escaped body of a JSON string, without the quotes.
void append_escaped(std::string& out, std::string_view text);

// A streaming writer of one compact document; commas are placed for you.
class Writer {
   public:
    Writer& begin_object();
    Writer& end_object();
    Writer& begin_array();
    Writer& end_array();

    Writer& key(std::string_view name);
    Writer& string(std::string_view value);
    Writer& number(std::int64_t value);
    // The caller vouches that text is a valid JSON number (e.g. from a parsed Value).
    Writer& raw_number(std::string_view text);
    Writer& boolean(bool value);
    Writer& null();
    Writer& value(const Value& value);

    // Reserve up front when the document will hold a secret, so that no
    // reallocation leaves a copy behind in freed memory.
    void reserve(std::size_t bytes) { out_.reserve(bytes); }

    // The document; complete once every begin has its end.
    std::string& text() { return out_; }
    bool complete() const { return open_.empty() && wrote_value_; }

   private:
    void before_value();

    std::string out_;
    std::vector<bool> open_;  // per open container: does it hold an element yet?
    bool after_key_ = false;
    bool wrote_value_ = false;
};

// A value rendered as compact JSON.
std::string serialize(const Value& value);

}  // namespace pat::json
