// A real deployment for the browser test: Debian's nginx with the built
// module serving the account page and git smart HTTP (git http-backend
// through fcgiwrap), and passing the access-tokens API to the real patd on a
// Unix socket (the locations of nginx-conf-examples/patd.conf), over a store
// made by the real patctl. Everything lives under one temporary directory.

import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PATCTL = process.env.PATCTL || path.join(REPO_ROOT, 'build', 'patctl');
export const MODULE = process.env.PAT_MODULE || path.join(REPO_ROOT, 'build', 'ngx_http_auth_pat_module.so');
export const PATD = process.env.PATD || path.join(REPO_ROOT, 'build', 'patd');
export const WEB_ROOT = path.join(REPO_ROOT, 'web');
export const PASSWORD = 'correct horse battery staple';

const NGINX = '/usr/sbin/nginx';
const FCGIWRAP = '/usr/sbin/fcgiwrap';
const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

// error.log lines that fail the test: nginx alerts and emergencies, and
// anything a sanitizer prints; in patd's log, crit and worse.
const BAD_LOG_LINE = /\[alert\]|\[emerg\]|AddressSanitizer|LeakSanitizer|runtime error:/;
const BAD_PATD_LINE = /^<[0-2]>patd:|AddressSanitizer|LeakSanitizer|runtime error:/;
// Except the 503 of a full sign-in gate, an expected answer under load that
// patd logs at crit (with every status >= 500) today.
const PATD_BUSY_LINE = /^<2>patd: crit: token API: sign-in refused with 503, too many at once/;

// The API's locations of nginx-conf-examples/patd.conf, as written there,
// pointed at this deployment's patd socket.
function apiLocations(socket) {
  const example = readFileSync(path.join(REPO_ROOT, 'nginx-conf-examples', 'patd.conf'), 'utf8');
  const from = example.indexOf('    location /rest/access-tokens/');
  const to = example.indexOf('    # The account page');
  if (from < 0 || to < from) throw new Error('nginx-conf-examples/patd.conf has no API locations');
  const locations = example.slice(from, to).replaceAll('http://patd;', `http://unix:${socket};`);
  if (locations.split(`proxy_pass http://unix:${socket};`).length !== 3) {
    throw new Error('nginx-conf-examples/patd.conf: expected two proxy_pass http://patd; lines');
  }
  return locations;
}

export function gitEnv() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_')));
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@example.com',
  };
}

