// JSON for --json output: the core's writer (RFC 8259 escaping, invalid
// UTF-8 from store text becomes U+FFFD) plus key-and-value shorthands.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pat/json.hpp"

namespace patctl {

class JsonWriter : public pat::json::Writer {
   public:
    JsonWriter& begin_object() { return self(Writer::begin_object()); }
    JsonWriter& end_object() { return self(Writer::end_object()); }
    JsonWriter& begin_array() { return self(Writer::begin_array()); }
    JsonWriter& end_array() { return self(Writer::end_array()); }
    JsonWriter& key(std::string_view name) { return self(Writer::key(name)); }
    JsonWriter& string(std::string_view value) { return self(Writer::string(value)); }
    JsonWriter& number(std::int64_t value) { return self(Writer::number(value)); }
    JsonWriter& boolean(bool value) { return self(Writer::boolean(value)); }
    JsonWriter& null() { return self(Writer::null()); }

    JsonWriter& field(std::string_view name, std::string_view value) { return key(name).string(value); }
    JsonWriter& field(std::string_view name, const char* value) { return field(name, std::string_view(value)); }
    JsonWriter& field(std::string_view name, const std::string& value) { return field(name, std::string_view(value)); }
    JsonWriter& field(std::string_view name, std::int64_t value) { return key(name).number(value); }
    JsonWriter& field(std::string_view name, bool value) { return key(name).boolean(value); }
    // An empty optional writes null.
    JsonWriter& optional_field(std::string_view name, const std::optional<std::string>& value) {
        key(name);
        return value ? string(*value) : null();
    }

   private:
    JsonWriter& self(pat::json::Writer&) { return *this; }
};

}  // namespace patctl
