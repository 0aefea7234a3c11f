"""Public (anonymous) read access through the module (issue 14): a request
without credentials that the route classifies as a read of a public
repository (the repository public, or its project) is allowed with no
identity; anything else without credentials stays the 401 git needs to ask
for credentials, and a push never passes. Real git, real curl, the
repositories served by git http-backend."""

import re

import pytest

from harness import curl, free_port, git, make_bare_repo

STATUS_PORT = free_port()
# Who the module let in, as an upstream and a log would see it.
EXTRA_HTTP = f"""
log_format public_check 'remote_user=[$remote_user] pat_user=[$pat_user] token=[$pat_token_id] '
                        '$status $request_method $request_uri';
server {{
    listen 127.0.0.1:{STATUS_PORT};
    location = /auth-pat-status {{
        auth_pat_status;
    }}
}}
"""
EXTRA_SERVER = """
        access_log @PREFIX@/logs/public.log public_check;

        # A page (a repository read of PUB/pub-repo) that includes two
        # parts through SSI subrequests: one readable without credentials,
        # one of a repository that is not public.
        location /page/ {
            auth_pat "Pages";
            auth_pat_require repo-read;
            auth_pat_project PUB;
            auth_pat_repo pub-repo;
            ssi on;
            rewrite ^ /page.html break;
        }
        location /public-part/ {
            auth_pat "Pages";
            auth_pat_require repo-read;
            auth_pat_project PUB;
            auth_pat_repo pub-repo;
            rewrite ^ /ok.txt break;
        }
        # satisfy and access rules around a public read (a git route under
        # a prefix: the classifier finds .../scm/KEY/SLUG anywhere).
        location /any-deny/ {
            satisfy any; deny all;
            auth_pat "Git"; auth_pat_route git;
            try_files /ok.txt =404;
        }
        location /all-deny/ {
            satisfy all; deny all;
            auth_pat "Git"; auth_pat_route git;
            try_files /ok.txt =404;
        }
        location /any-allow-broken/ {
            satisfy any; allow 127.0.0.1; deny all;
            auth_pat "Git"; auth_pat_route git;
            auth_pat_db @ROOT@/no-such-dir/pat.db;
            try_files /ok.txt =404;
        }
        location /private-part/ {
            auth_pat "Pages";
            auth_pat_require repo-read;
            auth_pat_project WORK;
            auth_pat_repo private;
            rewrite ^ /secret.txt break;
        }
"""

UPLOAD_REFS = "/info/refs?service=git-upload-pack"
RECEIVE_REFS = "/info/refs?service=git-receive-pack"


@pytest.fixture(scope="module")
def d(deployment, tmp_path_factory):
    """Repositories: PUB/pub-repo and PUB/second in the public project PUB,
    WORK/my-repo (made public and private again by the tests) and
    WORK/private, never public."""
    seed = tmp_path_factory.mktemp("public-seed")
    make_bare_repo(deployment.git_root, "PUB", "pub-repo", seed / "a")
    make_bare_repo(deployment.git_root, "PUB", "second", seed / "b")
    make_bare_repo(deployment.git_root, "WORK", "private", seed / "c")
    (deployment.prefix / "html" / "page.html").write_text(
        'page:<!--# include virtual="/public-part/x" --><!--# include virtual="/private-part/x" -->\n')
    deployment.patctl.run("public", "project", "PUB", "on")
    return deployment


def url(d, project, slug, what=""):
    return d.url(f"/scm/{project}/{slug}.git{what}")


def clone(d, project, slug, dest, extra=()):
    return git(*extra, "clone", "-q", d.repo_url(project=project, slug=f"{slug}.git"), str(dest),
               env={"HOME": str(d.home)}, check=False)


def log_lines(d, text):
    path = d.prefix / "logs" / "public.log"
    return [line for line in path.read_text().splitlines() if text in line]


def public_count():
    body = curl(f"http://127.0.0.1:{STATUS_PORT}/auth-pat-status").body
    values = {}
    for line in body.splitlines():
        match = re.match(r"^([a-z_]+(?:\{[^}]*\})?) (\S+)$", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def test_clone_of_a_public_repository_without_credentials(d, tmp_path):
    cloned = clone(d, "PUB", "pub-repo", tmp_path / "c")
    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "c" / "README.md").read_text() == "version 2\n"
    # Both requests of the clone passed with no identity: git asked info/refs,
    # then posted to git-upload-pack, never with credentials.
    refs = log_lines(d, "GET /scm/PUB/pub-repo.git/info/refs?service=git-upload-pack")
    pack = log_lines(d, "POST /scm/PUB/pub-repo.git/git-upload-pack")
    assert refs and pack
    for line in refs + pack:
        # nginx logs a variable with no value as "-".
        assert line.startswith("remote_user=[-] pat_user=[-] token=[-] 200 "), line


