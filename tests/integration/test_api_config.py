"""Configuration of the API directives: `nginx -t` accepts the documented
forms and refuses bad ones with a message that names the directive."""

import pytest

from harness import load_module_line
from test_config import nginx_test


def check(tmp_path, server_body, http_extra="", main_extra=""):
    return nginx_test(tmp_path, f"{http_extra} server {{ listen 127.0.0.1:1; {server_body} }}",
                      load_module_line() + main_extra)


def test_documented_forms_pass(tmp_path):
    result = check(tmp_path,
                   'auth_pat_db pat.db; '
                   'location /rest/access-tokens/ { auth_pat_api; } '
                   'location /bitbucket/rest/access-tokens/ { auth_pat_api "Bitbucket"; '
                   '  auth_pat_api_thread_pool pat; } '
                   'location = /rest/api/1.0/users/credentials { auth_pat_api; }',
                   http_extra="auth_pat_last_used_flush 30s;",
                   main_extra="\nthread_pool pat threads=2;")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("server_body, http_extra, message", [
    ("location /api/ { auth_pat_api; }", "",
     '"auth_pat_api" needs an "auth_pat_db" at this level or above'),
    ('auth_pat_db pat.db; auth_pat "x"; location /api/ { auth_pat_api; }', "",
     '"auth_pat_api" cannot be protected by "auth_pat"'),
    ("auth_pat_db pat.db; auth_pat_api;", "", '"auth_pat_api" directive is not allowed here'),
    ("auth_pat_db pat.db; location /api/ { auth_pat_api; auth_pat_api; }", "",
     '"auth_pat_api" directive is duplicate'),
    ('auth_pat_db pat.db; location /api/ { auth_pat_api ""; }', "",
     '"auth_pat_api" takes an optional realm'),
    ("auth_pat_db pat.db; location /api/ { auth_pat_api; auth_pat_api_thread_pool nope; }", "",
     'unknown thread pool "nope"'),
    ("auth_pat_db pat.db;", "auth_pat_last_used_flush 0;",
     'invalid value "0" in "auth_pat_last_used_flush"'),
    ("auth_pat_db pat.db;", "auth_pat_last_used_flush soon;",
     'invalid value "soon" in "auth_pat_last_used_flush"'),
    ("auth_pat_db pat.db; auth_pat_last_used_flush 1s;", "",
     '"auth_pat_last_used_flush" directive is not allowed here'),
])
def test_bad_configurations_fail(tmp_path, server_body, http_extra, message):
    result = check(tmp_path, server_body, http_extra)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_an_api_location_may_lift_an_inherited_protection(tmp_path):
    result = check(tmp_path, 'auth_pat_db pat.db; auth_pat "x"; '
                             'location /rest/access-tokens/ { auth_pat off; auth_pat_api; }')
    assert result.returncode == 0, result.stderr


def test_flush_off_is_accepted(tmp_path):
    result = check(tmp_path, "auth_pat_db pat.db;", http_extra="auth_pat_last_used_flush off;")
    assert result.returncode == 0, result.stderr
