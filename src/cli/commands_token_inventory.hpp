// patctl token list's filters, token revoke --unused-since and token notify
// (commands_token_inventory.cpp); commands_token.cpp hands over to them.
#pragma once

#include "commands.hpp"

namespace patctl {

// Whether `token list` was given a filter (--expiring-within, --expired,
// --unused-since, --user).
bool has_token_selection(const Invocation& invocation);
int run_token_list_selected(const Invocation& invocation);
// token revoke --unused-since DAYS [--user NAME] [--dry-run]
int run_token_revoke_selected(const Invocation& invocation);

}  // namespace patctl