def test_push_without_credentials_is_401_so_git_asks_for_them(d, tmp_path):
    assert clone(d, "PUB", "pub-repo", tmp_path / "c").returncode == 0
    work = tmp_path / "c"
    (work / "anonymous.txt").write_text("anonymous\n")
    git("add", "anonymous.txt", cwd=work)
    git("commit", "-q", "-m", "anonymous", cwd=work)

    # A credential helper that records that git asked it, and has nothing.
    asked = tmp_path / "asked"
    helper = f"!f() {{ echo \"$1\" >> {asked}; }}; f"
    pushed = git("-c", f"credential.helper={helper}", "push", "-q", "origin", "master", cwd=work,
                 env={"HOME": str(d.home)}, check=False)
    assert pushed.returncode != 0
    assert asked.read_text().split()[0] == "get", "git did not ask for credentials"
    assert curl(url(d, "PUB", "pub-repo", RECEIVE_REFS)).status == 401
    assert curl(url(d, "PUB", "pub-repo", "/git-receive-pack"), method="POST").status == 401

    # With a token that may write, the same push goes through: the 401 was
    # the challenge, not a refusal. (alice has no grant on PUB: give one.)
    d.patctl.grant("alice", "project", "PUB", "write")
    store = tmp_path / "credentials"
    store.write_text(f"http://alice:{d.write_token.text}@127.0.0.1:{d.port}\n")
    pushed = git("-c", f"credential.helper=store --file={store}", "push", "-q", "origin", "master",
                 cwd=work, env={"HOME": str(d.home)}, check=False)
    assert pushed.returncode == 0, pushed.stderr
    d.patctl.ungrant("alice", "project", "PUB")


def test_a_repository_that_is_not_public_is_401_without_credentials(d, tmp_path):
    assert curl(url(d, "WORK", "private", UPLOAD_REFS)).status == 401
    assert curl(url(d, "WORK", "private", "/git-upload-pack"), method="POST").status == 401
    cloned = clone(d, "WORK", "private", tmp_path / "c")
    assert cloned.returncode != 0
    assert not (tmp_path / "c" / "README.md").exists()
    # The challenge, as for any request without credentials.
    response = curl(url(d, "WORK", "private", UPLOAD_REFS))
    assert response.header_values("WWW-Authenticate") == ['Basic realm="Git"']


def test_every_repository_of_a_public_project_is_readable(d, tmp_path):
    cloned = clone(d, "PUB", "second", tmp_path / "c")
    assert cloned.returncode == 0, cloned.stderr
    # Project keys and slugs are canonicalised as for tokens: the module lets
    # it through, and git http-backend answers 404 (on disk it is PUB/second).
    assert curl(url(d, "pub", "SECOND", UPLOAD_REFS)).status == 404
    assert curl(url(d, "pub", "SECOND", RECEIVE_REFS)).status == 401


def test_a_public_repository_then_public_off(d, tmp_path):
    path = url(d, "WORK", "my-repo", UPLOAD_REFS)
    assert curl(path).status == 401
    d.patctl.run("public", "repo", "WORK/my-repo", "on")
    assert [curl(path).status for _ in range(4)] == [200] * 4
    cloned = clone(d, "WORK", "my-repo", tmp_path / "c")
    assert cloned.returncode == 0, cloned.stderr
    # Its project is not public: its other repositories stay closed.
    assert curl(url(d, "WORK", "private", UPLOAD_REFS)).status == 401
    # A push is never anonymous, public or not.
    assert curl(url(d, "WORK", "my-repo", RECEIVE_REFS)).status == 401

    d.patctl.run("public", "repo", "WORK/my-repo", "off")
    # The next request: no reload.
    assert [curl(path).status for _ in range(4)] == [401] * 4
    assert clone(d, "WORK", "my-repo", tmp_path / "again").returncode != 0
    # Tokens are unaffected either way.
    assert curl(path, *d.read_token.basic()).status == 200


def test_public_project_off_closes_its_repositories(d):
    d.patctl.run("public", "project", "PUB", "off")
    try:
        assert [curl(url(d, "PUB", "pub-repo", UPLOAD_REFS)).status for _ in range(4)] == [401] * 4
    finally:
        d.patctl.run("public", "project", "PUB", "on")
    assert curl(url(d, "PUB", "pub-repo", UPLOAD_REFS)).status == 200


def test_only_repository_reads_pass_without_credentials(d):
    # LFS: object downloads are reads; the batch call is always a write (the
    # module reads no body), so LFS needs a token even on a public repository.
    assert curl(url(d, "PUB", "pub-repo", "/info/lfs/locks")).status != 401  # a read: git's answer
    assert curl(url(d, "PUB", "pub-repo", "/info/lfs/objects/batch"), method="POST").status == 401
    # A route git does not know (the dumb protocol) is never public.
    assert curl(url(d, "PUB", "pub-repo", "/HEAD")).status == 401


