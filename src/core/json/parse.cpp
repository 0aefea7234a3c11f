// The strict JSON parser: see include/pat/json.hpp for what it refuses and why.
#include <algorithm>
#include <string>

#include "pat/json.hpp"
#include "utf8.hpp"

namespace pat::json {

namespace {

void append_utf8(std::string& out, std::uint32_t code_point) {
    if (code_point < 0x80) {
        out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
        out += static_cast<char>(0xC0 | (code_point >> 6));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else if (code_point < 0x10000) {
        out += static_cast<char>(0xE0 | (code_point >> 12));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code_point >> 18));
        out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    }
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Recursive descent over the text; the first error stops everything and is
// kept in error_ with the byte offset where it was found.
class Parser {
   public:
    Parser(std::string_view text, const ParseLimits& limits) : text_(text), limits_(limits) {}

    Expected<Value> parse_document() {
        if (text_.size() > limits_.max_bytes) {
            return Status{StatusCode::invalid_argument,
                          "JSON text is larger than " + std::to_string(limits_.max_bytes) + " bytes"};
        }
        skip_whitespace();
        Value value;
        if (!parse_value(value, 0)) return error_;
        skip_whitespace();
        if (pos_ != text_.size()) {
            fail("unexpected text after the JSON value");
            return error_;
        }
        return value;
    }

   private:
    bool fail(std::string_view what) {
        error_ = Status{StatusCode::invalid_argument,
                        "invalid JSON at byte " + std::to_string(pos_) + ": " + std::string(what)};
        return false;
    }

    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }

    void skip_whitespace() {
        while (!at_end()) {
            const char c = text_[pos_];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            ++pos_;
        }
    }

    bool expect_word(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return fail("unknown literal (expected true, false or null)");
        pos_ += word.size();
        return true;
    }

    bool parse_value(Value& out, std::size_t depth) {
        if (at_end()) return fail("unexpected end of text, expected a value");
        switch (peek()) {
            case '{': return parse_object(out, depth + 1);
            case '[': return parse_array(out, depth + 1);
            case '"': {
                std::string text;
                if (!parse_string(text)) return false;
                out = Value::string(std::move(text));
                return true;
            }
            case 't':
                if (!expect_word("true")) return false;
                out = Value::boolean(true);
                return true;
            case 'f':
                if (!expect_word("false")) return false;
                out = Value::boolean(false);
                return true;
            case 'n':
                if (!expect_word("null")) return false;
                out = Value::null_value();
                return true;
            default:
                if (peek() == '-' || is_digit(peek())) return parse_number(out);
                return fail("unexpected character, expected a value");
        }
    }

    bool enter(std::size_t depth) {
        if (depth > limits_.max_depth) {
            return fail("nested deeper than " + std::to_string(limits_.max_depth) + " levels");
        }
        return true;
    }

    bool parse_object(Value& out, std::size_t depth) {
        if (!enter(depth)) return false;
        ++pos_;  // '{'
        std::vector<std::string> keys;
        std::vector<Value> values;
        skip_whitespace();
        if (peek() == '}') {
            ++pos_;
            out = Value::object(std::move(keys), std::move(values));
            return true;
        }
        for (;;) {
            skip_whitespace();
            if (peek() != '"') return fail("expected a string as an object key");
            const std::size_t key_start = pos_;
            std::string key;
            if (!parse_string(key)) return false;
            for (const auto& seen : keys) {
                if (seen == key) {
                    pos_ = key_start;
                    return fail("duplicate object key \"" + seen.substr(0, 64) + "\"");
                }
            }
            skip_whitespace();
            if (peek() != ':') return fail("expected ':' after an object key");
            ++pos_;
            skip_whitespace();
            Value value;
            if (!parse_value(value, depth)) return false;
            keys.push_back(std::move(key));
            values.push_back(std::move(value));
            skip_whitespace();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') {
                ++pos_;
                out = Value::object(std::move(keys), std::move(values));
                return true;
            }
            return fail("expected ',' or '}' in an object");
        }
    }

