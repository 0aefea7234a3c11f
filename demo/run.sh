#!/bin/bash
# The `make run` demo: nginx with the module on 127.0.0.1:7990 in front of
# git http-backend (via fcgiwrap) and a small Bitbucket-shaped REST backend,
# passing the token API to patd (on a Unix socket in the state directory) and
# serving the account page (web/) at /account/tokens/, with a fresh demo
# store. `run.sh start` (re)starts it, `run.sh stop` stops it.
#
# Environment (for tests): PAT_DEMO_PORT (7990), PAT_DEMO_BACKEND_PORT (7991),
# PAT_DEMO_STATE (build/demo), PATCTL, PAT_MODULE and PATD (the built ones).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PAT_DEMO_PORT:-7990}
BACKEND_PORT=${PAT_DEMO_BACKEND_PORT:-7991}
STATE=${PAT_DEMO_STATE:-$ROOT/build/demo}
PATCTL=${PATCTL:-$ROOT/build/patctl}
MODULE=${PAT_MODULE:-$ROOT/build/ngx_http_auth_pat_module.so}
PATD=${PATD:-$ROOT/build/patd}
PASSWORD="demo password"

die() { echo "run.sh: $*" >&2; exit 1; }

# Stops what a pid file names; with "group", its whole process group (the
# helpers are started with setsid: fcgiwrap forks children of its own).
stop_pid_file() {
    local file=$1 group=${2:-}
    [ -f "$file" ] || return 0
    local pid
    pid=$(cat "$file")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        if [ -n "$group" ]; then kill -- "-$pid" 2>/dev/null || kill "$pid"; else kill "$pid"; fi
        for _ in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$file"
}

stop() {
    stop_pid_file "$STATE/nginx/nginx.pid"
    stop_pid_file "$STATE/patd.pid"  # SIGTERM: in-flight requests get patd's 5 s grace
    stop_pid_file "$STATE/fcgiwrap.pid" group
    stop_pid_file "$STATE/backend.pid" group
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
    for _ in $(seq 100); do port_busy "$1" && return 0; sleep 0.1; done
    die "$2 did not start on port $1 (see $STATE/nginx/logs/error.log)"
}

make_repository() {
    local bare=$STATE/git/WORK/my-repo.git seed=$STATE/seed
    export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    export GIT_AUTHOR_NAME="Demo User" GIT_AUTHOR_EMAIL=demo@example.com
    export GIT_COMMITTER_NAME="Demo User" GIT_COMMITTER_EMAIL=demo@example.com
    git init -q --bare --initial-branch=master "$bare"
    git init -q --initial-branch=master "$seed"
    printf '# my-repo\n\nA demo repository served by nginx-pat.\n' > "$seed/README.md"
    git -C "$seed" add README.md && git -C "$seed" commit -q -m "Add a README"
    printf 'print("hello")\n' > "$seed/hello.py"
    git -C "$seed" add hello.py && git -C "$seed" commit -q -m "Say hello"
    printf 'print("hello, world")\n' > "$seed/hello.py"
    git -C "$seed" commit -q -am "Greet the world"
    git -C "$seed" push -q "$bare" master
    unset GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL \
          GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
}

token() {  # token NAME PROJECT REPO -> prints the token text
    printf '%s\n' "$PASSWORD" | "$PATCTL" --db "$STATE/pat.db" token create alice \
        --name "$1" --project "$2" --repo "$3" --password-stdin --json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

write_nginx_conf() {
    local user_line=""
    # Demo only: as root, workers run as root so they can read the store and
    # write the pushed objects that root created here. A real install runs
    # them as www-data (see the README).
    [ "$(id -u)" = 0 ] && user_line="user root root;"
    mkdir -p "$STATE/nginx/logs" "$STATE/nginx/tmp"
    cat > "$STATE/nginx/nginx.conf" <<CONF
load_module $MODULE;
$user_line
worker_processes 1;
error_log $STATE/nginx/logs/error.log info;
pid $STATE/nginx/nginx.pid;
events { worker_connections 64; }

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format pat '\$remote_addr \$pat_user token=\$pat_token_id "\$request" \$status';
    access_log $STATE/nginx/logs/access.log pat;
    client_body_temp_path $STATE/nginx/tmp/body;
    fastcgi_temp_path $STATE/nginx/tmp/fastcgi;
    proxy_temp_path $STATE/nginx/tmp/proxy;
    scgi_temp_path $STATE/nginx/tmp/scgi;
    uwsgi_temp_path $STATE/nginx/tmp/uwsgi;

    server {
        listen 127.0.0.1:$PORT;
        server_name localhost;
        auth_pat_db $STATE/pat.db;

        # Git smart HTTP, Bitbucket's clone URLs: /bitbucket/scm/KEY/slug.git
        location ~ (?s)^(?:/bitbucket)?/scm(/.*)\$ {
            auth_pat "Bitbucket demo";
            auth_pat_route git;
            client_max_body_size 0;
            fastcgi_pass unix:$STATE/fcgiwrap.sock;
            # Before the include: it sends REMOTE_USER too (empty for a
            # Bearer token) and fcgiwrap keeps the first.
            fastcgi_param REMOTE_USER \$pat_user;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT $STATE/git;
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO \$1;
            fastcgi_param HTTP_AUTHORIZATION "";
        }

        # The token API, served by patd (as in nginx-conf-examples/patd.conf;
        # ^~: the REST location below is a regex and would win otherwise).
        location ^~ /rest/access-tokens/ {
            proxy_pass http://unix:$STATE/patd.sock;
            proxy_set_header Host \$http_host;            # patd compares Origin with it
            proxy_set_header X-Real-IP \$remote_addr;     # the client, for the throttle
            proxy_set_header X-Forwarded-For "";
            client_max_body_size 64k;
        }
        location ^~ /bitbucket/rest/access-tokens/ {
            proxy_pass http://unix:$STATE/patd.sock;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For "";
            client_max_body_size 64k;
        }
        location = /rest/api/1.0/users/credentials {
            proxy_pass http://unix:$STATE/patd.sock;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For "";
            client_max_body_size 64k;
        }

        # The account page, talking to the API above.
        location = /account/tokens {
            return 301 /account/tokens/;
        }
        location /account/tokens/ {
            alias $ROOT/web/;
            index index.html;
            add_header Content-Security-Policy "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" always;
            add_header X-Content-Type-Options nosniff always;
            add_header Referrer-Policy no-referrer always;
            add_header Cache-Control no-cache always;
        }

        # Bitbucket's REST API (the demo backend only lists commits).
        location ~ ^(?:/bitbucket)?/rest/ {
            auth_pat "Bitbucket demo";
            auth_pat_route rest;
            proxy_set_header Authorization "";
            proxy_set_header X-Remote-User \$pat_user;
            proxy_pass http://127.0.0.1:$BACKEND_PORT;
        }
    }
}
CONF
}

