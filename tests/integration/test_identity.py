"""What the upstream receives as the identity: `$pat_user`, `$pat_token_id` and
`$remote_user` are set only when the decision allows. Under `satisfy any` a
refused request can still reach the upstream (an `allow` rule lets it
through); it must then arrive with no identity at all, not with the owner of a
revoked, expired, weak or someone else's token (issue 10, item 1).

The whole matrix `satisfy any|all x allow|deny x (allowed, 401-class,
403-class)` is driven through two real upstreams: a proxied nginx server that
echoes the headers it received, and a FastCGI script (run by the real
fcgiwrap) that echoes its environment."""

import os
import uuid

import pytest

from harness import curl, wait_for

ECHO_SOCKET = f"/tmp/pat-echo-{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"

# The proxied upstream: another nginx server that trusts what it is sent.
EXTRA_HTTP = f"""
    server {{
        listen unix:{ECHO_SOCKET};
        access_log off;
        location / {{
            return 200 "pat_user=[$http_x_pat_user] token_id=[$http_x_pat_token_id] remote_user=[$http_x_remote_user]\\n";
        }}
    }}
"""

NEED = """
            auth_pat "Identity";
            auth_pat_require repo-write;
            auth_pat_project WORK;
            auth_pat_repo my-repo;
"""

ACCESS = {"allow": "allow 127.0.0.1; deny all;", "deny": "deny all;"}


def locations():
    text = ""
    for satisfy in ("any", "all"):
        for rule, access in ACCESS.items():
            text += f"""
        location /{satisfy}-{rule}/proxy/ {{
            satisfy {satisfy}; {access} {NEED}
            proxy_pass http://unix:{ECHO_SOCKET}:/;
            proxy_set_header X-Pat-User $pat_user;
            proxy_set_header X-Pat-Token-Id $pat_token_id;
            proxy_set_header X-Remote-User $remote_user;
        }}
        location /{satisfy}-{rule}/fcgi/ {{
            satisfy {satisfy}; {access} {NEED}
            fastcgi_pass unix:@ROOT@/fcgiwrap.sock;
            fastcgi_param SCRIPT_FILENAME @ROOT@/echo-env.sh;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param PAT_USER $pat_user;
            fastcgi_param PAT_TOKEN_ID $pat_token_id;
            fastcgi_param REMOTE_USER $remote_user;
        }}
"""
    return text


EXTRA_SERVER = locations()

ECHO_SCRIPT = """#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'pat_user=[%s] token_id=[%s] remote_user=[%s]\\n' "$PAT_USER" "$PAT_TOKEN_ID" "$REMOTE_USER"
"""


@pytest.fixture(scope="module")
def d(deployment):
    script = deployment.root / "echo-env.sh"
    script.write_text(ECHO_SCRIPT)
    script.chmod(0o755)
    p = deployment.patctl
    deployment.revoked = p.create_token("alice", "to revoke", project="write", repo="write")
    p.revoke(deployment.revoked.id)
    p.add_user("carol")
    p.grant("carol", "project", "WORK", "write")
    deployment.disabled = p.create_token("carol", "carol's", project="write", repo="write")
    p.disable_user("carol")
    return deployment  # nginx removes ECHO_SOCKET when it stops


def credentials(d, who):
    return {
        # allowed
        "basic": d.write_token.basic(),
        "bearer": d.write_token.bearer(),
        "token-as-user": ("-u", f"{d.write_token.text}:"),
        # 401-class
        "none": (),
        "unknown": ("-H", "Authorization: Bearer npat_not-a-real-token"),
        "revoked": d.revoked.bearer(),
        "revoked-as-mallory": d.revoked.basic("mallory"),
        "wrong-user": d.write_token.basic("mallory"),
        "disabled-user": d.disabled.basic(),
        # 403-class
        "too-weak": d.read_token.basic(),
        "no-grant": d.bob_token.bearer(),
    }[who]


ALLOWED = ["basic", "bearer", "token-as-user"]
UNAUTHENTICATED = ["none", "unknown", "revoked", "revoked-as-mallory", "wrong-user", "disabled-user"]
FORBIDDEN = ["too-weak", "no-grant"]


def expected_status(location, who):
    satisfy, rule = location.split("-")
    if who in ALLOWED:
        # satisfy all with deny all: the token is not enough.
        return 403 if (satisfy, rule) == ("all", "deny") else 200
    if satisfy == "any" and rule == "allow":
        return 200  # the allow rule lets a refused request through
    return 401 if who in UNAUTHENTICATED else 403


@pytest.mark.parametrize("upstream", ["proxy", "fcgi"])
@pytest.mark.parametrize("location", ["any-allow", "any-deny", "all-allow", "all-deny"])
@pytest.mark.parametrize("who", ALLOWED + UNAUTHENTICATED + FORBIDDEN)
def test_the_upstream_sees_an_identity_only_when_allowed(d, upstream, location, who):
    response = curl(d.url(f"/{location}/{upstream}/x"), *credentials(d, who))
    assert response.status == expected_status(location, who), response.body
    if response.status != 200:
        return
    if who in ALLOWED:
        # $remote_user: the verified Basic user; nothing for Bearer and for a
        # token sent as the user name (nginx's own parse would show the token).
        remote_user = "alice" if who == "basic" else ""
        assert response.body == (f"pat_user=[alice] token_id=[{d.write_token.id}] "
                                 f"remote_user=[{remote_user}]\n")
    else:
        # Let through by `allow`: no identity at all, not even nginx's parse
        # of a Basic user name the module refused ("mallory").
        assert response.body == "pat_user=[] token_id=[] remote_user=[]\n"


def test_the_access_log_shows_no_refused_identity(d):
    # The conftest's log format: $remote_user|$pat_user|$pat_token_id|$status|$request_uri
    curl(d.url("/any-allow/proxy/log-check"), *d.revoked.basic("mallory"))
    curl(d.url("/any-allow/proxy/log-check"), *d.read_token.basic())

    def lines():
        return [line for line in d.nginx.access_log.read_text().splitlines()
                if line.endswith("/any-allow/proxy/log-check")]

    # nginx writes the access log line after sending the response.
    wait_for(lambda: len(lines()) == 2, what="two access log lines")
    assert lines() == ["-|-|-|200|/any-allow/proxy/log-check"] * 2


def test_refusals_name_the_token_in_error_log(d):
    # Who was refused still goes to error.log (token id and owner, never the text).
    curl(d.url("/any-deny/proxy/who"), *d.revoked.bearer())
    curl(d.url("/any-deny/proxy/who"), *d.read_token.basic())
    log = d.nginx.error_log.read_text()
    assert f"Bearer credentials rejected: revoked (Basic user \"-\", token {d.revoked.id})" in log
    assert f"user \"alice\" with token {d.read_token.id} denied repo-write" in log
    for token in (d.revoked, d.disabled):
        assert token.text not in log
