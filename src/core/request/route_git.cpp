// Git smart HTTP (and Git LFS) routes: which need a request has.
//
//   GET  {repo}/info/refs?service=git-upload-pack   repo_read
//   GET  {repo}/info/refs?service=git-receive-pack  repo_write
//   POST {repo}/git-upload-pack                     repo_read (every protocol v2 command)
//   POST {repo}/git-receive-pack                    repo_write
//   POST {repo}/info/lfs/objects/batch              repo_write (the body's "operation" is not read)
//   GET|HEAD {repo}/info/lfs/objects/...            repo_read
//   PUT|POST {repo}/info/lfs/objects/...            repo_write
//   GET  {repo}/info/lfs/locks                      repo_read
//   POST {repo}/info/lfs/locks, locks/verify, locks/{id}/unlock  repo_write
//
// where {repo} is .../scm/{KEY}/{slug}[.git]. Anything else is unrecognised
// (denied): the dumb protocol, other files, other methods. Every comparison
// here is exact and case-sensitive, as git http-backend's are: a variant we
// do not know falls to "unrecognised", the strictest answer.
//
// No allocation: everything is a view into the input.
#include <cstddef>
#include <string_view>

#include "pat/ascii.hpp"
#include "pat/names.hpp"
#include "pat/route.hpp"
#include "path_segments.hpp"

