// Sign-in: the store's password for local users, the directory's for the
// others (pat/sign_in.hpp).
#include "pat/sign_in.hpp"

#include <exception>

#include "pat/directory.hpp"
#include "pat/names.hpp"

namespace pat {

SignIn sign_in(Store& store, const DirectoryClient* directory, std::string_view name, std::string_view password,
               const AuditContext& audit) {
    SignIn result;
    try {
        auto canonical = canonical_user_name(name);
        std::optional<UserInfo> known;
        if (canonical) {
            auto found = store.get_user(*canonical);
            if (found) {
                known = std::move(*found);
            } else if (found.status().code() != StatusCode::not_found) {
                result.outcome_ = SignIn::Outcome::failed;
                result.reason_ = found.status().message();
                return result;
            }
        }
        // Local: a password of the store's own, or no directory to ask. The
        // store refuses unknown and password-less users itself, after the
        // same KDF, and counts the refusal.
        if (directory == nullptr || (known && known->has_password)) {
            const Status checked = store.authenticate_user(name, password, audit);
            if (checked.ok()) {
                auto user = store.get_user(*canonical);
                if (user) {
                    result.outcome_ = SignIn::Outcome::ok;
                    result.user_ = std::move(*user);
                } else if (user.status().code() == StatusCode::not_found) {
                    result.reason_ = "deleted during sign-in";  // as good as a wrong password
                } else {
                    result.outcome_ = SignIn::Outcome::failed;
                    result.reason_ = user.status().message();
                }
            } else if (checked.code() == StatusCode::refused) {
                result.reason_ = "refused by the store";
            } else {
                result.outcome_ = SignIn::Outcome::failed;
                result.reason_ = checked.message();
            }
            return result;
        }

        // The directory: no store transaction is open while it answers.
        result.through_directory_ = true;
        const DirectorySignIn answer = directory->authenticate(name, password);
        switch (answer.outcome) {
            case DirectorySignIn::Outcome::unavailable:
                result.outcome_ = SignIn::Outcome::unavailable;
                result.reason_ = answer.reason;
                return result;
            case DirectorySignIn::Outcome::refused: {
                const Status counted = store.refuse_sign_in(name, audit);
                (void)counted;  // always the refusal: counting is best effort
                result.reason_ = "the directory: " + answer.reason;
                return result;
            }
            case DirectorySignIn::Outcome::ok: break;
        }
        // The directory's spelling of the name (its entry), not the typed one.
        auto admitted = store.admit_directory_user(answer.user.name, answer.user.display_name, audit);
        if (admitted) {
            result.outcome_ = SignIn::Outcome::ok;
            result.user_ = std::move(*admitted);
        } else if (admitted.status().code() == StatusCode::refused) {
            result.reason_ = "disabled in the store, or a local user of that name";
        } else {
            result.outcome_ = SignIn::Outcome::failed;
            result.reason_ = admitted.status().message();
        }
        return result;
    } catch (const std::exception& e) {
        result = SignIn();
        result.outcome_ = SignIn::Outcome::failed;
        result.reason_ = std::string("sign-in failed: ") + e.what();
        return result;
    }
}

}  // namespace pat
