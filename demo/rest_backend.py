#!/usr/bin/python3
"""A tiny stand-in for Bitbucket's REST API, for `make run`.

Answers GET .../rest/api/{1.0|latest}/projects/{KEY}/repos/{slug}/commits[/]
with the repository's commits as a Bitbucket-shaped page (read from
`git log`), optionally `?until=REF&start=N&limit=N`. Everything else is 404 in
Bitbucket's error shape. It trusts nginx in front of it to have checked the
token: it listens on the loopback interface only.
"""

import argparse
import json
import re
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

COMMITS_PATH = re.compile(
    r"^(?:/[^/]+)*/rest/api/(?:1\.0|latest)/projects/([^/]+)/repos/([^/]+)/commits/?$")
FIELD, RECORD = "\x1f", "\x1e"
LOG_FORMAT = FIELD.join(["%H", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%P", "%B"]) + RECORD


def error_body(message):
    return {"errors": [{"context": None, "message": message, "exceptionName": None}]}


def find_repository(git_root, key, slug):
    slug = slug[:-4] if slug.endswith(".git") else slug
    for project in (key, key.upper()):
        for name in (slug, slug.lower()):
            candidate = Path(git_root) / project / f"{name}.git"
            if candidate.is_dir():
                return candidate
    return None


def person(name, email):
    return {"name": name, "emailAddress": email}


def commit_page(repository, until, start, limit):
    result = subprocess.run(
        ["git", "--git-dir", str(repository), "log", f"--format={LOG_FORMAT}",
         f"--skip={start}", f"--max-count={limit + 1}", until, "--"],
        capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return None
    values = []
    for record in result.stdout.split(RECORD):
        record = record.lstrip("\n")
        if not record:
            continue
        sha, an, ae, at, cn, ce, ct, parents, message = record.split(FIELD)
        values.append({
            "id": sha,
            "displayId": sha[:11],
            "author": person(an, ae),
            "authorTimestamp": int(at) * 1000,
            "committer": person(cn, ce),
            "committerTimestamp": int(ct) * 1000,
            "message": message.rstrip("\n"),
            "parents": [{"id": p, "displayId": p[:11]} for p in parents.split()],
        })
    last_page = len(values) <= limit
    values = values[:limit]
    return {"values": values, "size": len(values), "isLastPage": last_page, "start": start,
            "limit": limit, "nextPageStart": None if last_page else start + len(values)}


class Handler(BaseHTTPRequestHandler):
    server_version = "pat-demo-rest/1"

    def send_json(self, status, body):
        data = (json.dumps(body, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        match = COMMITS_PATH.match(url.path)
        if not match:
            return self.send_json(404, error_body("This demo backend only lists commits."))
        repository = find_repository(self.server.git_root, match[1], match[2])
        if repository is None:
            return self.send_json(404, error_body(f"Repository {match[1]}/{match[2]} does not exist."))
        query = parse_qs(url.query)
        until = query.get("until", ["HEAD"])[0]
        try:
            start = max(0, int(query.get("start", ["0"])[0]))
            limit = min(1000, max(1, int(query.get("limit", ["25"])[0])))
        except ValueError:
            return self.send_json(400, error_body("start and limit must be numbers."))
        if until.startswith("-"):
            return self.send_json(400, error_body("Invalid ref."))
        page = commit_page(repository, until, start, limit)
        if page is None:
            return self.send_json(404, error_body(f"Commit '{until}' does not exist in this repository."))
        return self.send_json(200, page)

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        pass  # nginx logs the requests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--git-root", required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.git_root = args.git_root
    server.serve_forever()


if __name__ == "__main__":
    main()
