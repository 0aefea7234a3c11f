#include "commands.hpp"

namespace patctl {

const std::vector<Command>& all_commands() {
    // clang-format off
    static const std::vector<Command> kCommands = {
        {{"init"}, 0, 0, "", {"max-size"},
         "init [--max-size MIB]",
         "Create a new, empty store at the store path (--db...). Refuses an existing file.\n"
         "  --max-size MIB  the most the store may grow to, in MiB (default 16384);\n"
         "                  a full store refuses changes and keeps working; its\n"
         "                  last 1/32 (at least 512 KiB) is kept for revoking,\n"
         "                  disabling, ungranting and pruning the audit trail\n",
         run_init},
        {{"user", "add"}, 1, 1, "NAME", {"display-name", "sysadmin", "password-stdin"},
         "user add NAME [--display-name TEXT] [--sysadmin] --password-stdin",
         "Add a user. The password is read as one line from standard input.\n"
         "  --display-name TEXT  the name shown in listings\n"
         "  --sysadmin           the user may manage every user's tokens\n",
         run_user_add},
        {{"user", "passwd"}, 1, 1, "NAME", {"password-stdin"},
         "user passwd NAME --password-stdin",
         "Set a user's password, read as one line from standard input.\n",
         run_user_passwd},
        {{"user", "disable"}, 1, 1, "NAME", {},
         "user disable NAME",
         "Disable a user: their tokens stop working until the user is enabled.\n",
         run_user_disable},
        {{"user", "enable"}, 1, 1, "NAME", {},
         "user enable NAME",
         "Enable a disabled user.\n",
         run_user_enable},
        {{"user", "delete"}, 1, 1, "NAME", {},
         "user delete NAME",
         "Delete a user together with their grants, group memberships and tokens.\n",
         run_user_delete},
        {{"user", "list"}, 0, 0, "", {},
         "user list",
         "List users.\n",
         run_user_list},
        {{"grant"}, 0, 4, "NAME, SCOPE, TARGET and LEVEL", {"group", "all-users"},
         "grant (NAME | --group GROUP | --all-users) (project KEY | repo KEY/SLUG) LEVEL",
         "Give read, write or admin on a project (and so all its repositories) or on one\n"
         "repository to a user, to a group's members, or to every signed-in user\n"
         "(replacing an existing grant of that grantee on the same target).\n"
         "A user's level is the highest their own grants, their groups' grants and the\n"
         "all-users defaults give. LEVEL: read|write|admin.\n"
         "  NAME           a user\n"
         "  --group GROUP  a group (patctl group add); takes effect for its members\n"
         "                 on their next request\n"
         "  --all-users    every signed-in user (Bitbucket's default permission)\n",
         run_grant},
        {{"ungrant"}, 0, 3, "NAME, SCOPE and TARGET", {"group", "all-users"},
         "ungrant (NAME | --group GROUP | --all-users) (project KEY | repo KEY/SLUG)",
         "Remove a grant of a user, a group or all users on a project or a repository.\n"
         "  NAME           a user\n"
         "  --group GROUP  a group\n"
         "  --all-users    the default for every signed-in user\n",
         run_ungrant},
        {{"grants"}, 0, 1, "", {"group", "all-users"},
         "grants [NAME | --group GROUP | --all-users]",
         "List every grant (users', groups' and the all-users defaults), or one user's\n"
         "own, one group's, or the all-users defaults. A user's grants through groups\n"
         "are the groups' (patctl check says which grant decides).\n"
         "  --group GROUP  the grants of this group\n"
         "  --all-users    the defaults for every signed-in user\n",
         run_grants},
        {{"group", "add"}, 1, 1, "GROUP", {},
         "group add GROUP",
         "Add a group. GROUP: 1 to 128 characters from A-Z a-z 0-9 _ . - and space,\n"
         "starting with a letter or a digit, not ending in a space; stored in lower\n"
         "case (\"Backend\" and \"backend\" are one group). Quote a name with spaces.\n",
         run_group_add},
        {{"group", "delete"}, 1, 1, "GROUP", {},
         "group delete GROUP",
         "Delete a group with its memberships and its grants, in one transaction.\n"
         "Its members lose what only the group gave them on their next request.\n",
         run_group_delete},
        {{"group", "list"}, 0, 0, "", {},
         "group list",
         "List groups with their number of members.\n",
         run_group_list},
        {{"group", "members"}, 1, 1, "GROUP", {},
         "group members GROUP",
         "List a group's members.\n",
         run_group_members},
        {{"group", "add-member"}, 2, std::numeric_limits<std::size_t>::max(), "GROUP and at least one USER", {},
         "group add-member GROUP USER...",
         "Add users to a group, all or none: every user must exist and none may be\n"
         "a member already. They get the group's grants on their next request.\n",
         run_group_add_member},
        {{"group", "remove-member"}, 2, std::numeric_limits<std::size_t>::max(), "GROUP and at least one USER", {},
         "group remove-member GROUP USER...",
         "Remove users from a group, all or none: every user must be a member.\n"
         "They lose what only the group gave them on their next request.\n",
         run_group_remove_member},
        {{"public", "project"}, 2, 2, "KEY and on|off", {},
         "public project KEY on|off",
         "Make every repository of a project readable without credentials (clone,\n"
         "fetch and repo-read REST routes; Bitbucket's public access), or stop that.\n"
         "A request without credentials for anything else is still answered 401;\n"
         "a push never passes without a token.\n",
         run_public_project},
        {{"public", "repo"}, 2, 2, "KEY/SLUG and on|off", {},
         "public repo KEY/SLUG on|off",
         "Make one repository readable without credentials, or stop that. A\n"
         "repository of a public project stays readable when turned off here.\n",
         run_public_repo},
        {{"public", "list"}, 0, 0, "", {},
         "public list",
         "List the public projects and repositories.\n",
         run_public_list},
        {{"token", "create"}, 1, 1, "NAME",
         {"name", "project", "repo", "expiry-days", "password-stdin", "directory"},
         "token create NAME --name LABEL [--project LEVEL] [--repo LEVEL] [--expiry-days N] --password-stdin\n"
         "             [--directory FILE|none]",
         "Create a token for user NAME, who proves it with their password (one line\n"
         "on standard input); nobody can create a token for someone else.\n"
         "The token is printed once on standard output; only its digest is stored.\n"
         "  --name LABEL       what the token is for (required)\n"
         "  --project LEVEL    read|write|admin on projects\n"
         "  --repo LEVEL       read|write|admin on repositories\n"
         "  --expiry-days N    the token expires N days from now (default: never)\n"
         "With neither --project nor --repo the token has admin on both, capped at\n"
         "request time by the user's own grants. An omitted one of the two is admin;\n"
         "the repository level may not be below the project level.\n"
         "A user without a password of the store's own signs in with the directory's\n"
         "(docs/directory.md): --directory FILE, default /etc/nginx-pat/directory.conf\n"
         "when it exists; none: no directory.\n",
         run_token_create},
        {{"token", "list"}, 0, 1, "", {"user", "expiring-within", "expired", "unused-since"},
         "token list [NAME | --user NAME] [--expiring-within DAYS | --expired] [--unused-since DAYS]",
         "List all tokens, or one user's. The token text is never shown again.\n"
         "Filters (all given must hold; docs/token-lifecycle.md#inventory):\n"
         "  --user NAME             one user's tokens (the same as NAME)\n"
         "  --expiring-within DAYS  not expired yet, and expiring within DAYS days\n"
         "  --expired               expired (revoked tokens are never listed)\n"
         "  --unused-since DAYS     not used in the last DAYS days (a token never used:\n"
         "                          created more than DAYS days ago)\n",
         run_token_list},
        {{"token", "modify"}, 1, 1, "ID", {"project", "repo", "name"},
         "token modify ID [--project LEVEL] [--repo LEVEL] [--name LABEL]",
         "Change a token's permissions or label (at least one option).\n",
         run_token_modify},
        {{"token", "revoke"}, 0, 1, "ID", {"token-stdin", "unused-since", "user", "dry-run"},
         "token revoke (ID | --token-stdin | --unused-since DAYS [--user NAME] [--dry-run])",
         "Revoke a token. It is refused from the moment this command returns.\n"
         "  --token-stdin        revoke the token whose text is read as one line from\n"
         "                       standard input (a leaked token): prints its id and owner\n"
         "  --unused-since DAYS  instead of one token: every token not used in the last\n"
         "                       DAYS days (never used: created more than DAYS days\n"
         "                       ago), in one transaction, one audit entry each; works\n"
         "                       on a full store\n"
         "  --user NAME          only this user's tokens\n"
         "  --dry-run            list what would be revoked, change nothing\n",
         run_token_revoke},
        {{"token", "notify"}, 0, 0, "", {"days", "exec", "dry-run"},
         "token notify --days THRESHOLDS (--exec COMMAND | --dry-run)",
         "Warn the owners of tokens about to expire (docs/token-lifecycle.md#expiry-warnings):\n"
         "for each live token with an expiry whose days left are at most a threshold,\n"
         "run COMMAND once (/bin/sh -c) with PAT_OWNER, PAT_DISPLAY_NAME, PAT_TOKEN_ID,\n"
         "PAT_TOKEN_NAME, PAT_EXPIRES, PAT_DAYS_LEFT and PAT_THRESHOLD in its\n"
         "environment (never the token). Several thresholds crossed at once give one\n"
         "run, for the smallest. What was sent is kept in the store, written only\n"
         "after COMMAND exits 0: run it as often as you like (a systemd timer), each\n"
         "warning goes out once; a failed one is tried again on the next run (exit 1).\n"
         "Tokens of disabled users are skipped.\n"
         "  --days THRESHOLDS  days before expiry, separated by commas: 30,7,1\n"
         "  --exec COMMAND     the command that sends one warning\n"
         "  --dry-run          list the warnings due, run and change nothing\n",
         run_token_notify},
        {{"token", "rotate"}, 1, 1, "ID", {"password-stdin", "directory"},
         "token rotate ID --password-stdin [--directory FILE|none]",
         "Replace a token by a new one with the same name and permissions and an\n"
         "expiry of the same number of days (never stays never). Only the owner's\n"
         "password (one line on standard input) rotates; the new token is printed\n"
         "once, as by token create, and ID is refused (reason rotated) from then on.\n"
         "Rotating a token that was already rotated away revokes every live token\n"
         "of its family (all rotated from the same original) and fails: someone\n"
         "else holds a copy (docs/token-lifecycle.md).\n"
         "  --directory FILE|none  as for token create\n",
         run_token_rotate},
        {{"check"}, 0, 0, "", {"token", "token-stdin", "anonymous", "user", "need", "project", "repo"},
         "check (--token TOKEN | --token-stdin | --anonymous) [--user NAME] --need NEED [--project KEY] [--repo SLUG]",
         "Decide a request exactly as the nginx module would, and say why; for a\n"
         "project or repository need also the user's level and the grant that gives it:\n"
         "  allowed: level write via group \"backend\" on project WORK (token ID, user NAME)\n"
         "Exit 0 when allowed, 1 when denied.\n"
         "  --token TOKEN    the token (visible in ps: prefer --token-stdin)\n"
         "  --token-stdin    read the token as one line from standard input\n"
         "  --anonymous      a request without credentials: allowed only to read a\n"
         "                   public repository (patctl public)\n"
         "  --user NAME      as with Basic auth: the user name sent with the token\n"
         "  --need NEED      repo-read|repo-write|repo-admin|repo-fork|\n"
         "                   project-read|project-write|project-admin|sysadmin|\n"
         "                   authenticated\n"
         "  --project KEY    the project (required unless NEED is authenticated or sysadmin)\n"
         "  --repo SLUG      the repository (required for repo-* needs)\n"
         "Environment: PAT_NOW_MS=MS evaluates at that time (milliseconds since the\n"
         "epoch) instead of now, to answer \"why was this token refused at time T\".\n",
         run_check},
        {{"audit"}, 0, 1, "", {"limit"},
         "audit [NAME] [--limit N]",
         "Show the audit trail, newest first: every change to users, groups, grants,\n"
         "public access and tokens, and the store's upgrade, with who made it (patctl\n"
         "records \"patctl:\" and the Unix user), and failed passwords, one entry per\n"
         "user, address and hour with their count. With NAME, only entries about that\n"
         "user.\n"
         "  --limit N   at most N entries (default 50)\n",
         run_audit},
        {{"audit", "prune"}, 0, 0, "", {"older-than"},
         "audit prune --older-than DAYS",
         "Delete the audit entries older than DAYS days (0 to 36500; 0: all until\n"
         "now) and record that, with the count. Failed sign-ins are kept per user,\n"
         "address and hour in a table of bounded size; changes are kept until\n"
         "pruned. Works on a full store, like revoking, disabling and ungranting.\n"
         "  --older-than DAYS  delete what is older than this many days\n",
         run_audit_prune},
        {{"policy", "show"}, 0, 0, "", {},
         "policy show",
         "Show the token policy that every token creation obeys (patctl, the REST\n"
         "API and the account page): expiry required, maximum days until expiry,\n"
         "maximum live tokens per user, creation enabled. none: no maximum.\n",
         run_policy_show},
        {{"policy", "set"}, 0, 0, "", {"require-expiry", "max-expiry-days", "max-tokens-per-user", "creation"},
         "policy set [--require-expiry yes|no] [--max-expiry-days N|none] [--max-tokens-per-user N|none]\n"
         "             [--creation enabled|disabled]",
         "Change the token policy (at least one option; the others stay as they are).\n"
         "Audited as policy-changed. Tokens that exist are left as they are: the\n"
         "output says how many exceed a new or lower maximum.\n"
         "  --require-expiry yes|no       a new token must have an expiry\n"
         "  --max-expiry-days N|none      at most N days until expiry (1 to 3650);\n"
         "                                needs --require-expiry yes; none clears it\n"
         "  --max-tokens-per-user N|none  at most N live (neither revoked nor expired)\n"
         "                                tokens per user (1 to 1000000); none clears it\n"
         "  --creation enabled|disabled   disabled: nobody creates tokens (the API\n"
         "                                answers 403); existing ones keep working\n",
         run_policy_set},
        {{"backup"}, 1, 1, "DEST", {"force"},
         "backup DEST [--force]",
         "Write a consistent copy of the store to DEST while nginx and patd go on\n"
         "(one read snapshot): a new file in DEST's directory, mode 0600, synced,\n"
         "then renamed to DEST. No DEST-lock is created. The usage file (last-use\n"
         "times) is not copied.\n"
         "  --force  replace an existing DEST\n",
         run_backup},
        {{"restore"}, 1, 1, "SRC", {},
         "restore SRC",
         "Replace the store with the backup SRC, after checking it (an LMDB file\n"
         "holding a store of this schema; nothing is created beside SRC). The copy\n"
         "gets the current store's owner, group and mode and is renamed over the\n"
         "store: nginx's workers and patd use it within about a second. Waits (up\n"
         "to 10 s) until they have let go of the old file. Tokens created after the\n"
         "backup was taken are gone; tokens revoked after it work again.\n",
         run_restore},
        {{"directory", "test"}, 0, 0, "", {"config", "user", "password-stdin"},
         "directory test --user NAME [--password-stdin] [--config FILE]",
         "Check the directory configuration (LDAP, Active Directory; docs/directory.md):\n"
         "connect to the first server that answers (TLS verified against ca_file),\n"
         "bind as the service account, find the user and list their groups. Prints\n"
         "the server, the user's DN and display name and their groups; a failure is\n"
         "one line naming the server and the step. Needs no store.\n"
         "  --user NAME       the user to look up\n"
         "  --password-stdin  also sign in as the user with the password read as one\n"
         "                    line from standard input, as nginx-pat's sign-in will\n"
         "                    (exit 1 when refused)\n"
         "  --config FILE     the directory configuration\n"
         "                    (default /etc/nginx-pat/directory.conf)\n",
         run_directory_test},
        {{"directory", "sync"}, 0, 0, "", {"config", "dry-run"},
         "directory sync [--dry-run] [--config FILE]",
         "Write the directory's users and groups into the store, in one transaction\n"
         "(docs/directory.md#sync): users it has are created (source directory),\n"
         "users of source directory it no longer has are disabled (never deleted;\n"
         "local users are never touched), its groups are created and their members\n"
         "made exactly the directory's. Prints each change.\n"
         "  --dry-run         print the changes, write nothing\n"
         "  --config FILE     the directory configuration\n"
         "                    (default /etc/nginx-pat/directory.conf)\n",
         run_directory_sync},
        {{"route"}, 0, 0, "", {"method", "path", "rules"},
         "route --method METHOD --path PATH [--rules FILE]",
         "Say which need the module gives a REST request (auth_pat_route rest) and\n"
         "which rule gave it: a row of the built-in table (docs/rest-routes.md) or a\n"
         "sysadmin's rule. Needs no store. Exit 0 when the route is recognised, 1 when\n"
         "it is refused (403 after authentication) or the raw path is refused (400).\n"
         "  --method METHOD  GET, HEAD, POST, PUT, DELETE, PATCH\n"
         "  --path PATH      the request path, e.g. /rest/api/latest/projects/PRJ/repos\n"
         "  --rules FILE     rules tried first, one a line: METHOD TEMPLATE NEED, or\n"
         "                   auth_pat_rest_rule lines copied from nginx.conf\n",
         run_route},
        {{"apply"}, 1, 1, "FILE", {"dry-run", "prune"},
         "apply FILE [--dry-run] [--prune]",
         "Make the store say what the permissions file FILE says (-: standard\n"
         "input): users (names, display names, the sysadmin flag, disabled; never\n"
         "passwords), groups and their members, grants of users, groups and all\n"
         "users, public access. One transaction: all of it or, on any error, none.\n"
         "Prints each change, or \"no changes\". The format: docs/permissions-file.md\n"
         "(patctl export writes it).\n"
         "  --dry-run  print what would change (\"would: ...\"), change nothing\n"
         "  --prune    also remove the grants, members, groups and public access the\n"
         "             file does not name, and disable the users it does not name\n"
         "             (never deletes a user; tokens are never touched)\n",
         run_apply},
        {{"export"}, 0, 0, "", {"output"},
         "export [--output FILE]",
         "Write the store's users, groups, grants and public access as a permissions\n"
         "file (docs/permissions-file.md), sorted: patctl apply of it changes nothing.\n"
         "With --json, the same facts as one JSON document (without --output).\n"
         "  --output FILE  write FILE (a new file, mode 0600, renamed over FILE)\n"
         "                 instead of standard output\n",
         run_export},
        {{"fleet", "init"}, 0, 0, "", {"source", "follower-role", "writer-role"},
         "fleet init --source CONNFILE [--follower-role NAME] [--writer-role NAME]",
         "Create the fleet's tables in the PostgreSQL database CONNFILE names (a file\n"
         "holding one libpq connection string, not readable by others; docs/fleet.md):\n"
         "pat_head, pat_records, pat_changes, pat_usage and the records of an empty\n"
         "store, in one transaction. An initialised source is left as it is (its roles\n"
         "granted again); a half-made one is refused.\n"
         "  --follower-role NAME  may only SELECT (created, LOGIN, when missing)\n"
         "  --writer-role NAME    SELECT, INSERT, UPDATE, DELETE and pg_read_all_stats\n",
         run_fleet_init},
        {{"fleet", "import"}, 0, 0, "", {"source"},
         "fleet import --source CONNFILE --db PATH",
         "Copy every record of the single-host store PATH (users, groups, grants,\n"
         "tokens, audit) into an initialised, empty fleet source, in one transaction,\n"
         "with its change-log rows: nobody's token changes. Refuses a source that\n"
         "holds anything besides an empty store's records.\n",
         run_fleet_import},
        {{"fleet", "prune"}, 0, 0, "", {"source", "keep"},
         "fleet prune --source CONNFILE --keep DURATION",
         "Delete the change-log rows committed longer ago than DURATION (7d, 12h,\n"
         "30m, 45s), never the head's own row. A node whose position is older\n"
         "rebuilds its replica from a snapshot by itself.\n",
         run_fleet_prune},
        {{"fleet", "status"}, 0, 0, "", {"source"},
         "fleet status --source CONNFILE",
         "Show the source's head, the change log's range and the connected nodes\n"
         "(their followers' application_name) with their positions and lag. Listing\n"
         "other roles' sessions needs pg_read_all_stats.\n",
         run_fleet_status},
        {{"fleet", "verify"}, 0, 0, "", {"source"},
         "fleet verify --source CONNFILE --db REPLICA",
         "Compare a replica with the source: SHA-256 over every (table, key, value)\n"
         "of each, at the replica's position. Exit 0 when identical, 1 when they\n"
         "differ or the source's head is elsewhere (run it again).\n",
         run_fleet_verify},
        {{"follow"}, 0, 0, "", {"source", "node", "max-size"},
         "follow --source CONNFILE --db REPLICA [--node NAME] [--max-size MIB]",
         "Run this node's follower until SIGTERM or SIGINT: keep the LMDB replica\n"
         "REPLICA equal to the fleet source (docs/fleet.md#the-follower). It is the\n"
         "replica's only writer; nginx's workers read it. One line per event on stderr.\n"
         "  --node NAME     the node's name in fleet status (default: the host name)\n"
         "  --max-size MIB  the maximum size of a rebuilt replica (default 16384)\n",
         run_follow},
    };
    // clang-format on
    return kCommands;
}

std::string command_usage(const Command& command) {
    std::string text = "usage: patctl " + std::string(command.synopsis) + " [--db PATH] [--json]\n\n";
    text += command.help;
    text +=
        "\n  --db PATH   the store (default: $PAT_DB, else db = PATH in the configuration\n"
        "              file, else /var/lib/nginx-pat/pat.db; see patctl --help)\n"
        "  --json      machine-readable output\n";
    return text;
}

std::string global_usage() {
    std::string text =
        "usage: patctl COMMAND [ARGS] [--db PATH] [--json]\n"
        "\n"
        "Manage the nginx-pat token store.\n"
        "\n"
        "Commands:\n";
    for (const Command& command : all_commands()) {
        text += "  patctl ";
        text += command.synopsis;
        text += '\n';
    }
    text +=
        "\n"
        "Options (anywhere after the command words):\n"
        "  --db PATH   the store file; default: $PAT_DB, else the line db = PATH in\n"
        "              $PAT_CONFIG or /etc/nginx-pat/nginx-pat.conf, else\n"
        "              /var/lib/nginx-pat/pat.db\n"
        "  --source CONNFILE  fleet mode: the fleet's source in PostgreSQL instead of a\n"
        "              store file (CONNFILE: one libpq connection string, readable by\n"
        "              its owner only), for the commands that read or write users,\n"
        "              grants, groups, public access, tokens and the audit trail; else\n"
        "              $PAT_SOURCE unless --db is given. init, backup, restore and check\n"
        "              work on a store file and refuse it\n"
        "  --json      machine-readable output\n"
        "  -h, --help  this text, or a command's (patctl user add --help)\n"
        "  --version   the version, the store schema and LMDB's (needs no store)\n"
        "\n"
        "A command that writes upgrades a store of an older schema in place, once,\n"
        "and says so on stderr; commands that only read never write the store.\n"
        "\n"
        "Exit status: 0 success, 1 refused or not found (check: denied), 2 usage error.\n";
    return text;
}

}  // namespace patctl
