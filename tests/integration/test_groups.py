"""Groups and the all-users default through the module (issue 14): a grant
given to a group or to every signed-in user lets real git clone and push
with a token whose owner has no grant of their own, and a change of a
membership or a group grant takes effect on the very next request, in
every worker, with nginx running and never reloaded."""

import base64
import http.client
import time

from harness import curl, free_port, git, make_bare_repo

READ = "/info/refs?service=git-upload-pack"
PUSH = "/info/refs?service=git-receive-pack"

# A second server on the same store whose listening socket is one per
# worker (reuseport), so that new connections reach every worker, and whose
# answers say which worker gave them.
WATCH_PORT = free_port()
EXTRA_HTTP = f"""
server {{
    listen 127.0.0.1:{WATCH_PORT} reuseport;
    root @PREFIX@/html;
    auth_pat_db @ROOT@/store/pat.db;
    add_header X-Worker $pid always;
    location /scm/ {{
        auth_pat "Git";
        auth_pat_route git;
        try_files /ok.txt =404;
    }}
}}
"""


def repo_path(project, slug, what):
    return f"/scm/{project}/{slug}.git{what}"


def statuses(deployment, path, token, count=4):
    """The status of each of count requests, and at least two answers from
    every worker among them (their order: the first count answers), so that
    no worker's snapshot can hide a stale decision."""
    workers = deployment.nginx.worker_pids()
    auth = "Basic " + base64.b64encode(f"{token.user}:{token.text}".encode()).decode()
    answers, by_worker = [], {}
    for _ in range(400):
        connection = http.client.HTTPConnection("127.0.0.1", WATCH_PORT, timeout=30)
        try:
            connection.request("GET", path, headers={"Authorization": auth})
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        worker = int(response.getheader("X-Worker"))
        answers.append(response.status)
        by_worker.setdefault(worker, []).append(response.status)
        if len(answers) >= count and all(len(by_worker.get(pid, [])) >= 2 for pid in workers):
            break
    assert set(by_worker) == workers, f"not every worker answered: {by_worker}"
    # Every worker agrees with the first answers.
    assert len({status for answered in by_worker.values() for status in answered}) == 1, by_worker
    return answers[:count]


def clone(deployment, url, dest):
    return git("clone", "-q", url, str(dest), env={"HOME": str(deployment.home)}, check=False)


