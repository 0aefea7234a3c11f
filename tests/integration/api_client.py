"""Helpers for the token-management API tests: requests with the real curl,
and the nginx configuration that passes the API to patd."""

import json
import random
import re
import subprocess
import time

from harness import PASSWORD, REPO_ROOT, curl

# The API's locations of nginx-conf-examples/patd.conf as they are written
# there (proxy_pass to patd, the client's address in X-Real-IP, the 64k body
# cap), pointed at the deployment's patd, plus the same under a context path
# (/bitbucket). A test module that uses it gets a patd of its own on
# @PATD_SOCKET@ (conftest.py).
_EXAMPLE = (REPO_ROOT / "nginx-conf-examples" / "patd.conf").read_text()
_LOCATIONS = (_EXAMPLE[_EXAMPLE.index("    location /rest/access-tokens/"):
                       _EXAMPLE.index("    # The account page")]
              .replace("http://patd;", "http://unix:@PATD_SOCKET@;"))
_TOKENS_LOCATION = _LOCATIONS[:_LOCATIONS.index("    # Bitbucket's own path")]
API_SERVER = (_LOCATIONS + _TOKENS_LOCATION.replace("location /rest/access-tokens/",
                                                    "location /bitbucket/rest/access-tokens/"))
assert API_SERVER.count("proxy_pass http://unix:@PATD_SOCKET@;") == 3, API_SERVER
assert API_SERVER.count("proxy_set_header X-Real-IP $remote_addr;") == 3, API_SERVER


def patd_location(prefix, *directives):
    """One more location passing the API to patd, with directives of its own
    (e.g. client_body_buffer_size) and without the example's body cap."""
    lines = "\n".join(f"    {d};" for d in directives)
    return f"""
location {prefix} {{
{lines}
    proxy_pass http://unix:@PATD_SOCKET@;
    proxy_set_header Host $http_host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For "";
}}
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


def deployment_logs(deployment):
    """Everything nginx and patd logged: where no token text or password may be."""
    return (deployment.nginx.error_log.read_text(errors="replace") +
            deployment.nginx.access_log.read_text(errors="replace") + deployment.patd.text())


def notice_lines(deployment, text):
    """patd's audit lines (notice, on its stderr) that contain text."""
    return deployment.patd.notice_lines(text)


def api_admitted(deployment, method, path, timeout=60, **kwargs):
    """api(), repeated while patd asks to come back in a second: 503 (every
    password-check place taken) or 429 with Retry-After: 1 (the user's fair
    share of checks, or only sign-ins in flight filling the budget). What a
    client honouring Retry-After does. Returns the first other answer and
    the statuses seen before it."""
    deadline = time.monotonic() + timeout
    waits = []
    while True:
        response = api(deployment, method, path, **kwargs)
        retry = response.header_values("Retry-After")
        if (response.status not in (429, 503) or retry != ["1"]
                or time.monotonic() > deadline):
            response.waits = waits
            return response
        waits.append(response.status)
        time.sleep(1 + random.uniform(0, 0.3))  # not all at once again