    bool parse_array(Value& out, std::size_t depth) {
        if (!enter(depth)) return false;
        ++pos_;  // '['
        std::vector<Value> elements;
        skip_whitespace();
        if (peek() == ']') {
            ++pos_;
            out = Value::array(std::move(elements));
            return true;
        }
        for (;;) {
            skip_whitespace();
            Value element;
            if (!parse_value(element, depth)) return false;
            elements.push_back(std::move(element));
            skip_whitespace();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == ']') {
                ++pos_;
                out = Value::array(std::move(elements));
                return true;
            }
            return fail("expected ',' or ']' in an array");
        }
    }

    // Four hex digits after "\u".
    bool parse_hex4(std::uint32_t& out) {
        if (pos_ + 4 > text_.size()) return fail("truncated \\u escape");
        out = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            const int digit = hex_value(text_[pos_ + i]);
            if (digit < 0) return fail("\\u must be followed by four hex digits");
            out = out << 4 | static_cast<std::uint32_t>(digit);
        }
        pos_ += 4;
        return true;
    }

    bool parse_unicode_escape(std::string& out) {
        std::uint32_t unit = 0;
        if (!parse_hex4(unit)) return false;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return fail("a low surrogate escape without a high one before it");
        if (unit >= 0xD800 && unit <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") return fail("a high surrogate escape not followed by a low one");
            pos_ += 2;
            std::uint32_t low = 0;
            if (!parse_hex4(low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return fail("a high surrogate escape not followed by a low one");
            unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, unit);
        return true;
    }

    // Where the string starting at pos_ (its opening quote) ends, or the
    // end of the text; the decoded string is never longer than that.
    std::size_t raw_string_length() const {
        std::size_t i = pos_ + 1;
        while (i < text_.size() && text_[i] != '"') i += text_[i] == '\\' ? 2 : 1;
        return std::min(i, text_.size()) - pos_;
    }

    bool parse_string(std::string& out) {
        // Room for all of it up front: appending never reallocates, so a
        // secret in the string leaves no copy behind in freed memory.
        out.reserve(raw_string_length());
        ++pos_;  // opening quote
        for (;;) {
            if (at_end()) return fail("unterminated string");
            const char c = text_[pos_];
            if (c == '"') {
                ++pos_;
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) return fail("a control character in a string must be escaped");
            if (c == '\\') {
                ++pos_;
                if (at_end()) return fail("unterminated string");
                const char escape = text_[pos_++];
                switch (escape) {
                    case '"': out += '"'; break;
                    case '\\': out += '\\'; break;
                    case '/': out += '/'; break;
                    case 'b': out += '\b'; break;
                    case 'f': out += '\f'; break;
                    case 'n': out += '\n'; break;
                    case 'r': out += '\r'; break;
                    case 't': out += '\t'; break;
                    case 'u':
                        if (!parse_unicode_escape(out)) return false;
                        break;
                    default: --pos_; return fail("unknown escape in a string");
                }
                continue;
            }
            const std::size_t length = utf8::sequence_length(text_, pos_);
            if (length == 0) return fail("invalid UTF-8 in a string");
            out.append(text_.substr(pos_, length));
            pos_ += length;
        }
    }

    // number = [ "-" ] int [ frac ] [ exp ]; int = "0" / digit1-9 *DIGIT
    bool parse_number(Value& out) {
        const std::size_t start = pos_;
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
            if (is_digit(peek())) return fail("a number may not have a leading zero");
        } else if (is_digit(peek())) {
            while (is_digit(peek())) ++pos_;
        } else {
            return fail("expected a digit in a number");
        }
        if (peek() == '.') {
            ++pos_;
            if (!is_digit(peek())) return fail("expected a digit after the decimal point");
            while (is_digit(peek())) ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!is_digit(peek())) return fail("expected a digit in the exponent");
            while (is_digit(peek())) ++pos_;
        }
        out = Value::number(std::string(text_.substr(start, pos_ - start)));
        return true;
    }

    std::string_view text_;
    const ParseLimits& limits_;
    std::size_t pos_ = 0;
    Status error_;
};

}  // namespace

Expected<Value> parse(std::string_view text, const ParseLimits& limits) {
    return Parser(text, limits).parse_document();
}

}  // namespace pat::json
