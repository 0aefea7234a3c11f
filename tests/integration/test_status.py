"""Metrics (issue 13, "Operate"), through nginx-conf-examples/monitoring.conf
as written (paths, port and sockets pointed at the deployment's): the
module's auth_pat_status location counts every decision once, by reason,
summed over both workers; it and patd's /metrics are refused to any
address but the allowed one; the JSON access log carries $pat_user and
$pat_token_id; patd's counters move with a sign-in, a creation and a
revocation."""

import json
import re
import subprocess

import pytest

from api_client import API_SERVER, api, tokens_path
from harness import REPO_ROOT, curl, free_port, wait_for

EXAMPLE = (REPO_ROOT / "nginx-conf-examples" / "monitoring.conf").read_text()
EXAMPLE_PORT = free_port()
COUNT_PORT = free_port()


def example_conf():
    text = EXAMPLE
    for old, new in (("listen 127.0.0.1:80;", f"listen 127.0.0.1:{EXAMPLE_PORT};"),
                     ("/var/lib/nginx-pat/pat.db", "@ROOT@/store/pat.db"),
                     ("/var/log/nginx/", "@PREFIX@/logs/"),
                     ("unix:/run/fcgiwrap.socket", "unix:@ROOT@/fcgiwrap.sock"),
                     ("/srv/git", "@ROOT@/git"),
                     ("include fastcgi_params;", "include /etc/nginx/fastcgi_params;"),
                     ("/run/nginx-pat/patd.sock", "@PATD_SOCKET@")):
        assert old in text, old
        text = text.replace(old, new)
    return text


# A server of the test's own to count with: reuseport gives each worker a
# socket of its own, so connections spread over both; $pid says which
# worker decided.
COUNTING = f"""
log_format with_pid '$pid $status';
server {{
    listen 127.0.0.1:{COUNT_PORT} reuseport;
    root @PREFIX@/html;
    auth_pat_db @ROOT@/store/pat.db;
    access_log @PREFIX@/logs/count.log with_pid;
    location /read/ {{
        auth_pat "Count";
        auth_pat_require repo-read;
        auth_pat_project WORK;
        auth_pat_repo my-repo;
        try_files /ok.txt =404;
    }}
    location /write/ {{
        auth_pat "Count";
        auth_pat_require repo-write;
        auth_pat_project WORK;
        auth_pat_repo my-repo;
        try_files /ok.txt =404;
    }}
}}
"""

EXTRA_HTTP = example_conf() + COUNTING
EXTRA_SERVER = API_SERVER
SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def scrape(path, interface=None):
    args = ["--interface", interface] if interface else []
    return curl(f"http://127.0.0.1:{EXAMPLE_PORT}{path}", *args)


def samples(text):
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample: {line!r}"
        values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


def module_metrics():
    response = scrape("/auth-pat-status")
    assert response.status == 200, response.body
    return samples(response.body)


def patd_metrics():
    response = scrape("/patd-metrics")
    assert response.status == 200, response.body
    return samples(response.body)


def refused(reason):
    return f'auth_pat_requests_refused_total{{reason="{reason}"}}'


def answered(status):
    return f'auth_pat_responses_total{{status="{status}"}}'


def count_url(path):
    return f"http://127.0.0.1:{COUNT_PORT}{path}"


def test_the_status_page_is_prometheus_text(deployment):
    response = scrape("/auth-pat-status")
    assert response.status == 200
    assert response.header_values("Content-Type") == ["text/plain; version=0.0.4; charset=utf-8"]
    assert "# TYPE auth_pat_requests_allowed_total counter" in response.body
    values = samples(response.body)
    store = str(deployment.store_path)
    assert values[f'auth_pat_store_exists{{store="{store}"}}'] == 1
    assert values[f'auth_pat_store_size_bytes{{store="{store}"}}'] == \
        deployment.store_path.stat().st_size
    assert values[f'auth_pat_store_age_seconds{{store="{store}"}}'] >= 0
    assert any(k.startswith("auth_pat_build_info{") for k in values)
    assert curl(f"http://127.0.0.1:{EXAMPLE_PORT}/auth-pat-status", method="POST").status == 405


@pytest.mark.parametrize("path", ["/auth-pat-status", "/patd-metrics"])
def test_only_the_allowed_address_may_scrape(deployment, path):
    # 127.0.0.2 is loopback too, but not in the example's allow rules.
    assert scrape(path, interface="127.0.0.2").status == 403
    assert scrape(path, interface="127.0.0.1").status == 200


