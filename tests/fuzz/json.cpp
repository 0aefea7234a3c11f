// Fuzz target: the management API's JSON parser (pat::json::parse).
//
// Invariants: no crash, no overread, bounded recursion on any input; an
// accepted document serializes to text that parses back to the same value
// (with the same limits: serializing never deepens a document), and that
// text is a fixed point of parse + serialize; wiping a value's strings
// leaves every string value empty and the shape as it was. A refusal
// carries invalid_argument and a message.
#include "pat/json.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include "support/check.hpp"

namespace {

using pat::json::Value;

// Every string value is empty, and the shape (kinds, keys, sizes) is that
// of `original`: wiping removes secrets, not structure.
bool wiped_of(const Value& wiped, const Value& original) {
    if (wiped.kind() != original.kind() || wiped.keys() != original.keys() || wiped.size() != original.size()) {
        return false;
    }
    if (wiped.is_string()) return wiped.as_string().empty();
    for (std::size_t i = 0; i < wiped.size(); ++i) {
        if (!wiped_of(wiped.elements()[i], original.elements()[i])) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly the input's size, so an overread is an ASan report.
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto parsed = pat::json::parse(text);
    if (!parsed) {
        FUZZ_CHECK(parsed.status().code() == pat::StatusCode::invalid_argument && !parsed.status().message().empty(),
                   "a refusal without invalid_argument and a message");
        return 0;
    }
    const std::string serialized = pat::json::serialize(*parsed);
    pat::json::ParseLimits roomy;
    roomy.max_bytes = serialized.size() + 1;  // escapes may lengthen strings; depth stays
    const auto reparsed = pat::json::parse(serialized, roomy);
    FUZZ_CHECK(reparsed.ok(), "a serialized document does not parse");
    FUZZ_CHECK(*reparsed == *parsed, "a serialized document parses to another value");
    FUZZ_CHECK(pat::json::serialize(*reparsed) == serialized, "serialize is not a fixed point");

    pat::json::Writer writer;
    writer.value(*parsed);
    FUZZ_CHECK(writer.complete() && writer.text() == serialized, "Writer::value and serialize disagree");

    Value wiped = *parsed;
    wiped.wipe_strings();
    FUZZ_CHECK(wiped_of(wiped, *parsed), "wipe_strings left a string or changed the shape");
    return 0;
}
