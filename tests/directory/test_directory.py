"""`patctl directory test` against a real slapd: TLS (StartTLS and ldaps://)
verified against the right CA and refused with another, plain ldap:// only
with the insecure switch, RFC 4515 escaping, groupOfNames and posixGroup
membership, sign-in (right and wrong password, unknown user: one answer),
the service account's bind, several URLs tried in order, and a stopped or
stalled slapd failing within the timeouts."""

import json
import os

import slapd as harness

# leads names alice as UID=Alice,OU=People,DC=EXAMPLE,DC=COM: the server compares DNs.
ALL_GROUPS = ["developers", "leads", "ops", "staff"]


def groups_in(output):
    return [line.split()[1] for line in output.splitlines() if line.startswith("group:")]


def one_error_line(result):
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_starttls_with_the_right_ca_finds_the_user_and_their_groups(directory):
    result = directory.test(directory.config())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"server:       {directory.server.ldap_url} (TLS: StartTLS)"
    assert f"service bind: {harness.SERVICE_DN}" in lines
    assert "user:         alice" in lines
    assert f"dn:           {harness.user_dn('alice')}" in lines
    assert "display name: Alice Liddell" in lines
    # developers and staff are groupOfNames (member: DN), ops a posixGroup (memberUid: alice).
    assert groups_in(result.stdout) == ALL_GROUPS


def test_ldaps_with_the_right_ca(directory):
    result = directory.test(directory.config(urls=[directory.server.ldaps_url]), json=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["server"] == directory.server.ldaps_url
    assert report["tls"] == "ldaps"
    assert report["skipped"] == []
    assert report["user"] == {"name": "alice", "display_name": "Alice Liddell", "dn": harness.user_dn("alice")}
    assert [g["name"] for g in report["groups"]] == ALL_GROUPS


def test_the_user_name_is_matched_case_insensitively_and_returned_canonical(directory):
    result = directory.test(directory.config(), user="ALICE")
    assert result.returncode == 0, result.stderr
    assert "user:         alice" in result.stdout.splitlines()


def test_group_membership_by_member_dn_and_by_memberuid(directory):
    config = directory.config()
    bob = directory.test(config, user="bob")  # groupOfNames only
    assert bob.returncode == 0, bob.stderr
    assert groups_in(bob.stdout) == ["developers"]
    carol = directory.test(config, user="carol")  # posixGroup only
    assert carol.returncode == 0, carol.stderr
    assert groups_in(carol.stdout) == ["ops"]


def test_without_the_memberuid_attribute_posix_groups_are_not_read(directory):
    config = directory.config()
    text = config.read_text().replace("group_member_uid_attribute = memberUid\n", "")
    config.write_text(text)
    result = directory.test(config, user="carol")
    assert result.returncode == 0, result.stderr
    assert "groups:       (none)" in result.stdout.splitlines()


def test_a_wrong_ca_is_refused_for_starttls_and_ldaps(directory):
    for url, step in ((directory.server.ldap_url, "StartTLS: "), (directory.server.ldaps_url, "")):
        line = one_error_line(directory.test(directory.config(urls=[url], ca=directory.server.wrong_ca)))
        assert line == (
            f"patctl: directory: no directory server answered; {url}: {step}TLS certificate verification "
            f"failed: the server's certificate is not signed by a CA in ca_file {directory.server.wrong_ca}, "
            "or does not name the host in the URL, or has expired")


def test_a_certificate_for_another_host_is_refused(directory):
    # The certificate names 127.0.0.1 and localhost; ::1 / 127.0.0.2 are not in it.
    url = f"ldaps://127.0.0.2:{directory.server.ldaps_port}"
    result = directory.test(directory.config(urls=[url]))
    line = one_error_line(result)
    assert f"{url}: " in line
    assert ("TLS certificate verification failed" in line) or ("cannot connect" in line)


def test_plain_ldap_needs_the_insecure_switch(directory):
    config = directory.config(extra="start_tls = no\n")
    line = one_error_line(directory.test(config))
    assert line == (
        f"patctl: {config}:2: url {directory.server.ldap_url} with start_tls = no would send passwords in clear: "
        "use StartTLS or ldaps://, or say insecure = yes")
    insecure = directory.config(extra="start_tls = no\ninsecure = yes\n")
    result = directory.test(insecure)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"patctl: warning: {insecure}: insecure = yes: {directory.server.ldap_url} is used without TLS: the "
        "service password and every user's password cross the network in clear\n")
    assert "(TLS: none (insecure = yes))" in result.stdout


