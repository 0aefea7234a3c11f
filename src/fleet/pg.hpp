// Small libpq helpers for src/fleet: an owning result, binary parameters,
// one-line error messages without secrets.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pat/status.hpp"

namespace pat::fleet {

// Owns a PGresult.
class Result {
   public:
    Result() = default;
    explicit Result(PGresult* result) : result_(result) {}
    ~Result() { PQclear(result_); }
    // A failure libpq has no result for (a client-side deadline): status
    // PGRES_FATAL_ERROR with this message.
    static Result failure(std::string message) {
        Result r(PQmakeEmptyPGresult(nullptr, PGRES_FATAL_ERROR));
        r.error_ = std::move(message);
        return r;
    }
    Result(Result&& other) noexcept : result_(other.result_), error_(std::move(other.error_)) {
        other.result_ = nullptr;
    }
    Result& operator=(Result&& other) noexcept {
        if (this != &other) {
            PQclear(result_);
            result_ = other.result_;
            other.result_ = nullptr;
            error_ = std::move(other.error_);
        }
        return *this;
    }
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;

    PGresult* get() const { return result_; }
    PGresult* release() {
        PGresult* r = result_;
        result_ = nullptr;
        return r;
    }
    ExecStatusType status() const { return PQresultStatus(result_); }
    bool command_ok() const { return status() == PGRES_COMMAND_OK; }
    bool tuples_ok() const { return status() == PGRES_TUPLES_OK; }
    int rows() const { return PQntuples(result_); }
    bool is_null(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }
    std::string_view bytes(int row, int col) const {
        return {PQgetvalue(result_, row, col), static_cast<std::size_t>(PQgetlength(result_, row, col))};
    }
    std::string text(int row, int col) const { return std::string(bytes(row, col)); }
    // Binary-format integers (int2, int4, int8; network order).
    std::int64_t integer(int row, int col) const;
    // Rows a command changed (INSERT/UPDATE/DELETE).
    std::uint64_t affected() const;
    // The message of failure() ("" otherwise).
    const std::string& client_error() const { return error_; }

   private:
    PGresult* result_ = nullptr;
    std::string error_;
};

// Parameters sent in binary format (no escaping of keys and values).
class Params {
   public:
    Params& int2(std::int16_t v);
    Params& int8(std::int64_t v);
    Params& bytes(std::string_view v);  // bytea
    Params& null();
    Params& text(std::string_view v);  // a text parameter (still sent as bytes; the server parses it)

    int count() const { return static_cast<int>(values_.size()); }
    const char* const* values() const { return values_.data(); }
    const int* lengths() const { return lengths_.data(); }
    const int* formats() const { return formats_.data(); }

   private:
    std::vector<std::string> storage_;  // the integers' bytes
    std::vector<const char*> values_;
    std::vector<int> lengths_;
    std::vector<int> formats_;
    std::vector<std::size_t> owned_;  // which values point into storage_
    void fix_pointers();
    friend Result exec_params(PGconn*, const std::string&, Params&, bool);
};

// PQexecParams with the result in binary (binary_result) or text.
//
// Every statement has a client-side deadline (kClientDeadlineMs): a frozen
// server (SIGSTOP: the kernel still ACKs, so neither tcp_user_timeout nor
// the server's statement_timeout fires) would otherwise block libpq
// forever. The statement is sent asynchronously and its socket polled; when
// the deadline passes (or the thread's stop flag, see StopWhen, is set) the
// statement is cancelled (PQcancel on its own thread, waited for at most
// kCancelWaitMs), the connection is shut down (PQstatus then reports
// CONNECTION_BAD: nobody reuses it mid-transaction) and a PGRES_FATAL_ERROR
// Result says "PostgreSQL did not answer within N s". Otherwise the result
// is PQexec's: the last one (a COPY's start stops the collection).
Result exec_params(PGconn* conn, const std::string& sql, Params& params, bool binary_result = true);
Result exec_plain(PGconn* conn, const std::string& sql);

// The server's statement_timeout (connection.cpp sets it) plus a second.
constexpr int kClientDeadlineMs = 6000;
constexpr int kCancelWaitMs = 300;

// While one lives, the statements this thread runs also give up (as above,
// "stopped while waiting for PostgreSQL") once stop is set, within ~100 ms.
class StopWhen {
   public:
    explicit StopWhen(const std::atomic<bool>& stop);
    ~StopWhen();
    StopWhen(const StopWhen&) = delete;
    StopWhen& operator=(const StopWhen&) = delete;

   private:
    const std::atomic<bool>* previous_;
};
// While one lives, this thread's statements have deadline_ms instead of
// kClientDeadlineMs (0: none, for the transactions that lift the server's
// statement_timeout too: fleet init and import). The stop flag still holds.
class DeadlineFor {
   public:
    explicit DeadlineFor(int deadline_ms);
    ~DeadlineFor();
    DeadlineFor(const DeadlineFor&) = delete;
    DeadlineFor& operator=(const DeadlineFor&) = delete;

   private:
    int previous_;
};

// The current thread's stop flag was set (false without a StopWhen).
bool stop_requested();

// libpq's words for the last error on conn (or of result), on one line.
std::string pg_error(PGconn* conn);
std::string pg_error(PGconn* conn, const Result& result);
// The SQLSTATE of result ("" when none).
std::string sql_state(const Result& result);

Status store_failure(const std::string& what, const std::string& detail);

// "\x0a0b..." for COPY text format (with the backslash doubled).
void append_copy_bytea(std::string& out, std::string_view bytes);

// Hex of bytes.
std::string hex(std::string_view bytes);

}  // namespace pat::fleet
