"""The token API left the module for patd (issue 12): `auth_pat_api` and
`auth_pat_api_thread_pool` stay as names only, so that an old configuration
fails `nginx -t` with what to write instead. The last-use flush keeps its
directive."""

import pytest

from harness import load_module_line
from test_config import nginx_test

PROXY_PASS = "proxy_pass http://unix:/run/nginx-pat/patd.sock;"


def check(tmp_path, server_body, http_extra="", main_extra=""):
    return nginx_test(tmp_path, f"{http_extra} server {{ listen 127.0.0.1:1; {server_body} }}",
                      load_module_line() + main_extra)


@pytest.mark.parametrize("server_body", [
    "auth_pat_db pat.db; location /rest/access-tokens/ { auth_pat_api; }",
    'auth_pat_db pat.db; location /bitbucket/rest/access-tokens/ { auth_pat_api "Bitbucket"; }',
    "auth_pat_db pat.db; auth_pat_api;",
    "location /api/ { auth_pat_api; }",
    "auth_pat_db pat.db; location /api/ { auth_pat_api_thread_pool default; }",
    "auth_pat_api_thread_pool pat;",
])
def test_the_api_directives_fail_and_say_where_the_api_went(tmp_path, server_body):
    result = check(tmp_path, server_body)
    assert result.returncode != 0
    assert "[emerg]" in result.stderr, result.stderr
    directive = "auth_pat_api_thread_pool" if "thread_pool" in server_body else "auth_pat_api"
    assert f'"{directive}" is gone: the token API moved to patd' in result.stderr, result.stderr
    assert PROXY_PASS in result.stderr, result.stderr
    assert "docs/patd.md" in result.stderr


def test_the_documented_patd_location_passes(tmp_path):
    result = check(tmp_path,
                   'auth_pat_db pat.db; '
                   f'location /rest/access-tokens/ {{ {PROXY_PASS} }} '
                   f'location = /rest/api/1.0/users/credentials {{ {PROXY_PASS} }}',
                   http_extra="auth_pat_last_used_flush 30s;")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("server_body, http_extra, message", [
    ("auth_pat_db pat.db;", "auth_pat_last_used_flush 0;",
     'invalid value "0" in "auth_pat_last_used_flush"'),
    ("auth_pat_db pat.db;", "auth_pat_last_used_flush soon;",
     'invalid value "soon" in "auth_pat_last_used_flush"'),
    ("auth_pat_db pat.db; auth_pat_last_used_flush 1s;", "",
     '"auth_pat_last_used_flush" directive is not allowed here'),
    ("auth_pat_db pat.db;", "auth_pat_last_used_flush 1s; auth_pat_last_used_flush 2s;",
     '"auth_pat_last_used_flush" directive is duplicate'),
])
def test_bad_flush_configurations_fail(tmp_path, server_body, http_extra, message):
    result = check(tmp_path, server_body, http_extra)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_flush_off_is_accepted(tmp_path):
    result = check(tmp_path, "auth_pat_db pat.db;", http_extra="auth_pat_last_used_flush off;")
    assert result.returncode == 0, result.stderr
