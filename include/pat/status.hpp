// Error reporting for the core: a status code plus a one-line message.
//
// The request path never throws; every fallible core call returns a Status or
// an Expected<T>. Messages are written for a human (a sysadmin reading
// patctl's stderr) and never contain secret material.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pat {

enum class StatusCode {
    ok,
    invalid_argument,  // bad input from the caller: a usage or validation error
    not_found,         // the named user, token or grant does not exist
    already_exists,    // a unique name is taken
    refused,           // a rule forbids it (wrong password, not the owner, ...)
    store_error,       // LMDB failed, the file is corrupt, or of another schema
    forbidden,         // a policy forbids it whoever asks (token creation disabled): API 403
};

class Status {
   public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status success() { return {}; }

    bool ok() const { return code_ == StatusCode::ok; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }

   private:
    StatusCode code_ = StatusCode::ok;
    std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class Expected {
   public:
    Expected(T value) : state_(std::move(value)) {}
    Expected(Status error) : state_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(state_); }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<T>(state_); }
    const T& value() const& { return std::get<T>(state_); }
    T&& value() && { return std::get<T>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    // Only meaningful when !ok().
    const Status& status() const { return std::get<Status>(state_); }

   private:
    std::variant<T, Status> state_;
};

}  // namespace pat
