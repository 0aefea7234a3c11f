"""A slapd for the browser test (tests/e2e/directory_sign_in.test.mjs).

    python3 tests/directory/serve.py DIR

starts slapd.py's server in DIR/slapd, writes DIR/directory.conf (StartTLS
with the test's CA) and its password file, prints one JSON line
{"config": PATH, "passwords": {uid: password}} and runs until its stdin
closes; then it stops slapd."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import slapd as slapd_harness  # noqa: E402


def main():
    root = Path(sys.argv[1])
    server = slapd_harness.Slapd(root / "slapd")
    server.start()
    try:
        password_file = root / "directory.password"
        password_file.write_text(slapd_harness.SERVICE_PASSWORD + "\n")
        password_file.chmod(0o640)
        config = root / "directory.conf"
        config.write_text(slapd_harness.directory_config_text(server, password_file))
        passwords = {uid: password for uid, (_, password) in slapd_harness.USERS.items()}
        print(json.dumps({"config": str(config), "passwords": passwords}), flush=True)
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