namespace pat {
namespace {

using ascii::equals_ignoring_case;
using path::is_plain_absolute_path;
using path::take_segment;
using std::string_view;

constexpr string_view kServiceParam = "service";
constexpr string_view kUploadPack = "git-upload-pack";
constexpr string_view kReceivePack = "git-receive-pack";

bool contains_ignoring_case(string_view haystack, string_view needle) {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t start = 0; start + needle.size() <= haystack.size(); ++start) {
        std::size_t i = 0;
        while (i < needle.size() && ascii::lower(haystack[start + i]) == ascii::lower(needle[i])) ++i;
        if (i == needle.size()) return true;
    }
    return false;
}

// Drops segments from `rest` up to and including the first one equal to
// `wanted`; false when there is none.
bool skip_past_segment(string_view& rest, string_view wanted) {
    while (!rest.empty()) {
        if (take_segment(rest) == wanted) return true;
    }
    return false;
}

Route unrecognised() {
    return {};
}

Route bad_request() {
    Route route;
    route.outcome = Route::Outcome::bad_request;
    return route;
}

Route classified(Need need) {
    Route route;
    route.outcome = Route::Outcome::classified;
    route.need = need;
    return route;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Does the text, percent-decoded once, mention `needle` (ignoring ASCII
// case)? Decodes into a stack buffer: a text too long for it counts as a
// mention, and so does a malformed escape — both only ever make the answer
// stricter. (nginx decodes the path before we see it; an escape left in it
// was encoded twice, which is_safe_raw_uri refuses, but the classifier does
// not rely on that.)
bool mentions_when_decoded(string_view query, string_view needle) {
    char decoded[4096];
    std::size_t n = 0;
    for (std::size_t i = 0; i < query.size(); ++i) {
        if (n == sizeof decoded) return true;
        char c = query[i];
        if (c == '%') {
            if (i + 2 >= query.size()) return true;
            const int high = hex_value(query[i + 1]);
            const int low = hex_value(query[i + 2]);
            if (high < 0 || low < 0) return true;
            c = static_cast<char>(high * 16 + low);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        decoded[n++] = c;
    }
    return contains_ignoring_case({decoded, n}, needle);
}

enum class NameMatch { equal, different, malformed };

// Decodes a query-string parameter name (percent escapes, '+' as a space) on
// the fly and compares it to `expected` ignoring ASCII case.
NameMatch compare_decoded_name(string_view name, string_view expected) {
    std::size_t matched = 0;
    bool equal_so_far = true;
    for (std::size_t i = 0; i < name.size(); ++i) {
        char decoded = name[i];
        if (decoded == '+') {
            decoded = ' ';
        } else if (decoded == '%') {
            if (i + 2 >= name.size()) return NameMatch::malformed;
            const int high = hex_value(name[i + 1]);
            const int low = hex_value(name[i + 2]);
            if (high < 0 || low < 0) return NameMatch::malformed;
            decoded = static_cast<char>(high * 16 + low);
            i += 2;
        }
        if (!equal_so_far) continue;  // keep scanning for a malformed escape
        if (matched == expected.size() || ascii::lower(decoded) != ascii::lower(expected[matched])) {
            equal_so_far = false;
        } else {
            ++matched;
        }
    }
    return equal_so_far && matched == expected.size() ? NameMatch::equal : NameMatch::different;
}

enum class Service { none, upload_pack, receive_pack, other, hostile };

// Reads the `service` parameter of an info/refs query without decoding it.
// Hostile (answer 400): the parameter twice; a name that spells "service"
// only after decoding or case folding, or that holds a malformed escape (we
// cannot tell what it names); a value with any escape or '+'; a ';' anywhere
// (some servers split parameters on it, so it could hide a second service).
Service read_service(string_view args) {
    if (args.find(';') != string_view::npos) return Service::hostile;
    Service found = Service::none;
    while (!args.empty()) {
        const auto amp = args.find('&');
        const string_view param = args.substr(0, amp);
        args = amp == string_view::npos ? string_view{} : args.substr(amp + 1);

        const auto equals = param.find('=');
        const string_view name = param.substr(0, equals);
        const string_view value = equals == string_view::npos ? string_view{} : param.substr(equals + 1);

        if (name != kServiceParam) {
            if (compare_decoded_name(name, kServiceParam) != NameMatch::different) return Service::hostile;
            continue;
        }
        if (found != Service::none) return Service::hostile;
        if (value.find_first_of("%+") != string_view::npos) return Service::hostile;
        if (value == kUploadPack) {
            found = Service::upload_pack;
        } else if (value == kReceivePack) {
            found = Service::receive_pack;
        } else {
            found = Service::other;
        }
    }
    return found;
}

bool is_read_method(string_view method) {
    return method == "GET" || method == "HEAD";
}

// Git LFS, after {repo}/info/lfs/.
Route classify_lfs(string_view method, string_view rest) {
    const string_view area = take_segment(rest);
    if (area == "objects") {
        if (rest == "batch") {
            // Upload or download is in the body's "operation", which we do not
            // read: the batch call always needs write.
            return method == "POST" ? classified(Need::repo_write) : unrecognised();
        }
        string_view after_object = rest;
        const string_view object = take_segment(after_object);
        if (object.empty() || object == "batch") return unrecognised();
        // Basic transfer: GET/HEAD download, PUT uploads, POST verifies.
        if (is_read_method(method)) return classified(Need::repo_read);
        if (method == "PUT" || method == "POST") return classified(Need::repo_write);
        return unrecognised();
    }
    if (area == "locks") {
        if (rest.empty()) {
            if (method == "GET") return classified(Need::repo_read);    // list locks
            if (method == "POST") return classified(Need::repo_write);  // create a lock
            return unrecognised();
        }
        if (rest == "verify") return method == "POST" ? classified(Need::repo_write) : unrecognised();
        const string_view lock_id = take_segment(rest);
        if (!lock_id.empty() && rest == "unlock" && method == "POST") return classified(Need::repo_write);
    }
    return unrecognised();
}

// The endpoint after {repo}/.
Route classify_endpoint(const RouteInput& input, string_view endpoint) {
    if (endpoint == "info/refs") {
        if (input.method != "GET") return unrecognised();
        switch (read_service(input.args)) {
            case Service::upload_pack: return classified(Need::repo_read);
            case Service::receive_pack: return classified(Need::repo_write);
            case Service::hostile: return bad_request();
            case Service::none:  // the dumb protocol: not served through us
            case Service::other: return unrecognised();
        }
        return unrecognised();
    }
    if (endpoint == kUploadPack) {
        return input.method == "POST" ? classified(Need::repo_read) : unrecognised();
    }
    if (endpoint == kReceivePack) {
        return input.method == "POST" ? classified(Need::repo_write) : unrecognised();
    }
    string_view rest = endpoint;
    if (take_segment(rest) == "info" && take_segment(rest) == "lfs") return classify_lfs(input.method, rest);
    return unrecognised();
}

}  // namespace

Route classify_git_request(const RouteInput& input) noexcept {
    if (!is_plain_absolute_path(input.path)) return unrecognised();

    // The first "scm" segment starts the route; anything before it is the
    // context path.
    string_view rest = input.path.substr(1);
    if (!skip_past_segment(rest, "scm")) return unrecognised();

    const string_view project = take_segment(rest);
    string_view repo = take_segment(rest);
    constexpr string_view kGitSuffix = ".git";
    if (repo.size() > kGitSuffix.size() && repo.substr(repo.size() - kGitSuffix.size()) == kGitSuffix) {
        repo.remove_suffix(kGitSuffix.size());
    }
    if (!is_valid_project_key(project) || !is_valid_repo_slug(repo)) return unrecognised();

    Route route = classify_endpoint(input, rest);
    if (route.outcome != Route::Outcome::classified) return route;
    route.project = project;
    route.repo = repo;

    // Belt and braces: a request that mentions receive-pack is never let
    // through with a read need. In the query that is someone probing (400);
    // in the path it is a repository or context name containing the word,
    // which then needs write access to be read.
    if (route.need == Need::repo_read) {
        if (contains_ignoring_case(input.args, "receive-pack") || mentions_when_decoded(input.args, "receive-pack")) {
            return bad_request();
        }
        if (contains_ignoring_case(input.path, "receive-pack") || mentions_when_decoded(input.path, "receive-pack")) {
            route.need = Need::repo_write;
        }
    }
    return route;
}

}  // namespace pat
