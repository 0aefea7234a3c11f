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
         "Delete a user together with their grants and tokens.\n",
         run_user_delete},
        {{"user", "list"}, 0, 0, "", {},
         "user list",
         "List users.\n",
         run_user_list},
        {{"grant"}, 4, 4, "NAME, SCOPE, TARGET and LEVEL", {},
         "grant NAME project KEY LEVEL | grant NAME repo KEY/SLUG LEVEL",
         "Give a user read, write or admin on a project or a repository\n"
         "(replacing an existing grant on the same target). LEVEL: read|write|admin.\n",
         run_grant},
        {{"ungrant"}, 3, 3, "NAME, SCOPE and TARGET", {},
         "ungrant NAME project KEY | ungrant NAME repo KEY/SLUG",
         "Remove a user's grant on a project or a repository.\n",
         run_ungrant},
        {{"grants"}, 0, 1, "", {},
         "grants [NAME]",
         "List all grants, or one user's.\n",
         run_grants},
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
        {{"token", "list"}, 0, 1, "", {},
         "token list [NAME]",
         "List all tokens, or one user's. The token text is never shown again.\n",
         run_token_list},
        {{"token", "modify"}, 1, 1, "ID", {"project", "repo", "name"},
         "token modify ID [--project LEVEL] [--repo LEVEL] [--name LABEL]",
         "Change a token's permissions or label (at least one option).\n",
         run_token_modify},
        {{"token", "revoke"}, 1, 1, "ID", {},
         "token revoke ID",
         "Revoke a token. It is refused from the moment this command returns.\n",
         run_token_revoke},
        {{"check"}, 0, 0, "", {"token", "token-stdin", "user", "need", "project", "repo"},
         "check (--token TOKEN | --token-stdin) [--user NAME] --need NEED [--project KEY] [--repo SLUG]",
         "Decide a request exactly as the nginx module would, and say why.\n"
         "Exit 0 when allowed, 1 when denied.\n"
         "  --token TOKEN    the token (visible in ps: prefer --token-stdin)\n"
         "  --token-stdin    read the token as one line from standard input\n"
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
         "Show the audit trail, newest first: every change to users, grants and\n"
         "tokens, with who made it (patctl records \"patctl:\" and the Unix user),\n"
         "and failed passwords, one entry per user, address and hour with their\n"
         "count. With NAME, only entries about that user.\n"
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
        "  --json      machine-readable output\n"
        "  -h, --help  this text, or a command's (patctl user add --help)\n"
        "  --version   the version, the store schema and LMDB's (needs no store)\n"
        "\n"
        "Exit status: 0 success, 1 refused or not found (check: denied), 2 usage error.\n";
    return text;
}

}  // namespace patctl
