#!/usr/bin/env python3
"""Generate the built-in REST route table from Bitbucket's own statements.

    tools/rest_routes/generate.py            (run by `make routes`)
    tools/rest_routes/generate.py --out DIR  the same files under DIR instead
                                             (`make routes-check` diffs them)

Reads tools/rest_routes/bitbucket-operations.json (the operations of
Atlassian's OpenAPI description, reduced by extract.py) and writes

    src/core/request/rest_table.inc   the route tree compiled into the core
    docs/rest-routes.md               the same table for people

For every operation it reads the description for the permission needed TO CALL
it ("The authenticated user must have REPO_ADMIN permission ... to call this
resource", "This endpoint requires PROJECT_ADMIN permission", ...), maps it
onto the module's needs, and applies the reviewed choices in OVERRIDES below
(operations whose description states nothing, or states it in a way the
module cannot check as written). Nothing here runs at build or request time:
the outputs are checked in.
"""
import html
import io
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPEC = os.path.join(HERE, "bitbucket-operations.json")
OUT_INC = os.path.join(ROOT, "src", "core", "request", "rest_table.inc")
OUT_DOC = os.path.join(ROOT, "docs", "rest-routes.md")

# Operations the module never routes: the token management resource
# (/rest/access-tokens) is served by patd, the token API daemon (docs/patd.md;
# nginx proxies it there), and a token cannot manage tokens (in Bitbucket
# either), so in a location the module protects its paths stay unrecognised
# (403).
SKIPPED_PREFIXES = ("/access-tokens/",)

PERMISSION = (r"\b(REPO_READ|REPO_WRITE|REPO_ADMIN|REPO_VIEW|REPO_CREATE|PROJECT_READ|PROJECT_WRITE|"
              r"PROJECT_ADMIN|PROJECT_VIEW|PROJECT_CREATE|LICENSED_USER|LICENSED|SYS_ADMIN|ADMIN)\b")

# Bitbucket permission -> module need, given what the path names.
#   repo:    the path names {projectKey} and {repositorySlug}
#   project: the path names {projectKey}
# A repository permission on a path that names no repository can only be
# checked at the token: REPO_READ is held by every token, so "authenticated".
MAPPING_NOTES = {
    "REPO_READ": "repo-read",
    "REPO_VIEW": "repo-read",
    "REPO_WRITE": "repo-write",
    "REPO_ADMIN": "repo-admin",
    "REPO_CREATE": "project-admin (a token creates repositories with project admin)",
    "PROJECT_READ": "project-read",
    "PROJECT_ADMIN": "project-admin",
    "PROJECT_VIEW": "authenticated (any valid token; Bitbucket filters what the user may see)",
    "LICENSED_USER": "authenticated (any valid token)",
    "LICENSED": "authenticated (any valid token)",
    "PROJECT_CREATE": "sysadmin (the store has no project-creator permission: the stricter one)",
    "ADMIN": "sysadmin",
    "SYS_ADMIN": "sysadmin",
}

# Reviewed choices, keyed by (METHOD, path). Each states why.
R_ADMIN_KEYS = "access keys grant SSH access to the repository: repository administration"
P_ADMIN_KEYS = "access keys grant SSH access to the project: project administration"
OVERRIDES = {
    ("POST", "/api/latest/projects/{projectKey}/repos/{repositorySlug}"): (
        "repo-fork", "fork: REPO_READ on the source and PROJECT_ADMIN on the target project, which the "
                     "request body names; the token needs project admin (Bitbucket: create and fork)"),
    ("PUT", "/api/latest/users"): (
        "deny", "a token cannot change user account details (Bitbucket's personal access token documentation)"),
    ("PUT", "/api/latest/users/credentials"): (
        "deny", "a token cannot change the user's password (Bitbucket's personal access token documentation)"),
    ("POST", "/mirroring/latest/authenticate"): (
        "deny", "mirrors authenticate users with their own credentials, never a user's token"),
    ("GET", "/keys/latest/projects/{projectKey}/repos/{repositorySlug}/ssh"): ("repo-admin", R_ADMIN_KEYS),
    ("POST", "/keys/latest/projects/{projectKey}/repos/{repositorySlug}/ssh"): ("repo-admin", R_ADMIN_KEYS),
    ("GET", "/keys/latest/projects/{projectKey}/repos/{repositorySlug}/ssh/{keyId}"): ("repo-admin", R_ADMIN_KEYS),
    ("DELETE", "/keys/latest/projects/{projectKey}/repos/{repositorySlug}/ssh/{keyId}"): (
        "repo-admin", R_ADMIN_KEYS),
    ("PUT", "/keys/latest/projects/{projectKey}/repos/{repositorySlug}/ssh/{keyId}/permission/{permission}"): (
        "repo-admin", R_ADMIN_KEYS),
    ("GET", "/keys/latest/projects/{projectKey}/ssh"): ("project-admin", P_ADMIN_KEYS),
    ("POST", "/keys/latest/projects/{projectKey}/ssh"): ("project-admin", P_ADMIN_KEYS),
    ("GET", "/keys/latest/projects/{projectKey}/ssh/{keyId}"): ("project-admin", P_ADMIN_KEYS),
    ("DELETE", "/keys/latest/projects/{projectKey}/ssh/{keyId}"): ("project-admin", P_ADMIN_KEYS),
    ("PUT", "/keys/latest/projects/{projectKey}/ssh/{keyId}/permission/{permission}"): (
        "project-admin", P_ADMIN_KEYS),
    ("POST", "/branch-permissions/latest/projects/{projectKey}/repos/{repositorySlug}/restrictions"): (
        "repo-admin", "the other branch-permission writes state REPO_ADMIN"),
    ("POST", "/branch-permissions/latest/projects/{projectKey}/restrictions"): (
        "project-admin", "the other project branch-permission writes state PROJECT_ADMIN"),
    ("GET", "/api/latest/projects/{projectKey}/repos/{repositorySlug}/secret-scanning/exempt"): (
        "repo-admin", "secret-scanning configuration: the rest of the family states repository admin"),
    ("PUT", "/api/latest/projects/{projectKey}/repos/{repositorySlug}/secret-scanning/exempt"): (
        "repo-admin", "secret-scanning configuration: the rest of the family states repository admin"),
    ("DELETE", "/api/latest/projects/{projectKey}/repos/{repositorySlug}/secret-scanning/exempt"): (
        "repo-admin", "secret-scanning configuration: the rest of the family states repository admin"),
    ("GET", "/api/latest/projects/{projectKey}/secret-scanning/exempt"): (
        "project-admin", "secret-scanning configuration: the rest of the family states project admin"),
    ("POST", "/git/latest/projects/{projectKey}/repos/{repositorySlug}/pull-requests/{pullRequestId}/rebase"): (
        "repo-write", "REPO_READ on the target and REPO_WRITE on the source repository, which the path does not "
                      "name: the token must be able to write, so the need is repo-write on the named repository"),
    ("PUT", "/api/latest/projects/{projectKey}/settings/reviewer-groups/{id}"): (
        "project-admin", "the description states PROJECT_READ, which reads as an error: creating and deleting a "
                         "project reviewer group need PROJECT_ADMIN and updating a repository's needs REPO_ADMIN"),
    ("GET", "/api/latest/projects/{projectKey}/settings/auto-decline"): (
        "project-read", "reading a project setting; the project's other setting reads state PROJECT_READ or lower"),
}
for method in ("PUT", "DELETE"):
    for kind in ("commits/{commitId}", "pull-requests/{pullRequestId}"):
        OVERRIDES[(method, "/comment-likes/latest/projects/{projectKey}/repos/{repositorySlug}/" + kind +
                   "/comments/{commentId}/reactions/{emoticon}")] = (
            "repo-read", "a reaction is no more than a comment, which needs REPO_READ (the spec's createComment)")

