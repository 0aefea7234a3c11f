// The "Personal access tokens" account page: a client of the Bitbucket-
// compatible access-tokens REST API served by the nginx-pat module.
//
// The password lives only in the `session` object below, in this page's
// memory: never in localStorage, sessionStorage, cookies or the URL. Every
// request carries it as HTTP Basic (the API refuses tokens for managing
// tokens), with credentials: 'omit' so that the browser neither keeps it in
// its own auth cache nor pops up its login dialog on a 401.
'use strict';

(() => {
  const REST_ROOT = (document.querySelector('meta[name="pat-rest-root"]')?.content || '/rest')
    .replace(/\/+$/, '');
  const TOKENS_API = `${REST_ROOT}/access-tokens/1.0/users/`;
  // The password change: the API also answers Bitbucket's own path
  // (/rest/api/1.0/users/credentials), but this one sits under the same
  // nginx location as the tokens, so one location passed to patd serves the page.
  const passwordUrl = (slug) => `${TOKENS_API}${encodeURIComponent(slug)}/password`;
  // The administrator's token policy (docs/token-lifecycle.md#policy), read-only.
  const POLICY_URL = `${REST_ROOT}/access-tokens/1.0/policy`;
  const NO_POLICY = { requireExpiry: false, maxExpiryDays: null, maxTokensPerUser: null, creationEnabled: true };

  const LEVELS = ['READ', 'WRITE', 'ADMIN'];  // ordered: each includes the ones before
  const LEVEL_LABEL = { READ: 'Read', WRITE: 'Write', ADMIN: 'Admin' };
  const REPO_ABILITY = {
    READ: 'clone and read repositories',
    WRITE: 'clone and push to repositories',
    ADMIN: 'clone, push to and administer repositories',
  };
  const PROJECT_ABILITY = { READ: 'read projects', WRITE: 'write to projects', ADMIN: 'administer projects' };
  const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
  const MAX_EXPIRY_DAYS = 3650;
  const PAGE_LIMIT = 100;
  const MAX_PAGES = 100;  // a runaway server cannot keep the page looping
  const STATUS_SECONDS = 8;

  let session = null;   // { user, password, slug, displayName }
  let viewing = null;   // { slug, displayName }: whose tokens are listed
  let tokens = new Map(); // token id -> the token as the API returned it
  let editing = null;   // the token in the edit dialog
  let revoking = null;  // the token in the revoke dialog
  let policy = NO_POLICY; // the token policy, read when the create dialog opens
  let rotating = null;  // the token in the rotate dialog

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  const DEFAULT_MESSAGES = {
    400: 'The server refused the request as invalid.',
    401: 'The user name or password is not correct.',
    403: 'You are not allowed to do that.',
    404: 'Not found. The user or token may no longer exist.',
    413: 'The request is too large.',
    429: 'Too many attempts.',
  };

  function basicCredentials(user, password) {
    const bytes = new TextEncoder().encode(`${user}:${password}`);
    let binary = '';
    for (const b of bytes) binary += String.fromCharCode(b);
    return `Basic ${btoa(binary)}`;
  }

  async function errorFrom(response) {
    let message = '';
    try {
      const body = await response.json();
      if (Array.isArray(body?.errors)) {
        message = body.errors.map((e) => e?.message).filter((m) => typeof m === 'string' && m).join(' ');
      }
    } catch {
      // Not the API's JSON (a proxy's error page, say): fall back below.
    }
    if (!message) {
      // Not from the API (a proxy, or no API at this address): say which status.
      message = `${DEFAULT_MESSAGES[response.status] || 'The server could not complete the request.'}` +
        ` (HTTP ${response.status})`;
    }
    if (response.status === 429) {
      const wait = Number.parseInt(response.headers.get('Retry-After') || '', 10);
      if (Number.isFinite(wait) && wait > 0) message += ` Try again in ${describeSeconds(wait)}.`;
    }
    return new ApiError(response.status, message);
  }

  async function api(method, path, body) {
    if (!session) throw new ApiError(401, 'You are signed out.');
    const headers = {
      Accept: 'application/json',
      Authorization: basicCredentials(session.user, session.password),
    };
    const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, 'Could not reach the server. Check your connection and try again.');
    }
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch {
      throw new ApiError(response.status, 'The server sent an answer this page cannot read.');
    }
  }

  const tokensUrl = (slug, id) =>
    TOKENS_API + encodeURIComponent(slug) + (id === undefined ? '' : `/${encodeURIComponent(id)}`);

  async function listAllTokens(slug) {
    const all = [];
    let start = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await api('GET', `${tokensUrl(slug)}?start=${start}&limit=${PAGE_LIMIT}`);
      const values = Array.isArray(result?.values) ? result.values : [];
      all.push(...values);
      if (result?.isLastPage !== false || !Number.isInteger(result.nextPageStart) ||
          result.nextPageStart <= start) {
        return all;
      }
      start = result.nextPageStart;
    }
    return all;
  }

  // ------------------------------------------------------------ messages

  let statusTimer = 0;

  function showStatus(text) {
    clearMessages();
    const el = $('status');
    el.textContent = text;
    el.hidden = false;
    statusTimer = window.setTimeout(() => { el.hidden = true; el.textContent = ''; },
      STATUS_SECONDS * 1000);
  }

  function showError(text) {
    clearMessages();
    const el = $('error');
    el.textContent = text;
    el.hidden = false;
  }

  function clearMessages() {
    window.clearTimeout(statusTimer);
    for (const id of ['status', 'error']) {
      $(id).hidden = true;
      $(id).textContent = '';
    }
  }

  function setFormError(id, text) {
    const el = $(id);
    el.textContent = text || '';
    el.hidden = !text;
  }

  // A 401 on the signed-in user's own tokens means the password changed or
  // the account was disabled elsewhere: nothing else will work, so sign out
  // and say why. Elsewhere (another user's tokens, the password form) a 401
  // can be Bitbucket's "not permitted" and is shown like any other error.
  function handleFailure(error, formErrorId, { ownTokens = isOwnView() } = {}) {
    if (error instanceof ApiError && error.status === 401 && session && ownTokens) {
      signOut(`You have been signed out: ${error.message}`);
      return;
    }
    const text = error instanceof ApiError ? error.message : 'Something went wrong in this page.';
    if (formErrorId) setFormError(formErrorId, text);
    else showError(text);
    if (!(error instanceof ApiError)) console.error(error);
  }

  async function busy(button, work) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      return await work();
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }

  // --------------------------------------------------------- formatting

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

  function describeSeconds(seconds) {
    if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
    const minutes = Math.ceil(seconds / 60);
    return `${minutes} minutes`;
  }

  function relative(ms) {
    const seconds = Math.round((ms - Date.now()) / 1000);
    const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day']];
    let value = seconds;
    for (const [size, unit] of steps) {
      if (Math.abs(value) < size) return relativeFormat.format(value, unit);
      value = Math.round(value / size);
    }
    return null;  // over a week: the date says more
  }

  // A <time> element: the date in the user's locale (or "5 minutes ago"),
  // date and time in its title, the exact instant in its datetime attribute.
  function timeElement(ms, { preferRelative = false } = {}) {
    const el = document.createElement('time');
    const date = new Date(ms);
    el.dateTime = date.toISOString();
    el.title = dateTimeFormat.format(date);
    el.textContent = (preferRelative && relative(ms)) || dateFormat.format(date);
    return el;
  }

  function isTimestamp(value) {
    return typeof value === 'number' && Number.isFinite(value) && value > 0;
  }

  function permissionLevels(token) {
    const found = { project: null, repo: null };
    for (const p of Array.isArray(token.permissions) ? token.permissions : []) {
      const match = /^(PROJECT|REPO)_(READ|WRITE|ADMIN)$/.exec(p);
      if (match) found[match[1] === 'PROJECT' ? 'project' : 'repo'] = match[2];
    }
    return found;
  }

  // ------------------------------------------------------ the token list

  function isOwnView() {
    return session && viewing && viewing.slug === session.slug;
  }

  function renderTokens() {
    const body = $('tokens-body');
    body.replaceChildren();
    const sorted = [...tokens.values()].sort((a, b) => (b.createdDate || 0) - (a.createdDate || 0));
    for (const token of sorted) body.append(tokenRow(token));
    $('tokens-empty').hidden = sorted.length > 0;
    $('tokens-empty').textContent = isOwnView()
      ? 'You have no tokens yet. Create one to use Git over HTTP without your password.'
      : 'This user has no tokens.';
    $('tokens-table').hidden = sorted.length === 0;
    const who = isOwnView() ? 'Your tokens' : `Tokens of ${viewing.displayName}`;
    $('tokens-caption').textContent = `${who}: ${sorted.length}`;
  }

  function cell(...children) {
    const td = document.createElement('td');
    td.append(...children);
    return td;
  }

  function badge(text, kind) {
    const span = document.createElement('span');
    span.className = `badge ${kind || ''}`.trim();
    span.textContent = text;
    return span;
  }

  // A token expiring within this many days is marked (docs/token-lifecycle.md).
  const EXPIRY_WARNING_DAYS = 7;
  const DAY_MS = 86400000;

  // "Expires in 3 days" for a live token expiring within EXPIRY_WARNING_DAYS
  // (whole days left, rounded up, as patctl token notify counts them), else null.
  function expiresSoon(token) {
    if (!isTimestamp(token.expiryDate)) return null;
    const left = token.expiryDate - Date.now();
    if (left <= 0 || left > EXPIRY_WARNING_DAYS * DAY_MS) return null;
    const days = Math.ceil(left / DAY_MS);
    return days <= 1 ? 'Expires within a day' : `Expires in ${days} days`;
  }

  function tokenRow(token) {
    const tr = document.createElement('tr');
    tr.dataset.tokenId = token.id;
    const expired = isTimestamp(token.expiryDate) && token.expiryDate <= Date.now();
    if (expired) tr.classList.add('expired');

    const name = document.createElement('span');
    name.className = 'token-name';
    name.textContent = token.name;
    const nameCell = cell(name);
    nameCell.setAttribute('data-label', 'Name');
    if (expired) nameCell.append(' ', badge('Expired', 'danger'));
    const soon = expiresSoon(token);
    if (soon) nameCell.append(' ', badge(soon, 'warning'));
    tr.append(nameCell);

    const levels = permissionLevels(token);
    const perms = document.createElement('div');
    perms.className = 'perms';
    perms.append(
      badge(`Project ${levels.project ? LEVEL_LABEL[levels.project].toLowerCase() : 'unknown'}`,
        `level-${(levels.project || 'none').toLowerCase()}`),
      badge(`Repository ${levels.repo ? LEVEL_LABEL[levels.repo].toLowerCase() : 'unknown'}`,
        `level-${(levels.repo || 'none').toLowerCase()}`));
    tr.append(labelled(cell(perms), 'Permissions'));

    tr.append(labelled(cell(isTimestamp(token.createdDate) ? timeElement(token.createdDate) : '—'),
      'Created'));
    const lastUsed = cell(isTimestamp(token.lastAuthenticated)
      ? timeElement(token.lastAuthenticated, { preferRelative: true })
      : muted('Never'));
    lastUsed.append(...lastUsedIpsElements(token.lastUsedIps));
    tr.append(labelled(lastUsed, 'Last authenticated'));
    tr.append(labelled(cell(isTimestamp(token.expiryDate) ? timeElement(token.expiryDate) : muted('Never')),
      'Expires'));

    const actions = document.createElement('div');
    actions.className = 'row-actions';
    if (isOwnView()) {
      actions.append(actionButton('Edit', `Edit token ${token.name}`, 'subtle', () => openEdit(token)));
      // Only the owner rotates (a rotation creates a token), as only the owner creates.
      actions.append(actionButton('Rotate', `Rotate token ${token.name}`, 'subtle', () => openRotate(token)));
    }
    actions.append(actionButton('Revoke', `Revoke token ${token.name}`, 'subtle danger-text',
      () => openRevoke(token)));
    tr.append(cell(actions));
    return tr;
  }

  function labelled(td, label) {
    td.setAttribute('data-label', label);
    return td;
  }

  // The client addresses of a token's last uses (most recent first), under
  // its last-authenticated time: text only, never markup.
  function lastUsedIpsElements(addresses) {
    if (!Array.isArray(addresses)) return [];
    const shown = addresses.filter((a) => typeof a === 'string' && a !== '').slice(0, 5);
    if (shown.length === 0) return [];
    const line = muted(`from ${shown.join(', ')}`);
    line.classList.add('last-used-ips');
    line.title = 'The client addresses of the last uses, most recent first';
    return [document.createElement('br'), line];
  }

  function muted(text) {
    const span = document.createElement('span');
    span.className = 'muted';
    span.textContent = text;
    return span;
  }

  function actionButton(text, label, classes, onClick) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `button small ${classes}`;
    button.textContent = text;
    button.setAttribute('aria-label', label);
    button.addEventListener('click', (event) => {
      lastTrigger = event.currentTarget;
      onClick();
    });
    return button;
  }

  async function showTokensOf(slug, displayName) {
    $('tokens-loading').hidden = false;
    try {
      const list = await listAllTokens(slug);
      viewing = { slug, displayName: displayName || slug };
      const owner = list.find((t) => t?.user?.displayName)?.user;
      if (owner) viewing.displayName = owner.displayName;
      tokens = new Map(list.filter((t) => t && typeof t.id === 'string').map((t) => [t.id, t]));
      if (isOwnView() && owner) {
        session.displayName = owner.displayName;
        renderSessionBar();
      }
      renderViewing();
      renderTokens();
      return true;
    } finally {
      $('tokens-loading').hidden = true;
    }
  }

  function renderViewing() {
    const own = isOwnView();
    $('viewing-banner').hidden = own;
    $('viewing-user').textContent = own ? '' : `${viewing.displayName} (${viewing.slug})`;
    // Nobody creates tokens for someone else: only the owner's password can.
    $('create-open').hidden = !own;
    $('tokens-title').textContent = own ? 'Personal access tokens' : `Personal access tokens of ${viewing.displayName}`;
  }

  async function reloadTokens() {
    try {
      await showTokensOf(viewing.slug, viewing.displayName);
    } catch (error) {
      handleFailure(error);
    }
  }

  // --------------------------------------------------- permission picker

  function buildPickers() {
    const template = $('permission-picker-template');
    for (const container of document.querySelectorAll('.permission-picker')) {
      const prefix = container.dataset.prefix;
      container.append(template.content.cloneNode(true));
      for (const fieldset of container.querySelectorAll('fieldset.levels')) {
        const kind = fieldset.dataset.kind;
        const group = fieldset.querySelector('.segmented');
        for (const level of LEVELS) {
          const id = `${prefix}-${kind}-${level.toLowerCase()}`;
          const input = document.createElement('input');
          input.type = 'radio';
          input.name = `${prefix}-${kind}`;
          input.id = id;
          input.value = level;
          const label = document.createElement('label');
          label.htmlFor = id;
          label.textContent = LEVEL_LABEL[level];
          group.append(input, label);
          input.addEventListener('change', () => onPickerChange(prefix, kind));
        }
      }
    }
  }

  function pickerInputs(prefix, kind) {
    return [...document.querySelectorAll(`input[name="${prefix}-${kind}"]`)];
  }

  function getPicker(prefix) {
    const value = (kind) => pickerInputs(prefix, kind).find((i) => i.checked)?.value;
    return { project: value('project'), repo: value('repo') };
  }

  function setPicker(prefix, project, repo) {
    for (const input of pickerInputs(prefix, 'project')) input.checked = input.value === project;
    for (const input of pickerInputs(prefix, 'repo')) input.checked = input.value === repo;
    onPickerChange(prefix, 'project');
  }

  // The table: the repository level is never below the project level. Levels
  // below are disabled (and skipped by the arrow keys); a selection that falls
  // below is raised to the project level.
  function onPickerChange(prefix, kind) {
    const { project } = getPicker(prefix);
    const floor = LEVELS.indexOf(project);
    if (kind === 'project' && floor >= 0) {
      const repoInputs = pickerInputs(prefix, 'repo');
      for (const input of repoInputs) input.disabled = LEVELS.indexOf(input.value) < floor;
      const chosen = repoInputs.find((i) => i.checked);
      if (!chosen || chosen.disabled) repoInputs[floor].checked = true;
    }
    const now = getPicker(prefix);
    const summary = document.querySelector(`.permission-picker[data-prefix="${prefix}"] .picker-summary`);
    if (now.project && now.repo) {
      const existing = now.project === 'ADMIN' && now.repo === 'ADMIN' ? 'Your existing level. ' : '';
      summary.textContent = `${existing}This token can ${REPO_ABILITY[now.repo]} and ` +
        `${PROJECT_ABILITY[now.project]}, never more than you can yourself.`;
    }
  }

  // -------------------------------------------------------------- dialogs

  let lastTrigger = null;

  function openDialog(dialog, trigger) {
    lastTrigger = trigger || document.activeElement;
    dialog.showModal();
  }

  function setupDialogs() {
    for (const dialog of document.querySelectorAll('dialog')) {
      for (const button of dialog.querySelectorAll('[data-close]')) {
        button.addEventListener('click', () => dialog.close());
      }
      // Escape closes natively (the cancel event); either way, focus goes back
      // to what opened the dialog, or to the list heading if that is gone.
      dialog.addEventListener('close', () => {
        if (document.querySelector('dialog[open]')) return;  // another dialog took over
        const target = lastTrigger && lastTrigger.isConnected && !lastTrigger.hidden
          ? lastTrigger : $('tokens-title');
        lastTrigger = null;
        if (session) target.focus();
      });
    }
    // The 'close' event is queued as a task after the dialog is already hidden,
    // so the token would stay in the page for a moment after it disappears from
    // view; 'cancel' (Escape) and the buttons' click run before the dialog hides.
    const created = $('created-dialog');
    created.addEventListener('cancel', forgetCreatedToken);
    for (const button of created.querySelectorAll('[data-close]')) {
      button.addEventListener('click', forgetCreatedToken);
    }
    created.addEventListener('close', forgetCreatedToken);
  }

  // Create

  // The policy as the server states it; a server without the endpoint (an
  // older one) has none. Any other failure is shown: the server decides anyway.
  async function loadPolicy() {
    try {
      const answer = await api('GET', POLICY_URL);
      const limit = (value) => (Number.isInteger(value) && value > 0 ? value : null);
      policy = {
        requireExpiry: answer?.requireExpiry === true,
        maxExpiryDays: limit(answer?.maxExpiryDays),
        maxTokensPerUser: limit(answer?.maxTokensPerUser),
        creationEnabled: answer?.creationEnabled !== false,
      };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      policy = NO_POLICY;
    }
  }

  const maxExpiryDays = () => Math.min(policy.maxExpiryDays || MAX_EXPIRY_DAYS, MAX_EXPIRY_DAYS);

  // Offers only what the policy allows: no "never" when an expiry is
  // required, the maximum as the default, and no form when creation is off.
  function applyPolicy() {
    const disabled = !policy.creationEnabled;
    $('create-disabled').hidden = !disabled;
    $('create-submit').disabled = disabled;
    // The pickers' fieldsets: their own inputs keep their disabled levels.
    for (const fieldset of $('create-form').querySelectorAll('fieldset')) fieldset.disabled = disabled;
    for (const id of ['create-name', 'create-expires', 'create-expiry-days']) $(id).disabled = disabled;
    const max = maxExpiryDays();
    const days = $('create-expiry-days');
    days.max = String(max);
    if (policy.maxExpiryDays) days.value = String(max);
    else if (Number(days.value) > max) days.value = String(max);
    const expires = $('create-expires');
    if (policy.requireExpiry) expires.checked = true;
    if (policy.requireExpiry && !disabled) expires.disabled = true;
    $('create-expiry-row').hidden = !expires.checked;
    const rules = [];
    if (policy.requireExpiry) rules.push('Your administrator requires tokens to expire.');
    if (policy.maxTokensPerUser) {
      rules.push(`You can have at most ${policy.maxTokensPerUser} active ${policy.maxTokensPerUser === 1
        ? 'token' : 'tokens'}.`);
    }
    $('create-policy').textContent = rules.join(' ');
    $('create-policy').hidden = rules.length === 0;
    $('create-expiry-hint').textContent = `1 to ${max} days.`;
  }

  async function openCreate() {
    $('create-form').reset();
    setFormError('create-error', '');
    setPicker('create', 'ADMIN', 'ADMIN');
    $('create-expiry-row').hidden = true;
    try {
      await busy($('create-open'), loadPolicy);
    } catch (error) {
      handleFailure(error);
      return;
    }
    if (!session) return;
    applyPolicy();
    openDialog($('create-dialog'), $('create-open'));
    (policy.creationEnabled ? $('create-name') : $('create-dialog').querySelector('[data-close]')).focus();
  }

  async function submitCreate(event) {
    event.preventDefault();
    setFormError('create-error', '');
    const name = $('create-name').value.trim();
    if (!name) {
      setFormError('create-error', 'Enter a name for the token.');
      $('create-name').focus();
      return;
    }
    if (!policy.creationEnabled) {
      setFormError('create-error', 'Token creation is disabled by your administrator.');
      return;
    }
    const { project, repo } = getPicker('create');
    const body = { name, permissions: [`PROJECT_${project}`, `REPO_${repo}`] };
    if ($('create-expires').checked) {
      const days = Number($('create-expiry-days').value);
      if (!Number.isInteger(days) || days < 1 || days > maxExpiryDays()) {
        setFormError('create-error', `Enter a whole number of days from 1 to ${maxExpiryDays()}.`);
        $('create-expiry-days').focus();
        return;
      }
      body.expiryDays = days;
    }
    try {
      const created = await busy($('create-submit'), () => api('PUT', tokensUrl(session.slug), body));
      if (!created || typeof created.token !== 'string' || !created.token) {
        throw new ApiError(0, 'The server created the token but did not send it. Revoke it and try again.');
      }
      $('create-dialog').close();
      showCreatedToken(created);
      showStatus(`Token “${created.name}” created.`);
      await reloadTokens();
    } catch (error) {
      handleFailure(error, 'create-error');
    }
  }

  function showCreatedToken(created) {
    $('created-token').value = created.token;
    $('created-name').textContent = `“${created.name}”`;
    $('created-copy-status').textContent = '';
    const example = document.createElement('code');
    example.textContent = `git clone ${location.protocol}//${session.user}@${location.host}/scm/PROJECT/repo.git`;
    $('created-usage').replaceChildren(`Use it as the password of ${session.user} for Git and the REST API, e.g. `,
      example);
    $('created-dialog').showModal();
    $('created-token').focus();
    $('created-token').select();
  }

  function forgetCreatedToken() {
    $('created-token').value = '';
    $('created-copy-status').textContent = '';
  }

  async function copyCreatedToken() {
    const input = $('created-token');
    const status = $('created-copy-status');
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error('no async clipboard');
      await navigator.clipboard.writeText(input.value);
      status.textContent = 'Copied to the clipboard.';
    } catch {
      input.focus();
      input.select();
      // The older API still works on plain http, where the clipboard API is absent.
      const copied = document.execCommand && document.execCommand('copy');
      status.textContent = copied ? 'Copied to the clipboard.'
        : 'Copying is blocked here: the token is selected, press Ctrl+C (⌘C) to copy it.';
    }
  }

  // Edit

  function openEdit(token) {
    editing = token;
    $('edit-form').reset();
    setFormError('edit-error', '');
    $('edit-name').value = token.name;
    const levels = permissionLevels(token);
    setPicker('edit', levels.project || 'READ', levels.repo || levels.project || 'READ');
    $('edit-title').textContent = `Edit token “${token.name}”`;
    openDialog($('edit-dialog'), lastTrigger);
    $('edit-name').focus();
  }

  async function submitEdit(event) {
    event.preventDefault();
    setFormError('edit-error', '');
    const token = editing;
    if (!token) return;
    const name = $('edit-name').value.trim();
    if (!name) {
      setFormError('edit-error', 'Enter a name for the token.');
      $('edit-name').focus();
      return;
    }
    const before = permissionLevels(token);
    const { project, repo } = getPicker('edit');
    const change = {};
    if (name !== token.name) change.name = name;
    if (project !== before.project || repo !== before.repo) {
      change.permissions = [`PROJECT_${project}`, `REPO_${repo}`];
    }
    if (Object.keys(change).length === 0) {
      $('edit-dialog').close();
      return;
    }
    const submit = $('edit-form').querySelector('button[type="submit"]');
    try {
      const updated = await busy(submit, () => api('POST', tokensUrl(viewing.slug, token.id), change));
      if (updated && typeof updated.id === 'string') tokens.set(updated.id, updated);
      editing = null;
      renderTokens();
      focusRowAction(token.id, 'Edit');
      $('edit-dialog').close();
      showStatus(`Token “${updated?.name || name}” updated.`);
    } catch (error) {
      handleFailure(error, 'edit-error');
    }
  }

  // The row was redrawn: send focus back to the same button in the new row.
  function focusRowAction(id, text) {
    const row = [...$('tokens-body').rows].find((r) => r.dataset.tokenId === id);
    lastTrigger = row && [...row.querySelectorAll('button')].find((b) => b.textContent === text);
  }

  // Revoke

  function openRevoke(token) {
    revoking = token;
    setFormError('revoke-error', '');
    $('revoke-name').textContent = `“${token.name}”`;
    openDialog($('revoke-dialog'), lastTrigger);
    // The safe choice has focus: Enter right away does not revoke.
    $('revoke-dialog').querySelector('[data-close]').focus();
  }

  async function submitRevoke(event) {
    event.preventDefault();
    const token = revoking;
    if (!token) return;
    try {
      await busy($('revoke-submit'), () => api('DELETE', tokensUrl(viewing.slug, token.id)));
      revoking = null;
      tokens.delete(token.id);
      renderTokens();
      lastTrigger = null;
      $('revoke-dialog').close();
      showStatus(`Token “${token.name}” revoked.`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        // Already gone (revoked elsewhere): the list was stale.
        $('revoke-dialog').close();
        showError(error.message);
        await reloadTokens();
        return;
      }
      handleFailure(error, 'revoke-error');
    }
  }

  // Rotate: a new token in place of this one (docs/token-lifecycle.md),
  // shown once in the creation's dialog.

  function openRotate(token) {
    rotating = token;
    setFormError('rotate-error', '');
    $('rotate-name').textContent = `“${token.name}”`;
    openDialog($('rotate-dialog'), lastTrigger);
    $('rotate-dialog').querySelector('[data-close]').focus();
  }

  async function submitRotate(event) {
    event.preventDefault();
    const token = rotating;
    if (!token) return;
    try {
      const created = await busy($('rotate-submit'),
        () => api('POST', `${tokensUrl(session.slug, token.id)}/rotate`));
      if (!created || typeof created.token !== 'string' || !created.token) {
        throw new ApiError(0, 'The server rotated the token but did not send the new one. Revoke it and create one.');
      }
      rotating = null;
      $('rotate-dialog').close();
      showCreatedToken(created);
      showStatus(`Token “${created.name}” rotated: the old token no longer works.`);
      await reloadTokens();
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 400)) {
        // Gone meanwhile, or rotated elsewhere (then its family was revoked): say so and refresh.
        rotating = null;
        $('rotate-dialog').close();
        showError(error.message);
        await reloadTokens();
        return;
      }
      handleFailure(error, 'rotate-error');
    }
  }

  // --------------------------------------------------- sign in and out

  function slugOf(name) {
    return name.toLowerCase();
  }

  async function submitSignIn(event) {
    event.preventDefault();
    setFormError('sign-in-error', '');
    clearMessages();
    const user = $('sign-in-user').value.trim();
    const password = $('sign-in-password').value;
    if (!USER_NAME.test(user)) {
      setFormError('sign-in-error', user ? 'A user name has letters, digits, ".", "_" and "-" only.'
        : 'Enter your user name.');
      $('sign-in-user').focus();
      return;
    }
    if (!password) {
      setFormError('sign-in-error', 'Enter your password.');
      $('sign-in-password').focus();
      return;
    }
    session = { user, password, slug: slugOf(user), displayName: user };
    viewing = { slug: session.slug, displayName: user };
    try {
      await busy($('sign-in-submit'), () => showTokensOf(session.slug, user));
    } catch (error) {
      session = null;
      viewing = null;
      setFormError('sign-in-error', error instanceof ApiError ? error.message : 'Sign-in failed.');
      $('sign-in-password').focus();
      return;
    }
    $('sign-in-form').reset();
    renderSessionBar();
    $('password-user').value = session.user;
    $('sign-in-view').hidden = true;
    $('account-view').hidden = false;
    $('session-bar').hidden = false;
    route();
  }

  function renderSessionBar() {
    $('session-user').textContent = session.displayName === session.user
      ? session.user : `${session.displayName} (${session.user})`;
    $('session-avatar').textContent = (session.displayName || session.user).slice(0, 1).toUpperCase();
  }

  function signOut(reason) {
    session = null;
    viewing = null;
    editing = null;
    revoking = null;
    policy = NO_POLICY;
    tokens = new Map();
    for (const dialog of document.querySelectorAll('dialog')) if (dialog.open) dialog.close();
    forgetCreatedToken();
    for (const form of document.querySelectorAll('form')) form.reset();
    $('tokens-body').replaceChildren();
    $('session-user').textContent = '';
    $('session-bar').hidden = true;
    $('account-view').hidden = true;
    $('admin-lookup').open = false;
    $('sign-in-view').hidden = false;
    clearMessages();
    if (reason) setFormError('sign-in-error', reason);
    else showStatus('You are signed out.');
    $('sign-in-user').focus();
  }

  // ------------------------------------------------------ admin lookup

  async function submitLookup(event) {
    event.preventDefault();
    clearMessages();
    const name = $('lookup-user').value.trim();
    if (!USER_NAME.test(name)) {
      showError(name ? 'A user name has letters, digits, ".", "_" and "-" only.' : 'Enter a user name.');
      $('lookup-user').focus();
      return;
    }
    const button = event.target.querySelector('button[type="submit"]');
    try {
      await busy(button, () => showTokensOf(slugOf(name), name));
      showStatus(isOwnView() ? 'Showing your own tokens.' : `Showing the tokens of ${viewing.displayName}.`);
      $('tokens-title').focus();
    } catch (error) {
      handleFailure(error, undefined, { ownTokens: false });
    }
  }

  async function backToOwnTokens() {
    clearMessages();
    try {
      await showTokensOf(session.slug, session.displayName);
      $('lookup-user').value = '';
      $('tokens-title').focus();
    } catch (error) {
      handleFailure(error, undefined, { ownTokens: true });
    }
  }

  // ------------------------------------------------------------ password

  async function submitPassword(event) {
    event.preventDefault();
    setFormError('password-error', '');
    const oldPassword = $('password-old').value;
    const password = $('password-new').value;
    const passwordConfirm = $('password-confirm').value;
    if (!oldPassword || !password) {
      setFormError('password-error', 'Enter your current password and a new one.');
      return;
    }
    if (password !== passwordConfirm) {
      setFormError('password-error', 'The new password and its confirmation differ.');
      $('password-confirm').focus();
      return;
    }
    const submit = event.target.querySelector('button[type="submit"]');
    try {
      await busy(submit, () => api('PUT', passwordUrl(session.slug), { oldPassword, password, passwordConfirm }));
      session.password = password;  // the next calls sign in with the new one
      $('password-form').reset();
      $('password-user').value = session.user;
      showStatus('Your password has been changed.');
    } catch (error) {
      handleFailure(error, 'password-error', { ownTokens: false });
    }
  }

  // ------------------------------------------------------------- routing

  function route() {
    if (!session) return;
    const onPassword = location.hash === '#password';
    $('tokens-view').hidden = onPassword;
    $('password-view').hidden = !onPassword;
    const [current, other] = onPassword ? ['nav-password', 'nav-tokens'] : ['nav-tokens', 'nav-password'];
    $(current).setAttribute('aria-current', 'page');
    $(other).removeAttribute('aria-current');
  }

  // --------------------------------------------------------------- start

  function start() {
    buildPickers();
    setupDialogs();
    $('tokens-title').tabIndex = -1;
    $('sign-in-form').addEventListener('submit', submitSignIn);
    $('sign-out').addEventListener('click', () => signOut());
    $('create-open').addEventListener('click', openCreate);
    $('create-form').addEventListener('submit', submitCreate);
    $('create-expires').addEventListener('change', (event) => {
      $('create-expiry-row').hidden = !event.target.checked;
      if (event.target.checked) $('create-expiry-days').focus();
    });
    $('created-copy').addEventListener('click', copyCreatedToken);
    $('edit-form').addEventListener('submit', submitEdit);
    $('revoke-form').addEventListener('submit', submitRevoke);
    $('rotate-form').addEventListener('submit', submitRotate);
    $('lookup-form').addEventListener('submit', submitLookup);
    $('viewing-back').addEventListener('click', backToOwnTokens);
    $('password-form').addEventListener('submit', submitPassword);
    window.addEventListener('hashchange', route);
    $('sign-in-user').focus();
  }

  start();
})();