start() {
    [ -x "$PATCTL" ] || die "$PATCTL is not built (run make)"
    [ -f "$MODULE" ] || die "$MODULE is not built (run make)"
    [ -x "$PATD" ] || die "$PATD is not built (run make)"
    stop 2>/dev/null || true
    port_busy "$PORT" && die "port $PORT is in use (another demo? run make stop)"
    port_busy "$BACKEND_PORT" && die "port $BACKEND_PORT is in use"

    rm -rf "$STATE" && mkdir -p "$STATE"
    local db=$STATE/pat.db
    "$PATCTL" --db "$db" init >/dev/null
    printf '%s\n' "$PASSWORD" | "$PATCTL" --db "$db" user add alice \
        --display-name "Alice Demo" --password-stdin >/dev/null
    "$PATCTL" --db "$db" grant alice project WORK write >/dev/null
    local read_token write_token
    read_token=$(token "demo read" read read)
    write_token=$(token "demo write" write write)
    make_repository

    setsid /usr/sbin/fcgiwrap -c 2 -s "unix:$STATE/fcgiwrap.sock" \
        </dev/null >"$STATE/fcgiwrap.log" 2>&1 &
    echo $! > "$STATE/fcgiwrap.pid"
    setsid /usr/bin/python3 "$ROOT/demo/rest_backend.py" --port "$BACKEND_PORT" \
        --git-root "$STATE/git" </dev/null >"$STATE/backend.log" 2>&1 &
    echo $! > "$STATE/backend.pid"
    for _ in $(seq 50); do [ -S "$STATE/fcgiwrap.sock" ] && break; sleep 0.1; done
    wait_for_port "$BACKEND_PORT" "the REST backend"

    # patd, the token API daemon: the store's only writer besides patctl.
    setsid "$PATD" --db "$db" --listen "unix:$STATE/patd.sock" \
        </dev/null >"$STATE/patd.log" 2>&1 &
    echo $! > "$STATE/patd.pid"
    for _ in $(seq 100); do
        curl -s -o /dev/null --unix-socket "$STATE/patd.sock" http://localhost/ && break
        kill -0 "$(cat "$STATE/patd.pid")" 2>/dev/null || die "patd did not start (see $STATE/patd.log)"
        sleep 0.1
    done
    curl -s -o /dev/null --unix-socket "$STATE/patd.sock" http://localhost/ ||
        die "patd does not answer on $STATE/patd.sock (see $STATE/patd.log)"

    write_nginx_conf
    /usr/sbin/nginx -p "$STATE/nginx" -c "$STATE/nginx/nginx.conf" ||
        die "nginx did not start (see $STATE/nginx/logs/error.log)"
    wait_for_port "$PORT" nginx

    local base="http://localhost:$PORT/bitbucket"
    cat <<TEXT

nginx-pat demo running on http://localhost:$PORT (state in $STATE; stop with: make stop)
User alice, project WORK, repository my-repo.
  read token:  $read_token
  write token: $write_token

Clone with the read token, then try to push with it (refused: 403):

  cd "\$(mktemp -d)"
  git clone http://alice:$read_token@localhost:$PORT/bitbucket/scm/WORK/my-repo.git
  cd my-repo
  echo "A change" >> README.md
  git -c user.name=Alice -c user.email=alice@example.com commit -qam "A change"
  git push

Push with the write token (accepted):

  git push http://alice:$write_token@localhost:$PORT/bitbucket/scm/WORK/my-repo.git master

Bitbucket's REST example, with the token as a Bearer token:

  curl -H "Authorization: Bearer $read_token" $base/rest/api/1.0/projects/WORK/repos/my-repo/commits/?until=master

Self-service: make your own tokens on the account page (user alice, password "$PASSWORD"),
served by nginx, its API by patd (log: $STATE/patd.log):

  http://localhost:$PORT/account/tokens/

TEXT
}

case "${1:-}" in
    start) start ;;
    stop) stop; echo "nginx-pat demo stopped" ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
