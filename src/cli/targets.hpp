// Parsing the operands shared by several commands: a grant target
// ("project KEY" or "repo KEY/SLUG") and a permission level. Their syntax is
// the CLI's (usage errors); whether a key or slug is valid is the core's.
#pragma once

#include <string>
#include <string_view>

#include "pat/permission.hpp"
#include "pat/status.hpp"
#include "pat/store.hpp"

namespace patctl {

struct GrantTarget {
    bool is_repo = false;
    std::string project;  // as given
    std::string repo;     // as given; empty for a project target

    // Canonical where the core accepts the name, else as given (printable).
    std::string canonical_project() const;
    std::string canonical_repo() const;
    // "project KEY" / "repo KEY/slug", canonical as above.
    std::string describe() const;
};

// For messages after the core accepted a name: its canonical form (the core's
// canonical_* function), else the text as given, made printable.
std::string canonical_or_as_given(const pat::Expected<std::string>& canonical, std::string_view given);

std::string user_for_display(std::string_view name);
// A group name as shown in messages: canonical (or as given), in double
// quotes, since group names may hold spaces: "domain users".
std::string group_for_display(std::string_view name);
// "alice", "group \"backend\"", "all users": who a grant is given to.
std::string grantee_for_display(pat::GranteeKind kind, std::string_view name);

GrantTarget parse_grant_target(std::string_view scope, std::string_view target);

// read|write|admin, via the core's parse_level; `what` names the argument
// in the message ("LEVEL", "--project").
pat::Level parse_level_argument(std::string_view text, std::string_view what);

}  // namespace patctl
