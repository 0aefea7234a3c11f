// Fuzz target: the store's record decoders (src/core/store/records.hpp). The file
// is input too: a corrupt record must be refused, never misread.
//
// The first input byte picks the decoder (user, token, grant level, group,
// all-users/public row); the rest is the record. Invariants: a decoder reads nothing outside the bytes
// (ASan), anything accepted re-encodes to exactly the same bytes (so there
// is one encoding per record and nothing is silently dropped), its views
// point into the input, and its levels are real levels.
#include "core/store/records.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include "support/check.hpp"

namespace {

namespace records = pat::records;
using pat::Level;

bool is_view_into(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool is_real_level(Level level) {
    return level == Level::read || level == Level::write || level == Level::admin;
}

void check_user(std::string_view bytes) {
    const auto user = records::decode_user(bytes);
    if (!user) return;
    FUZZ_CHECK(is_view_into(user->display_name, bytes), "display name is not a view into the record");
    FUZZ_CHECK(records::encode_user(*user) == bytes, "a user record does not re-encode to its bytes");
}

void check_token(std::string_view bytes) {
    const auto token = records::decode_token(bytes);
    if (!token) return;
    FUZZ_CHECK(!token->id.empty() && !token->owner.empty(), "a token record without id or owner was accepted");
    FUZZ_CHECK(is_view_into(token->id, bytes) && is_view_into(token->owner, bytes) && is_view_into(token->name, bytes),
               "token fields are not views into the record");
    FUZZ_CHECK(is_real_level(token->permissions.project) && is_real_level(token->permissions.repo),
               "a token record decoded to a level outside read..admin");
    FUZZ_CHECK(records::encode_token(*token) == bytes, "a token record does not re-encode to its bytes");
}

void check_level(std::string_view bytes) {
    const auto level = records::decode_level(bytes);
    if (!level) return;
    FUZZ_CHECK(is_real_level(*level), "a grant decoded to a level outside read..admin");
    FUZZ_CHECK(bytes.size() == 1 && static_cast<std::uint8_t>(bytes[0]) == static_cast<std::uint8_t>(*level),
               "a grant level does not re-encode to its byte");
}

void check_group(std::string_view bytes) {
    const auto group = records::decode_group(bytes);
    if (!group) return;
    FUZZ_CHECK(records::encode_group(*group) == bytes, "a group record does not re-encode to its bytes");
}

void check_everyone(std::string_view bytes) {
    const auto everyone = records::decode_everyone(bytes);
    if (!everyone) return;
    FUZZ_CHECK(everyone->is_public || is_real_level(everyone->all_users),
               "an empty all-users row was accepted (it is deleted, never stored)");
    FUZZ_CHECK(everyone->all_users == Level::none || is_real_level(everyone->all_users),
               "an all-users row decoded to a level outside none..admin");
    FUZZ_CHECK(records::encode_everyone(*everyone) == bytes, "an all-users row does not re-encode to its bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    // A copy of exactly the record's size, so an overread is an ASan report.
    const std::string record(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 5) {
        case 0: check_user(record); break;
        case 1: check_token(record); break;
        case 2: check_level(record); break;
        case 3: check_group(record); break;
        default: check_everyone(record); break;
    }
    return 0;
}
