"""A sign-in flood for patd's tests, run as its own (niced) process so that
its CPU does not stand in for patd's: CONCURRENCY connections at a time, each
a new connection, for SECONDS. TARGET is a Unix socket path (patd's own: half
the connections send wrong passwords for random unknown names from random
IPv6 /64s, each a full password check, and half the right password of one of
the given users, with X-Real-IP) or tcp:HOST:PORT (nginx: every connection
signs in as the given users with the right password). Prints one JSON
object: statuses and latencies (max, p99) of the sign-ins.

usage: sign_in_flood.py TARGET SECONDS CONCURRENCY PASSWORD USER..."""

import asyncio
import base64
import json
import random
import sys
import time


def request(user, password, address, host="localhost"):
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return (f"GET /rest/access-tokens/1.0/users/{user} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Basic {credentials}\r\nX-Real-IP: {address}\r\n"
            f"Connection: close\r\n\r\n").encode()


async def main(sock, seconds, concurrency, password, users):
    statuses, latencies = {}, []
    deadline = time.monotonic() + seconds

    tcp = sock.startswith("tcp:")
    host, _, port = sock[4:].rpartition(":") if tcp else ("", "", "")

    async def one(n):
        wrong = not tcp and n % 2 == 0
        while time.monotonic() < deadline:
            if wrong:
                user = f"nobody{random.getrandbits(40):x}"
                address = f"2001:db8:{random.getrandbits(16):x}:{random.getrandbits(16):x}::1"
                data = request(user, "wrong password", address)
            else:
                user = users[n % len(users)]
                data = request(user, password, f"192.0.2.{n % 250 + 1}")
            start = time.monotonic()
            try:
                if tcp:
                    data = data.replace(b"Host: localhost", f"Host: {host}:{port}".encode())
                    reader, writer = await asyncio.open_connection(host, int(port))
                else:
                    reader, writer = await asyncio.open_unix_connection(sock)
                writer.write(data)
                answer = await asyncio.wait_for(reader.read(), timeout=60)
                writer.close()
                status = answer[9:12].decode(errors="replace") or "closed"
            except (OSError, asyncio.TimeoutError) as e:
                status = type(e).__name__
            latencies.append(time.monotonic() - start)
            key = ("wrong " if wrong else "right ") + status
            statuses[key] = statuses.get(key, 0) + 1

    await asyncio.gather(*(one(n) for n in range(concurrency)))
    latencies.sort()
    print(json.dumps({"statuses": statuses, "requests": len(latencies),
                      "max_s": latencies[-1] if latencies else 0,
                      "p99_s": latencies[int(len(latencies) * 0.99)] if latencies else 0}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]))
