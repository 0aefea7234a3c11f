"""A token sent where a user name belongs is still a secret (issue 10, item 2):
`curl -u TOKEN:`, `git ls-remote http://TOKEN@host/...`, the same against the
token API, a lower-cased or mistyped token as the user name. It must reach no
log (error.log at debug level, the access log in nginx's default `combined`
format, which prints $remote_user), no variable, and not the store's audit
trail (`patctl audit`), not even lower-cased: lower-casing leaves few enough
checksum-valid candidates to try.

A token-shaped user name with an empty password is accepted as the token, as
other forges do, through the same decision as Bearer: its owner is the
identity. With a password it is refused (401)."""

import base64
import os
import subprocess
import uuid

import pytest

from api_client import API_SERVER, tokens_path
from harness import PASSWORD, curl, git, wait_for

ECHO_SOCKET = f"/tmp/pat-secrecy-echo-{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"

EXTRA_HTTP = f"""
    server {{
        listen unix:{ECHO_SOCKET};
        access_log off;
        location / {{
            return 200 "pat_user=[$http_x_pat_user] remote_user=[$http_x_remote_user]\\n";
        }}
    }}
"""

# Every log a deployment usually has, at its most talkative: error.log at
# debug (Debian's nginx is built --with-debug) and the combined access log.
# (At debug level nginx itself logs every request header as received, so a
# Bearer header appears there verbatim: the docs say never to run debug with
# real tokens. Basic credentials appear base64-encoded only; what is scanned
# here is everything this module and the store write.)
EXTRA_SERVER = API_SERVER + f"""
        error_log @PREFIX@/logs/error.log info;
        error_log @PREFIX@/logs/debug.log debug;
        access_log @PREFIX@/logs/combined.log combined;

        location /echo/ {{
            auth_pat "Echo";
            proxy_pass http://unix:{ECHO_SOCKET}:/;
            proxy_set_header X-Pat-User $pat_user;
            proxy_set_header X-Remote-User $remote_user;
        }}
"""


def all_logs(d):
    prefix = d.nginx.error_log.parent
    text = ""
    for name in ("error.log", "debug.log", "combined.log", "access.log"):
        path = prefix / name
        if path.exists():
            text += path.read_text(errors="replace")
    text += d.patctl.run("audit", "--limit", "100000").stdout
    text += d.patctl.run("audit", "--limit", "100000", "--json", check=False).stdout
    return text


def assert_nowhere(d, secret):
    logs = all_logs(d).lower()
    assert secret.lower() not in logs, "a token reached a log or the audit trail"
    # A mistyped token (bad checksum) is as secret: its neighbours are close.
    assert secret[:30].lower() not in logs


def basic(user, password):
    return "Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def ls_remote(d, url):
    # GIT_ASKPASS answers the password prompt with nothing: git then sends
    # "TOKEN:", as it does with a credential helper that stores no password.
    return git("ls-remote", url, env={"GIT_ASKPASS": "/bin/true"}, check=False)


def test_token_as_user_name_with_an_empty_password_is_the_token(deployment):
    d = deployment
    token = d.write_token
    response = curl(d.url("/echo/x"), "-u", f"{token.text}:")
    assert response.status == 200
    # Its owner is the identity; $remote_user (nginx's parse: the token) is hidden.
    assert response.body == "pat_user=[alice] remote_user=[]\n"
    # Git, with the token as the URL's user name.
    result = ls_remote(d, d.repo_url(token.text))
    assert result.returncode == 0, result.stderr
    assert "refs/heads/master" in result.stdout
    result = ls_remote(d, d.repo_url(f"{token.text}:"))
    assert result.returncode == 0, result.stderr
    # The same decision as Bearer: a read token cannot push-check, bob's has no grant.
    assert curl(d.url("/scm/WORK/my-repo.git/info/refs?service=git-receive-pack"),
                "-u", f"{d.read_token.text}:").status == 403
    assert curl(d.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"),
                "-u", f"{d.bob_token.text}:").status == 403
    combined = d.nginx.error_log.parent / "combined.log"
    # nginx writes the access log line after sending the response.
    wait_for(lambda: "/echo/x" in combined.read_text(), what="the combined log line")
    assert " - - [" in combined.read_text()  # $remote_user printed as "-"
    assert_nowhere(d, token.text)
    assert_nowhere(d, d.read_token.text)
    assert_nowhere(d, d.bob_token.text)


def test_token_as_user_name_with_a_password_is_refused(deployment):
    d = deployment
    token = d.read_token.text
    for password in ("x-oauth-basic", token, PASSWORD):
        response = curl(d.url("/echo/x"), "-u", f"{token}:{password}")
        assert response.status == 401
    assert "a token was sent as the user name" in d.nginx.error_log.read_text()
    assert_nowhere(d, token)


@pytest.mark.parametrize("variant", ["lower", "upper", "typo"])
def test_a_damaged_token_as_user_name_is_never_logged(deployment, variant):
    d = deployment
    text = d.bob_token.text
    damaged = {"lower": text.lower(), "upper": text.upper(),
               "typo": text[:20] + ("A" if text[20] != "A" else "B") + text[21:]}[variant]
    for user in (damaged, "x" + damaged):
        assert curl(d.url("/echo/x"), "-u", f"{user}:").status == 401
        assert curl(d.url("/echo/x"), "-u", f"{user}:secret").status == 401
        result = ls_remote(d, d.repo_url(user))
        assert result.returncode != 0
    assert_nowhere(d, damaged)
    assert_nowhere(d, text)


def test_the_token_api_never_logs_or_audits_a_token(deployment):
    d = deployment
    token = d.write_token.text
    path = d.url(tokens_path("alice"))
    cases = [
        ("-u", f"{token}:"),                      # the token as the user name
        ("-u", f"{token.lower()}:"),              # lower-cased
        ("-u", f"{token}:{PASSWORD}"),            # with alice's password
        ("-u", f"alice:{token}"),                 # as the password
        ("-H", basic(token.upper(), "")),
    ]
    for args in cases:
        response = curl(path, *args)
        assert response.status == 401, args
        response = curl(path, *args, "-X", "PUT", "-H", "Content-Type: application/json",
                        "--data-binary", '{"name":"x","permissions":["REPO_READ"]}')
        assert response.status == 401, args
    # Not a sign-in attempt either: no failure recorded for anyone.
    audit = d.patctl.run("audit", "--limit", "100000").stdout
    assert "npat_" not in audit.lower()
    assert_nowhere(d, token)


def test_debug_level_log_really_is_on(deployment):
    # The scans above mean something only if the debug log records requests.
    curl(deployment.url("/echo/x"))
    debug = (deployment.nginx.error_log.parent / "debug.log").read_text(errors="replace")
    assert "[debug]" in debug and "auth_pat" in debug


def test_every_log_is_clean_at_the_end(deployment):
    # Last in the module: once this request's line is in the combined log,
    # the earlier requests' lines are too (nginx logs after responding).
    d = deployment
    curl(d.url("/echo/final-marker"))
    combined = d.nginx.error_log.parent / "combined.log"
    wait_for(lambda: "/echo/final-marker" in combined.read_text(), what="the final log line")
    for token in (d.read_token, d.write_token, d.bob_token):
        assert_nowhere(d, token.text)
