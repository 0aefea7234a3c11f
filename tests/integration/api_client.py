"""Helpers for the token-management API tests: requests with the real curl,
and the nginx configuration that serves the API."""

import json
import re
import subprocess

from harness import PASSWORD, curl

# Served by the module itself; the page's e2e test expects the same paths.
API_SERVER = """
location /rest/access-tokens/ { auth_pat_api; }
location = /rest/api/1.0/users/credentials { auth_pat_api; }
location /bitbucket/rest/access-tokens/ { auth_pat_api "Bitbucket"; }
"""


def tokens_path(user, version="1.0", context=""):
    return f"{context}/rest/access-tokens/{version}/users/{user}"


def api(deployment, method, path, user=None, password=PASSWORD, body=None, headers=(), extra=()):
    """One API request with curl; body is JSON (a dict/list) or raw text."""
    args = []
    if user is not None:
        args += ["-u", f"{user}:{password}"]
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        args += ["-H", "Content-Type: application/json", "--data-binary", text]
    for header in headers:
        args += ["-H", header]
    return curl(deployment.url(path), *args, *extra, method=None if method == "GET" else method)


def error_message(response):
    return response.json()["errors"][0]["message"]


def git_refs_status(deployment, user, token_text, project="WORK", slug="my-repo.git"):
    """The status git's first request gets with this token (200: it may read)."""
    return curl(deployment.url(f"/scm/{project}/{slug}/info/refs?service=git-upload-pack"),
                "-u", f"{user}:{token_text}").status


def last_txn_id(store_path):
    """LMDB's last committed transaction id, from the real mdb_stat."""
    out = subprocess.run(["mdb_stat", "-n", "-e", str(store_path)], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    return int(re.search(r"Last transaction ID: (\d+)", out).group(1))


def notice_lines(deployment, text):
    log = deployment.nginx.error_log.read_text(errors="replace")
    return [line for line in log.splitlines() if "[notice]" in line and text in line]
