// Sign-in with a password: the store's own (a local user) or the
// directory's (docs/directory.md). One rule for patd's management API and
// `patctl token create --password-stdin`.
//
//   - A user the store holds with a password of its own is local: the store
//     checks it, and the directory is never asked (service accounts keep
//     working during a directory outage).
//   - Anyone else, when a directory is configured, is checked by a bind to
//     the directory, outside any store transaction. Accepted: the user is
//     created in the store on first sign-in (no password, display name from
//     the directory), under the directory's canonical name; a user disabled
//     in the store is refused like a wrong password.
//   - Refused (unknown user, wrong password, disabled) is one answer, and is
//     counted in the store's failure table like a wrong local password.
//   - The directory unreachable: `unavailable`, a distinct answer (503 at
//     the API) that says nothing about the password; the why goes to the log.
#pragma once

#include <string>
#include <string_view>

#include "pat/status.hpp"
#include "pat/store.hpp"

namespace pat {

class DirectoryClient;

class SignIn {
   public:
    enum class Outcome {
        ok,           // user() signed in
        refused,      // wrong user name or password (or disabled, or unknown)
        unavailable,  // the directory did not answer: try again later
        failed,       // the store failed: reason() says how
    };

    Outcome outcome() const { return outcome_; }
    bool ok() const { return outcome_ == Outcome::ok; }
    const UserInfo& user() const { return user_; }  // when ok(): canonical name
    bool through_directory() const { return through_directory_; }
    // For the log only: never the password; the client sees one answer per outcome.
    const std::string& reason() const { return reason_; }

   private:
    friend SignIn sign_in(Store& store, const DirectoryClient* directory, std::string_view name,
                          std::string_view password, const AuditContext& audit);
    SignIn() = default;

    Outcome outcome_ = Outcome::refused;
    UserInfo user_;
    bool through_directory_ = false;
    std::string reason_;
};

// directory: nullptr when none is configured (then only local users sign
// in). Never throws. The password is not kept.
SignIn sign_in(Store& store, const DirectoryClient* directory, std::string_view name, std::string_view password,
               const AuditContext& audit = {});

}  // namespace pat
