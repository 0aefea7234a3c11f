#include "cli_error.hpp"

namespace patctl {

void usage_error(const std::string& message) {
    throw CliError(kExitUsage, message);
}

void failure(const std::string& message) {
    throw CliError(kExitFailed, message);
}

void throw_if_failed(const pat::Status& status) {
    if (status.ok()) {
        return;
    }
    std::string message = status.message();
    if (message.empty()) {
        message = "the store refused the request";
    }
    throw CliError(kExitFailed, message);
}

}  // namespace patctl
