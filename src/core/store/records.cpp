#include "records.hpp"

#include <cstring>

namespace pat::records {
namespace {

// Little-endian fixed-width integers: the file is portable across hosts.
void put_u64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v & 0xff));
    out.push_back(static_cast<char>(v >> 8));
}

// A bounds-checked cursor over untrusted bytes: every read fails, rather
// than reads past the end, once the input is exhausted.
class Reader {
   public:
    explicit Reader(std::string_view bytes) : bytes_(bytes) {}

    bool u8(std::uint8_t& v) {
        if (pos_ + 1 > bytes_.size()) return false;
        v = static_cast<std::uint8_t>(bytes_[pos_++]);
        return true;
    }
    bool u16(std::uint16_t& v) {
        std::uint8_t lo, hi;
        if (!u8(lo) || !u8(hi)) return false;
        v = static_cast<std::uint16_t>(lo | (hi << 8));
        return true;
    }
    bool i64(std::int64_t& v) {
        if (pos_ + 8 > bytes_.size()) return false;
        std::uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u |= std::uint64_t(static_cast<std::uint8_t>(bytes_[pos_ + i])) << (8 * i);
        pos_ += 8;
        v = static_cast<std::int64_t>(u);
        return true;
    }
    bool bytes(std::size_t n, std::string_view& v) {
        if (n > bytes_.size() - pos_) return false;
        v = bytes_.substr(pos_, n);
        pos_ += n;
        return true;
    }
    template <std::size_t N>
    bool array(std::array<std::uint8_t, N>& out) {
        std::string_view v;
        if (!bytes(N, v)) return false;
        std::memcpy(out.data(), v.data(), N);
        return true;
    }
    bool at_end() const { return pos_ == bytes_.size(); }

   private:
    std::string_view bytes_;
    std::size_t pos_ = 0;
};

std::optional<Level> level_from_byte(std::uint8_t b) {
    if (b < static_cast<std::uint8_t>(Level::read) || b > static_cast<std::uint8_t>(Level::admin)) return std::nullopt;
    return static_cast<Level>(b);
}

constexpr std::uint8_t kUserActive = 1;
constexpr std::uint8_t kUserSysadmin = 2;
constexpr std::uint8_t kUserFromDirectory = 4;
constexpr std::uint8_t kTokenRevoked = 1;
constexpr std::uint8_t kTokenRotated = 2;  // format 2 only

}  // namespace

// user: format | flags | log2_n | r | p | salt[16] | key[32] | u16 len | display name
std::string encode_user(const UserView& user) {
    std::string out;
    out.reserve(1 + 1 + 3 + 16 + 32 + 2 + user.display_name.size());
    out.push_back(static_cast<char>(kUserFormat));
    out.push_back(static_cast<char>((user.active ? kUserActive : 0) | (user.sysadmin ? kUserSysadmin : 0) |
                                    (user.from_directory ? kUserFromDirectory : 0)));
    out.push_back(static_cast<char>(user.password.log2_n));
    out.push_back(static_cast<char>(user.password.r));
    out.push_back(static_cast<char>(user.password.p));
    out.append(reinterpret_cast<const char*>(user.password.salt.data()), user.password.salt.size());
    out.append(reinterpret_cast<const char*>(user.password.key.data()), user.password.key.size());
    put_u16(out, static_cast<std::uint16_t>(user.display_name.size()));
    out.append(user.display_name);
    return out;
}

std::optional<UserView> decode_user(std::string_view bytes) {
    Reader in(bytes);
    UserView user;
    std::uint8_t format, flags;
    std::uint16_t name_len;
    if (!in.u8(format) || format != kUserFormat) return std::nullopt;
    if (!in.u8(flags) || (flags & ~(kUserActive | kUserSysadmin | kUserFromDirectory)) != 0) return std::nullopt;
    if (!in.u8(user.password.log2_n) || !in.u8(user.password.r) || !in.u8(user.password.p)) return std::nullopt;
    if (!in.array(user.password.salt) || !in.array(user.password.key)) return std::nullopt;
    if (!in.u16(name_len) || !in.bytes(name_len, user.display_name) || !in.at_end()) return std::nullopt;
    user.active = (flags & kUserActive) != 0;
    user.sysadmin = (flags & kUserSysadmin) != 0;
    user.from_directory = (flags & kUserFromDirectory) != 0;
    return user;
}

