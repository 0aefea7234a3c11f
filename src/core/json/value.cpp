// json::Value: construction and typed access.
#include <charconv>
#include <limits>

#include "pat/json.hpp"
#include "pat/secret.hpp"

namespace pat::json {

Value Value::boolean(bool value) {
    Value v;
    v.kind_ = Kind::boolean;
    v.flag_ = value;
    return v;
}

Value Value::number(std::string text) {
    Value v;
    v.kind_ = Kind::number;
    v.text_ = std::move(text);
    return v;
}

Value Value::string(std::string text) {
    Value v;
    v.kind_ = Kind::string;
    v.text_ = std::move(text);
    return v;
}

Value Value::array(std::vector<Value> elements) {
    Value v;
    v.kind_ = Kind::array;
    v.items_ = std::move(elements);
    return v;
}

Value Value::object(std::vector<std::string> keys, std::vector<Value> values) {
    Value v;
    v.kind_ = Kind::object;
    v.keys_ = std::move(keys);
    v.items_ = std::move(values);
    return v;
}

std::optional<std::int64_t> Value::as_int64() const {
    if (kind_ != Kind::number) return std::nullopt;
    if (text_.find_first_of(".eE") != std::string::npos) return std::nullopt;
    std::int64_t result = 0;
    const char* end = text_.data() + text_.size();
    auto [ptr, ec] = std::from_chars(text_.data(), end, result);
    if (ec != std::errc() || ptr != end) return std::nullopt;  // out of range
    return result;
}

double Value::as_double() const {
    if (kind_ != Kind::number) return 0.0;
    double result = 0.0;
    auto [ptr, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), result);
    if (ec == std::errc::result_out_of_range) {
        return text_.front() == '-' ? -std::numeric_limits<double>::infinity()
                                    : std::numeric_limits<double>::infinity();
    }
    (void)ptr;
    return result;
}

const Value* Value::find(std::string_view key) const {
    if (kind_ != Kind::object) return nullptr;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (keys_[i] == key) return &items_[i];
    }
    return nullptr;
}

void Value::wipe_strings() {
    if (kind_ == Kind::string) {
        wipe(text_);
        text_.clear();
    }
    for (Value& item : items_) item.wipe_strings();
}

}  // namespace pat::json