@pytest.mark.parametrize("method, path, status", [
    # Repository reads: allowed without credentials.
    ("GET", "/rest/api/1.0/projects/PUB/repos/pub-repo", 200),
    ("GET", "/rest/api/latest/projects/PUB/repos/pub-repo/branches", 200),
    ("GET", "/bitbucket/rest/api/1.0/projects/PUB/repos/pub-repo/commits", 200),
    # Anything else: the 401.
    ("GET", "/rest/api/1.0/projects/PUB", 401),             # authenticated (PROJECT_VIEW)
    ("GET", "/rest/api/1.0/projects/PUB/repos", 401),       # project-read
    ("POST", "/rest/api/1.0/projects/PUB/repos/pub-repo/branches", 401),  # repo-write
    ("POST", "/rest/api/1.0/projects/PUB/repos/pub-repo", 401),           # a fork
    ("DELETE", "/rest/api/1.0/projects/PUB/repos/pub-repo", 401),         # repo-admin
    ("GET", "/rest/api/1.0/projects/WORK/repos/private", 401),            # not public
    ("GET", "/rest/api/1.0/users", 401),
])
def test_rest_without_credentials_follows_the_classification(d, method, path, status):
    response = curl(d.url(path), method=method)
    assert response.status == status, response.body
    if status == 401:
        # Bitbucket's error shape, as for any REST request without credentials.
        assert response.json()["errors"][0]["message"]


def test_the_status_page_counts_public_reads_apart(d):
    before = public_count()
    for _ in range(3):
        assert curl(url(d, "PUB", "pub-repo", UPLOAD_REFS)).status == 200
    assert curl(url(d, "WORK", "private", UPLOAD_REFS)).status == 401
    assert curl(url(d, "WORK", "private", UPLOAD_REFS), *d.read_token.basic()).status == 200
    after = public_count()

    def moved(name):
        return after.get(name, 0) - before.get(name, 0)
    assert moved("auth_pat_requests_public_total") == 3
    # Not counted as token reads, nor as refusals.
    assert moved("auth_pat_requests_allowed_total") == 1
    assert moved('auth_pat_requests_refused_total{reason="no_credentials"}') == 1
    assert moved('auth_pat_responses_total{status="401"}') == 1
    assert not any(key.startswith("auth_pat_requests_refused_total") and "public" in key for key in after)


def test_a_token_on_a_public_repository_is_decided_as_a_token(d):
    # Credentials are never ignored in favour of public access: a bad token
    # is the 401 it always is, so a mistyped token cannot pass unnoticed.
    path = url(d, "PUB", "pub-repo", UPLOAD_REFS)
    assert curl(path, "-H", "Authorization: Bearer npat_not-a-real-token").status == 401
    assert curl(path, "-u", "alice:wrong").status == 401
    # A valid token of a user without a grant there: the public read is theirs too.
    response = curl(path, *d.bob_token.basic())
    assert response.status == 200
    line = log_lines(d, "GET /scm/PUB/pub-repo.git/info/refs?service=git-upload-pack")[-1]
    assert line.startswith(f"remote_user=[bob] pat_user=[bob] token=[{d.bob_token.id}] 200 "), line


def test_subrequests_of_a_public_read_are_decided_for_their_own_location(d):
    response = curl(d.url("/page/x"))
    assert response.status == 200
    # The public part is included; the private one is refused (401 inside
    # the page: SSI shows its error text instead).
    assert response.body.startswith("page:ok\n")
    assert "secret" not in response.body


def test_satisfy_around_a_public_read(d):
    public = "/scm/PUB/pub-repo.git" + UPLOAD_REFS
    private = "/scm/WORK/private.git" + UPLOAD_REFS
    # Under satisfy any a public read is the module's pass: deny all cannot
    # stop it; a read of a private repository is not.
    assert curl(d.url("/any-deny" + public)).status == 200
    assert curl(d.url("/any-deny" + private)).status in (401, 403)
    # Under satisfy all, deny all stops it.
    assert curl(d.url("/all-deny" + public)).status == 403
    # A store that cannot be opened: a repository read without credentials
    # cannot be decided (public or not?): 500, which allow cannot override.
    # Anything else without credentials needs no store: the soft 401, and
    # allow lets it in, as before public access existed.
    assert curl(d.url("/any-allow-broken" + public)).status == 500
    assert curl(d.url("/any-allow-broken/scm/PUB/pub-repo.git" + RECEIVE_REFS)).status == 200
