"""Expired tokens are refused. patctl cannot backdate a token, so this
module's nginx runs two days in the future under libfaketime (Debian package
`faketime`); the tokens are created by patctl in the present."""

import os
from pathlib import Path

import pytest

from harness import curl

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")

if not LIBFAKETIME.exists():
    pytest.skip("libfaketime is not installed (Debian package faketime)", allow_module_level=True)

NGINX_ENV = dict(os.environ, LD_PRELOAD=str(LIBFAKETIME), FAKETIME="+2d",
                 FAKETIME_DONT_FAKE_MONOTONIC="1")

URL = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"


def test_token_expired_in_nginx_time_is_401(deployment):
    token = deployment.patctl.create_token("alice", "one-day", project="read", repo="read",
                                           expiry_days=1)
    response = curl(deployment.url(URL), *token.basic())
    assert response.status == 401
    line = next(line for line in reversed(deployment.nginx.error_log.read_text().splitlines())
                if token.id in line)
    assert "expired" in line


def test_token_not_yet_expired_works(deployment):
    token = deployment.patctl.create_token("alice", "three-days", project="read", repo="read",
                                           expiry_days=3)
    assert curl(deployment.url(URL), *token.bearer()).status == 200


def test_token_without_expiry_works(deployment):
    assert curl(deployment.url(URL), *deployment.read_token.basic()).status == 200