// Runs a program to completion; throws with its stderr unless allowed to fail.
export function run(command, args, { input, cwd, env, allowFailure = false } = {}) {
  const result = spawnSync(command, args, { input, cwd, env, encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw result.error;
  if (!allowFailure && result.status !== 0) {
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed (${result.status}): ${result.stderr.trim()}`);
  }
  return result;
}

export const git = (args, options = {}) => run('git', args, { ...options, env: gitEnv() });

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

function socketAnswers(socketPath) {
  return new Promise((resolve) => {
    const socket = net.connect({ path: socketPath });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(predicate, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function nginxConf({ prefix, port, store, fcgiSocket, gitRoot, patdSocket }) {
  const user = process.geteuid() === 0 ? 'user root root;' : '';
  return `
load_module ${MODULE};
${user}
worker_processes 1;
error_log ${prefix}/logs/error.log info;
pid ${prefix}/nginx.pid;
daemon off;
events { worker_connections 128; }

http {
    types {
        text/html html;
        text/css css;
        text/javascript js;
        image/png png;
        image/svg+xml svg;
    }
    default_type application/octet-stream;
    access_log ${prefix}/logs/access.log;
    client_body_temp_path ${prefix}/tmp/body;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    proxy_temp_path ${prefix}/tmp/proxy;
    scgi_temp_path ${prefix}/tmp/scgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    # Uses reach the usage file (last authenticated, from which address)
    # within a second rather than the default minute.
    auth_pat_last_used_flush 1s;

    server {
        listen 127.0.0.1:${port};
        auth_pat_db ${store};

        location ~ ^/scm(/.*)$ {
            auth_pat "Git";
            auth_pat_route git;
            client_max_body_size 0;
            fastcgi_pass unix:${fcgiSocket};
            fastcgi_param SCRIPT_FILENAME ${GIT_HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT ${gitRoot};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
            fastcgi_param REMOTE_USER $pat_user;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param REMOTE_ADDR $remote_addr;
        }

${apiLocations(patdSocket)}

        location = /account/tokens {
            return 301 /account/tokens/;
        }
        location /account/tokens/ {
            alias ${WEB_ROOT}/;
            index index.html;
            add_header Content-Security-Policy "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" always;
            add_header X-Content-Type-Options nosniff always;
            add_header Referrer-Policy no-referrer always;
            add_header Cache-Control no-cache always;
        }
    }
}
`;
}

// The first line a child prints.
async function firstLine(stream, what) {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    text += chunk;
    const end = text.indexOf('\n');
    if (end >= 0) return text.slice(0, end);
  }
  throw new Error(`${what} printed nothing`);
}

export class Deployment {
  // directory: also a real slapd (tests/directory/serve.py) that patd signs
  // directory users in against (docs/directory.md).
  constructor({ directory = false } = {}) {
    this.withDirectory = directory;
    this.root = mkdtempSync(path.join(os.tmpdir(), 'nginx-pat-e2e-'));
    this.prefix = path.join(this.root, 'nginx');
    this.store = path.join(this.root, 'store', 'pat.db');
    this.gitRoot = path.join(this.root, 'git');
    this.fcgiSocket = path.join(this.root, 'fcgiwrap.sock');
    this.patdSocket = path.join(this.root, 'patd.sock');
    this.patdLogFile = path.join(this.root, 'patd.log');
    this.processes = [];
  }

  patctl(...args) {
    const last = args[args.length - 1];
    const options = typeof last === 'object' ? args.pop() : {};
    return run(PATCTL, ['--db', this.store, ...args], options);
  }

  addUser(name, { sysadmin = false } = {}) {
    this.patctl('user', 'add', name, ...(sysadmin ? ['--sysadmin'] : []), '--password-stdin',
      { input: `${PASSWORD}\n` });
  }

  // The tokens patctl sees for a user, as JSON.
  tokensOf(user) {
    return JSON.parse(this.patctl('token', 'list', user, '--json').stdout);
  }

  async start() {
    for (const [file, what] of [[PATCTL, 'patctl'], [MODULE, 'the nginx module'], [PATD, 'patd'], [NGINX, 'nginx'],
      [FCGIWRAP, 'fcgiwrap'], [GIT_HTTP_BACKEND, 'git http-backend']]) {
      if (!existsSync(file)) throw new Error(`${what} is missing (${file}): run \`make\` and \`make deps\``);
    }
    mkdirSync(path.dirname(this.store), { recursive: true });
    this.patctl('init');
    this.addUser('alice');
    this.patctl('grant', 'alice', 'project', 'WORK', 'write');
    this.addUser('bob');
    this.addUser('root-admin', { sysadmin: true });
    this.makeRepository('WORK', 'my-repo');

    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;

    this.spawn(FCGIWRAP, ['-c', '2', '-s', `unix:${this.fcgiSocket}`]);
    await waitFor(() => existsSync(this.fcgiSocket), 'the fcgiwrap socket');

    // The directory: slapd runs until serve.py's stdin closes (stop()
    // signals its process group, slapd included).
    let directoryArgs = ['--directory', 'none'];
    if (this.withDirectory) {
      const serve = this.directoryServer = this.spawn('python3', [path.join(REPO_ROOT, 'tests', 'directory', 'serve.py'),
        path.join(this.root, 'directory')], ['pipe', 'pipe', 'inherit']);
      const started = JSON.parse(await firstLine(serve.stdout, 'tests/directory/serve.py'));
      this.directoryConfig = started.config;
      this.directoryPasswords = started.passwords;
      directoryArgs = ['--directory', this.directoryConfig];
    }

    // patd, the token API daemon, logging to a file (its stderr).
    const log = openSync(this.patdLogFile, 'a');
    try {
      this.patd = this.spawn(PATD, ['--db', this.store, '--listen', `unix:${this.patdSocket}`, ...directoryArgs],
        ['ignore', log, log]);
    } finally {
      closeSync(log);
    }
    await waitFor(async () => this.patd.exitCode !== null || await socketAnswers(this.patdSocket), 'the patd socket');
    if (this.patd.exitCode !== null) throw new Error(`patd exited (${this.patd.exitCode}): ${this.patdLog()}`);

    for (const sub of ['logs', 'tmp']) mkdirSync(path.join(this.prefix, sub), { recursive: true });
    this.conf = path.join(this.prefix, 'nginx.conf');
    writeFileSync(this.conf, nginxConf(this));
    run(NGINX, ['-p', this.prefix, '-c', this.conf, '-t']);
    const nginx = this.spawn(NGINX, ['-p', this.prefix, '-c', this.conf]);
    await waitFor(async () => nginx.exitCode !== null || await portOpen(this.port), `nginx on port ${this.port}`);
    if (nginx.exitCode !== null) throw new Error(`nginx exited (${nginx.exitCode}): ${this.errorLog()}`);
  }

  spawn(command, args, stdio = 'ignore') {
    const child = spawn(command, args, { stdio, detached: true });
    this.processes.push(child);
    return child;
  }

  // A bare repository GIT_ROOT/PROJECT/SLUG.git with one commit on master.
  makeRepository(project, slug) {
    const bare = path.join(this.gitRoot, project, `${slug}.git`);
    const seed = path.join(this.root, 'seed');
    mkdirSync(path.dirname(bare), { recursive: true });
    git(['init', '-q', '--bare', '--initial-branch=master', bare]);
    git(['init', '-q', '--initial-branch=master', seed]);
    writeFileSync(path.join(seed, 'README.md'), 'hello from my-repo\n');
    git(['add', 'README.md'], { cwd: seed });
    git(['commit', '-q', '-m', 'first commit'], { cwd: seed });
    git(['push', '-q', bare, 'master'], { cwd: seed });
  }

  url(pathname) {
    return this.base + pathname;
  }

  repoUrl(user, secret) {
    return `http://${encodeURIComponent(user)}:${encodeURIComponent(secret)}@127.0.0.1:${this.port}/scm/WORK/my-repo.git`;
  }

  errorLog() {
    const file = path.join(this.prefix, 'logs', 'error.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  accessLog() {
    const file = path.join(this.prefix, 'logs', 'access.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  patdLog() {
    return existsSync(this.patdLogFile) ? readFileSync(this.patdLogFile, 'utf8') : '';
  }

  // nginx's alerts, patd's crit lines, and a patd that did not stop cleanly.
  logProblems() {
    const problems = this.errorLog().split('\n').filter((line) => BAD_LOG_LINE.test(line))
      .concat(this.patdLog().split('\n').filter((line) => BAD_PATD_LINE.test(line) && !PATD_BUSY_LINE.test(line)));
    if (this.patd && (this.patd.exitCode !== 0 || existsSync(this.patdSocket))) {
      const { exitCode, signalCode } = this.patd;
      problems.push(`patd did not stop cleanly on SIGTERM (exit ${exitCode}, signal ${signalCode})`);
    }
    return problems;
  }

  async stop() {
    for (const child of this.processes.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-child.pid, 'SIGTERM');  // its process group: nginx's workers, fcgiwrap's children
      } catch {
        continue;
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
  }

  // A directory outage: serve.py stops slapd when its stdin closes.
  async stopDirectory() {
    const serve = this.directoryServer;
    if (!serve || serve.exitCode !== null) return;
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    serve.stdin.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  }

  remove() {
    rmSync(this.root, { recursive: true, force: true });
  }
}