// token: format | flags | project level | repo level | created | expires |
//        last authenticated | revoked at (i64 LE each) | u8 id len | id |
//        u8 owner len | owner | u16 name len | name
// format 2 adds: flags bit 2 (rotated) | u8 family len (1..255) | family
//
// A token with a family is written in format 2, any other in format 1, so
// the records of tokens no rotation touched keep their bytes (and an older
// patctl still reads them); the encoding is canonical either way: format 2
// always has a family, format 1 never has one nor the rotated flag.
std::string encode_token(const TokenView& token) {
    const bool family = token.rotated || !token.family.empty();
    std::string out;
    out.reserve(4 + 32 + 3 + token.id.size() + token.owner.size() + token.name.size() + 2 + token.family.size());
    out.push_back(static_cast<char>(family ? kTokenFormatFamily : kTokenFormat));
    out.push_back(static_cast<char>((token.revoked ? kTokenRevoked : 0) | (token.rotated ? kTokenRotated : 0)));
    out.push_back(static_cast<char>(token.permissions.project));
    out.push_back(static_cast<char>(token.permissions.repo));
    put_u64(out, static_cast<std::uint64_t>(token.created_ms));
    put_u64(out, static_cast<std::uint64_t>(token.expires_ms));
    put_u64(out, static_cast<std::uint64_t>(token.last_authenticated_ms));
    put_u64(out, static_cast<std::uint64_t>(token.revoked_ms));
    out.push_back(static_cast<char>(token.id.size()));
    out.append(token.id);
    out.push_back(static_cast<char>(token.owner.size()));
    out.append(token.owner);
    put_u16(out, static_cast<std::uint16_t>(token.name.size()));
    out.append(token.name);
    if (family) {
        out.push_back(static_cast<char>(token.family.size()));
        out.append(token.family);
    }
    return out;
}

std::optional<TokenView> decode_token(std::string_view bytes) {
    Reader in(bytes);
    TokenView token;
    std::uint8_t format, flags, project, repo, id_len, owner_len;
    std::uint16_t name_len;
    if (!in.u8(format) || (format != kTokenFormat && format != kTokenFormatFamily)) return std::nullopt;
    const std::uint8_t known_flags = format == kTokenFormat ? kTokenRevoked : kTokenRevoked | kTokenRotated;
    if (!in.u8(flags) || (flags & ~known_flags) != 0) return std::nullopt;
    if (!in.u8(project) || !in.u8(repo)) return std::nullopt;
    auto project_level = level_from_byte(project);
    auto repo_level = level_from_byte(repo);
    if (!project_level || !repo_level) return std::nullopt;
    if (!in.i64(token.created_ms) || !in.i64(token.expires_ms) || !in.i64(token.last_authenticated_ms) ||
        !in.i64(token.revoked_ms))
        return std::nullopt;
    if (!in.u8(id_len) || id_len == 0 || !in.bytes(id_len, token.id)) return std::nullopt;
    if (!in.u8(owner_len) || owner_len == 0 || !in.bytes(owner_len, token.owner)) return std::nullopt;
    if (!in.u16(name_len) || !in.bytes(name_len, token.name)) return std::nullopt;
    if (format == kTokenFormatFamily) {
        std::uint8_t family_len;
        if (!in.u8(family_len) || family_len == 0 || !in.bytes(family_len, token.family)) return std::nullopt;
    }
    if (!in.at_end()) return std::nullopt;
    token.revoked = (flags & kTokenRevoked) != 0;
    token.rotated = (flags & kTokenRotated) != 0;
    token.permissions = {*project_level, *repo_level};
    return token;
}

std::string project_grant_key(std::string_view user, std::string_view key) {
    std::string out;
    out.reserve(user.size() + 1 + key.size());
    out.append(user).push_back('\0');
    out.append(key);
    return out;
}

