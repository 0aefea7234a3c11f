"""A real slapd (Debian's slapd 2.5) for the directory tests.

Everything lives in one temporary directory: a CA and a server certificate
made with openssl (plus a second, unrelated CA to be refused), a slapd.conf
(mdb backend, the core, cosine, inetorgperson and nis schemas), the database
loaded offline with slapadd, the pid file. slapd listens on two free loopback
ports, ldap:// (StartTLS) and ldaps://, runs in the foreground under this
test's control and is stopped with SIGTERM. Nothing of a system slapd
(/etc/ldap/slapd.d, /var/lib/ldap, port 389) is read or touched.
"""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")

SUFFIX = "dc=example,dc=com"
SERVICE_DN = "cn=nginx-pat,ou=services," + SUFFIX
SERVICE_PASSWORD = "service-secret-1"
USERS = {
    # uid: (display name, password)
    "alice": ("Alice Liddell", "alice-pw-1"),
    "bob": ("Bob Builder", "bob-pw-2"),
    "carol": ("Carol Danvers", "carol-pw-3"),
}
# groupOfNames: cn -> member uids; posixGroup: cn -> memberUid values
GROUPS_OF_NAMES = {"developers": ["alice", "bob"], "staff": ["alice"]}
POSIX_GROUPS = {"ops": ["alice", "carol", "ghost"]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_dn(uid):
    return f"uid={uid},ou=people,{SUFFIX}"


def _run(args, cwd):
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {result.stderr}")


def make_ca(directory, name):
    """A self-signed CA: NAME.key, NAME.pem."""
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
          "-subj", f"/CN=nginx-pat test {name}", "-keyout", f"{name}.key", "-out", f"{name}.pem",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
         directory)
    return directory / f"{name}.pem"


def make_server_cert(directory, ca):
    """server.key, server.pem for 127.0.0.1 and localhost, signed by the CA."""
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
          "-keyout", "server.key", "-out", "server.csr"], directory)
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n")
    _run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", ca.name, "-CAkey", ca.stem + ".key",
          "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem"], directory)


def directory_ldif():
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n",
        f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: nginx-pat\nuserPassword: {SERVICE_PASSWORD}\n",
    ]
    for uid, (display, password) in USERS.items():
        given, surname = display.split()
        entries.append(
            f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {display}\n"
            f"sn: {surname}\ngivenName: {given}\ndisplayName: {display}\nuserPassword: {password}\n")
    for cn, members in GROUPS_OF_NAMES.items():
        lines = "".join(f"member: {user_dn(uid)}\n" for uid in members)
        entries.append(f"dn: cn={cn},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {cn}\n{lines}")
    # Entries only a sync's lists meet: a uid that is no valid user name
    # here, and a group whose members are written in another case, include a
    # group and name a user who does not exist.
    entries.append(
        f"dn: uid=john smith,ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: john smith\n"
        "cn: John Smith\nsn: Smith\nuserPassword: john-pw-4\n")
    entries.append(
        f"dn: cn=leads,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: leads\n"
        f"member: UID=Alice,OU=People,{SUFFIX.upper()}\nmember: cn=staff,ou=groups,{SUFFIX}\n"
        f"member: uid=ghost,ou=people,{SUFFIX}\n")
    for gid, (cn, members) in enumerate(POSIX_GROUPS.items(), start=5000):
        lines = "".join(f"memberUid: {uid}\n" for uid in members)
        entries.append(f"dn: cn={cn},ou=groups,{SUFFIX}\nobjectClass: posixGroup\ncn: {cn}\n"
                       f"gidNumber: {gid}\n{lines}")
    return "\n".join(entries)


def directory_config_text(server, password_file, urls=None, ca=None, extra=""):
    """An nginx-pat directory configuration (docs/directory.md) for server:
    StartTLS on its ldap:// port with its CA, the service account, both kinds
    of group."""
    urls = urls if urls is not None else [server.ldap_url]
    ca = ca if ca is not None else server.ca
    return ("# written by tests/directory/slapd.py\n"
            + "".join(f"url = {url}\n" for url in urls)
            + f"ca_file = {ca}\n"
            + f"bind_dn = {SERVICE_DN}\n"
            + f"bind_password_file = {password_file}\n"
            + f"user_base = ou=people,{SUFFIX}\n"
            + f"group_base = ou=groups,{SUFFIX}\n"
            + "group_filter = (|(objectClass=groupOfNames)(objectClass=posixGroup))\n"
            + "group_member_uid_attribute = memberUid\n"
            + "connect_timeout = 2\noperation_timeout = 2\n"
            + extra)


class Slapd:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = make_ca(self.dir, "ca")
        self.wrong_ca = make_ca(self.dir, "wrong-ca")
        make_server_cert(self.dir, self.ca)
        self.ldap_port = free_port()
        self.ldaps_port = free_port()
        self.process = None
        db = self.dir / "db"
        db.mkdir()
        self.conf = self.dir / "slapd.conf"
        schemas = "".join(f"include {SCHEMA_DIR}/{name}.schema\n"
                          for name in ("core", "cosine", "inetorgperson", "nis"))
        # The service account reads users and groups (never passwords);
        # anonymous clients may only bind.
        self.conf.write_text(
            schemas
            + f"modulepath {MODULE_DIR}\nmoduleload back_mdb\n"
            + f"pidfile {self.dir}/slapd.pid\nargsfile {self.dir}/slapd.args\n"
            + f"TLSCACertificateFile {self.ca}\nTLSCertificateFile {self.dir}/server.pem\n"
            + f"TLSCertificateKeyFile {self.dir}/server.key\n"
            + f"database mdb\nmaxsize 16777216\nsuffix \"{SUFFIX}\"\n"
            + f"rootdn \"cn=admin,{SUFFIX}\"\nrootpw admin-secret\ndirectory {db}\n"
            + "index objectClass eq\nindex uid,memberUid,member eq\n"
            + "access to attrs=userPassword by anonymous auth by * none\n"
            + f"access to * by dn.exact=\"{SERVICE_DN}\" read by * none\n")
        (self.dir / "data.ldif").write_text(directory_ldif())
        _run([SLAPADD, "-q", "-f", str(self.conf), "-l", str(self.dir / "data.ldif")], self.dir)

    @property
    def ldap_url(self):
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def ldaps_url(self):
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self):
        urls = f"ldap://127.0.0.1:{self.ldap_port}/ ldaps://127.0.0.1:{self.ldaps_port}/"
        log = open(self.dir / "slapd.log", "ab")
        # -d 0: stay in the foreground (our child, stopped by us), log nothing.
        self.process = subprocess.Popen([SLAPD, "-d", "0", "-f", str(self.conf), "-h", urls],
                                        stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("slapd exited: " + (self.dir / "slapd.log").read_text())
            try:
                for port in (self.ldap_port, self.ldaps_port):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not listen within 10 s")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def pause(self):
        """SIGSTOP: the ports still accept connections (the kernel's backlog) but nothing answers."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)
