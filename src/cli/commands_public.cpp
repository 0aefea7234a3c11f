// patctl public project | repo | list: public (anonymous) read access, as
// Bitbucket's "public access" of a project or repository

#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "render.hpp"
#include "targets.hpp"

namespace patctl {
namespace {

bool parse_switch(std::string_view text) {
    if (text == "on") return true;
    if (text == "off") return false;
    usage_error("invalid switch '" + printable_argument(text) + "': expected on or off");
}

int set_public(const Invocation& invocation, std::string_view scope) {
    GrantTarget target = parse_grant_target(scope, invocation.operands[0]);
    const bool on = parse_switch(invocation.operands[1]);

    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(
        store->set_public(target.project, target.is_repo ? target.repo : "", on, invocation.audit_context()));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object()
            .field("scope", scope)
            .field("project", target.canonical_project())
            .optional_field("repo", target.is_repo ? std::optional<std::string>(target.canonical_repo()) : std::nullopt)
            .field("public", on)
            .end_object();
        print_json(json);
    } else if (on) {
        print_line(target.describe() + " is public: anyone may read " + (target.is_repo ? "it" : "its repositories") +
                   " without credentials");
    } else {
        print_line(target.describe() + " is no longer public");
    }
    return kExitOk;
}

}  // namespace

int run_public_project(const Invocation& invocation) {
    return set_public(invocation, "project");
}

int run_public_repo(const Invocation& invocation) {
    return set_public(invocation, "repo");
}

int run_public_list(const Invocation& invocation) {
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::vector<pat::PublicTarget> targets = take(store->list_public());
    print_list(targets, invocation.json, "no public projects or repositories");
    return kExitOk;
}

}  // namespace patctl