std::string repo_grant_key(std::string_view user, std::string_view key, std::string_view slug) {
    std::string out = project_grant_key(user, key);
    out.push_back('/');
    out.append(slug);
    return out;
}

std::size_t project_grant_key(std::string_view user, std::string_view key, char* out) {
    if (user.size() + 1 + key.size() > kMaxGrantKey) return 0;
    std::memcpy(out, user.data(), user.size());
    out[user.size()] = '\0';
    std::memcpy(out + user.size() + 1, key.data(), key.size());
    return user.size() + 1 + key.size();
}

std::size_t repo_grant_key(std::string_view user, std::string_view key, std::string_view slug, char* out) {
    if (user.size() + 1 + key.size() + 1 + slug.size() > kMaxGrantKey) return 0;
    std::size_t n = project_grant_key(user, key, out);
    out[n++] = '/';
    std::memcpy(out + n, slug.data(), slug.size());
    return n + slug.size();
}

std::string user_prefix(std::string_view user) {
    std::string out(user);
    out.push_back('\0');
    return out;
}

std::string target_key(std::string_view key, std::string_view slug) {
    std::string out(key);
    if (!slug.empty()) out.append("/").append(slug);
    return out;
}

std::size_t target_key(std::string_view key, std::string_view slug, char* out) {
    const std::size_t n = key.size() + (slug.empty() ? 0 : 1 + slug.size());
    if (n > kMaxGrantKey) return 0;
    std::memcpy(out, key.data(), key.size());
    if (!slug.empty()) {
        out[key.size()] = '/';
        std::memcpy(out + key.size() + 1, slug.data(), slug.size());
    }
    return n;
}

std::string pair_key(std::string_view name, std::string_view second) {
    std::string out;
    out.reserve(name.size() + 1 + second.size());
    out.append(name).push_back('\0');
    out.append(second);
    return out;
}

bool split_pair_key(std::string_view pair, std::string_view& name, std::string_view& second) {
    const std::size_t sep = pair.find('\0');
    if (sep == std::string_view::npos) return false;
    name = pair.substr(0, sep);
    second = pair.substr(sep + 1);
    return true;
}

void split_target(std::string_view target, std::string_view& key, std::string_view& slug) {
    const std::size_t slash = target.find('/');  // never in a project key
    key = target.substr(0, slash);
    slug = slash == std::string_view::npos ? std::string_view() : target.substr(slash + 1);
}

std::string encode_group(const GroupView& group) {
    return std::string{static_cast<char>(kGroupFormat), static_cast<char>(group.source)};
}

std::optional<GroupView> decode_group(std::string_view bytes) {
    if (bytes.size() != 2 || static_cast<std::uint8_t>(bytes[0]) != kGroupFormat) return std::nullopt;
    const auto source = static_cast<std::uint8_t>(bytes[1]);
    if (source > 1) return std::nullopt;
    return GroupView{source};
}

constexpr std::uint8_t kEveryonePublic = 1;

std::string encode_everyone(const EveryoneView& everyone) {
    return std::string{static_cast<char>(everyone.all_users),
                       static_cast<char>(everyone.is_public ? kEveryonePublic : 0)};
}

std::optional<EveryoneView> decode_everyone(std::string_view bytes) {
    if (bytes.size() != 2) return std::nullopt;
    const auto level = static_cast<std::uint8_t>(bytes[0]);
    const auto flags = static_cast<std::uint8_t>(bytes[1]);
    if (level > static_cast<std::uint8_t>(Level::admin) || (flags & ~kEveryonePublic) != 0) return std::nullopt;
    if (level == 0 && flags == 0) return std::nullopt;  // an empty row is deleted, never stored
    return EveryoneView{static_cast<Level>(level), (flags & kEveryonePublic) != 0};
}

std::optional<Level> decode_level(std::string_view bytes) {
    if (bytes.size() != 1) return std::nullopt;
    return level_from_byte(static_cast<std::uint8_t>(bytes[0]));
}

}  // namespace pat::records