# Configuration whose family states administration elsewhere.
for method, path in (("POST", "/condition"), ("PUT", "/condition/{id}"), ("DELETE", "/condition/{id}")):
    OVERRIDES[(method, "/default-reviewers/latest/projects/{projectKey}/repos/{repositorySlug}" + path)] = (
        "repo-admin", "default reviewer conditions are repository settings; the project's own writes need "
                      "project admin")
for path in ("repo-lock-owner", "repoSyncStatus"):
    OVERRIDES[("GET", "/mirroring/latest/supportInfo/projects/{projectKey}/repos/{repositorySlug}/" + path)] = (
        "sysadmin", "mirror farm support information, like the rest of supportInfo")

# Reads every signed-in user makes (IDE and CI integrations); Bitbucket answers
# them for the caller or filters them by what the caller may read.
for path, why in (
        ("/api/latest/application-properties", "the server's version and build: integrations check it first"),
        ("/api/latest/dashboard/pull-requests", "the caller's own pull requests"),
        ("/api/latest/dashboard/pull-request-suggestions", "the caller's own suggestions"),
        ("/api/latest/inbox/pull-requests", "the caller's own inbox"),
        ("/api/latest/inbox/pull-requests/count", "the caller's own inbox"),
        ("/api/latest/users/{userSlug}", "a user's public profile, like the user list (stated: authenticated)"),
        ("/api/latest/build/capabilities", "capability discovery by CI servers"),
        ("/api/latest/deployment/capabilities", "capability discovery by CI servers"),
        ("/api/latest/hooks/{hookKey}/avatar", "a hook's icon"),
        ("/build-status/latest/commits/{commitId}", "build results of a commit, filtered by repositories the user "
                                                    "may read; every token reads"),
        ("/build-status/latest/commits/stats/{commitId}", "build statistics of a commit; every token reads"),
        ("/jira/latest/issues/{issueKey}/commits", "commits of an issue, filtered by repositories the user may read")):
    OVERRIDES[("GET", path)] = ("authenticated", why)
OVERRIDES[("POST", "/build-status/latest/commits/stats")] = (
    "authenticated", "a read of build statistics for many commits (POST only to carry the list); every token reads")

# The default for an operation whose description states nothing (reviewed:
# see docs/rest-routes.md). Never more permissive than the family around it.
DEFAULT_NOTE = {
    "repo": "unstated: GET repo-read, any other method repo-write",
    "project": "unstated: GET project-read, any other method project-admin",
    "global": "unstated: sysadmin",
}

NEEDS = ("authenticated", "repo-read", "repo-write", "repo-admin", "project-read", "project-admin",
         "repo-fork", "sysadmin", "deny")
NEED_ENUM = {
    "authenticated": "Need::authenticated", "repo-read": "Need::repo_read", "repo-write": "Need::repo_write",
    "repo-admin": "Need::repo_admin", "project-read": "Need::project_read",
    "project-admin": "Need::project_admin", "repo-fork": "Need::repo_fork", "sysadmin": "Need::sysadmin",
    "deny": "Need::unrecognised_route",
}
METHOD_INDEX = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3, "PATCH": 4}


def plain_text(description):
    text = re.sub(r"<[^>]+>", " ", description)
    text = html.unescape(text).replace("**", " ")
    return re.sub(r"[ \t]+", " ", text)


