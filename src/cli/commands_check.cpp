// patctl check: one request decided by Store::decide, the function the nginx
// module calls, so the answer here is the answer nginx gives.

#include <cstdlib>

#include "cli_error.hpp"
#include "commands.hpp"
#include "numbers.hpp"
#include "output.hpp"
#include "pat/decision.hpp"
#include "pat/names.hpp"
#include "pat/token.hpp"
#include "render.hpp"
#include "secret_input.hpp"

namespace patctl {
namespace {

// The longest token line read from stdin; anything near it is malformed
// anyway and the core says so.
constexpr std::size_t kMaxTokenLine = 1024;

pat::Need need_from(const Invocation& invocation) {
    const std::string* text = invocation.args.value("need");
    if (text == nullptr) {
        usage_error("'check' needs --need NEED (see patctl check --help)");
    }
    std::optional<pat::Need> need = pat::parse_need(*text);
    if (!need) {
        usage_error("invalid --need '" + printable(*text) +
                    "': expected repo-read, repo-write, repo-admin, repo-fork, project-read, "
                    "project-write, project-admin, sysadmin or authenticated");
    }
    return *need;
}

// A testing and diagnostic aid: PAT_NOW_MS evaluates the request at another
// time ("why was this token refused at time T?"). Only `check` reads it.
std::int64_t evaluation_time() {
    const char* text = std::getenv("PAT_NOW_MS");
    if (text == nullptr || *text == '\0') {
        return pat::now_ms();
    }
    std::optional<std::int64_t> ms = parse_whole_number(text);
    if (!ms || *ms < 0) {
        usage_error("invalid PAT_NOW_MS '" + printable(text) + "': expected milliseconds since the epoch");
    }
    return *ms;
}

std::string_view verdict_name(pat::Verdict verdict) {
    switch (verdict) {
        case pat::Verdict::allow: return "allow";
        case pat::Verdict::unauthenticated: return "unauthenticated";
        case pat::Verdict::forbidden: return "forbidden";
        case pat::Verdict::fault: return "fault";
    }
    return "fault";
}

// What nginx answers for the verdict; 0 for "pass the request on".
std::int64_t http_status_of(pat::Verdict verdict) {
    switch (verdict) {
        case pat::Verdict::allow: return 0;
        case pat::Verdict::unauthenticated: return 401;
        case pat::Verdict::forbidden: return 403;
        case pat::Verdict::fault: return 500;
    }
    return 500;
}

// The user's level on the request's target and the grant that gives it:
// asked for a decision that compared that level with the need (allowed, or
// refused as too low) on a project or repository. A second read of the
// store: a change committed in between shows here, not in the decision, and
// one that removed the user leaves only a note: the decision stands.
std::optional<pat::LevelSource> explain(pat::Store& store, const pat::Decision& decision, const pat::Need need,
                                        std::string_view project, std::string_view repo) {
    if (!pat::is_project_need(need) && !pat::is_repo_need(need)) return std::nullopt;
    if (!decision.allowed() && decision.reason != pat::Reason::user_level_too_low) return std::nullopt;
    // The decision accepted both names, so they are valid.
    const std::string key = take(pat::canonical_project_key(project));
    const std::string slug = pat::is_repo_need(need) ? take(pat::canonical_repo_slug(repo)) : std::string();
    pat::Expected<pat::LevelSource> source = store.explain_level(decision.logged_user(), key, slug);
    if (!source.ok()) {
        print_note("cannot say which grant decided: " + printable(source.status().message()));
        return std::nullopt;
    }
    return std::move(source).value();
}

// The fields every `check --json` starts with: what nginx would answer.
void write_verdict_json(JsonWriter& writer, const pat::Decision& decision) {
    pat::Verdict verdict = pat::verdict_of(decision.reason);
    writer.begin_object()
        .field("allowed", decision.allowed())
        .field("reason", pat::reason_name(decision.reason))
        .field("verdict", verdict_name(verdict));
    writer.key("http_status");
    if (verdict == pat::Verdict::allow) {
        writer.null();
    } else {
        writer.number(http_status_of(verdict));
    }
}

std::string_view source_kind_name(pat::LevelSource::Kind kind) {
    switch (kind) {
        case pat::LevelSource::Kind::none: return "none";
        case pat::LevelSource::Kind::sysadmin: return "sysadmin";
        case pat::LevelSource::Kind::personal_project: return "personal-project";
        case pat::LevelSource::Kind::user_grant: return "user";
        case pat::LevelSource::Kind::group_grant: return "group";
        case pat::LevelSource::Kind::all_users: return "all-users";
        case pat::LevelSource::Kind::public_access: return "public";
    }
    return "none";
}

std::optional<std::string> text_or_null(const std::string& text) {
    return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

void write_source_json(JsonWriter& writer, const pat::LevelSource& source) {
    writer.field("level", pat::level_name(source.level)).key("via");
    if (source.kind == pat::LevelSource::Kind::none) {
        writer.null();
        return;
    }
    writer.begin_object()
        .field("kind", source_kind_name(source.kind))
        .optional_field("group", text_or_null(source.group))
        .optional_field("project", text_or_null(source.project))
        .optional_field("repo", text_or_null(source.repo))
        .field("text", pat::describe_level_source(source))
        .end_object();
}

// "level write via group \"backend\" on project WORK", or the core's words
// for no level at all ("no grant").
std::string describe_source(const pat::LevelSource& source) {
    if (source.kind == pat::LevelSource::Kind::none) return pat::describe_level_source(source);
    return "level " + std::string(pat::level_name(source.level)) + " " + pat::describe_level_source(source);
}

void print_decision(const pat::Decision& decision, const std::optional<pat::LevelSource>& source, bool json) {
    // An administrator's diagnosis: who the token names, allowed or not.
    std::string token_id = decision.logged_token_id();
    std::string user = decision.logged_user();
    if (json) {
        JsonWriter writer;
        write_verdict_json(writer, decision);
        writer.optional_field("token_id", text_or_null(token_id)).optional_field("user", text_or_null(user));
        if (source) write_source_json(writer, *source);
        writer.end_object();
        print_json(writer);
        return;
    }
    std::string line = decision.allowed() ? "allowed" : "denied: " + std::string(pat::reason_name(decision.reason));
    if (source) {
        line += ": " + describe_source(*source);
    }
    if (!token_id.empty()) {
        line += " (token " + token_id + (user.empty() ? "" : ", user " + user) + ")";
    }
    print_line(line);
}

// --anonymous: what nginx does with a request that has no credentials.
void print_public_decision(const pat::Decision& decision, bool json) {
    if (json) {
        JsonWriter writer;
        write_verdict_json(writer, decision);
        writer.key("token_id").null().key("user").null().end_object();
        print_json(writer);
        return;
    }
    print_line(decision.allowed() ? "allowed: public" : "denied: " + std::string(pat::reason_name(decision.reason)));
}

}  // namespace

int run_check(const Invocation& invocation) {
    const ParsedArgs& args = invocation.args;
    const std::string* token_argument = args.value("token");
    const bool token_from_stdin = args.has("token-stdin");
    const bool anonymous = args.has("anonymous");
    if ((token_argument != nullptr) + token_from_stdin + anonymous != 1) {
        usage_error("'check' needs exactly one of --token TOKEN, --token-stdin and --anonymous");
    }
    if (anonymous && args.has("user")) {
        usage_error("--user does not apply to --anonymous: a request without credentials names no user");
    }
    const pat::Need need = need_from(invocation);
    const std::string* project = args.value("project");
    const std::string* repo = args.value("repo");
    if (need != pat::Need::authenticated && need != pat::Need::sysadmin && project == nullptr) {
        usage_error("--need " + std::string(pat::need_name(need)) + " needs --project KEY");
    }
    if (pat::is_repo_need(need) && repo == nullptr) {
        usage_error("--need " + std::string(pat::need_name(need)) + " needs --repo SLUG");
    }
    if (pat::is_project_need(need) && repo != nullptr) {
        usage_error("--repo does not apply to --need " + std::string(pat::need_name(need)));
    }
    const std::int64_t now = evaluation_time();

    pat::TokenHasher hasher;
    if (!hasher.ready()) {
        failure("OpenSSL cannot provide SHA-256");
    }
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::optional<SecretLine> token_line;
    if (token_from_stdin) {
        token_line.emplace(read_secret_line("token", kMaxTokenLine));
    }

    pat::AccessRequest request;
    if (!anonymous) {
        request.token = token_line ? token_line->view() : std::string_view(*token_argument);
    }
    if (const std::string* user = args.value("user")) {
        request.has_basic_user = true;
        request.basic_user = *user;
    }
    request.need = need;
    request.project = project != nullptr ? std::string_view(*project) : std::string_view();
    request.repo = repo != nullptr ? std::string_view(*repo) : std::string_view();

    pat::Decision decision = anonymous ? store->decide_public(request, now) : store->decide(hasher, request, now);
    if (decision.reason == pat::Reason::store_error) {
        failure("the store could not be read: the request would be refused (fail closed)");
    }
    if (anonymous) {
        print_public_decision(decision, invocation.json);
    } else {
        print_decision(decision, explain(*store, decision, need, request.project, request.repo), invocation.json);
    }
    return decision.allowed() ? kExitOk : kExitFailed;
}

}  // namespace patctl
