"""Every example of nginx-conf-examples/ does what it is for, run as written:
each file is included in the http block of a real nginx (as Debian's
nginx.conf includes a site), loaded by mod-http-auth-pat.conf, and driven
with the real git and curl: clones and pushes, REST calls, the token API
through to patd, the account page, TLS with HSTS on every answer and the
page's Content-Security-Policy.

What the tests change in an example is only what differs between a real
machine and a test, by harness.rewrite_example:

| in the example                      | in the test                             |
|-------------------------------------|-----------------------------------------|
| /var/lib/nginx-pat/pat.db           | a store made by patctl                  |
| /run/nginx-pat/patd.sock            | the socket of a real patd               |
| /run/fcgiwrap.socket                | the socket of a real fcgiwrap           |
| /srv/git                            | a directory of bare repositories        |
| /usr/share/nginx-pat/web/           | the checkout's web/                     |
| /etc/ssl/nginx-pat/                 | a self-signed certificate made here     |
| /var/log/nginx/                     | nginx's prefix logs/                    |
| 127.0.0.1:7991 (the REST backend)   | a backend that echoes what it received  |
| 127.0.0.1:3000 (another git server) | a second nginx server running git       |
| listen [127.0.0.1:]PORT             | listen 127.0.0.1:FREE_PORT              |
| listen [::]:PORT                    | dropped (the machine may have no IPv6)  |

server_name stays: HTTPS requests name git.example.com and reach 127.0.0.1
through curl's --resolve and git's http.curloptResolve. The fcgiwrap
example without systemd (git-spawn-fcgi.conf) is in
test_example_spawn_fcgi.py."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from api_client import tokens_path
from harness import (EXAMPLES, GIT_HTTP_BACKEND, PASSWORD, REPO_ROOT, Fcgiwrap, Patctl, Patd,
                     Token, curl, example_nginx, free_port, git, make_bare_repo,
                     make_self_signed_cert, rewrite_example)

HOST = "git.example.com"
HSTS = "max-age=63072000"
# The policy docs/account-page.md recommends, as it is written there.
PAGE_CSP = re.search(r'add_header Content-Security-Policy "([^"]+)"',
                     (REPO_ROOT / "docs" / "account-page.md").read_text()).group(1)


class EchoBackend:
    """The REST backend the examples proxy to (127.0.0.1:7991): answers
    every request with JSON naming what it received."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                seen = {"method": self.command, "path": self.path,
                        "user": self.headers.get("X-Remote-User"),
                        "authorization": self.headers.get("Authorization")}
                received.append(seen)
                body = json.dumps(seen).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class World:
    """What every example talks to: one store (alice may write project
    WORK, bob has no grant), the bare repository WORK/my-repo, fcgiwrap, the
    REST backend, patd and a certificate for git.example.com."""

    def __init__(self, root):
        self.root = root
        self.store = root / "store" / "pat.db"
        self.store.parent.mkdir()
        self.patctl = Patctl(self.store)
        self.patctl.init()
        self.patctl.add_user("alice")
        self.patctl.grant("alice", "project", "WORK", "write")
        self.patctl.add_user("bob")
        self.read = self.patctl.create_token("alice", "read", project="read", repo="read")
        self.write = self.patctl.create_token("alice", "write", project="write", repo="write")
        self.bob = self.patctl.create_token("bob", "bob")
        self.secrets = [self.read.text, self.write.text, self.bob.text]
        self.git_root = root / "git"
        self.bare = make_bare_repo(self.git_root, "WORK", "my-repo", root / "seed")
        self.cert = make_self_signed_cert(root / "certs", HOST)
        self.fcgiwrap = Fcgiwrap(root / "fcgiwrap.sock")
        self.rest = None
        self.patd = Patd(self.store, root / "patd.sock", root / "patd.log")

    def start(self):
        self.fcgiwrap.start()
        self.rest = EchoBackend()
        self.patd.start()

    def stop(self):
        self.fcgiwrap.stop()
        if self.rest:
            self.rest.stop()
        return self.patd.stop()

    def values(self, prefix, upstream_port=None):
        values = {
            "/var/lib/nginx-pat/pat.db": self.store,
            "/run/nginx-pat/patd.sock": self.patd.socket_path,
            "/run/fcgiwrap.socket": self.fcgiwrap.socket_path,
            "/srv/git": self.git_root,
            "/usr/share/nginx-pat/web/": f"{REPO_ROOT}/web/",
            "/etc/ssl/nginx-pat/": f"{self.cert.parent}/",
            "/var/log/nginx/": f"{prefix}/logs/",
            "127.0.0.1:7991": f"127.0.0.1:{self.rest.port}",
        }
        if upstream_port:
            values["127.0.0.1:3000"] = f"127.0.0.1:{upstream_port}"
        return values


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = World(tmp_path_factory.mktemp("examples"))
    try:
        world.start()
    except BaseException:
        world.stop()
        raise
    yield world
    status = world.stop()
    log = world.patd.text()
    assert status == 0, f"patd exited with {status}:\n{log[-2000:]}"
    assert not world.patd.log_problems(), log
    assert PASSWORD not in log and "npat_" not in log, "a secret reached patd's log"


