"""auth_pat_max_staleness on a single-host store (issue 15): a store without
a ReplicaState is never stale, whatever the bound and however long it goes
unwritten; the status page stays 200 and says it is single-host. And the
directive's values: `nginx -t` accepts a time from 1s to 1d or "off" in
http, server and location, and refuses anything else with a message that
names the directive."""

import re
import time

from harness import curl, load_module_line
from test_config import nginx_test

STATUS = "/auth-pat-status"
EXTRA_SERVER = f"""
        location = {STATUS} {{
            auth_pat_status;
        }}
        location /short/ {{
            auth_pat "Short";
            auth_pat_max_staleness 1s;
            auth_pat_require repo-read;
            auth_pat_project WORK;
            auth_pat_repo my-repo;
            try_files /ok.txt =404;
        }}
"""
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def status(d):
    response = curl(d.url(STATUS))
    values = {}
    for line in response.body.splitlines():
        match = SAMPLE.match(line)
        if match:
            values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return response, values


def test_a_single_host_store_is_never_stale(deployment):
    d = deployment
    token = d.read_token
    # Three times the smallest bound, without a write to the store.
    deadline = time.monotonic() + 3.2
    while time.monotonic() < deadline:
        assert curl(d.url("/short/x"), *token.basic()).status == 200
        assert curl(d.url("/short/x")).status == 401
        assert curl(d.url("/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"),
                    *token.basic()).status == 200
        time.sleep(0.2)
    response, values = status(d)
    assert response.status == 200
    store = f'{{store="{d.store_path}"}}'
    assert values["auth_pat_fleet_mode" + store] == 0
    assert values["auth_pat_replica_stale" + store] == 0
    assert values["auth_pat_requests_stale_total"] == 0
    for name in ("position", "source_head", "lag", "verified_age_seconds", "max_staleness_seconds"):
        assert f"auth_pat_replica_{name}{store}" not in values
    assert "# TYPE auth_pat_replica_position gauge" in response.body


LOCATION = """
    server {{
        listen 127.0.0.1:1;
        auth_pat_db pat.db;
        {server}
        location / {{ auth_pat "x"; {location} }}
    }}
"""


def test_good_values_pass_nginx_t(tmp_path):
    for n, (http, server, location) in enumerate((
            ("auth_pat_max_staleness 30s;", "", ""),
            ("", "auth_pat_max_staleness off;", ""),
            ("", "", "auth_pat_max_staleness 1s;"),
            ("auth_pat_max_staleness 1d;", "auth_pat_max_staleness 2m;", "auth_pat_max_staleness off;"))):
        checked = nginx_test(tmp_path / str(n), http + LOCATION.format(server=server, location=location),
                             load_module_line())
        assert checked.returncode == 0, checked.stderr


def test_bad_values_fail_nginx_t(tmp_path):
    for n, value in enumerate(("500ms", "0", "abc", "2d", "-5s", "on")):
        checked = nginx_test(tmp_path / str(n),
                             LOCATION.format(server="", location=f"auth_pat_max_staleness {value};"),
                             load_module_line())
        assert checked.returncode != 0
        assert f'invalid value "{value}" in "auth_pat_max_staleness"' in checked.stderr, checked.stderr
        assert "from 1s to 1d" in checked.stderr
    checked = nginx_test(tmp_path / "dup", LOCATION.format(
        server="", location="auth_pat_max_staleness 5s; auth_pat_max_staleness 6s;"), load_module_line())
    assert checked.returncode != 0
    assert '"auth_pat_max_staleness" directive is duplicate' in checked.stderr
