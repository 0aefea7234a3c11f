"""`satisfy any|all` x `allow|deny`, limit_except, and internal redirects
(error_page, try_files, named locations) that must not get around the check.
Compare nginx-tests' auth_request_satisfy.t."""

import pytest

from harness import curl

PROTECTED = """
            auth_pat "Matrix";
            auth_pat_require repo-write;
            auth_pat_project WORK;
            auth_pat_repo my-repo;
            try_files /ok.txt =404;
"""

EXTRA_SERVER = f"""
        location /any-allow/ {{ satisfy any; allow 127.0.0.1; deny all; {PROTECTED} }}
        location /any-deny/  {{ satisfy any; deny all; {PROTECTED} }}
        location /all-allow/ {{ satisfy all; allow 127.0.0.1; deny all; {PROTECTED} }}
        location /all-deny/  {{ satisfy all; deny all; {PROTECTED} }}
        location /any-allow-fault/ {{
            satisfy any; allow 127.0.0.1; deny all;
            auth_pat "Matrix";
            auth_pat_db @ROOT@/no-such-dir/pat.db;
            try_files /ok.txt =404;
        }}

        location /open/ {{
            error_page 404 = /protected/secret.txt;
        }}
        location /fallback/ {{
            try_files /no-such-file /protected/secret.txt;
        }}
        location /named/ {{
            try_files /no-such-file @protected;
        }}
        location @protected {{
            auth_pat "Named";
            rewrite ^ /secret.txt break;
        }}
        location /protected/ {{
            auth_pat "Protected";
            rewrite ^/protected/(.*)$ /$1 break;
        }}

        location /nested/ {{
            auth_pat "Outer";
            try_files /ok.txt =404;
            location /nested/public/ {{
                auth_pat off;
                try_files /ok.txt =404;
            }}
        }}

        location /writes/ {{
            auth_pat "Writes";
            auth_pat_require authenticated;
            try_files /ok.txt =404;
            limit_except GET {{
                auth_pat_require repo-write;
                auth_pat_project WORK;
                auth_pat_repo my-repo;
            }}
        }}

        location ~ ^/captures/([A-Z]+)/([a-z-]+)/ {{
            auth_pat "Captures";
            auth_pat_require repo-write;
            auth_pat_project $1;
            auth_pat_repo $2;
            try_files /ok.txt =404;
        }}
"""


def credentials(deployment, who):
    return {
        "none": (),
        "bad": ("-H", "Authorization: Bearer npat_not-a-real-token"),
        "read": deployment.read_token.bearer(),  # valid, but repo-write is missing
        "write": deployment.write_token.basic(),
    }[who]


# Expected status per location for: no credentials, a bad token, a valid
# token without the permission (403), a valid token with it.
MATRIX = {
    "/all-allow/": {"none": 401, "bad": 401, "read": 403, "write": 200},
    # deny all: never 200, whatever the token says.
    "/all-deny/": {"none": 401, "bad": 401, "read": 403, "write": 403},
    # allow wins over a soft 401/403 ...
    "/any-allow/": {"none": 200, "bad": 200, "read": 200, "write": 200},
    # ... and a valid token wins over deny.
    "/any-deny/": {"none": 401, "bad": 401, "read": 403, "write": 200},
}


@pytest.mark.parametrize("location", list(MATRIX))
@pytest.mark.parametrize("who", ["none", "bad", "read", "write"])
def test_satisfy_matrix(deployment, location, who):
    response = curl(deployment.url(location + "x"), *credentials(deployment, who))
    assert response.status == MATRIX[location][who]
    if response.status == 200:
        assert response.body == "ok\n"
    if response.status == 200 and location == "/any-allow/":
        # satisfy any let it through: no stale challenge on the 200.
        assert response.header_values("WWW-Authenticate") == []


@pytest.mark.parametrize("who", ["bad", "read", "write"])
def test_store_fault_is_not_overridable_by_allow(deployment, who):
    response = curl(deployment.url("/any-allow-fault/x"), *credentials(deployment, who))
    assert response.status == 500


def test_without_credentials_the_store_is_not_consulted(deployment):
    # No token, no lookup: the soft 401 lets `allow` decide, as with auth_basic.
    assert curl(deployment.url("/any-allow-fault/x")).status == 200


@pytest.mark.parametrize("path", ["/open/missing", "/fallback/x", "/named/x"])
def test_internal_redirect_targets_stay_protected(deployment, path):
    assert curl(deployment.url(path)).status == 401
    response = curl(deployment.url(path), *credentials(deployment, "bad"))
    assert response.status == 401
    response = curl(deployment.url(path), *credentials(deployment, "read"))
    assert response.status == 200
    assert response.body == "secret\n"


def test_off_lifts_an_inherited_protection(deployment):
    assert curl(deployment.url("/nested/x")).status == 401
    assert curl(deployment.url("/nested/public/x")).status == 200


def test_limit_except_adds_a_need_for_other_methods(deployment):
    read = credentials(deployment, "read")
    assert curl(deployment.url("/writes/x"), *read).status == 200
    assert curl(deployment.url("/writes/x"), *read, method="PUT").status == 403
    assert curl(deployment.url("/writes/x"), method="PUT").status == 401
    # The write token passes the check; the static backend then refuses PUT.
    assert curl(deployment.url("/writes/x"), *credentials(deployment, "write"),
                method="PUT").status == 405


def test_complex_values_from_regex_captures(deployment):
    write = credentials(deployment, "write")
    assert curl(deployment.url("/captures/WORK/my-repo/x"), *write).status == 200
    assert curl(deployment.url("/captures/OTHER/my-repo/x"), *write).status == 403
    assert curl(deployment.url("/captures/WORK/my-repo/x"),
                *credentials(deployment, "read")).status == 403