# The clause stating the permission needed to call an operation, most
# specific form first. Each yields the text in which the first permission
# name is the one needed (for "must either: ... REPO_READ ...; or ...
# REPO_WRITE" the first alternative is the least one that may call).
NEED_CLAUSES = [
    r"(?:authenticated user|the user|user) must (?:be authenticated and )?(?:either )?(?:have)?\s*:?\s*"
    r"(.{0,600}?)(?:to call|\.\s|\.$|$)",
    r"this endpoint requires (.{0,80}?) permission",
    r"user must be authenticated and (?:either )?have (.{0,80}?) permission",
    r"must be have (.{0,40}?) permissions?",
]
AUTHENTICATED_CLAUSES = [
    r"only authenticated users may call",
    r"needs to be authenticated to use this resource",
    r"must be authenticated to access this resource",
    r"anonymously accessible",
    # A listing Bitbucket filters for the caller: anyone signed in may call it.
    r"only \w+ (?:for which|to which|that) the authenticated user has",
]


def stated_permission(description):
    """(permission, the sentence stating it) or (None, None)."""
    text = plain_text(description)
    if re.search(r"Only users authenticated as Admins may call", text):
        return "ADMIN", "Only users authenticated as Admins may call this resource"
    if re.search(r"sufficient permissions specified by the repository delete policy", text):
        # Bitbucket's default repository delete policy: repository admins.
        return "REPO_ADMIN", "sufficient permissions specified by the repository delete policy (default REPO_ADMIN)"
    for pattern in NEED_CLAUSES:
        for match in re.finditer(pattern, text, re.IGNORECASE | re.DOTALL):
            clause = match.group(1).replace("PROJECT ADMIN", "PROJECT_ADMIN")
            found = re.search(PERMISSION, clause)
            if found:
                return found.group(1), re.sub(r"\s+", " ", match.group(0)).strip()
    for word, perm in (("Repository Admin is required", "REPO_ADMIN"), ("Project Admin is required", "PROJECT_ADMIN")):
        if word in text:
            return perm, word
    for pattern in AUTHENTICATED_CLAUSES:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return "AUTHENTICATED", found.group(0)
    return None, None


def target_of(path):
    if "{projectKey}" in path and "{repositorySlug}" in path:
        return "repo"
    if "{projectKey}" in path:
        return "project"
    return "global"


def need_for(permission, target, method):
    """The module need for a stated permission (None: unstated)."""
    if permission is None:
        if target == "repo":
            return "repo-read" if method == "GET" else "repo-write"
        if target == "project":
            return "project-read" if method == "GET" else "project-admin"
        return "sysadmin"
    if permission in ("AUTHENTICATED", "LICENSED_USER", "LICENSED", "PROJECT_VIEW"):
        return "authenticated"
    if permission in ("ADMIN", "SYS_ADMIN", "PROJECT_CREATE"):
        return "sysadmin"
    if permission in ("REPO_READ", "REPO_VIEW"):
        return "repo-read" if target == "repo" else "authenticated"
    if permission in ("REPO_WRITE", "REPO_ADMIN"):
        if target != "repo":
            raise SystemExit(f"{permission} on a path naming no repository: add an override")
        return "repo-write" if permission == "REPO_WRITE" else "repo-admin"
    if permission in ("PROJECT_READ", "PROJECT_WRITE", "PROJECT_ADMIN", "REPO_CREATE"):
        if target == "global":
            raise SystemExit(f"{permission} on a path naming no project: add an override")
        return "project-read" if permission == "PROJECT_READ" else "project-admin"
    raise SystemExit(f"unmapped permission {permission}")


def segments_of(path):
    """The template's segments as (kind, text): literal, version, project,
    repo, param, suffix (a parameter followed by literal text, e.g.
    {pullRequestId}.diff) or tail (a trailing {path}: one or more segments)."""
    parts = path.strip("/").split("/")
    out = []
    for i, part in enumerate(parts):
        if i == 1 and part == "latest":
            out.append(("version", "latest"))
        elif part == "{projectKey}":
            out.append(("project", part))
        elif part == "{repositorySlug}":
            out.append(("repo", part))
        elif part == "{path}" and i == len(parts) - 1:
            out.append(("tail", part))
        elif re.fullmatch(r"\{\w+\}", part):
            out.append(("param", part))
        elif re.fullmatch(r"\{\w+\}[^{}]+", part):
            out.append(("suffix", part[part.index("}") + 1:]))
        elif "{" in part:
            raise SystemExit(f"unsupported template segment {part!r} in {path}")
        else:
            out.append(("literal", part))
    return out


def expand(path):
    """Templates as the module matches them: 'diff{path}' is 'diff' and 'diff/{path}'."""
    m = re.fullmatch(r"(.*/[^/{}]+)\{path\}", path)
    if m:
        return [m.group(1), m.group(1) + "/{path}"]
    return [path]


class Node:
    def __init__(self):
        self.literals = {}   # text -> Node
        self.suffixes = {}   # suffix text -> Node
        self.param = None    # (kind, Node)
        self.tail = None     # Node
        self.rules = {}      # method index -> rule index
        self.index = 0


def build(rules):
    root = Node()
    for index, rule in enumerate(rules):
        node = root
        for kind, text in rule["segments"]:
            if kind == "literal":
                node = node.literals.setdefault(text, Node())
            elif kind == "suffix":
                node = node.suffixes.setdefault(text, Node())
            elif kind == "tail":
                node.tail = node.tail or Node()
                node = node.tail
            else:
                if node.param is None:
                    node.param = (kind, Node())
                elif node.param[0] != kind:
                    raise SystemExit(f"conflicting parameter kinds at {rule['template']}")
                node = node.param[1]
        slot = METHOD_INDEX[rule["method"]]
        if slot in node.rules:
            raise SystemExit(f"duplicate route {rule['method']} {rule['template']}")
        node.rules[slot] = index
    return root


def literal_order(item):
    return (len(item[0]), item[0].lower())


def flatten(root):
    """Breadth-first node list; each node's literal and suffix children sorted."""
    nodes, queue = [], [root]
    while queue:
        node = queue.pop(0)
        node.index = len(nodes)
        nodes.append(node)
        for _, child in sorted(node.literals.items(), key=literal_order):
            queue.append(child)
        for _, child in sorted(node.suffixes.items()):
            queue.append(child)
        if node.param:
            queue.append(node.param[1])
        if node.tail:
            queue.append(node.tail)
    return nodes


