"""Malformed Authorization headers: always 401, never a crash, a 5xx or an
accept; and the scheme names are case-insensitive."""

import base64

import pytest

from harness import curl

URL = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def malformed_headers(token):
    return {
        "scheme only": "Basic",
        "bearer only": "Bearer",
        "unknown scheme": f"Token {token}",
        "digest": f'Digest username="alice", response="{token}"',
        "bad base64": "Basic !!!not-base64!!!",
        "base64 stray padding": "Basic " + b64(f"alice:{token}".encode()) + "==",
        "base64 missing padding": "Basic " + b64(f"alice:{token}=".encode()).rstrip("="),
        "base64 junk after padding": "Basic " + b64(b"alice:x") + "AAAA",
        "no colon": "Basic " + b64(b"alice" + token.encode()),
        "empty user": "Basic " + b64(f":{token}".encode()),
        "NUL in user": "Basic " + b64(f"ali\0ce:{token}".encode()),
        "NUL in token": "Basic " + b64(f"alice:{token[:10]}\0{token[10:]}".encode()),
        "extra words basic": "Basic " + b64(f"alice:{token}".encode()) + " extra",
        "extra words bearer": f"Bearer {token} extra",
        "4 KiB bearer": "Bearer " + "A" * 4096,
        "4 KiB basic": "Basic " + b64(b"alice:" + b"A" * 4000),
        "token with trailing junk": f"Bearer {token}x",
        "truncated token": f"Bearer {token[:-1]}",
        "user with newline": "Basic " + b64(f"alice\n[alert] forged:{token}".encode()),
    }


@pytest.mark.parametrize("case", list(malformed_headers("t")))
def test_malformed_header_is_401(deployment, case):
    header = malformed_headers(deployment.read_token.text)[case]
    response = curl(deployment.url(URL), "-H", f"Authorization: {header}")
    assert response.status == 401, case
    assert response.header_values("WWW-Authenticate") == ['Basic realm="Git"']


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_basic_scheme_is_case_insensitive(deployment, scheme):
    token = deployment.read_token
    header = f"{scheme} " + b64(f"alice:{token.text}".encode())
    assert curl(deployment.url(URL), "-H", f"Authorization: {header}").status == 200


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_bearer_scheme_is_case_insensitive(deployment, scheme):
    header = f"{scheme} {deployment.read_token.text}"
    assert curl(deployment.url(URL), "-H", f"Authorization: {header}").status == 200


def test_several_spaces_after_scheme_are_accepted(deployment):
    header = "Bearer    " + deployment.read_token.text
    assert curl(deployment.url(URL), "-H", f"Authorization: {header}").status == 200


def test_duplicate_authorization_header_is_refused(deployment):
    # nginx itself refuses the request, and logs both values at info: a
    # bogus token here, so that the no-secret-in-logs check stays meaningful.
    bogus = "Authorization: Bearer npat_" + "x" * 49
    response = curl(deployment.url(URL), "-H", bogus, "-H", bogus)
    assert response.status == 400


def test_no_credentials_is_401_with_challenge_and_logged_at_info(deployment):
    response = curl(deployment.url(URL + "&mark=nocreds"))
    assert response.status == 401
    assert response.header_values("WWW-Authenticate") == ['Basic realm="Git"']
    log = deployment.nginx.error_log.read_text()
    assert "[info]" in next(line for line in reversed(log.splitlines())
                            if "no credentials" in line and "mark=nocreds" in line)


def test_rejection_is_logged_with_reason_not_token(deployment):
    token = deployment.read_token
    curl(deployment.url(URL + "&mark=wronguser"), *token.basic(user="bob"))
    line = next(line for line in reversed(deployment.nginx.error_log.read_text().splitlines())
                if "mark=wronguser" in line and "auth_pat" in line)
    assert "[error]" in line
    assert "wrong user" in line and token.id in line
    assert token.text not in line
