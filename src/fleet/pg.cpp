#include "pg.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

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

namespace {

thread_local const std::atomic<bool>* t_stop = nullptr;
thread_local int t_deadline_ms = kClientDeadlineMs;

// PQcancel opens a new connection, which a frozen server does not answer
// either: it runs on its own thread, waited for at most kCancelWaitMs (the
// thread ends when the server answers or the process exits).
void cancel_bounded(PGconn* conn) {
    PGcancel* cancel = PQgetCancel(conn);
    if (cancel == nullptr) return;
    struct Done {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
    };
    auto done = std::make_shared<Done>();
    try {
        std::thread([cancel, done] {
            char err[256];
            PQcancel(cancel, err, sizeof err);
            PQfreeCancel(cancel);
            {
                std::lock_guard<std::mutex> lock(done->m);
                done->done = true;
            }
            done->cv.notify_all();
        }).detach();
    } catch (...) {
        PQfreeCancel(cancel);
        return;
    }
    std::unique_lock<std::mutex> lock(done->m);
    done->cv.wait_for(lock, std::chrono::milliseconds(kCancelWaitMs), [&] { return done->done; });
}

// Shuts the socket down: libpq reads the end of the stream at once, closes
// it and reports CONNECTION_BAD (the owner resets and reconnects).
void break_connection(PGconn* conn) {
    const int fd = PQsocket(conn);
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    PQconsumeInput(conn);
    for (int i = 0; i < 8; ++i) {
        PGresult* r = PQgetResult(conn);
        if (r == nullptr) break;
        PQclear(r);
    }
}

Result give_up(PGconn* conn, const std::string& message) {
    cancel_bounded(conn);
    break_connection(conn);
    return Result::failure(message + "; the connection is closed");
}

// Waits up to the deadline for fd (events); true when the deadline passed
// or the stop flag is set (why says which).
using Clock = std::chrono::steady_clock;
bool wait_socket(int fd, short events, Clock::time_point deadline, std::string& why) {
    for (;;) {
        if (stop_requested()) {
            why = "stopped while waiting for PostgreSQL";
            return true;
        }
        long long left = 100;
        if (t_deadline_ms > 0) {
            left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) {
                why = "PostgreSQL did not answer within " + std::to_string((t_deadline_ms + 999) / 1000) + " s";
                return true;
            }
        }
        pollfd pfd{fd, events, 0};
        const int rc = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 100)));
        if (rc > 0) return false;
        if (rc < 0 && errno != EINTR) return false;  // libpq's next call reports it
    }
}

// After a successful PQsend*: flush, then collect the results as PQexec does.
Result finish(PGconn* conn) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(t_deadline_ms);
    std::string why;
    // Sending (non-blocking mode: a full socket buffer does not block).
    for (;;) {
        const int f = PQflush(conn);
        if (f < 0) break;  // PQgetResult reports the broken connection
        if (f == 0) break;
        const int fd = PQsocket(conn);
        if (fd < 0) break;
        if (wait_socket(fd, POLLIN | POLLOUT, deadline, why)) return give_up(conn, why);
        if (PQconsumeInput(conn) != 1) break;
    }
    PQsetnonblocking(conn, 0);
    Result last;
    for (;;) {
        while (PQisBusy(conn) != 0) {
            const int fd = PQsocket(conn);
            if (fd < 0) break;
            if (wait_socket(fd, POLLIN, deadline, why)) return give_up(conn, why);
            if (PQconsumeInput(conn) != 1) break;
        }
        PGresult* r = PQgetResult(conn);
        if (r == nullptr) break;
        last = Result(r);
        const ExecStatusType st = last.status();
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH || PQstatus(conn) == CONNECTION_BAD) {
            break;
        }
    }
    return last;
}

}  // namespace

StopWhen::StopWhen(const std::atomic<bool>& stop) : previous_(t_stop) {
    t_stop = &stop;
}

StopWhen::~StopWhen() {
    t_stop = previous_;
}

DeadlineFor::DeadlineFor(int deadline_ms) : previous_(t_deadline_ms) {
    t_deadline_ms = deadline_ms;
}

DeadlineFor::~DeadlineFor() {
    t_deadline_ms = previous_;
}

bool stop_requested() {
    return t_stop != nullptr && t_stop->load();
}

Result exec_params(PGconn* conn, const std::string& sql, Params& params, bool binary_result) {
    params.fix_pointers();
    PQsetnonblocking(conn, 1);
    if (PQsendQueryParams(conn, sql.c_str(), params.count(), nullptr, params.values(), params.lengths(),
                          params.formats(), binary_result ? 1 : 0) != 1) {
        PQsetnonblocking(conn, 0);
        return Result();  // PGRES_FATAL_ERROR; pg_error gives libpq's words
    }
    return finish(conn);
}

Result exec_plain(PGconn* conn, const std::string& sql) {
    PQsetnonblocking(conn, 1);
    if (PQsendQuery(conn, sql.c_str()) != 1) {
        PQsetnonblocking(conn, 0);
        return Result();
    }
    return finish(conn);
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
    if (!result.client_error().empty()) return result.client_error();
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
