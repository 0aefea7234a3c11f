"""Configuration: every file in nginx-conf-examples/ passes `nginx -t` with
the built module, and bad directive values fail `nginx -t` with a message
that names the directive and what it accepts."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import NGINX, REPO_ROOT, Patctl, load_module_line, module_path

EXAMPLES = REPO_ROOT / "nginx-conf-examples"
SERVER_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.conf")
                         if p.name != "mod-http-auth-pat.conf")


def make_cert(directory):
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=git.example.com",
                    "-keyout", str(directory / "git.example.com.key"),
                    "-out", str(directory / "git.example.com.crt")],
                   check=True, capture_output=True, timeout=60)


def nginx_test(prefix, http_body, main_extra=""):
    """Runs `nginx -t` on a minimal main configuration around HTTP_BODY.
    `nginx -t` opens every store as the workers would (docs/directives.md,
    auth_pat_db): a real store is made at PREFIX/pat.db (`auth_pat_db
    pat.db;` names it), and the workers run as root when the tests do, since
    pytest's directories are closed to everyone else."""
    prefix = Path(prefix)
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    shutil.copy("/etc/nginx/fastcgi_params", prefix / "fastcgi_params")
    if not (prefix / "pat.db").exists():
        Patctl(prefix / "pat.db").init()
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
{main_extra}
{user}
error_log {prefix}/logs/error.log;
pid {prefix}/nginx.pid;
events {{}}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    {http_body}
}}
""")
    return subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(module_path() == "static", reason="the module is built into nginx")
def test_module_loading_snippet(tmp_path):
    snippet = (EXAMPLES / "mod-http-auth-pat.conf").read_text()
    assert "load_module modules/ngx_http_auth_pat_module.so;" in snippet
    loaded = snippet.replace("modules/ngx_http_auth_pat_module.so", module_path())
    result = nginx_test(tmp_path, 'server { listen 127.0.0.1:1; auth_pat_db pat.db; '
                                  'location / { auth_pat "x"; } }', loaded)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", SERVER_EXAMPLES)
def test_example_passes_nginx_t(tmp_path, name):
    text = (EXAMPLES / name).read_text()
    assert "auth_pat " in text
    certs = tmp_path / "certs"
    if "/etc/ssl/nginx-pat/" in text:
        make_cert(certs)
    text = (text.replace("/etc/ssl/nginx-pat/", f"{certs}/")
                .replace("/var/log/nginx/", f"{tmp_path}/logs/")
                .replace("/var/lib/nginx-pat/pat.db", f"{tmp_path}/pat.db"))
    (tmp_path / "example.conf").write_text(text)
    result = nginx_test(tmp_path, f"include {tmp_path}/example.conf;",
                        load_module_line())
    assert result.returncode == 0, result.stderr


BAD_CONFIGS = [
    ('location / { auth_pat_route gti; }', 'invalid value "gti" in "auth_pat_route"',
     '"git", "rest" or "off"'),
    ('location / { auth_pat_require write; }', 'invalid value "write" in "auth_pat_require"',
     '"repo-write"'),
    ('location / { auth_pat "a"; auth_pat "b"; }', '"auth_pat" directive is duplicate', None),
    ('location / { auth_pat_route git; auth_pat_route rest; }',
     '"auth_pat_route" directive is duplicate', None),
    ('location / { auth_pat_db a; auth_pat_db b; }', '"auth_pat_db" directive is duplicate',
     None),
    ('location / { auth_pat_project A; auth_pat_project B; }',
     '"auth_pat_project" directive is duplicate', None),
    ('location / { auth_pat "x"; }', '"auth_pat" is on but no "auth_pat_db"', None),
    ('location / { auth_pat_db ""; }', '"auth_pat_db" needs the path of a store', None),
    ('location / { auth_pat; }', 'invalid number of arguments in "auth_pat"', None),
    ('location / { auth_pat_repo $no_such_variable; }', 'unknown "no_such_variable" variable',
     None),
    ('location / { auth_pat_rest_rule FETCH /rest/x authenticated; }',
     '"auth_pat_rest_rule": invalid method "FETCH"', 'GET, POST, PUT, DELETE, PATCH or *'),
    ('location / { auth_pat_rest_rule GET /rest/x repo-reader; }',
     '"auth_pat_rest_rule": invalid need "repo-reader"', 'repo-read'),
    ('location / { auth_pat_rest_rule GET "/rest/a/{projectKey}" repo-read; }',
     'need "repo-read" names a repository', '{repositorySlug}'),
    ('location / { auth_pat_rest_rule GET /api/x authenticated; }', 'must start with /rest/', None),
    ('location / { auth_pat_rest_rule GET /rest/x; }',
     'invalid number of arguments in "auth_pat_rest_rule"', None),
]


@pytest.mark.parametrize("body,message,accepted", BAD_CONFIGS, ids=[c[1] for c in BAD_CONFIGS])
def test_bad_directive_fails_nginx_t(tmp_path, body, message, accepted):
    result = nginx_test(tmp_path, f"server {{ listen 127.0.0.1:1; {body} }}",
                        load_module_line())
    assert result.returncode != 0
    assert "[emerg]" in result.stderr and message in result.stderr, result.stderr
    if accepted:
        assert accepted in result.stderr


def test_off_and_variables_are_accepted(tmp_path):
    body = """
    map $uri $pat_realm { default "Git"; }
    server {
        listen 127.0.0.1:1;
        auth_pat_db pat.db;
        auth_pat $pat_realm;
        location /a/ { auth_pat off; }
        location /b/ { auth_pat_route off; auth_pat_require project-read; auth_pat_project $arg_p; }
        location /c/ { limit_except GET { auth_pat_require repo-admin; auth_pat_project P;
                                          auth_pat_repo r; } }
        location /rest/ { auth_pat_route rest;
                          auth_pat_rest_rule * "/rest/myplugin/latest/projects/{projectKey}/**" project-admin;
                          auth_pat_rest_rule GET "/rest/ci/{id}" authenticated;
                          location /rest/inner/ { auth_pat_rest_rule POST /rest/inner/x sysadmin; } }
    }"""
    result = nginx_test(tmp_path, body, load_module_line())
    assert result.returncode == 0, result.stderr