def test_filter_metacharacters_in_the_user_name_match_nobody(directory):
    config = directory.config()
    for name, escaped in (("*)(uid=*", r"\2a\29\28uid=\2a"), ("ali*", r"ali\2a"), ("*", r"\2a"),
                          ("alice)(|(uid=*", r"alice\29\28|\28uid=\2a")):
        line = one_error_line(directory.test(config, user=name))
        assert line == (
            f"patctl: directory: no user: no entry under ou=people,{harness.SUFFIX} matches "
            f"(&(objectClass=inetOrgPerson)(uid={escaped})) on {directory.server.ldap_url}"), name


def test_an_unknown_user_is_one_clear_line(directory):
    line = one_error_line(directory.test(directory.config(), user="mallory"))
    assert line.startswith("patctl: directory: no user: no entry under ou=people,")


def test_sign_in_with_the_directory_password(directory):
    config = directory.config()
    ok = directory.test(config, password="alice-pw-1\n")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "sign-in:      ok"
    wrong = directory.test(config, password="bob-pw-2\n")
    assert wrong.returncode == 1
    assert wrong.stdout.splitlines()[-1] == f"sign-in:      refused (wrong password for {harness.user_dn('alice')})"
    # Another user's password, an unknown user: refused too (the API gives one answer for all).
    report = json.loads(directory.test(config, user="bob", password="alice-pw-1\n", json=True).stdout)
    assert report["sign_in"]["outcome"] == "refused"


def test_a_refused_service_bind_is_named(directory, tmp_path):
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-service-password\n")
    wrong.chmod(0o600)
    line = one_error_line(directory.test(directory.config(password_file=wrong)))
    assert line == (
        f"patctl: directory: {directory.server.ldap_url} refused the service bind as {harness.SERVICE_DN}: "
        "Invalid credentials (check bind_dn and bind_password_file)")


def test_a_password_file_others_may_read_is_refused(directory, tmp_path):
    for mode in (0o644, 0o602, 0o601):
        directory.password_file.chmod(mode)
        line = one_error_line(directory.test(directory.config()))
        assert line == (
            f"patctl: bind_password_file {directory.password_file} is open to every user (mode o+rwx): "
            "chmod o-rwx it (root and the nginx workers' group only)")


def test_the_second_url_is_used_when_the_first_is_down(directory):
    down = f"ldap://127.0.0.1:{harness.free_port()}"
    result = directory.test(directory.config(urls=[down, directory.server.ldaps_url]))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"skipped:      {down}: cannot connect: Connection refused"
    assert lines[1] == f"server:       {directory.server.ldaps_url} (TLS: ldaps)"
    assert groups_in(result.stdout) == ALL_GROUPS


def test_a_stopped_slapd_is_unavailable_at_once(own_directory):
    config = own_directory.config(urls=[own_directory.server.ldap_url, own_directory.server.ldaps_url])
    assert own_directory.test(config).returncode == 0
    own_directory.server.stop()
    result = own_directory.test(config)
    line = one_error_line(result)
    assert line == (
        f"patctl: directory: no directory server answered; {own_directory.server.ldap_url}: cannot connect: "
        f"Connection refused; {own_directory.server.ldaps_url}: cannot connect: Connection refused")
    assert result.seconds < 2


def test_a_stalled_slapd_fails_within_the_timeouts(own_directory):
    # SIGSTOP: the kernel still accepts connections, nothing answers. Each
    # URL is given up after connect_timeout (TLS handshake) or
    # operation_timeout (StartTLS), 2 s each here.
    config = own_directory.config(urls=[own_directory.server.ldap_url, own_directory.server.ldaps_url])
    own_directory.server.pause()
    try:
        result = own_directory.test(config)
    finally:
        own_directory.server.resume()
    line = one_error_line(result)
    assert line == (
        f"patctl: directory: no directory server answered; {own_directory.server.ldap_url}: no answer within "
        f"operation_timeout (2 s); {own_directory.server.ldaps_url}: no TLS handshake within connect_timeout (2 s)")
    assert 3.5 < result.seconds < 6, result.seconds
    # And it answers again once slapd does.
    assert own_directory.test(config).returncode == 0


def test_never_a_system_slapd(directory):
    # The tests' slapd is their own process with their own files.
    conf = directory.server.conf.read_text()
    assert "/etc/ldap/slapd.d" not in conf and "/var/lib/ldap" not in conf
    assert directory.server.ldap_port != 389 and directory.server.ldaps_port != 636
    assert os.path.exists(directory.server.dir / "slapd.pid")
