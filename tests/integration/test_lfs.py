"""Git LFS with the real client (Debian's git-lfs) against the module's
decision on the LFS batch API.

Debian packages no LFS server, so the backend behind the module (git
http-backend) does not serve LFS: these tests check what the module decides
for the requests git-lfs itself makes (nginx's access log: status and
$pat_user), not a transfer. Skipped when git-lfs is not installed (it is
optional: `apt-get install git-lfs`)."""

import shutil
import time

import pytest

from harness import git

pytestmark = pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs is not installed")

OID = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
BATCH = "/scm/WORK/my-repo.git/info/lfs/objects/batch"


def batch_requests(deployment, token_id):
    """(pat_user, status) of the LFS batch requests in the access log whose
    $pat_token_id is token_id ("-", nginx's empty value, for refused ones: a
    refusal publishes no identity). nginx logs a request after answering it:
    wait a little."""
    deadline = time.monotonic() + 10
    while True:
        found = []
        for line in deployment.nginx.access_log.read_text().splitlines():
            _, pat_user, logged_id, status, uri = line.split("|", 4)
            if uri == BATCH and logged_id == token_id:
                found.append((pat_user, int(status)))
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture(scope="module")
def lfs_pointer(deployment, tmp_path_factory):
    """A commit holding an LFS pointer, pushed with git alone (no LFS hook)."""
    work = tmp_path_factory.mktemp("lfs-seed") / "w"
    git("clone", "-q", deployment.repo_url(f"alice:{deployment.write_token.text}"), str(work))
    (work / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    (work / "data.bin").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{OID}\nsize 3\n")
    git("add", ".gitattributes", "data.bin", cwd=work)
    git("commit", "-q", "-m", "an LFS object", cwd=work)
    git("push", "-q", "--no-verify", "origin", "HEAD:lfs", cwd=work)
    return "lfs"


def lfs_fetch(deployment, token, branch, directory):
    """Clones without smudging, then lets git-lfs download: one batch call."""
    env = {"GIT_LFS_SKIP_SMUDGE": "1"}
    git("clone", "-q", "--branch", branch, deployment.repo_url(f"alice:{token.text}"), str(directory), env=env)
    git("lfs", "install", "--local", cwd=directory, env=env)
    return git("lfs", "fetch", "origin", branch, cwd=directory, check=False)


def test_a_read_token_cannot_use_the_batch_api(deployment, lfs_pointer, tmp_path):
    result = lfs_fetch(deployment, deployment.read_token, lfs_pointer, tmp_path / "r")
    assert result.returncode != 0
    # git-lfs asked; the module refused: the batch call needs repo-write
    # whatever its operation (docs/git-routes.md). A refusal publishes no
    # identity, so the access log shows it with empty $pat_user/$pat_token_id
    # and error.log names the token.
    requests = batch_requests(deployment, "-")
    assert requests and all(request == ("-", 403) for request in requests), requests
    denials = [line for line in deployment.nginx.error_log.read_text().splitlines()
               if f'request: "POST {BATCH} ' in line]
    assert denials and all('denied repo-write on "WORK/my-repo": token level too low' in line
                           and deployment.read_token.id in line for line in denials), denials


def test_a_write_token_passes_the_module_on_the_batch_api(deployment, lfs_pointer, tmp_path):
    lfs_fetch(deployment, deployment.write_token, lfs_pointer, tmp_path / "w")
    requests = batch_requests(deployment, deployment.write_token.id)
    # Allowed by the module ($pat_user set); what the backend then answers is
    # not an LFS server's answer.
    assert requests and all(user == "alice" and status not in (401, 403) for user, status in requests), requests
