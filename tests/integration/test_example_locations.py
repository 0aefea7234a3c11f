"""Every regex location in nginx-conf-examples/ still catches a path holding
an encoded newline (issue 10, item 5). `%0A` decodes to "\\n" in $uri, which
PCRE's "." does not match without (?s): `/scm/WORK/my-repo.git%0a/info/refs`
then matched no location of the example's shape, fell through to another
one, and the module never ran.

Each example's own `location ~ ...` line is copied into a server of its own
next to a catch-all location that answers "fell through"; the request must be
decided by the module (400/401/403), never fall through."""

import os
import re

import pytest

from harness import REPO_ROOT, Nginx, Patctl, curl, free_port, load_module_line

EXAMPLES = REPO_ROOT / "nginx-conf-examples"
REGEX_LOCATION = re.compile(r"^\s*location ~ (\S+) \{", re.M)

# A request path per regex, with an encoded newline inside a segment.
PATHS = {
    "/bitbucket/scm": "/bitbucket/scm/WORK/my-repo.git%0a/info/refs?service=git-upload-pack",
    "/scm": "/scm/WORK/my-repo.git%0a/info/refs?service=git-upload-pack",
    "/hooks/status": "/hooks/status/WORK/my%0a-repo",
}

# The regex the examples had before: the request really falls through there.
OLD_GIT_REGEX = "^/scm(/.*)$"


def example_locations():
    found = []
    for path in sorted(EXAMPLES.glob("*.conf")):
        for regex in REGEX_LOCATION.findall(path.read_text()):
            found.append((path.name, regex))
    return found


def request_path(regex):
    for prefix, path in PATHS.items():
        if prefix in regex:
            return path
    raise AssertionError(f"no test path for the example regex {regex}")


CASES = example_locations() + [("(the old shape)", OLD_GIT_REGEX)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    root = tmp_path_factory.mktemp("example_locations")
    store = root / "store" / "pat.db"
    store.parent.mkdir()
    Patctl(store).init()
    ports = {case: free_port() for case in CASES}
    blocks = ""
    for case, port in ports.items():
        blocks += f"""
    server {{
        listen 127.0.0.1:{port};
        auth_pat_db {store};
        location ~ {case[1]} {{
            auth_pat "Example";
            try_files /ok.txt =404;
        }}
        location / {{
            return 200 "fell through\\n";
        }}
    }}
"""
    prefix = root / "nginx"
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = f"""
{load_module_line()}
{user}
worker_processes 1;
error_log {prefix}/logs/error.log info;
pid {prefix}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    proxy_temp_path {prefix}/tmp/proxy;
    scgi_temp_path {prefix}/tmp/scgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    root {prefix}/html;
{blocks}
}}
"""
    nginx = Nginx(prefix, conf, list(ports.values()))
    (prefix / "html" / "ok.txt").write_text("ok\n")
    nginx.start()
    try:
        yield ports
    finally:
        nginx.stop()
    assert not nginx.log_problems()


def test_every_example_with_a_git_location_was_found():
    names = {name for name, _ in example_locations()}
    assert {"git-http-backend.conf", "bitbucket-layout.conf", "tls.conf",
            "patd.conf", "production.conf", "git-spawn-fcgi.conf"} <= names


@pytest.mark.parametrize("case", example_locations(), ids=lambda c: f"{c[0]}:{c[1]}")
def test_an_encoded_newline_still_reaches_the_module(servers, case):
    port = servers[case]
    response = curl(f"http://127.0.0.1:{port}{request_path(case[1])}")
    assert response.body != "fell through\n"
    assert response.status in (400, 401, 403)
    # And an ordinary request to the same location is decided too.
    plain = request_path(case[1]).replace("%0a", "")
    assert curl(f"http://127.0.0.1:{port}{plain}").status == 401


def test_the_old_shape_fell_through(servers):
    # Shows that the request above means something.
    port = servers[("(the old shape)", OLD_GIT_REGEX)]
    response = curl(f"http://127.0.0.1:{port}{PATHS['/scm']}")
    assert response.body == "fell through\n"
