// patctl token list with filters, token revoke --unused-since, token notify:
// the inventory and expiry-warning rules of pat/token_inventory.hpp.
#include "commands_token_inventory.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "cli_error.hpp"
#include "commands.hpp"
#include "numbers.hpp"
#include "output.hpp"
#include "pat/token_inventory.hpp"
#include "render.hpp"

extern char** environ;

namespace patctl {
namespace {

std::optional<int> days_option(const Invocation& invocation, std::string_view option) {
    const std::string* text = invocation.args.value(option);
    if (text == nullptr) return std::nullopt;
    std::optional<std::int64_t> days = parse_whole_number(*text);
    if (!days || *days < 0 || *days > pat::kMaxSelectionDays) {
        usage_error("invalid --" + std::string(option) + " '" + printable(*text) +
                    "': expected a whole number of days (0 to " + std::to_string(pat::kMaxSelectionDays) + ")");
    }
    return static_cast<int>(*days);
}

pat::TokenSelection selection_from(const Invocation& invocation) {
    pat::TokenSelection selection;
    const std::string* user = invocation.args.value("user");
    if (user != nullptr && !invocation.operands.empty() && *user != invocation.operands[0]) {
        usage_error("NAME and --user name two users: give one of them");
    }
    if (user != nullptr) {
        selection.owner = *user;
    } else if (!invocation.operands.empty()) {
        selection.owner = invocation.operands[0];
    }
    selection.expiring_within_days = days_option(invocation, "expiring-within");
    selection.expired = invocation.args.has("expired");
    selection.unused_since_days = days_option(invocation, "unused-since");
    if (pat::Status s = pat::check_token_selection(selection); !s.ok()) usage_error(s.message());
    return selection;
}

std::string describe_token(const pat::TokenInfo& token) {
    return token.id + " (" + printable(token.name) + ", owner " + token.owner + ", last used " +
           format_time_or_never(token.last_authenticated_ms) + ", expires " + format_time_or_never(token.expires_ms) +
           ")";
}

// The environment of one warning's command: ours, with the PAT_* variables
// of the warning in place of any of the same name.
class NoticeEnvironment {
   public:
    explicit NoticeEnvironment(const pat::ExpiryNotice& notice) {
        add("PAT_OWNER", notice.token.owner);
        add("PAT_DISPLAY_NAME", notice.display_name);
        add("PAT_TOKEN_ID", notice.token.id);
        add("PAT_TOKEN_NAME", notice.token.name);
        add("PAT_EXPIRES", format_time_utc(notice.token.expires_ms));
        add("PAT_DAYS_LEFT", std::to_string(notice.days_left));
        add("PAT_THRESHOLD", std::to_string(notice.threshold));
        for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
            const std::string_view text(*entry);
            const std::string_view name = text.substr(0, text.find('='));
            bool ours = false;
            for (const std::string& own : entries_)
                ours = ours || own.compare(0, name.size() + 1, std::string(name) + "=") == 0;
            if (!ours) entries_.emplace_back(text);
        }
        for (std::string& entry : entries_) pointers_.push_back(entry.data());
        pointers_.push_back(nullptr);
    }
    char** get() { return pointers_.data(); }

   private:
    void add(std::string_view name, std::string_view value) {
        entries_.push_back(std::string(name) + "=" + std::string(value));
    }
    std::vector<std::string> entries_;
    std::vector<char*> pointers_;
};

// Runs command with /bin/sh -c, standard input from /dev/null, standard
// output and error shared with patctl's. "" when it exited 0, else what
// went wrong ("exit status 3", "killed by signal 9").
std::string run_command(const std::string& command, NoticeEnvironment& environment) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t child = ::fork();
    if (child < 0) return std::string("fork failed: ") + std::strerror(errno);
    if (child == 0) {
        const int null = ::open("/dev/null", O_RDONLY);
        if (null >= 0) {
            ::dup2(null, STDIN_FILENO);
            if (null != STDIN_FILENO) ::close(null);
        }
        const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
        ::execve("/bin/sh", const_cast<char* const*>(argv), environment.get());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return std::string("waitpid failed: ") + std::strerror(errno);
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status) == 0 ? "" : "exit status " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "ended abnormally";
}

}  // namespace

bool has_token_selection(const Invocation& invocation) {
    return invocation.args.has("expiring-within") || invocation.args.has("expired") ||
           invocation.args.has("unused-since") || invocation.args.has("user");
}

int run_token_list_selected(const Invocation& invocation) {
    const pat::TokenSelection selection = selection_from(invocation);
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::vector<pat::TokenInfo> tokens = take(store->select_tokens(selection, pat::now_ms()));
    print_list(tokens, invocation.json, "no tokens");
    return kExitOk;
}