class Site:
    """One example running in its own nginx."""

    def __init__(self, world, name, extra_http="", upstream_port=None):
        self.world = world
        self.name = name
        self.prefix = world.root / name.replace(".conf", "")
        text, self.ports = rewrite_example((EXAMPLES / name).read_text(),
                                           world.values(self.prefix, upstream_port))
        self.nginx = example_nginx(self.prefix, text, self.ports.values(), extra_http)

    def __enter__(self):
        self.nginx.start()
        return self

    def __exit__(self, *exc):
        self.nginx.stop()
        assert self.nginx.process.returncode == 0, f"nginx exited with {self.nginx.process.returncode}"
        problems = self.nginx.log_problems()
        assert not problems, "error.log has alerts:\n" + "\n".join(problems)
        logs = "".join(p.read_text(errors="replace") for p in (self.prefix / "logs").glob("*.log"))
        for secret in self.world.secrets:
            assert secret not in logs, f"a token reached nginx's logs ({self.name})"

    # Plain HTTP on the example's port.
    def url(self, path, port=80):
        return f"http://127.0.0.1:{self.ports[port]}{path}"

    def repo_url(self, token, path="/scm/WORK/my-repo.git", port=80):
        return f"http://{token.user}:{token.text}@127.0.0.1:{self.ports[port]}{path}"

    # HTTPS as git.example.com, trusting the test's certificate only.
    def tls(self, path, *args, **kwargs):
        return curl(f"https://{HOST}:{self.ports[443]}{path}", "--cacert", str(self.world.cert),
                    "--resolve", f"{HOST}:{self.ports[443]}:127.0.0.1", *args, **kwargs)

    def tls_repo_url(self, token, path="/scm/WORK/my-repo.git"):
        return f"https://{token.user}:{token.text}@{HOST}:{self.ports[443]}{path}"

    def git_tls(self):
        return ["-c", f"http.sslCAInfo={self.world.cert}",
                "-c", f"http.curloptResolve={HOST}:{self.ports[443]}:127.0.0.1"]


def site_fixture(name, **kwargs):
    @pytest.fixture(scope="module")
    def fixture(world):
        with Site(world, name, **kwargs) as site:
            yield site
    return fixture


def clone(url, into, options=()):
    git(*options, "clone", "-q", url, str(into))
    assert (Path(into) / "README.md").exists()
    return Path(into)