def cpp_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_inc(rules, nodes, out):
    kinds = {"version": "Param::version", "project": "Param::project_key", "repo": "Param::repo_slug",
             "param": "Param::any"}
    edges = []  # (text, child)
    lines = []
    w = lines.append
    w("// Generated by tools/rest_routes/generate.py from Atlassian's OpenAPI description")
    w("// of the Bitbucket REST API (see docs/rest-routes.md). Do not edit: run `make routes`.")
    w("// clang-format off")
    w("")
    w("// One row per operation: method, template (under /rest), need, the permission")
    w("// Bitbucket states (empty: none stated), operationId, where the need comes from.")
    w(f"inline constexpr RestRouteInfo kRestRoutes[{len(rules)}] = {{")
    for rule in rules:
        w(f"    {{{cpp_string(rule['method'])}, {cpp_string(rule['template'])}, {NEED_ENUM[rule['need']]}, "
          f"{cpp_string(rule['stated'] or '')}, {cpp_string(rule['operationId'])}, "
          f"RestRouteInfo::Basis::{rule['basis']}}},")
    w("};")
    w("")
    node_rows = []
    for node in nodes:
        lit_begin = len(edges)
        # Sorted by length, then ignoring case: the classifier binary-searches
        # them that way (most probes then stop at the length).
        lowered = [text.lower() for text in node.literals]
        if len(set(lowered)) != len(lowered):
            raise SystemExit(f"literals differing only in case: {sorted(node.literals)}")
        for text, child in sorted(node.literals.items(), key=literal_order):
            edges.append((text, child.index))
        lit_end = len(edges)
        for text, child in sorted(node.suffixes.items()):
            edges.append((text, child.index))
        sfx_end = len(edges)
        param_kind, param = ("Param::none", 0) if node.param is None else (kinds[node.param[0]],
                                                                           node.param[1].index)
        tail = node.tail.index if node.tail else 0
        route = [str(node.rules.get(i, -1)) for i in range(len(METHOD_INDEX))]
        node_rows.append(f"    {{{lit_begin}, {lit_end}, {sfx_end}, {param_kind}, {param}, {tail}, "
                         f"{{{', '.join(route)}}}}},")
    w("// The tree: literal children [literal_begin, literal_end) and suffix children")
    w("// [literal_end, suffix_end) of kRestEdges; at most one parameter and one tail")
    w("// child (0: none; node 0 is the root, never a child); the route per method")
    w("// (GET, POST, PUT, DELETE, PATCH; -1: none).")
    w(f"inline constexpr RestEdge kRestEdges[{len(edges)}] = {{")
    for text, child in edges:
        w(f"    {{{cpp_string(text)}, {child}}},")
    w("};")
    w("")
    w(f"inline constexpr RestNode kRestNodes[{len(nodes)}] = {{")
    lines.extend(node_rows)
    w("};")
    w("// clang-format on")
    out.write("\n".join(lines) + "\n")


# The figures of docs/rest-routes.md#cost, as measured by
# bench/route_compare.py (not computed here): the classifier before the table
# (c8b5767, the parent of 74dd9dc), the table, and c8b5767's classifier with
# this tree's segment splitter. To re-measure, run the commands in that
# section and replace these rows.
COST_SITTING = ("2026-12-02, 04:59-05:03 UTC, table at 1881406; Intel Xeon, 2 cores shared with",
                "three other agents building and testing (load average 5.2-6.4)")
COST_ROWS = [
    # case, request, answer before, answer of the table, instructions (before, table, before with
    # the new splitter), CPU ns medians (same order), median of the rounds' ns ratios (table,
    # before with the new splitter) to before
    ("commits", "GET /rest/api/1.0/projects/WORK/repos/my-repo/commits", "repo-read", "repo-read",
     (2872, 3251, 2014), (244, 186, 95), (0.95, 0.46)),
    ("browse_deep", "GET /bitbucket/rest/api/latest/projects/WORK/repos/my-repo/browse/src/main/java/App.java",
     "repo-read", "repo-read", (4262, 4035, 2853), (350, 300, 150), (0.73, 0.44)),
    ("pr_merge", "POST /rest/api/1.0/projects/WORK/repos/my-repo/pull-requests/42/merge", "repo-write",
     "repo-write", (3473, 4038, 2404), (275, 241, 123), (0.95, 0.52)),
    ("hook_enable", "PUT /rest/api/1.0/projects/WORK/repos/my-repo/settings/hooks/com.example:hook/enabled",
     "repo-admin", "repo-admin", (4072, 4587, 2739), (329, 300, 136), (0.90, 0.41)),
    ("project", "GET /rest/api/1.0/projects/WORK", "project-read", "authenticated", (1750, 1822, 1244),
     (124, 110, 59), (0.97, 0.54)),
    ("unrecognised", "GET /rest/api/1.0/no/such/route", "unrecognised", "unrecognised", (1499, 1427, 952),
     (100, 70, 44), (0.70, 0.44)),
    ("pr_comment_reaction",
     "PUT /rest/comment-likes/1.0/projects/WORK/repos/my-repo/pull-requests/42/comments/7/reactions/thumbsup",
     "unrecognised", "repo-read", (3732, 5192, 2186), (330, 307, 115), (0.92, 0.33)),
]
COST_MIX = ((248, 216, 106), (0.88, 0.45))  # the seven in turn: ns medians, ratios
COST_GIT = ((4297, 3807, 3806), (274, 201, 197), (0.77, 0.76))  # classify_git_request, info/refs
# The table's instructions after the walk was reworked for issue 11 (compare
# lengths first and fold only differing bytes, a lighter walk result, the path
# checked in one pass): route_rest.cpp at e48f40c, same compiler and flags,
# `bench/route_compare.py` beside c8b5767's build (whose counts above it
# reproduced exactly). Instructions only: callgrind's counts do not move with
# the load; the ns above are the earlier sitting's.
COST_NOW_AT = "e48f40c, 2026-12-02 05:24 UTC"
COST_NOW = {"commits": 2173, "browse_deep": 2645, "pr_merge": 2668, "hook_enable": 2989, "project": 1235,
            "unrecognised": 959, "pr_comment_reaction": 3253}
