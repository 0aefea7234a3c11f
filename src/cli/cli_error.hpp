// How patctl fails: an exit code and one line for stderr.
//
// Commands throw CliError; main() catches it, prints "patctl: MESSAGE" and
// exits with the code. Exceptions are fine here: patctl is a short-lived
// program, nothing of nginx is involved.
#pragma once

#include <stdexcept>
#include <string>

#include "pat/status.hpp"

namespace patctl {

enum ExitCode : int {
    kExitOk = 0,
    kExitFailed = 1,  // refused, not found, or the store failed
    kExitUsage = 2,   // the command line itself is wrong
};

class CliError : public std::runtime_error {
   public:
    CliError(int exit_code, const std::string& message) : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

   private:
    int exit_code_;
};

[[noreturn]] void usage_error(const std::string& message);
[[noreturn]] void failure(const std::string& message);

// Every core status that is not ok is a refused request (exit 1): the command
// line parsed, the core said no. Only the CLI's own parsing gives exit 2.
void throw_if_failed(const pat::Status& status);

template <typename T>
T take(pat::Expected<T>&& result) {
    if (!result.ok()) {
        throw_if_failed(result.status());
    }
    return std::move(result).value();
}

}  // namespace patctl