def push(work, branch, options=(), check=True, commit=True):
    """A new commit (or with commit=False the last one) pushed from the clone
    WORK to BRANCH; returns git's result and the commit."""
    if commit:
        (work / f"{branch}.txt").write_text(f"{branch}\n")
        git("add", f"{branch}.txt", cwd=work)
        git("commit", "-q", "-m", branch, cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    result = git(*options, "push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work,
                 check=check)
    return result, head


def branch_in(world, branch):
    result = git("--git-dir", str(world.bare), "rev-parse", "--verify", "-q",
                 f"refs/heads/{branch}", check=False)
    return result.stdout.strip() or None


def clone_and_push(world, tmp_path, read_url, write_url, branch, options=(), bearer=None):
    """Clone with the read token; a push with it is refused (403), with the
    write token accepted and in the repository; and with the token BEARER
    (write) as `Authorization: Bearer`, not Basic, accepted too."""
    work = clone(read_url, tmp_path / "clone", options)
    refused, _ = push(work, branch, options, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
    assert branch_in(world, branch) is None
    git("remote", "set-url", "origin", write_url, cwd=work)
    _, head = push(work, branch, options, commit=False)
    assert branch_in(world, branch) == head
    if bearer:
        git("remote", "set-url", "origin", re.sub(r"//[^@/]+@", "//", write_url), cwd=work)
        header = ["-c", f"http.extraHeader=Authorization: Bearer {bearer.text}"]
        _, head = push(work, branch + "-bearer", [*options, *header])
        assert branch_in(world, branch + "-bearer") == head


# A password change (docs/rest-api.md), sent with a wrong password: 401.
NEW_PASSWORD = json.dumps({"oldPassword": "wrong", "password": "new secret 1",
                           "passwordConfirm": "new secret 1"})


def create_token_via_api(request, permissions, name):
    """A token made by patd through the example's API location."""
    body = json.dumps({"name": name, "permissions": permissions})
    created = request(tokens_path("alice"), "-X", "PUT", "-u", f"alice:{PASSWORD}",
                      "-H", "Content-Type: application/json", "--data-binary", body)
    assert created.status == 200, (created.status, created.body)
    return created.json()


# --- mod-http-auth-pat.conf: loads the module in every site below (harness.example_load_module).

# --- git-http-backend.conf ------------------------------------------------------------------

git_http_backend = site_fixture("git-http-backend.conf")


def test_git_http_backend_clones_and_pushes(world, git_http_backend, tmp_path):
    site = git_http_backend
    assert curl(site.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack")).status == 401
    clone_and_push(world, tmp_path, site.repo_url(world.read), site.repo_url(world.write),
                   "via-git-http-backend", bearer=world.write)
    bob = git("clone", "-q", site.repo_url(world.bob), str(tmp_path / "bob"), check=False)
    assert bob.returncode != 0 and "403" in bob.stderr


# --- bitbucket-layout.conf ------------------------------------------------------------------

bitbucket_layout = site_fixture("bitbucket-layout.conf")


def test_bitbucket_layout_git_under_the_context_path(world, bitbucket_layout, tmp_path):
    site = bitbucket_layout
    path = "/bitbucket/scm/WORK/my-repo.git"
    clone_and_push(world, tmp_path, site.repo_url(world.read, path, 7990),
                   site.repo_url(world.write, path, 7990), "via-bitbucket-layout",
                   bearer=world.write)


def test_bitbucket_layout_rest_under_the_context_path(world, bitbucket_layout):
    url = bitbucket_layout.url("/bitbucket/rest/api/1.0/projects/WORK/repos/my-repo", 7990)
    allowed = curl(url, *world.read.bearer())
    assert allowed.status == 200, allowed.body
    assert allowed.json() == {"method": "GET", "path": "/bitbucket/rest/api/1.0/projects/WORK/repos/my-repo",
                              "user": "alice", "authorization": None}
    assert curl(url, *world.bob.basic()).status == 403
    assert curl(url).status == 401


# --- rest-api.conf --------------------------------------------------------------------------

rest_api = site_fixture("rest-api.conf")


def test_rest_api_passes_the_user_and_not_the_token(world, rest_api):
    url = rest_api.url("/rest/api/1.0/projects/WORK/repos/my-repo")
    for credentials in (world.read.bearer(), world.read.basic()):
        response = curl(url, *credentials)
        assert response.status == 200, response.body
        assert response.json()["user"] == "alice"
        assert response.json()["authorization"] is None
    assert curl(url, *world.bob.bearer()).status == 403
    unknown = curl(rest_api.url("/rest/nosuchplugin/1.0/things"), *world.write.bearer())
    assert unknown.status == 403 and unknown.json()["errors"]


def test_rest_api_rules_of_the_sysadmin(world, rest_api):
    # The plugin's endpoint, unknown to the built-in table, needs project-read.
    plugin = rest_api.url("/rest/myplugin/latest/projects/WORK/status")
    assert curl(plugin, *world.read.bearer()).status == 200
    assert curl(plugin, *world.bob.bearer()).status == 403
    # Code Insights reports with a read token.
    report = rest_api.url("/rest/insights/latest/projects/WORK/repos/my-repo/commits/"
                          "0123456789abcdef0123456789abcdef01234567/reports/lint")
    put = curl(report, *world.read.bearer(), "-H", "Content-Type: application/json",
               "--data-binary", "{}", method="PUT")
    assert put.status == 200, put.body
    assert put.json()["method"] == "PUT" and put.json()["user"] == "alice"


def test_rest_api_explicit_need_and_unprotected_location(world, rest_api):
    hook = rest_api.url("/hooks/status/WORK/my-repo")
    assert curl(hook, *world.read.bearer(), method="POST").status == 403
    written = curl(hook, *world.write.bearer(), method="POST")
    assert written.status == 200 and written.json()["path"] == "/hooks/status/WORK/my-repo"
    assert curl(hook, method="POST").status == 401
    status = curl(rest_api.url("/status"))
    assert status.status == 200 and status.json()["user"] is None


# --- proxied-git-server.conf ----------------------------------------------------------------

UPSTREAM_PORT = free_port()
# "Another git server" on 127.0.0.1:3000: a second server of the same nginx
# running git http-backend, which believes X-Remote-User (as such a server
# behind the module does) and logs what it received.
UPSTREAM = f"""
log_format upstream_seen '$http_x_remote_user|$http_x_token_id|$http_authorization|$request_method $uri';
server {{
    listen 127.0.0.1:{UPSTREAM_PORT};
    access_log @LOGS@/upstream.log upstream_seen;
    location ~ ^/scm(/.*)$ {{
        client_max_body_size 0;
        fastcgi_pass unix:@FCGI@;
        fastcgi_param REMOTE_USER $http_x_remote_user;   # before fastcgi_params' (the first wins)
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME {GIT_HTTP_BACKEND};
        fastcgi_param GIT_PROJECT_ROOT @GIT@;
        fastcgi_param GIT_HTTP_EXPORT_ALL "";
        fastcgi_param PATH_INFO $1;
    }}
}}
"""


@pytest.fixture(scope="module")
def proxied_git_server(world):
    prefix = world.root / "proxied-git-server"
    upstream = (UPSTREAM.replace("@LOGS@", f"{prefix}/logs")
                .replace("@FCGI@", str(world.fcgiwrap.socket_path))
                .replace("@GIT@", str(world.git_root)))
    with Site(world, "proxied-git-server.conf", extra_http=upstream,
              upstream_port=UPSTREAM_PORT) as site:
        yield site


def test_proxied_git_server_clones_and_pushes(world, proxied_git_server, tmp_path):
    site = proxied_git_server
    clone_and_push(world, tmp_path, site.repo_url(world.read), site.repo_url(world.write),
                   "via-proxied-git-server", bearer=world.write)
    seen = (site.prefix / "logs" / "upstream.log").read_text().splitlines()
    assert seen, "nothing reached the upstream git server"
    for line in seen:
        user, token_id, authorization, _ = line.split("|")
        assert user == "alice" and token_id in (world.read.id, world.write.id), line
        assert authorization == "-", f"the token reached the upstream: {line}"
    # The example's own access log names the user and the token id.
    access = (site.prefix / "logs" / "git-access.log").read_text()
    assert f"alice token={world.write.id} \"POST /scm/WORK/my-repo.git/git-receive-pack" in access


# --- tls.conf -------------------------------------------------------------------------------

tls = site_fixture("tls.conf")


def test_tls_plain_http_only_redirects(tls):
    response = curl(tls.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"),
                    "-H", f"Host: {HOST}")
    assert response.status == 301
    assert response.header_values("Location") == [
        f"https://{HOST}/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"]


def test_tls_clones_and_pushes(world, tls, tmp_path):
    clone_and_push(world, tmp_path, tls.tls_repo_url(world.read), tls.tls_repo_url(world.write),
                   "via-tls", tls.git_tls(), bearer=world.write)


def test_tls_every_answer_carries_hsts(world, tls):
    refs = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"
    answers = [
        (tls.tls(refs), 401),
        (tls.tls(refs, *world.read.basic()), 200),
        (tls.tls(refs, *world.read.basic(), "--http2"), 200),
        (tls.tls("/scm/WORK/my-repo.git/info/refs?service=git-receive-pack",
                 *world.read.basic()), 403),
        (tls.tls("/rest/api/1.0/projects/WORK/repos/my-repo", *world.read.bearer()), 200),
        (tls.tls("/rest/api/1.0/projects/WORK/repos/my-repo", *world.bob.bearer()), 403),
    ]
    for response, status in answers:
        assert response.status == status
        assert response.header_values("Strict-Transport-Security") == [HSTS], response.headers


# --- patd.conf ------------------------------------------------------------------------------

patd_site = site_fixture("patd.conf")


def test_patd_conf_token_api_git_and_rest(world, patd_site, tmp_path):
    site = patd_site
    made = create_token_via_api(lambda path, *a: curl(site.url(path), *a),
                                ["PROJECT_WRITE", "REPO_WRITE"], "patd.conf")
    world.secrets.append(made["token"])
    token = Token(user="alice", id=made["id"], text=made["token"])
    work = clone(site.repo_url(token), tmp_path / "clone")
    _, head = push(work, "via-patd-conf")
    assert branch_in(world, "via-patd-conf") == head
    rest = curl(site.url("/rest/api/1.0/projects/WORK/repos/my-repo"), *token.bearer())
    assert rest.status == 200 and rest.json()["user"] == "alice"
    # Revoked through the API: the next request is refused.
    revoked = curl(site.url(tokens_path("alice") + "/" + made["id"]), "-u", f"alice:{PASSWORD}",
                   method="DELETE")
    assert revoked.status == 204
    assert curl(site.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"),
                *token.basic()).status == 401


def test_patd_conf_password_path_reaches_patd(world, patd_site):
    # Bitbucket's password path goes to patd (which asks for the password),
    # not to the REST backend behind /rest/.
    before = len(world.rest.received)
    response = curl(patd_site.url("/rest/api/1.0/users/credentials"), "-u", "alice:wrong",
                    "-H", "Content-Type: application/json", "--data-binary", NEW_PASSWORD,
                    method="PUT")
    assert response.status == 401
    assert len(world.rest.received) == before


def test_patd_conf_serves_the_page_under_its_csp(patd_site):
    page = curl(patd_site.url("/account/tokens/"))
    assert page.status == 200 and "<html" in page.body.lower()
    assert page.header_values("Content-Security-Policy") == [PAGE_CSP]
    assert page.header_values("X-Content-Type-Options") == ["nosniff"]
    script = curl(patd_site.url("/account/tokens/app.js"))
    assert script.status == 200 and script.header_values("Content-Security-Policy") == [PAGE_CSP]
    assert curl(patd_site.url("/account/tokens")).header_values("Location")[0].endswith(
        "/account/tokens/")


# --- production.conf ------------------------------------------------------------------------

production = site_fixture("production.conf")


def test_production_plain_http_only_redirects(production):
    response = curl(production.url(f"{tokens_path('alice')}"), "-H", f"Host: {HOST}")
    assert response.status == 301
    assert response.header_values("Location") == [f"https://{HOST}{tokens_path('alice')}"]


def test_production_token_api_git_rest_and_revocation(world, production, tmp_path):
    site = production
    made = create_token_via_api(site.tls, ["PROJECT_WRITE", "REPO_WRITE"], "production")
    world.secrets.append(made["token"])
    token = Token(user="alice", id=made["id"], text=made["token"])
    work = clone(site.tls_repo_url(token), tmp_path / "clone", site.git_tls())
    _, head = push(work, "via-production", site.git_tls())
    assert branch_in(world, "via-production") == head
    rest = site.tls("/rest/api/1.0/projects/WORK/repos/my-repo", *token.bearer(), "--http2")
    assert rest.status == 200, rest.body
    assert rest.json()["user"] == "alice" and rest.json()["authorization"] is None
    listed = site.tls(tokens_path("alice"), "-u", f"alice:{PASSWORD}")
    assert listed.status == 200 and made["id"] in listed.body
    revoked = site.tls(tokens_path("alice") + "/" + made["id"], "-u", f"alice:{PASSWORD}",
                       method="DELETE")
    assert revoked.status == 204
    again = git(*site.git_tls(), "ls-remote", site.tls_repo_url(token), check=False)
    assert again.returncode != 0 and "Authentication failed" in again.stderr, again.stderr


def test_production_page_keeps_hsts_and_its_csp(production):
    for path in ("/account/tokens/", "/account/tokens/index.html", "/account/tokens/app.js",
                 "/account/tokens/style.css", "/account/tokens/no-such-file"):
        response = production.tls(path)
        assert response.status == (404 if "no-such" in path else 200), path
        assert response.header_values("Strict-Transport-Security") == [HSTS], (path, response.headers)
        assert response.header_values("Content-Security-Policy") == [PAGE_CSP], path
        assert response.header_values("X-Content-Type-Options") == ["nosniff"], path
    page = production.tls("/account/tokens/")
    assert page.header_values("Content-Type")[0].startswith("text/html")
    assert 'name="pat-rest-root"' in page.body


def test_production_every_answer_carries_hsts(world, production):
    refs = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"
    rest = "/rest/api/1.0/projects/WORK/repos/my-repo"
    answers = [
        (production.tls("/account/tokens"), 301),
        (production.tls(tokens_path("alice")), 401),
        (production.tls(tokens_path("alice"), "-u", f"alice:{PASSWORD}"), 200),
        (production.tls(tokens_path("alice"), "-u", f"bob:{PASSWORD}"), 403),
        (production.tls("/rest/api/1.0/users/credentials", "-u", "alice:wrong", "-H",
                        "Content-Type: application/json", "--data-binary", NEW_PASSWORD,
                        method="PUT"), 401),
        (production.tls(refs), 401),
        (production.tls(refs, *world.read.basic()), 200),
        (production.tls(refs, *world.read.basic(), "--http2"), 200),
        (production.tls(refs.replace("upload", "receive"), *world.read.basic()), 403),
        (production.tls(rest, *world.read.bearer()), 200),
        (production.tls(rest, *world.bob.bearer()), 403),
        (production.tls("/"), 404),
        (production.tls("/etc/passwd"), 404),
    ]
    for response, status in answers:
        assert response.status == status, (status, response.status, response.body[:200])
        assert response.header_values("Strict-Transport-Security") == [HSTS], response.headers
