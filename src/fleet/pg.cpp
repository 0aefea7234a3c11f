#include "pg.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace pat::fleet {

std::int64_t Result::integer(int row, int col) const {
    std::string_view b = bytes(row, col);
    std::uint64_t v = 0;
    for (unsigned char c : b) v = (v << 8) | c;
    if (b.size() == 2) return static_cast<std::int16_t>(v);
    if (b.size() == 4) return static_cast<std::int32_t>(v);
    return static_cast<std::int64_t>(v);
}

std::uint64_t Result::affected() const {
    const char* text = PQcmdTuples(result_);
    return text == nullptr || *text == '\0' ? 0 : std::strtoull(text, nullptr, 10);
}

namespace {
std::string big_endian(std::uint64_t v, int size) {
    std::string out(static_cast<std::size_t>(size), '\0');
    for (int i = size - 1; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
        v >>= 8;
    }
    return out;
}
}  // namespace

Params& Params::int2(std::int16_t v) {
    owned_.push_back(values_.size());
    storage_.push_back(big_endian(static_cast<std::uint16_t>(v), 2));
    values_.push_back(nullptr);
    lengths_.push_back(2);
    formats_.push_back(1);
    return *this;
}

Params& Params::int8(std::int64_t v) {
    owned_.push_back(values_.size());
    storage_.push_back(big_endian(static_cast<std::uint64_t>(v), 8));
    values_.push_back(nullptr);
    lengths_.push_back(8);
    formats_.push_back(1);
    return *this;
}

Params& Params::bytes(std::string_view v) {
    // A non-null pointer even for an empty key (NULL would mean SQL NULL).
    values_.push_back(v.empty() ? "" : v.data());
    lengths_.push_back(static_cast<int>(v.size()));
    formats_.push_back(1);
    return *this;
}

Params& Params::null() {
    values_.push_back(nullptr);
    lengths_.push_back(0);
    formats_.push_back(1);
    return *this;
}

Params& Params::text(std::string_view v) {
    owned_.push_back(values_.size());
    storage_.emplace_back(v);
    values_.push_back(nullptr);
    lengths_.push_back(static_cast<int>(v.size()));
    formats_.push_back(0);
    return *this;
}

void Params::fix_pointers() {
    for (std::size_t i = 0; i < owned_.size(); ++i) values_[owned_[i]] = storage_[i].c_str();
}

Result exec_params(PGconn* conn, const std::string& sql, Params& params, bool binary_result) {
    params.fix_pointers();
    return Result(PQexecParams(conn, sql.c_str(), params.count(), nullptr, params.values(), params.lengths(),
                               params.formats(), binary_result ? 1 : 0));
}

Result exec_plain(PGconn* conn, const std::string& sql) {
    return Result(PQexec(conn, sql.c_str()));
}

namespace {
std::string one_line(const char* text) {
    std::string out;
    for (const char* p = text; p != nullptr && *p != '\0'; ++p) {
        if (*p == '\n') {
            if (p[1] != '\0') out += "; ";
        } else if (static_cast<unsigned char>(*p) < 0x20) {
            out += ' ';
        } else {
            out += *p;
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out.empty() ? "unknown error" : out;
}
}  // namespace

std::string pg_error(PGconn* conn) {
    return one_line(PQerrorMessage(conn));
}

std::string pg_error(PGconn* conn, const Result& result) {
    const char* text = result.get() != nullptr ? PQresultErrorMessage(result.get()) : nullptr;
    if (text != nullptr && *text != '\0') return one_line(text);
    return pg_error(conn);
}

std::string sql_state(const Result& result) {
    const char* s = result.get() != nullptr ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    return s == nullptr ? "" : s;
}

Status store_failure(const std::string& what, const std::string& detail) {
    return Status(StatusCode::store_error, "fleet source: " + what + ": " + detail);
}

std::string hex(std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

void append_copy_bytea(std::string& out, std::string_view bytes) {
    out += "\\\\x";
    out += hex(bytes);
}

}  // namespace pat::fleet
