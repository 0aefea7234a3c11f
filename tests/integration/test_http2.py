"""HTTP/2 (h2c with prior knowledge) gets the same decisions as HTTP/1.1."""

import pytest

from harness import curl

CASES = [
    ("GET", "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack", None, 401),
    ("GET", "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack", "read", 200),
    ("GET", "/scm/WORK/my-repo.git/info/refs?service=git-receive-pack", "read", 403),
    ("GET", "/scm/WORK/my-repo.git/info/refs?service=git-receive-pack", "write", 200),
    ("GET", "/rest/api/1.0/projects/WORK/repos/my-repo/commits", "read", 200),
    # Merging needs REPO_WRITE (creating a pull request needs only REPO_READ).
    ("POST", "/rest/api/1.0/projects/WORK/repos/my-repo/pull-requests/1/merge", "read", 403),
    ("GET", "/rest/api/1.0/projects/WORK/repos/my-repo/commits", "wrong-user", 401),
    ("GET", "/scm/WORK/../WORK/my-repo.git/info/refs?service=git-upload-pack", "read", 400),
]


@pytest.mark.parametrize("method,path,who,expected", CASES)
def test_same_decision_on_http2_and_http1(deployment, method, path, who, expected):
    args = {
        None: (),
        "read": deployment.read_token.bearer(),
        "write": deployment.write_token.basic(),
        "wrong-user": deployment.read_token.basic(user="bob"),
    }[who]
    h1 = curl(deployment.base + path, *args, method=method)
    h2 = curl(deployment.h2_base + path, *args, method=method, http2=True)
    assert h1.status == expected
    assert h2.status == expected
    if expected == 401 and path.startswith("/rest/"):
        assert h2.json() == h1.json()