COST_RULES_NS = 235  # the table, `commits` behind ten sysadmin rules that do not match
# A second sitting right after (05:03-05:06 UTC, load average 6.0-9.3): table ÷ before, ns.
COST_SECOND_SITTING = {"commits": 0.97, "browse_deep": 0.77, "pr_merge": 1.01, "hook_enable": 0.95, "project": 1.03,
                       "unrecognised": 0.66, "pr_comment_reaction": 1.10}


def write_cost(w):
    w("## Cost")
    w()
    w("The table is a tree of path segments walked once per request without allocation; literal children")
    w("are binary-searched. Issue 11 asked that it cost no more than the classifier it replaced: the")
    w("hand-written chain of commit c8b5767 (the parent of 74dd9dc), which knew only")
    w("`/rest/api/{1.0|latest}/projects/...` and decided from the first segment below the project or")
    w("repository. Both were measured on the cases of `bench/route_bench.cpp`, the one bench source")
    w("linked against each, same compiler and flags, in one sitting:")
    w()
    w("- **instructions** per call under callgrind, counted inside the classifier only: exact, the same")
    w("  on every run;")
    w("- **CPU ns** per call (Google Benchmark), before and table alternated per benchmark for 7 rounds:")
    w("  the median of the rounds, and the median of the rounds' ratios.")
    w()
    w(f"Sitting: {COST_SITTING[0]}")
    w(f"{COST_SITTING[1]}.")
    w()
    w("The ns are noisy: one build's figure for one case moved by up to 2× between rounds, and ratios")
    w("of whole runs earlier the same hour ranged more widely still. Read the ns for their direction and")
    w("the instructions for the amount.")
    w()
    w("Instructions are given twice for the table: as it was in that sitting (1881406), and as it is")
    w(f"since the walk was reworked for issue 11 (\"now\": {COST_NOW_AT}; how, below).")
    w()
    w("| case | request | answer: before → table | instructions: before | table | table ÷ before "
      "| table now | now ÷ before | ns: before | table | table ÷ before |")
    w("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case, request, before, after, ir, ns, ratio in COST_ROWS:
        now = COST_NOW[case]
        w(f"| {case} | `{request}` | {before} → {after} | {ir[0]:,} | {ir[1]:,} | {ir[1] / ir[0]:.2f} "
          f"| {now:,} | {now / ir[0]:.2f} | {ns[0]} | {ns[1]} | {ratio[0]:.2f} |")
    mean = [round(sum(row[4][i] for row in COST_ROWS) / len(COST_ROWS)) for i in range(3)]
    mean_now = round(sum(COST_NOW.values()) / len(COST_NOW))
    w(f"| mix | the seven in turn | | {mean[0]:,} (mean) | {mean[1]:,} (mean) | {mean[1] / mean[0]:.2f} "
      f"| {mean_now:,} (mean) | {mean_now / mean[0]:.2f} "
      f"| {COST_MIX[0][0]} | {COST_MIX[0][1]} | {COST_MIX[1][0]:.2f} |")
    ir, ns, ratio = COST_GIT
    w(f"| git (`classify_git_request`) | `GET /scm/WORK/my-repo.git/info/refs?service=git-upload-pack` "
      f"| repo-read → repo-read | {ir[0]:,} | {ir[1]:,} | {ir[1] / ir[0]:.2f} | {ir[1]:,} | {ir[1] / ir[0]:.2f} "
      f"| {ns[0]} | {ns[1]} | {ratio[0]:.2f} |")
    w()
    shared = [row for row in COST_ROWS if row[2] != "unrecognised" or row[3] == "unrecognised"]
    more = [row for row in shared if row[4][1] > row[4][0]]
    slower = [row for row in shared if row[6][0] > 1]
    reaction = next(row for row in COST_ROWS if row[0] == "pr_comment_reaction")
    commits = next(row for row in COST_ROWS if row[0] == "commits")
    second = [COST_SECOND_SITTING[row[0]] for row in shared]
    even = [row[0] for row in shared if COST_SECOND_SITTING[row[0]] > 1 or row[6][0] > 1]
    fewer_now = [row for row in shared if COST_NOW[row[0]] < row[4][0]]
    w(f"- **Instructions now: fewer on {len(fewer_now)} of the {len(shared)} shared cases**")
    w(f"  ({', '.join(f'{row[0]} {COST_NOW[row[0]] / row[4][0] - 1:.0%}' for row in shared)}),")
    w(f"  and on `pr_comment_reaction` ({COST_NOW[reaction[0]]:,} against {reaction[4][0]:,}), which the old "
      "classifier refused.")
    w(f"  Against the table at 1881406: {', '.join(f'{COST_NOW[row[0]] / row[4][1] - 1:.0%}' for row in COST_ROWS)}")
    w("  on the seven cases in the table's order. Where the instructions went, per `callgrind_annotate`:")
    w("  the path was scanned twice before the walk (forbidden bytes, then slashes; 952 of the 3,251 on")
    w("  `commits`), now once with one table look-up per byte; the literal compare folded every byte")
    w("  pair of two equal-length words through `ascii::lower`, now only a pair that differs as sent;")
    w("  each level of the walk copied a 40-byte result, now it returns the node and keeps the project")
    w("  and slug in one place. Same decisions: `build/unit_tests` walks all 503 rows as before.")
    w(f"- **Time: not more, within the noise.** On the {len(shared)} cases both classifiers answer, the "
      "table took less")
    w(f"  time than the classifier it replaced ({', '.join(f'{row[6][0]:.2f}' for row in shared)}; "
      f"{len(slower) or 'none'} slower).")
    w(f"  A second sitting right after, at a load average up to 9, gave {', '.join(f'{r:.2f}' for r in second)}:")
    w(f"  {' and '.join(f'`{c}`' for c in even)} are level within the noise, the others take less time.")
    w(f"- **Instructions at 1881406: more on {len(more)} of those {len(shared)}** "
      f"({', '.join(f'{row[0]} +{row[4][1] / row[4][0] - 1:.0%}' for row in more)}),")
    w("  fewer on the others (" + ", ".join(f"{row[0]} {row[4][1] / row[4][0] - 1:.0%}" for row in shared
                                       if row not in more) + ").")
    w(f"  `pr_comment_reaction` is not like for like: the old classifier knew no route outside `/rest/api`")
    w(f"  and refused it ({reaction[4][0]:,}: it still checks every segment of the path first);")
    w(f"  the table walks it to its row ({reaction[4][1]:,}, +{reaction[4][1] / reaction[4][0] - 1:.0%}; ns "
      f"{reaction[6][0]:.2f} and {COST_SECOND_SITTING[reaction[0]]:.2f} of the old in the two sittings).")
    w("- **Why (the likely cause).** The old chain compared a handful of fixed keywords and stopped at the")
    w("  first segment below the repository (`commits`, `pull-requests`, `settings`); the table walks every")
    w("  segment to the exact row (`pull-requests/{pullRequestId}/merge`, `settings/hooks/{hookKey}/enabled`),")
    w("  binary-searching each node's literal edges case-insensitively, trying suffixed parameters and")
    w("  parameters, and checking the project key and slug. Its time is lower anyway because the same series")
    w("  replaced the segment splitter (e78a6bc): the old chain found each `/` with `memchr` (a call per")
    w("  segment into libc's vector routine, 41% of its instructions on `commits`), the table with a plain")
    w("  loop that takes more instructions per byte but less time on segments a few bytes long. That is why")
    w("  the instructions and the ns disagree.")
    w("- **The walk itself costs more than the old chain would.** c8b5767's classifier rebuilt with this")
    w(f"  tree's splitter takes {commits[4][2]:,} instructions and {commits[5][2]} ns on `commits` "
      f"(table {commits[4][1]:,} and {commits[5][1]}),")
    lo = min(row[6][1] for row in shared)
    hi = max(row[6][1] for row in shared)
    w(f"  and {lo:.2f}-{hi:.2f} of the old classifier's time on those cases, where the table takes "
      f"{min(row[6][0] for row in shared):.2f}-{max(row[6][0] for row in shared):.2f}.")
    extra_ir = [row[4][1] - row[4][2] for row in shared]
    extra_ns = [row[5][1] - row[5][2] for row in shared]
    w(f"  On the {len(shared)} shared cases the walk takes {min(extra_ir):,}-{max(extra_ir):,} instructions "
      f"and {min(extra_ns)}-{max(extra_ns)} ns more")
    w("  per request than that chain, for 503 routes each at its own permission instead of a few coarse")
    w("  rules over `/rest/api/.../projects`. For scale, accepting a token (`Store::decide`) takes about")
    w("  8,100 instructions ([bench/RESULTS.md](../bench/RESULTS.md)).")
    extra_now = [COST_NOW[row[0]] - row[4][2] for row in shared]
    w(f"  Now the walk takes {min(extra_now):+,} to {max(extra_now):+,} instructions against that chain "
      "on those cases.")
    w(f"- git: `classify_git_request` did not change; its {1 - COST_GIT[0][1] / COST_GIT[0][0]:.0%} fewer "
      "instructions are the splitter alone")
    w(f"  (c8b5767's with the new splitter: {COST_GIT[0][2]:,}).")
    w("- Ten sysadmin rules in front that do not match (`make bench-routes`, table only): `commits`")
    w(f"  {COST_RULES_NS} ns against {commits[5][1]}.")
    w()
    w("Today's figures: `make bench-routes-ir` (instructions per case, `bench/route_compare.py`; needs")
    w("valgrind) and `make bench-routes` (ns). Both side by side, from the top of the tree, the old")
    w("classifier taken from git history into a directory outside it:")
    w()
    w("```sh")
    w('O=/tmp/old-classifier F="-O2 -g -std=c++20 -Wall -Wextra -Werror -fPIC -fvisibility=hidden"')
    w("mkdir -p $O && git archive c8b5767 include src/core | tar -x -C $O")
    w("# (c8b5767's classifier with this tree's splitter: cp src/core/request/path_segments.hpp $O/src/core/request/)")
    w("for f in request/route_rest request/route_git names permission; do")
    w("    g++ $F -I$O/include -c $O/src/core/$f.cpp -o $O/${f#request/}.o")
    w("done")
    w("g++ $F -I$O/include -o $O/route_bench bench/route_bench.cpp $O/*.o -lbenchmark -pthread")
    w("make build/bench/route_bench")
    w("bench/route_compare.py old=$O/route_bench new=build/bench/route_bench --ns-rounds 7")
    w("```")
    w()


def md_escape(text):
    return text.replace("|", "\\|")


def write_doc(spec, rules, skipped, out):
    w = lambda s="": out.write(s + "\n")
    w("# REST routes")
    w()
    w("<!-- Generated by tools/rest_routes/generate.py (`make routes`). Do not edit by hand. -->")
    w()
    w("`auth_pat_route rest` decides every request under `.../rest/` by this table. It is generated from")
    w(f"Atlassian's OpenAPI description of the Bitbucket REST API ({spec['title']} {spec['version']}, the copy")
    w("at `src/server/openapi/swagger.v3.json` in the public repository `coderabbitai/bitbucket`), from the")
    w("permission each operation's description states is needed **to call** it.")
    w()
    w("## Source, and why a reduced copy of it is checked in")
    w()
    w("`tools/rest_routes/bitbucket-operations.json` holds, for each operation of that description, only its")
    w("method, path, operationId and description text (about 230 kB of the 1.6 MB file); `tools/rest_routes/")
    w("extract.py` makes it from the full description. It is checked in so that `make routes` is reproducible")
    w("offline and a review can see exactly which statement produced which row; the build itself needs")
    w("neither it nor the generator, since the generated `src/core/request/rest_table.inc` is checked in too.")
    w("No code of that repository is copied. To move to a newer description:")
    w("`make routes SPEC=path/to/swagger.v3.json`, then review the diff of this file.")
    w()
    w("## How a request is matched")
    w()
    w("- The first path segment `rest` starts the route; anything before it is a context path")
    w("  (`/bitbucket/rest/api/1.0/...`). The version segment is `latest` or `1.0` for every family.")
    w("- Templates match segment by segment: a parameter such as `{commitId}` is exactly one non-empty")
    w("  segment (never a `/`); `{projectKey}` must be a valid project key (or `~user`) and `{repositorySlug}`")
    w("  a valid slug, otherwise the template does not match. Only a trailing `{path}` (a file path, as")
    w("  in `browse/{path}`) takes one or more segments. A literal segment wins over a parameter. Literals")
    w("  match ignoring ASCII case (a variant gets the canonical spelling's need), except where a parameter")
    w("  could take the same segment: a case variant there is refused, since a case-sensitive server would")
    w("  route it to the parameter and a case-insensitive one to the literal.")
    w("- The path picks the template first, then the method: HEAD is decided as GET; a method the")
    w("  template does not have is unrecognised.")
    w("- Anything no template matches is unrecognised: the token is authenticated (a bad one gets 401)")
    w("  and the request is refused with 403. The raw request line is checked first (no encoded `/`,")
    w("  `\\`, `;`, dot segments): 400.")
    w("- Rules a sysadmin adds with `auth_pat_rest_rule` are evaluated before this table; see")
    w("  [Adding rules](#adding-rules).")
    w()
    w("## From Bitbucket's permissions to the module's needs")
    w()
    w("| Bitbucket states | Need | Meaning for a token |")
    w("|---|---|---|")
    w("| REPO_READ, REPO_VIEW | repo-read | any token (every token reads), user may read the repository |")
    w("| REPO_WRITE | repo-write | repository write or admin token, user may write |")
    w("| REPO_ADMIN | repo-admin | repository admin token, user administers the repository |")
    w("| PROJECT_READ | project-read | any token, user may read the project |")
    w("| PROJECT_ADMIN, REPO_CREATE | project-admin | project admin token, user administers the project |")
    w("| PROJECT_VIEW, LICENSED_USER, \"only authenticated users\" | authenticated | any valid token of an active user; Bitbucket filters the answer |")
    w("| ADMIN, SYS_ADMIN, PROJECT_CREATE | sysadmin | the user is a sysadmin **and** the token is at its highest level (project admin, hence repository admin) |")
    w("| (fork) | repo-fork | project admin token, user may read the source repository |")
    w()
    w("A repository permission on a path that names no repository (e.g. `GET /rest/build-status/latest/commits/{commitId}`)")
    w("can only be checked at the token; REPO_READ is held by every token, so such routes need `authenticated`")
    w("and Bitbucket checks the user. A sentence about what administrators may *additionally* do (delete")
    w("other users' comments, act for another user) is not the need to call: the backend enforces it.")
    w()
    w("**Sysadmin and tokens.** Bitbucket's personal access tokens carry only project and repository")
    w("levels; Atlassian documents no separate global-admin scope for them (the request for one is BSERV-10482),")
    w("and states that a token restricts what its user can do, never extends it. The module therefore")
    w("lets a token reach a global administration endpoint only when its user is a sysadmin (`patctl user")
    w("add --sysadmin`) and the token itself is at the highest level the model has (project admin, which")
    w("implies repository admin). A read or write token of a sysadmin is refused there. The store has one")
    w("global flag, so Bitbucket's ADMIN, SYS_ADMIN and PROJECT_CREATE all map to it (the stricter reading).")
    w()
    w("**Operations whose description states nothing** get, unless reviewed below: on a repository path GET")
    w("repo-read and any other method repo-write; on a project path GET project-read and any other method")
    w("project-admin; anywhere else sysadmin. Each was reviewed against the stated operations of its")
    w("family: where those state administration, the row is reviewed to that level (the Basis column says")
    w("why). A sysadmin who knows a backend needs less adds a rule.")
    w()
    counts = {}
    for rule in rules:
        counts[rule["basis"]] = counts.get(rule["basis"], 0) + 1
    w(f"Operations: {len(rules)} routes from {spec['version']}'s description "
      f"({counts.get('stated', 0)} as stated, {counts.get('reviewed', 0)} reviewed, "
      f"{counts.get('unstated', 0)} unstated with the default); {skipped} operations under "
      f"`/access-tokens` are left unrecognised (a token never manages tokens).")
    w()
    w("## Checked against the statements")
    w()
    w("`tests/unit/route_rest_test.cpp` walks every row: it builds a request from the template (with and")
    w("without a context path, `latest` and `1.0`, a personal project), checks that the classifier picks that")
    w("very row, and decides it for tokens at read, write, repo-admin and project-admin level against the")
    w(f"permission Bitbucket states. All {counts.get('stated', 0)} rows decided from a statement agree with it")
    w("exactly, and no row (reviewed ones included) lets a token below the stated level through.")
    w()
    write_cost(w)
    w("## The table")
    w()
    w("Paths are under `/rest` (any context path before it); `latest` may be written `1.0`.")
    w()
    families = {}
    for rule in rules:
        family = rule["template"].strip("/").split("/")[0]
        families.setdefault(family, []).append(rule)
    for family in sorted(families):
        w(f"### {family}")
        w()
        w("| Method | Path | Need | Bitbucket states | Basis | operationId |")
        w("|---|---|---|---|---|---|")
        for rule in sorted(families[family], key=lambda r: (r["template"], METHOD_INDEX[r["method"]])):
            basis = rule["basis"] if rule["basis"] != "reviewed" else "reviewed: " + rule["note"]
            w(f"| {rule['method']} | `{md_escape(rule['template'])}` | {rule['need']} | "
              f"{rule['stated'] or '—'} | {md_escape(basis)} | {rule['operationId']} |")
        w()
    w("## Adding rules")
    w()
    w("For endpoints of other backends or plugins, or where a site wants a different need, a sysadmin adds")
    w("rules in the location (they apply before the built-in table, first matching rule wins):")
    w()
    w("```nginx")
    w("location /rest/ {")
    w("    auth_pat_route rest;")
    w("    auth_pat_rest_rule GET \"/rest/myplugin/latest/projects/{projectKey}/status\" project-read;")
    w("    auth_pat_rest_rule PUT")
    w("        \"/rest/insights/latest/projects/{projectKey}/repos/{repositorySlug}/commits/{commitId}/reports/{key}\"")
    w("        repo-read;")
    w("    auth_pat_rest_rule * /rest/internal/** deny;")
    w("    ...")
    w("}")
    w("```")
    w()
    w("Quote a template that holds `{`: nginx's configuration syntax would otherwise read it as a block.")
    w()
    w("- METHOD: `GET` (also decides HEAD), `POST`, `PUT`, `DELETE`, `PATCH`, or `*` for any of them.")
    w("- PATH-TEMPLATE: starts with `/rest/`, matched after the context path like the table: `{projectKey}`")
    w("  and `{repositorySlug}` name the target (validated), any other `{name}` is one segment, a final")
    w("  `**` takes one or more segments; literals match exactly (case-sensitive). A version segment")
    w("  written `latest` also matches `1.0`.")
    w("- NEED: `authenticated`, `repo-read`, `repo-write`, `repo-admin`, `project-read`, `project-write`,")
    w("  `project-admin`, `repo-fork`, `sysadmin` or `deny`. A repository need requires both `{projectKey}`")
    w("  and `{repositorySlug}` in the template, a project need `{projectKey}`; `nginx -t` refuses a rule")
    w("  that breaks this, an unknown method or need, or a malformed template.")
    w("- Rules are inherited by nested locations that define none, like other array directives.")
    w()
    w("`patctl route --method POST --path /rest/api/latest/projects/PRJ/repos/r/pull-requests` prints the need")
    w("the module gives and the row it comes from (method, template, operationId, what Bitbucket states);")
    w("`--rules FILE` evaluates a sysadmin's rules first, as the module does: one rule a line, `METHOD")
    w("TEMPLATE NEED` or `auth_pat_rest_rule` lines copied from nginx.conf (one line each), `#` comments. It needs")
    w("no store. `patctl check --need sysadmin` decides a token against a global administration route.")


def main():
    # --out DIR: write DIR/src/core/request/rest_table.inc and
    # DIR/docs/rest-routes.md instead of the checked-in files.
    out_inc, out_doc = OUT_INC, OUT_DOC
    if sys.argv[1:2] == ["--out"] and len(sys.argv) == 3:
        out_inc = os.path.join(sys.argv[2], os.path.relpath(OUT_INC, ROOT))
        out_doc = os.path.join(sys.argv[2], os.path.relpath(OUT_DOC, ROOT))
    elif len(sys.argv) != 1:
        raise SystemExit("usage: generate.py [--out DIR]")
    with open(SPEC, encoding="utf-8") as f:
        spec = json.load(f)
    rules, skipped = [], 0
    for op in spec["operations"]:
        if op["path"].startswith(SKIPPED_PREFIXES):
            skipped += 1
            continue
        stated, sentence = stated_permission(op["description"])
        target = target_of(op["path"])
        override = OVERRIDES.get((op["method"], op["path"]))
        if override:
            need, note, basis = override[0], override[1], "reviewed"
        else:
            need = need_for(stated, target, op["method"])
            note, basis = (sentence, "stated") if stated else (DEFAULT_NOTE[target], "unstated")
        for template in expand(op["path"]):
            rules.append({
                "method": op["method"], "template": template, "need": need, "operationId": op["operationId"],
                "stated": stated or "",
                "statement": stated, "note": note, "basis": basis, "segments": segments_of(template),
            })
    # Every override must still name an operation of the description.
    known = {(op["method"], op["path"]) for op in spec["operations"]}
    for key in OVERRIDES:
        if key not in known:
            raise SystemExit(f"override for an unknown operation: {key}")
    root = build(rules)
    nodes = flatten(root)
    inc, doc = io.StringIO(), io.StringIO()
    write_inc(rules, nodes, inc)
    write_doc(spec, rules, skipped, doc)
    for path, text in ((out_inc, inc.getvalue()), (out_doc, doc.getvalue())):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Unchanged outputs keep their time stamps: nothing rebuilds.
        if os.path.exists(path) and open(path, encoding="utf-8").read() == text:
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    shown = [os.path.relpath(p, ROOT) if p in (OUT_INC, OUT_DOC) else p for p in (out_inc, out_doc)]
    print(f"{len(rules)} routes, {len(nodes)} nodes -> {shown[0]}, {shown[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
