"""git smart HTTP through the module: clone, push, and what a change in the
store does to the very next request."""

import time

from harness import curl, git


def clone(deployment, url, dest, extra=()):
    return git(*extra, "clone", "-q", url, str(dest), env={"HOME": str(deployment.home)},
               check=False)


def commit_and_push(deployment, work, message, extra=()):
    (work / "change.txt").write_text(f"{message} {time.time()}\n")
    git("add", "change.txt", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git(*extra, "push", "-q", "origin", "master", cwd=work,
               env={"HOME": str(deployment.home)}, check=False)


def test_clone_with_token_in_url(deployment, tmp_path):
    token = deployment.read_token
    result = clone(deployment, deployment.repo_url(f"alice:{token.text}"), tmp_path / "c")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c" / "README.md").read_text() == "version 2\n"


def test_clone_without_credentials_is_refused(deployment, tmp_path):
    result = clone(deployment, deployment.repo_url(), tmp_path / "c")
    assert result.returncode != 0
    assert not (tmp_path / "c" / "README.md").exists()


def test_clone_through_credential_helper(deployment, tmp_path):
    store = tmp_path / "credentials"
    store.write_text(f"http://alice:{deployment.write_token.text}@127.0.0.1:{deployment.port}\n")
    helper = ("-c", f"credential.helper=store --file={store}")
    result = clone(deployment, deployment.repo_url(), tmp_path / "c", extra=helper)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c" / "README.md").exists()


def test_push_with_read_token_is_403_and_keeps_stored_credentials(deployment, tmp_path):
    store = tmp_path / "credentials"
    line = f"http://alice:{deployment.read_token.text}@127.0.0.1:{deployment.port}\n"
    store.write_text(line)
    helper = ("-c", f"credential.helper=store --file={store}")
    assert clone(deployment, deployment.repo_url(), tmp_path / "c", extra=helper).returncode == 0
    pushed = commit_and_push(deployment, tmp_path / "c", "refused", extra=helper)
    assert pushed.returncode != 0
    assert "403" in pushed.stderr
    # A 401 would have made git erase the stored token; a 403 must not.
    assert deployment.read_token.text in store.read_text()


def test_push_with_write_token_is_accepted(deployment, tmp_path):
    url = deployment.repo_url(f"alice:{deployment.write_token.text}")
    assert clone(deployment, url, tmp_path / "c").returncode == 0
    pushed = commit_and_push(deployment, tmp_path / "c", "accepted")
    assert pushed.returncode == 0, pushed.stderr
    # The push really landed: a fresh clone sees it.
    assert clone(deployment, url, tmp_path / "again").returncode == 0
    assert (tmp_path / "again" / "change.txt").exists()


def test_wrong_user_in_basic_is_401(deployment):
    response = curl(deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"),
                    *deployment.read_token.basic(user="bob"))
    assert response.status == 401


def test_user_without_grant_gets_403(deployment):
    response = curl(deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"),
                    *deployment.bob_token.basic())
    assert response.status == 403


def test_revoked_token_is_refused_on_the_next_request(deployment):
    token = deployment.patctl.create_token("alice", "to-revoke", project="read", repo="read")
    url = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack")
    # Both workers have the token's record in a reader snapshot by now.
    for _ in range(4):
        assert curl(url, *token.basic()).status == 200
    deployment.patctl.revoke(token.id)
    for _ in range(4):
        assert curl(url, *token.basic()).status == 401


def test_lowered_grant_refuses_push_on_the_next_request(deployment):
    patctl = deployment.patctl
    patctl.add_user("carol")
    patctl.grant("carol", "project", "WORK", "write")
    token = patctl.create_token("carol", "carol-write", project="write", repo="write")
    push = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-receive-pack")
    fetch = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack")
    assert curl(push, *token.basic()).status == 200
    patctl.grant("carol", "project", "WORK", "read")
    for _ in range(4):
        assert curl(push, *token.basic()).status == 403
    assert curl(fetch, *token.basic()).status == 200
    patctl.ungrant("carol", "project", "WORK")
    assert curl(fetch, *token.basic()).status == 403


def test_disabled_user_tokens_are_refused(deployment):
    patctl = deployment.patctl
    patctl.add_user("dave")
    patctl.grant("dave", "project", "WORK", "read")
    token = patctl.create_token("dave", "dave")
    url = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack")
    assert curl(url, *token.basic()).status == 200
    patctl.disable_user("dave")
    assert curl(url, *token.basic()).status == 401


def test_pat_variables_and_remote_user_in_access_log(deployment):
    url = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack&mark=basic")
    assert curl(url, *deployment.read_token.basic()).status == 200
    url = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack&mark=bearer")
    assert curl(url, *deployment.read_token.bearer()).status == 200
    lines = deployment.nginx.access_log.read_text().splitlines()
    basic = [line for line in lines if "mark=basic" in line][-1]
    bearer = [line for line in lines if "mark=bearer" in line][-1]
    token_id = deployment.read_token.id
    assert basic.startswith(f"alice|alice|{token_id}|200|")
    assert bearer.startswith(f"-|alice|{token_id}|200|")


def test_reload_keeps_everything_working(deployment, tmp_path):
    url = deployment.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack")
    assert curl(url, *deployment.read_token.basic()).status == 200
    deployment.nginx.reload()
    assert curl(url, *deployment.read_token.basic()).status == 200
    assert curl(url).status == 401
    token = deployment.patctl.create_token("alice", "after-reload", project="read", repo="read")
    assert curl(url, *token.bearer()).status == 200
    deployment.patctl.revoke(token.id)
    assert curl(url, *token.bearer()).status == 401
    result = clone(deployment, deployment.repo_url(f"alice:{deployment.read_token.text}"),
                   tmp_path / "c")
    assert result.returncode == 0, result.stderr
