"""Absolute-form request targets ("GET http://other.example/scm/... HTTP/1.1")
are refused by the module with 400, as the raw-target table says of anything
not starting with '/' (issue 10, item 5). nginx accepts the form and keeps
only the path in $uri, so without this check the module would decide on a
target whose host part the upstream may read differently."""

import pytest

from harness import curl

GIT_INFO_REFS = "/scm/WORK/my-repo.git/info/refs?service=git-upload-pack"
REST = "/rest/api/1.0/projects/WORK/repos/my-repo"


@pytest.mark.parametrize("path", [GIT_INFO_REFS, REST])
def test_origin_form_is_decided(deployment, path):
    response = curl(deployment.url(path), *deployment.write_token.basic())
    assert response.status == 200


@pytest.mark.parametrize("path", [GIT_INFO_REFS, REST])
@pytest.mark.parametrize("host", ["other.example", "127.0.0.1"])
def test_absolute_form_is_refused(deployment, path, host):
    target = f"http://{host}{path}"
    response = curl(deployment.url("/"), "--request-target", target, *deployment.write_token.basic())
    assert response.status == 400
    # Refused before any credential is looked at: no challenge to answer.
    assert response.header_values("WWW-Authenticate") == []
    assert "or in absolute form" in deployment.nginx.error_log.read_text()


def test_absolute_form_without_credentials_is_refused_too(deployment):
    response = curl(deployment.url("/"), "--request-target", f"http://other.example{GIT_INFO_REFS}")
    assert response.status == 400


def test_http2_is_unaffected(deployment):
    # HTTP/2 has no absolute form (:scheme and :authority are separate).
    response = curl(deployment.h2_base + GIT_INFO_REFS, *deployment.write_token.basic(), http2=True)
    assert response.status == 200