int run_token_revoke_selected(const Invocation& invocation) {
    if (!invocation.operands.empty()) {
        if (invocation.args.has("unused-since")) usage_error("give a token ID or --unused-since DAYS, not both");
        usage_error("--user and --dry-run apply to --unused-since only, not to a token ID");
    }
    if (!invocation.args.has("unused-since")) {
        usage_error("'token revoke' needs ID, --token-stdin or --unused-since DAYS");
    }
    const pat::TokenSelection selection = selection_from(invocation);
    const bool dry_run = invocation.args.has("dry-run");
    std::unique_ptr<pat::Store> store =
        invocation.open_store(dry_run ? pat::Store::Mode::read_only : pat::Store::Mode::read_write);
    std::vector<pat::TokenInfo> tokens =
        take(store->revoke_selected_tokens(selection, pat::now_ms(), dry_run, invocation.audit_context()));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().key(dry_run ? "would_revoke" : "revoked").begin_array();
        for (const pat::TokenInfo& token : tokens) write_json(json, token);
        json.end_array().field("dry_run", dry_run).end_object();
        print_json(json);
        return kExitOk;
    }
    for (const pat::TokenInfo& token : tokens) {
        print_line(std::string(dry_run ? "would revoke token " : "revoked token ") + describe_token(token));
    }
    print_note(std::string(dry_run ? "would revoke " : "revoked ") + std::to_string(tokens.size()) +
               (tokens.size() == 1 ? " token" : " tokens") + (dry_run ? " (dry run: nothing changed)" : ""));
    return kExitOk;
}

int run_token_notify(const Invocation& invocation) {
    const std::string* days_text = invocation.args.value("days");
    if (days_text == nullptr) usage_error("'token notify' needs --days THRESHOLDS (e.g. --days 30,7,1)");
    auto parsed = pat::parse_expiry_thresholds(*days_text);
    if (!parsed) usage_error("invalid --days '" + printable(*days_text) + "': " + parsed.status().message());
    const std::vector<int> thresholds = std::move(parsed).value();
    const bool dry_run = invocation.args.has("dry-run");
    const std::string* command = invocation.args.value("exec");
    if (command == nullptr && !dry_run) usage_error("'token notify' needs --exec COMMAND (or --dry-run)");

    std::unique_ptr<pat::Store> store =
        invocation.open_store(dry_run ? pat::Store::Mode::read_only : pat::Store::Mode::read_write);
    pat::ExpiryNoticesDue due = take(store->expiry_notices_due(thresholds, pat::now_ms()));
    if (!dry_run) {
        // Rows of revoked, deleted or expired tokens: bookkeeping only.
        if (pat::Status s = store->forget_expiry_notices(due.stale); !s.ok()) {
            print_note("warning: could not drop stale expiry-warning rows: " + s.message());
        }
    }

    JsonWriter json;
    json.begin_array();
    std::size_t sent = 0, failed = 0;
    for (const pat::ExpiryNotice& notice : due.due) {
        std::string outcome;
        if (dry_run) {
            outcome = "would warn";
        } else {
            NoticeEnvironment environment(notice);
            const std::string error = run_command(*command, environment);
            if (error.empty()) {
                pat::Status recorded = store->record_expiry_notice(notice, invocation.audit_context());
                if (recorded.ok()) {
                    outcome = "warned";
                    ++sent;
                } else if (recorded.code() == pat::StatusCode::not_found) {
                    outcome = "warned (token revoked meanwhile)";
                    ++sent;
                } else {
                    print_note("warning sent for token " + notice.token.id + " but not recorded (" +
                               printable(recorded.message()) + "): it will be sent again on the next run");
                    outcome = "not recorded";
                    ++failed;
                }
            } else {
                print_note("the command failed for token " + notice.token.id + " (" + error +
                           "): it will be tried again on the next run");
                outcome = "failed";
                ++failed;
            }
        }
        if (invocation.json) {
            json.begin_object()
                .field("id", notice.token.id)
                .field("owner", notice.token.owner)
                .field("name", notice.token.name)
                .field("expires", format_time_utc(notice.token.expires_ms))
                .field("days_left", notice.days_left)
                .field("threshold", static_cast<std::int64_t>(notice.threshold))
                .field("outcome", outcome)
                .end_object();
        } else {
            print_line(outcome + ": " + notice.token.owner + ", token " + notice.token.id + " (" +
                       printable(notice.token.name) + ") expires " + format_time_utc(notice.token.expires_ms) + ", " +
                       std::to_string(notice.days_left) + (notice.days_left == 1 ? " day" : " days") +
                       " left (threshold " + std::to_string(notice.threshold) + ")");
        }
    }
    json.end_array();
    if (invocation.json) print_json(json);
    if (!dry_run) {
        print_note("sent " + std::to_string(sent) + (sent == 1 ? " warning" : " warnings") +
                   (failed == 0 ? "" : ", " + std::to_string(failed) + " failed (tried again on the next run)"));
    } else {
        print_note("would send " + std::to_string(due.due.size()) + (due.due.size() == 1 ? " warning" : " warnings") +
                   " (dry run: nothing sent or changed)");
    }
    return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace patctl
