"""Subrequests skip nginx's access phase, so `auth_request` pointed at a
location protected by auth_pat used to allow everything (issue 10, item 5).
nginx cannot tell at configuration time which location a subrequest will
reach, so the module refuses at run time instead (fail closed): a subrequest
to a protected location gets 403, with an error.log line saying why, unless
its main request was allowed by auth_pat; then (an SSI include or slice of
an allowed request) it is decided like a main request, for the need of its
own location: an allowed page cannot include what its token may not read."""

import pytest

from harness import curl

EXTRA_SERVER = """
        location /guarded/ {
            auth_request /auth-check;
            try_files /ok.txt =404;
        }
        location = /auth-check {
            internal;
            auth_pat "Check";
            auth_pat_require authenticated;
            try_files /ok.txt =404;
        }
        location /guarded-return/ {
            auth_request /auth-return;
            try_files /ok.txt =404;
        }
        location = /auth-return {
            internal;
            auth_pat "Check";
            return 204;
        }

        location /ssi/ {
            auth_pat "Pages";
            ssi on;
            rewrite ^ /page.html break;
        }
        location /open-ssi/ {
            ssi on;
            rewrite ^ /page.html break;
        }
        location /part/ {
            auth_pat "Pages";
            rewrite ^ /secret.txt break;
        }
        location /ssi-admin/ {
            auth_pat "Pages";
            ssi on;
            rewrite ^ /admin-page.html break;
        }
        location /admin-part/ {
            auth_pat "Pages";
            auth_pat_require repo-admin;
            auth_pat_project WORK;
            auth_pat_repo my-repo;
            rewrite ^ /secret.txt break;
        }
"""


@pytest.fixture(scope="module")
def d(deployment):
    (deployment.prefix / "html" / "page.html").write_text(
        'page:<!--# include virtual="/part/x" -->\n')
    (deployment.prefix / "html" / "admin-page.html").write_text(
        'page:<!--# include virtual="/admin-part/x" -->\n')
    return deployment


@pytest.mark.parametrize("path", ["/guarded/x", "/guarded-return/x"])
@pytest.mark.parametrize("who", ["none", "bad", "good"])
def test_auth_request_to_a_protected_location_fails_closed(d, path, who):
    args = {"none": (), "bad": ("-H", "Authorization: Bearer npat_nope"),
            "good": d.write_token.bearer()}[who]
    response = curl(d.url(path), *args)
    assert response.status == 403
    assert "ok" not in response.body
    assert "refused a subrequest to \"/auth-" in d.nginx.error_log.read_text()


def test_a_subrequest_of_an_allowed_request_follows_it(d):
    response = curl(d.url("/ssi/x"), *d.read_token.basic())
    assert response.status == 200
    assert response.body == "page:secret\n\n"
    assert curl(d.url("/ssi/x")).status == 401


def test_a_subrequest_from_an_unprotected_page_is_refused(d):
    response = curl(d.url("/open-ssi/x"), *d.read_token.basic())
    assert "secret" not in response.body


def test_a_subrequest_of_an_allowed_request_is_decided_for_its_own_location(d):
    # The read token may see the page, not what needs repo-admin: the include fails.
    response = curl(d.url("/ssi-admin/x"), *d.read_token.basic())
    assert response.status == 200
    assert response.body.startswith("page:")
    assert "secret" not in response.body
    assert 'denied repo-admin on "WORK/my-repo"' in d.nginx.error_log.read_text()
