"""Request targets that try to make the check and the git backend look at
different repositories, or a write look like a read. Every row is sent raw
(curl --path-as-is) with alice's READ token: nothing here may pass as a
write, and the raw-URI rules answer 400."""

import pytest

from harness import curl

REFS = "info/refs?service="
R, W = "git-upload-pack", "git-receive-pack"

# (raw path and query, acceptable statuses)
TRICKS = [
    # controls
    (f"/scm/WORK/my-repo.git/{REFS}{R}", {200}),
    (f"/scm/WORK/my-repo.git/{REFS}{W}", {403}),
    # the same repository, spelled differently, is still the same repository
    (f"/scm/work/my-repo.git/{REFS}{W}", {403}),
    (f"/scm/WORK/My-Repo.git/{REFS}{W}", {403}),
    (f"/scm/WORK/my-repo/{REFS}{W}", {403}),
    (f"/scm/WORK/my-repo.git/{REFS}{W}&x=1", {403}),
    (f"/scm/WORK/my-%72epo.git/{REFS}{W}", {400, 403}),
    # duplicated, encoded or odd service parameters: write or refused
    (f"/scm/WORK/my-repo.git/{REFS}{R}&service={W}", {400, 403}),
    (f"/scm/WORK/my-repo.git/{REFS}{W}&service={R}", {400, 403}),
    (f"/scm/WORK/my-repo.git/{REFS}git-receive%2Dpack", {400, 403}),
    (f"/scm/WORK/my-repo.git/{REFS}git%2Dupload-pack", {400, 403}),
    (f"/scm/WORK/my-repo.git/info/refs?SERVICE={W}", {400, 403}),
    (f"/scm/WORK/my-repo.git/info/refs%3Fservice={R}", {400, 403}),
    # dot segments, raw or encoded
    (f"/scm/WORK/other/../my-repo.git/{REFS}{R}", {400}),
    (f"/scm/WORK/./my-repo.git/{REFS}{R}", {400}),
    (f"/scm/WORK/%2e%2e/WORK/my-repo.git/{REFS}{R}", {400}),
    (f"/scm/WORK/my-repo.git/info/%2E/refs?service={R}", {400}),
    (f"/scm/OTHER/..%2fWORK/my-repo.git/{REFS}{R}", {400}),
    # encoded slashes and backslashes, ';'
    (f"/scm/WORK%2Fmy-repo.git/{REFS}{R}", {400}),
    (f"/scm/WORK/my-repo.git%2finfo%2frefs?service={R}", {400}),
    (f"/scm/WORK/my-repo.git\\info/refs?service={R}", {400}),
    (f"/scm/WORK/my-repo.git%5Cinfo/refs?service={R}", {400}),
    (f"/scm/WORK/my-repo.git/info/refs;x=y?service={R}", {400}),
    (f"/scm/WORK/my-repo.git;/{REFS}{R}", {400}),
    # duplicate slashes
    (f"/scm//WORK/my-repo.git/{REFS}{W}", {400, 403}),
    (f"/scm/WORK//my-repo.git/{REFS}{W}", {400, 403}),
    (f"/scm/WORK/my-repo.git//{REFS}{W}", {400, 403}),
    # .git variants
    (f"/scm/WORK/my-repo.git.git/{REFS}{W}", {400, 403}),
    (f"/scm/WORK/my-repo.GIT/{REFS}{W}", {400, 403}),
    # the dumb protocol and unknown paths: denied
    ("/scm/WORK/my-repo.git/HEAD", {403}),
    ("/scm/WORK/my-repo.git/objects/info/packs", {403}),
    ("/scm/WORK/my-repo.git/config", {403}),
    ("/scm/WORK/my-repo.git/", {403}),
    ("/scm/WORK/", {403}),
    # another project: no grant there
    (f"/scm/OTHER/my-repo.git/{REFS}{R}", {403}),
]


@pytest.mark.parametrize("raw,expected", TRICKS, ids=[t[0] for t in TRICKS])
def test_uri_trick(deployment, raw, expected):
    response = curl(deployment.url(raw), *deployment.read_token.basic())
    assert response.status in expected, raw


def test_receive_pack_post_with_read_token_is_403(deployment):
    response = curl(deployment.url("/scm/WORK/my-repo.git/git-receive-pack"),
                    *deployment.read_token.basic(), "--data-binary", "0000", method="POST")
    assert response.status == 403


# The same spellings with the WRITE token pass the check: they really name
# the repository the grant is on (the backend may then 404 a path it does not
# have on disk, which is after our decision).
SAME_REPOSITORY = [
    f"/scm/WORK/my-repo.git/{REFS}{W}",
    f"/scm/work/my-repo.git/{REFS}{W}",
    f"/scm/WORK/MY-REPO.git/{REFS}{W}",
    f"/scm/WORK/my-repo/{REFS}{W}",
    f"/scm/WORK/my-repo.git/{REFS}{R}",
]


@pytest.mark.parametrize("raw", SAME_REPOSITORY)
def test_same_repository_spellings_pass_with_write_token(deployment, raw):
    response = curl(deployment.url(raw), *deployment.write_token.basic())
    assert response.status not in (400, 401, 403), raw


def test_rest_uri_tricks(deployment):
    token = deployment.read_token.bearer()
    assert curl(deployment.url(
        "/rest/api/1.0/projects/WORK/repos/my-repo/../../OTHER/repos/x/commits"),
        *token).status == 400
    assert curl(deployment.url("/rest/api/1.0/projects/WORK%2Frepos/my-repo/commits"),
                *token).status == 400
    assert curl(deployment.url("/rest/api/1.0/projects/work/repos/MY-REPO/commits"),
                *token).status == 200
    assert curl(deployment.url("/rest/api/1.0/projects/OTHER/repos/my-repo/commits"),
                *token).status == 403