def test_counters_are_summed_over_both_workers(deployment):
    assert len(deployment.nginx.worker_pids()) == 2
    read = deployment.read_token
    revoked = deployment.patctl.create_token("alice", "soon revoked")
    deployment.patctl.revoke(revoked.id)
    log = deployment.nginx.prefix / "logs" / "count.log"
    before = module_metrics()

    # Allowed requests until both workers have decided some.
    allowed = 0
    while allowed < 400:
        assert curl(count_url("/read/x"), *read.basic()).status == 200
        allowed += 1
        pids = {line.split()[0] for line in log.read_text().splitlines()}
        if len(pids) == 2 and allowed >= 10:
            break
    assert len(pids) == 2, "every request went to one worker"

    for _ in range(3):
        assert curl(count_url("/read/x"), *revoked.basic()).status == 401
    for _ in range(2):
        assert curl(count_url("/read/x")).status == 401
    assert curl(count_url("/read/x"), "-H", "Authorization: Digest x").status == 401
    for _ in range(4):
        assert curl(count_url("/write/x"), *read.basic()).status == 403

    after = module_metrics()

    def moved(name):
        return after[name] - before[name]

    assert moved("auth_pat_requests_allowed_total") == allowed
    assert moved(refused("revoked")) == 3
    assert moved(refused("no_credentials")) == 2
    assert moved(refused("malformed_authorization")) == 1
    assert moved(refused("token_level_too_low")) == 4
    assert moved(answered(401)) == 6
    assert moved(answered(403)) == 4
    assert moved(answered(500)) == 0
    for name in after:
        if name.startswith("auth_pat_requests_refused_total") and name not in (
                refused("revoked"), refused("no_credentials"), refused("malformed_authorization"),
                refused("token_level_too_low")):
            assert moved(name) == 0, name


def test_a_reload_keeps_the_counts(deployment):
    assert curl(count_url("/read/x"), *deployment.read_token.basic()).status == 200
    before = module_metrics()["auth_pat_requests_allowed_total"]
    assert before > 0
    deployment.nginx.reload()
    assert module_metrics()["auth_pat_requests_allowed_total"] == before


def test_the_json_access_log_names_who_was_allowed(deployment):
    token = deployment.read_token
    refs = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"
    assert curl(f"http://127.0.0.1:{EXAMPLE_PORT}{refs}", *token.basic()).status == 200
    assert curl(f"http://127.0.0.1:{EXAMPLE_PORT}{refs}").status == 401
    log = deployment.nginx.prefix / "logs" / "git-access.json"
    wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 2, what="the log lines")
    allowed, refused_line = [json.loads(line) for line in log.read_text().splitlines()[-2:]]
    assert allowed["status"] == 200 and allowed["uri"] == refs
    assert allowed["pat_user"] == "alice" and allowed["pat_token_id"] == token.id
    assert refused_line["status"] == 401
    assert refused_line["pat_user"] == "" and refused_line["pat_token_id"] == ""
    assert token.text not in log.read_text()


def test_patd_counts_sign_ins_creations_and_revocations(deployment):
    before = patd_metrics()
    assert 'patd_build_info{version="' in scrape("/patd-metrics").body

    created = api(deployment, "PUT", tokens_path("alice"), user="alice", body={"name": "metrics"})
    assert created.status == 200, created.body
    token_id = created.json()["id"]
    assert api(deployment, "DELETE", f"{tokens_path('alice')}/{token_id}",
               user="alice").status == 204
    assert api(deployment, "GET", tokens_path("alice"), user="alice",
               password="wrong").status == 401

    after = patd_metrics()

    def moved(name):
        return after.get(name, 0) - before.get(name, 0)

    assert moved('patd_sign_ins_total{result="accepted"}') == 2
    assert moved('patd_sign_ins_total{result="refused"}') == 1
    assert moved("patd_tokens_created_total") == 1
    assert moved("patd_tokens_revoked_total") == 1
    assert moved('patd_requests_total{status="200"}') == 1
    assert moved('patd_requests_total{status="204"}') == 1
    assert moved('patd_requests_total{status="401"}') == 1
    assert moved("patd_sign_ins_throttled_total") == 0
    # /metrics itself is not counted.
    assert patd_metrics().get('patd_requests_total{status="200"}') == after.get(
        'patd_requests_total{status="200"}')


def test_patd_metrics_take_get_only(deployment):
    socket_path = str(deployment.patd.socket_path)
    result = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                             "--unix-socket", socket_path, "-X", "POST",
                             "http://patd/metrics"], capture_output=True, text=True, timeout=30)
    assert result.stdout == "405"


def test_a_rotated_token_is_counted_as_rotated(deployment):
    """Issue 16: the old token of a rotation is refused (401, as any refusal)
    and counted under its own reason."""
    created = api(deployment, "PUT", tokens_path("alice"), user="alice",
                  body={"name": "to rotate", "permissions": ["REPO_READ"]})
    assert created.status == 200, created.body
    old = created.json()
    rotated = api(deployment, "POST", f"{tokens_path('alice')}/{old['id']}/rotate", user="alice")
    assert rotated.status == 200, rotated.body
    new = rotated.json()
    before = module_metrics()
    for _ in range(2):
        assert curl(count_url("/read/x"), "-u", f"alice:{old['token']}").status == 401
    assert curl(count_url("/read/x"), "-u", f"alice:{new['token']}").status == 200
    after = module_metrics()
    assert after[refused("rotated")] - before.get(refused("rotated"), 0) == 2
    assert after[refused("revoked")] == before[refused("revoked")]
    assert after[answered(401)] - before[answered(401)] == 2
