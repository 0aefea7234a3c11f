// patctl route: the need the nginx module gives a REST request (auth_pat_route
// rest), and which rule gave it: a sysadmin's rule (auth_pat_rest_rule, read
// from --rules FILE) or a row of the built-in table. The same core calls the
// module makes; no store is needed.

#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli_error.hpp"
#include "commands.hpp"
#include "json.hpp"
#include "output.hpp"
#include "pat/route.hpp"

namespace patctl {
namespace {

std::string_view basis_name(pat::RestRouteInfo::Basis basis) {
    switch (basis) {
        case pat::RestRouteInfo::Basis::stated: return "stated";
        case pat::RestRouteInfo::Basis::reviewed: return "reviewed";
        case pat::RestRouteInfo::Basis::unstated: return "unstated";
    }
    return "unstated";
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
    return text;
}

// One rule a line: "METHOD TEMPLATE NEED", or the directive as written in
// nginx.conf ("auth_pat_rest_rule METHOD TEMPLATE NEED;"). '#' starts a comment.
void load_rules(const std::string& path, pat::RestRules& rules, std::vector<std::string>& origins) {
    std::ifstream in(path);
    if (!in) failure("cannot read rules file '" + printable(path) + "'");
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        std::string_view text = line;
        text = trim(text.substr(0, text.find('#')));
        if (text.empty()) continue;
        if (text.substr(0, 19) == "auth_pat_rest_rule ") text = trim(text.substr(19));
        if (!text.empty() && text.back() == ';') text = trim(text.substr(0, text.size() - 1));
        std::string_view words[3];
        std::size_t count = 0;
        while (!text.empty()) {
            const std::size_t end = text.find_first_of(" \t");
            if (count == 3) {
                count = 4;
                break;
            }
            std::string_view word = text.substr(0, end);
            // As nginx reads a quoted argument.
            if (word.size() >= 2 && (word.front() == '"' || word.front() == '\'') && word.back() == word.front()) {
                word = word.substr(1, word.size() - 2);
            }
            words[count++] = word;
            text = end == std::string_view::npos ? std::string_view() : trim(text.substr(end));
        }
        const std::string where = printable(path) + ":" + std::to_string(number);
        if (count != 3) failure(where + ": a rule is METHOD PATH-TEMPLATE NEED");
        const pat::Status status = rules.add(words[0], words[1], words[2]);
        if (!status.ok()) failure(where + ": " + status.message());
        origins.push_back(where);
    }
}

}  // namespace

int run_route(const Invocation& invocation) {
    const ParsedArgs& args = invocation.args;
    const std::string* method = args.value("method");
    const std::string* path = args.value("path");
    if (method == nullptr || path == nullptr) usage_error("'route' needs --method METHOD and --path PATH");

    pat::RestRules rules;
    std::vector<std::string> origins;
    if (const std::string* file = args.value("rules")) load_rules(*file, rules, origins);

    // The module decides on nginx's normalized path; a path nginx would
    // refuse (or that the raw-URI guard answers 400) is said so.
    const bool safe = pat::is_safe_raw_uri(*path);
    const pat::Route route = safe ? pat::classify_rest_request({*method, *path, ""}, &rules) : pat::Route{};
    const bool classified = route.outcome == pat::Route::Outcome::classified;
    const std::string need = !safe ? "bad-request" : classified ? std::string(pat::need_name(route.need)) : "refused";

    std::string source = "none";
    if (route.rest_rule >= 0) source = "rule";
    if (route.rest_route != nullptr) source = "built-in";

    if (invocation.json) {
        JsonWriter writer;
        writer.begin_object().field("need", need).field("source", source);
        writer.optional_field("project",
                              route.project.empty() ? std::nullopt : std::optional<std::string>(route.project));
        writer.optional_field("repo", route.repo.empty() ? std::nullopt : std::optional<std::string>(route.repo));
        if (route.rest_rule >= 0) {
            writer.field("rule", rules.describe(static_cast<std::size_t>(route.rest_rule)))
                .field("rule_origin", origins[static_cast<std::size_t>(route.rest_rule)]);
        }
        if (const pat::RestRouteInfo* row = route.rest_route) {
            writer.field("method", row->method)
                .field("template", "/rest" + std::string(row->path_template))
                .field("operation_id", row->operation_id)
                .field("stated", row->stated)
                .field("basis", basis_name(row->basis));
        }
        writer.end_object();
        print_line(writer.text());  // not render.hpp's print_json: that file is being reorganised
        return classified ? kExitOk : kExitFailed;
    }

    std::string line = "need: " + need;
    if (!route.project.empty()) line += " on " + std::string(route.project);
    if (!route.repo.empty()) line += "/" + std::string(route.repo);
    print_line(line);
    if (!safe) {
        print_line("the raw-URI guard answers 400 (encoded slash, backslash, ';', NUL or dot segment)");
    } else if (route.rest_rule >= 0) {
        const auto index = static_cast<std::size_t>(route.rest_rule);
        print_line("from: rule " + origins[index] + ": " + rules.describe(index));
    } else if (const pat::RestRouteInfo* row = route.rest_route) {
        std::string from = "from: built-in " + std::string(row->method) + " /rest" + std::string(row->path_template) +
                           " (" + std::string(row->operation_id) + "; ";
        from += row->stated.empty() ? std::string("Bitbucket states no permission")
                                    : "Bitbucket states " + std::string(row->stated);
        from += ", " + std::string(basis_name(row->basis)) + ")";
        print_line(from);
        if (!classified) print_line("refused on purpose: authenticated, then 403");
    } else {
        print_line("from: no rule and no built-in route: authenticated, then 403");
    }
    return classified ? kExitOk : kExitFailed;
}

}  // namespace patctl
