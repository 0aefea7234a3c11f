#!/usr/bin/env python3
"""Reduce Atlassian's OpenAPI description of the Bitbucket REST API to the
operations the route generator reads: method, path, operationId and the
description (where Bitbucket states the permission an operation needs).

    tools/rest_routes/extract.py swagger.v3.json > tools/rest_routes/bitbucket-operations.json

The input is src/server/openapi/swagger.v3.json of the public repository
coderabbitai/bitbucket (a copy of the description Atlassian publishes for
Bitbucket Data Center 9.x). See docs/rest-routes.md for why the reduced copy
is checked in.
"""
import json
import sys

METHODS = ("get", "head", "post", "put", "delete", "patch")


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    operations = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            operations.append({
                "method": method.upper(),
                "path": path,
                "operationId": op.get("operationId", ""),
                "description": op.get("description", ""),
            })
    out = {
        "source": "coderabbitai/bitbucket src/server/openapi/swagger.v3.json",
        "title": spec["info"]["title"],
        "version": spec["info"]["version"],
        "servers": [s["url"] for s in spec.get("servers", [])],
        "operations": operations,
    }
    json.dump(out, sys.stdout, indent=0, ensure_ascii=False, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