def commit_and_push(deployment, work, message):
    (work / "change.txt").write_text(f"{message} {time.time()}\n")
    git("add", "change.txt", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("push", "-q", "origin", "master", cwd=work, env={"HOME": str(deployment.home)}, check=False)


def new_user(deployment, name):
    """A user with no grant of their own and an admin/admin token."""
    deployment.patctl.add_user(name)
    return deployment.patctl.create_token(name, f"{name}-token")


def test_push_through_a_group_grant_and_not_after_leaving_the_group(deployment, tmp_path):
    patctl = deployment.patctl
    gina = new_user(deployment, "gina")
    url = deployment.repo_url(f"gina:{gina.text}")
    # No grant of her own: the token alone opens nothing.
    assert statuses(deployment, repo_path("WORK", "my-repo", READ), gina) == [403] * 4
    assert clone(deployment, url, tmp_path / "refused").returncode != 0

    patctl.run("group", "add", "backend")
    patctl.run("grant", "--group", "backend", "project", "WORK", "write")
    # A group grant gives nothing to whoever is not in the group.
    assert statuses(deployment, repo_path("WORK", "my-repo", READ), gina) == [403] * 4
    patctl.run("group", "add-member", "backend", "gina")
    # The very next request: no reload, every worker.
    assert statuses(deployment, repo_path("WORK", "my-repo", PUSH), gina) == [200] * 4

    work = tmp_path / "c"
    cloned = clone(deployment, url, work)
    assert cloned.returncode == 0, cloned.stderr
    pushed = commit_and_push(deployment, work, "through the group")
    assert pushed.returncode == 0, pushed.stderr
    # The push landed: the owner's own clone sees it.
    check = clone(deployment, deployment.repo_url(f"alice:{deployment.write_token.text}"), tmp_path / "check")
    assert check.returncode == 0, check.stderr
    assert (tmp_path / "check" / "change.txt").read_text().startswith("through the group")

    patctl.run("group", "remove-member", "backend", "gina")
    # Out of the group: the next push is refused (403: her token stays valid,
    # so git's credential helper keeps it), and so is a read.
    pushed = commit_and_push(deployment, work, "after leaving")
    assert pushed.returncode != 0
    assert "403" in pushed.stderr
    assert statuses(deployment, repo_path("WORK", "my-repo", PUSH), gina) == [403] * 4
    assert statuses(deployment, repo_path("WORK", "my-repo", READ), gina) == [403] * 4


def test_ungranting_a_group_takes_effect_on_the_next_request(deployment):
    patctl = deployment.patctl
    ivan = new_user(deployment, "ivan")
    patctl.run("group", "add", "release")
    patctl.run("group", "add-member", "release", "ivan")
    patctl.run("grant", "--group", "release", "project", "WORK", "write")
    assert statuses(deployment, repo_path("WORK", "my-repo", PUSH), ivan) == [200] * 4
    # Lowered to read: the next push is refused, reads go on.
    patctl.run("grant", "--group", "release", "project", "WORK", "read")
    assert statuses(deployment, repo_path("WORK", "my-repo", PUSH), ivan) == [403] * 4
    assert statuses(deployment, repo_path("WORK", "my-repo", READ), ivan) == [200] * 4
    patctl.run("ungrant", "--group", "release", "project", "WORK")
    assert statuses(deployment, repo_path("WORK", "my-repo", READ), ivan) == [403] * 4


def test_a_group_repository_grant_covers_that_repository_only(deployment, tmp_path):
    patctl = deployment.patctl
    make_bare_repo(deployment.git_root, "WORK", "other", tmp_path / "seed")
    hank = new_user(deployment, "hank")
    patctl.run("group", "add", "my-repo-readers")
    patctl.run("group", "add-member", "my-repo-readers", "hank")
    patctl.run("grant", "--group", "my-repo-readers", "repo", "WORK/my-repo", "read")

    assert statuses(deployment, repo_path("WORK", "my-repo", READ), hank) == [200] * 4
    assert statuses(deployment, repo_path("WORK", "my-repo", PUSH), hank) == [403] * 4
    assert statuses(deployment, repo_path("WORK", "other", READ), hank) == [403] * 4
    cloned = clone(deployment, deployment.repo_url(f"hank:{hank.text}"), tmp_path / "c")
    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "c" / "README.md").read_text() == "version 2\n"

    # The highest grant wins: her own repository write beside the group's read.
    patctl.grant("hank", "repo", "WORK/my-repo", "write")
    assert statuses(deployment, repo_path("WORK", "my-repo", PUSH), hank) == [200] * 4
    patctl.ungrant("hank", "repo", "WORK/my-repo")
    assert statuses(deployment, repo_path("WORK", "my-repo", PUSH), hank) == [403] * 4
    assert statuses(deployment, repo_path("WORK", "my-repo", READ), hank) == [200] * 4


def test_the_all_users_default_gives_every_signed_in_user_read(deployment, tmp_path):
    patctl = deployment.patctl
    make_bare_repo(deployment.git_root, "OPEN", "handbook", tmp_path / "seed")
    path = repo_path("OPEN", "handbook", READ)
    # bob has no grant at all.
    assert statuses(deployment, path, deployment.bob_token) == [403] * 4
    patctl.run("grant", "--all-users", "project", "OPEN", "read")
    assert statuses(deployment, path, deployment.bob_token) == [200] * 4
    assert statuses(deployment, repo_path("OPEN", "handbook", PUSH), deployment.bob_token) == [403] * 4
    # A user made after the default has it too.
    judy = new_user(deployment, "judy")
    cloned = clone(deployment, deployment.repo_url(f"judy:{judy.text}", slug="handbook.git", project="OPEN"),
                   tmp_path / "c")
    assert cloned.returncode == 0, cloned.stderr
    # Every signed-in user, not everyone: without credentials it is the 401.
    assert curl(deployment.url(path)).status == 401
    # Nor a user of another project's default.
    assert statuses(deployment, repo_path("WORK", "my-repo", READ), judy) == [403] * 4
    # A disabled user is not a signed-in user.
    deployment.patctl.disable_user("judy")
    assert statuses(deployment, path, judy) == [401] * 4

    patctl.run("ungrant", "--all-users", "project", "OPEN")
    assert statuses(deployment, path, deployment.bob_token) == [403] * 4


def test_a_membership_change_reaches_every_worker_at_once(deployment):
    """Each worker keeps a read snapshot between decisions; a membership
    committed by patctl must be seen by the next decision of each, not by
    the next reload (statuses() asks every worker)."""
    patctl = deployment.patctl
    kate = new_user(deployment, "kate")
    patctl.run("group", "add", "flip")
    patctl.run("grant", "--group", "flip", "repo", "WORK/my-repo", "write")
    path = repo_path("WORK", "my-repo", PUSH)
    for _ in range(3):
        patctl.run("group", "add-member", "flip", "kate")
        assert statuses(deployment, path, kate) == [200] * 4
        patctl.run("group", "remove-member", "flip", "kate")
        assert statuses(deployment, path, kate) == [403] * 4
