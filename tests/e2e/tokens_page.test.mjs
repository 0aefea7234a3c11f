// End-to-end: the "Personal access tokens" page in Debian's headless
// Chromium, against real nginx with the module passing the token API to the
// real patd, a store made by the real patctl, and real git clones through
// git http-backend. Nothing is mocked.
//
//   node --test tokens_page.test.mjs
//
// Environment: PATCTL, PAT_MODULE and PATD (default: build/ in the repository),
// E2E_SCREENSHOT=FILE.png to save a picture of the page with tokens listed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { Deployment, PASSWORD, git } from './deployment.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu',
  // This machine's network is closed: keep Chromium from calling home.
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic',
];

let deployment;
let profile;
let browser;
const pageErrors = [];

before(async () => {
  deployment = new Deployment();
  await deployment.start();
  profile = mkdtempSync(path.join(os.tmpdir(), 'nginx-pat-e2e-profile-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    locale: 'en-GB',
    viewport: { width: 1280, height: 820 },
  });
  browser.setDefaultTimeout(20_000);
  await browser.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: deployment.base });
});

after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (deployment) {
    await deployment.stop();
    const problems = deployment.logProblems();
    const patdLog = deployment.patdLog();
    const keep = process.env.E2E_KEEP === '1';
    if (!keep) deployment.remove();
    assert.deepEqual(problems, [], 'nginx error.log has alerts, or patd crit lines or an unclean stop');
    assert.match(patdLog, /token API: token \S+ created for alice from 127\.0\.0\.1/, 'patd logged no creation');
    assert.equal(patdLog.includes(PASSWORD), false, 'a password reached patd\'s log');
    assert.doesNotMatch(patdLog, /npat_[A-Za-z0-9_-]{16,}/i, 'token text reached patd\'s log');
  }
});

async function openPage() {
  const page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // Chromium logs every HTTP error status as a console error; the API's
  // refusals are expected here, anything else is a bug in the page.
  page.on('console', (message) => {
    if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
      pageErrors.push(message.text());
    }
  });
  await page.goto(deployment.url('/account/tokens/'));
  return page;
}

async function signIn(page, user, password = PASSWORD) {
  const form = page.getByRole('region', { name: 'Sign in' });
  await form.getByLabel('User name').fill(user);
  await form.getByLabel('Password', { exact: true }).fill(password);
  // Enter submits.
  await form.getByLabel('Password', { exact: true }).press('Enter');
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('region', { name: 'Sign in' }).waitFor();
}

function tokenRow(page, name) {
  return page.locator('#tokens-body tr').filter({ has: page.locator('.token-name', { hasText: new RegExp(`^${name}$`) }) });
}

function levelLabel(dialog, group, level) {
  return dialog.getByRole('group', { name: group }).locator('label', { hasText: new RegExp(`^${level}$`) });
}

function levelRadio(dialog, group, level) {
  return dialog.getByRole('group', { name: group }).getByRole('radio', { name: level, exact: true });
}

function clone(user, secret, into) {
  return git(['clone', '-q', deployment.repoUrl(user, secret), into], { allowFailure: true });
}

test('a user creates a read token, clones with it, revokes it, and the next clone is refused', async () => {
  const page = await openPage();
  const work = mkdtempSync(path.join(os.tmpdir(), 'nginx-pat-e2e-clones-'));
  try {
    // A wrong password: the API's refusal, on the sign-in form.
    await signIn(page, 'alice', 'not the password');
    const signInError = page.getByRole('region', { name: 'Sign in' }).getByRole('alert');
    await signInError.waitFor();
    assert.notEqual((await signInError.textContent()).trim(), '');
    assert.equal(await page.getByRole('heading', { name: 'Personal access tokens' }).count(), 0);

    await signIn(page, 'alice');
    await page.getByRole('heading', { name: 'Personal access tokens', exact: true }).waitFor();
    await page.getByText('You have no tokens yet.').waitFor();
    assert.equal(await page.getByRole('region', { name: 'Sign in' }).isVisible(), false);

    // Create a read token. The dialog opens at the user's own level.
    await page.getByRole('button', { name: 'Create token' }).click();
    const create = page.getByRole('dialog', { name: 'Create a personal access token' });
    await create.waitFor();
    assert.equal(await levelRadio(create, 'Project permissions', 'Admin').isChecked(), true);
    assert.equal(await levelRadio(create, 'Repository permissions', 'Admin').isChecked(), true);
    // The table: with project write, repository read is not offered, and a
    // repository level that falls below the project level is raised to it.
    await levelLabel(create, 'Project permissions', 'Write').click();
    assert.equal(await levelRadio(create, 'Repository permissions', 'Read').isDisabled(), true);
    assert.equal(await levelRadio(create, 'Repository permissions', 'Admin').isChecked(), true);
    await levelLabel(create, 'Project permissions', 'Read').click();
    assert.equal(await levelRadio(create, 'Repository permissions', 'Read').isDisabled(), false);
    await levelLabel(create, 'Repository permissions', 'Read').click();
    await levelLabel(create, 'Project permissions', 'Write').click();
    assert.equal(await levelRadio(create, 'Repository permissions', 'Write').isChecked(), true);
    await levelLabel(create, 'Project permissions', 'Read').click();
    await levelLabel(create, 'Repository permissions', 'Read').click();
    assert.equal(await levelRadio(create, 'Repository permissions', 'Read').isChecked(), true);
    await create.getByLabel('Token name').fill('ci-read');
    await create.getByLabel('Token name').press('Enter');

    const created = page.getByRole('dialog', { name: 'Your new token' });
    await created.waitFor();
    assert.match(await created.textContent(), /you won't see this token\s+again/i);
    const tokenField = created.getByRole('textbox', { name: /^Token/ });
    const secret = await tokenField.inputValue();
    assert.ok(secret.length >= 20, `a token, not ${JSON.stringify(secret)}`);
    await created.getByRole('button', { name: 'Copy' }).click();
    await created.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    // Escape closes the dialog, and the token is gone from the page.
    await page.keyboard.press('Escape');
    await created.waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#created-token').inputValue(), '');
    assert.equal((await page.content()).includes(secret), false, 'the token is still in the page');

    const readRow = tokenRow(page, 'ci-read');
    await readRow.waitFor();
    assert.match(await readRow.textContent(), /Project read.*Repository read/);
    assert.match(await readRow.textContent(), /Never/);  // not used yet, no expiry

    // A second token with the defaults and an expiry, for the list and the picture.
    await page.getByRole('button', { name: 'Create token' }).click();
    await create.getByLabel('Token name').fill('laptop');
    await create.getByLabel('Expire automatically').check();
    await create.getByLabel('Days until it expires').fill('30');
    await create.getByRole('button', { name: 'Create' }).click();
    await created.waitFor();
    await created.getByRole('button', { name: 'Done' }).click();
    const laptopRow = tokenRow(page, 'laptop');
    await laptopRow.waitFor();
    assert.match(await laptopRow.textContent(), /Project admin.*Repository admin/);
    const laptopExpiry = await laptopRow.locator('td[data-label="Expires"] time').getAttribute('datetime');
    const days = (Date.parse(laptopExpiry) - Date.now()) / 86_400_000;
    assert.ok(days > 29 && days <= 30.01, `expires in ${days} days`);

    // Nothing of the session outside the page's memory.
    assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0);
    assert.deepEqual(await browser.cookies(), []);

    if (process.env.E2E_SCREENSHOT) {
      await page.getByRole('status').waitFor({ state: 'hidden', timeout: 15_000 }).catch(() => {});
      await page.screenshot({ path: process.env.E2E_SCREENSHOT, fullPage: true });
    }

    // The read token clones through the module, and cannot push.
    const first = path.join(work, 'first');
    const cloned = clone('alice', secret, first);
    assert.equal(cloned.status, 0, cloned.stderr);
    const pushed = git(['push', '-q', 'origin', 'HEAD:refs/heads/from-read-token'], { cwd: first, allowFailure: true });
    assert.notEqual(pushed.status, 0, 'a read token pushed');
    assert.match(pushed.stderr, /403/);

    // Change the other token's name and permissions.
    await laptopRow.getByRole('button', { name: 'Edit token laptop' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit token “laptop”' });
    await edit.waitFor();
    assert.equal(await levelRadio(edit, 'Project permissions', 'Admin').isChecked(), true);
    await edit.getByLabel('Token name').fill('old-laptop');
    await levelLabel(edit, 'Project permissions', 'Write').click();
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.waitFor({ state: 'hidden' });
    const renamed = tokenRow(page, 'old-laptop');
    await renamed.waitFor();
    assert.match(await renamed.textContent(), /Project write.*Repository admin/);
    const stored = deployment.tokensOf('alice').find((t) => t.name === 'old-laptop');
    assert.ok(stored, 'patctl does not see the renamed token');
    assert.equal(stored.project, 'write');
    assert.equal(stored.repo, 'admin');

    // Revoke, with a confirmation whose safe button has the focus.
    await readRow.getByRole('button', { name: 'Revoke token ci-read' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke token?' });
    await confirm.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await readRow.waitFor({ state: 'detached' });
    assert.match(await page.getByRole('status').textContent(), /ci-read.*revoked/);
    assert.deepEqual(deployment.tokensOf('alice').map((t) => t.name), ['old-laptop']);

    const again = clone('alice', secret, path.join(work, 'second'));
    assert.notEqual(again.status, 0, 'a revoked token still clones');
    assert.match(again.stderr, /Authentication failed|401/);

    // Signing out forgets everything.
    await signOut(page);
    assert.equal(await page.locator('#tokens-body tr').count(), 0);
    assert.equal(await page.getByRole('region', { name: 'Sign in' }).getByLabel('Password', { exact: true }).inputValue(), '');
    assert.equal(await page.getByRole('button', { name: 'Create token' }).isVisible(), false);

    // No token text ever reaches nginx's or patd's logs.
    assert.equal(deployment.errorLog().includes(secret), false, 'the token is in error.log');
    assert.equal(deployment.accessLog().includes(secret), false, 'the token is in access.log');
    assert.equal(deployment.patdLog().includes(secret), false, 'the token is in patd\'s log');
    assert.deepEqual(pageErrors, []);
  } finally {
    await page.close();
    rmSync(work, { recursive: true, force: true });
  }
});

test('an administrator looks up and revokes another user\'s token but cannot create one for them', async () => {
  // A token of bob's to look at: bob makes it himself, in the page.
  const page = await openPage();
  try {
    await signIn(page, 'bob');
    await page.getByText('You have no tokens yet.').waitFor();
    await page.getByRole('button', { name: 'Create token' }).click();
    const create = page.getByRole('dialog', { name: 'Create a personal access token' });
    await create.getByLabel('Token name').fill('bob-build');
    await create.getByRole('button', { name: 'Create' }).click();
    const created = page.getByRole('dialog', { name: 'Your new token' });
    await created.waitFor();
    await created.getByRole('button', { name: 'Done' }).click();
    await tokenRow(page, 'bob-build').waitFor();

    // A user who is not an administrator cannot look at alice's tokens.
    const lookup = page.locator('#admin-lookup');
    await lookup.getByText("Administrators: look up another user's tokens").click();
    await lookup.getByLabel('User name').fill('alice');
    await lookup.getByLabel('User name').press('Enter');
    const error = page.locator('#error');
    await error.waitFor();
    assert.notEqual((await error.textContent()).trim(), '');
    assert.equal(await tokenRow(page, 'old-laptop').count(), 0);
    await tokenRow(page, 'bob-build').waitFor();  // still signed in, still his own list
    await signOut(page);

    await signIn(page, 'root-admin');
    await page.getByText('You have no tokens yet.').waitFor();
    await page.locator('#admin-lookup').getByText("Administrators: look up another user's tokens").click();
    await page.locator('#admin-lookup').getByLabel('User name').fill('bob');
    await page.locator('#admin-lookup').getByLabel('User name').press('Enter');
    const row = tokenRow(page, 'bob-build');
    await row.waitFor();
    await page.getByText('You are viewing the tokens of').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create token' }).isVisible(), false);
    assert.equal(await row.getByRole('button', { name: /^Edit/ }).count(), 0);

    await row.getByRole('button', { name: 'Revoke token bob-build' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke token?' });
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual(deployment.tokensOf('bob'), []);

    await page.getByRole('button', { name: 'Back to my tokens' }).click();
    await page.getByText('You have no tokens yet.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create token' }).isVisible(), true);
    assert.deepEqual(pageErrors, []);
  } finally {
    await page.close();
  }
});

test('a user changes their password in the page and signs in with the new one', async () => {
  const page = await openPage();
  const newPassword = 'a new and longer passphrase';
  try {
    await signIn(page, 'bob');
    await page.getByText('You have no tokens yet.').waitFor();
    await page.getByRole('link', { name: 'Password' }).click();
    const section = page.getByRole('region', { name: 'Password' });
    await section.waitFor();

    // The confirmation must match; checked before anything is sent.
    await section.getByLabel('Current password').fill(PASSWORD);
    await section.getByLabel('New password', { exact: true }).fill(newPassword);
    await section.getByLabel('Confirm new password').fill('something else');
    await section.getByLabel('Confirm new password').press('Enter');
    await section.getByRole('alert').getByText('differ').waitFor();

    // A wrong current password: the API's refusal, and still signed in.
    await section.getByLabel('Current password').fill('not my password');
    await section.getByLabel('Confirm new password').fill(newPassword);
    await section.getByLabel('Confirm new password').press('Enter');
    await section.getByRole('alert').waitFor();
    assert.notEqual((await section.getByRole('alert').textContent()).trim(), '');
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), true);

    await section.getByLabel('Current password').fill(PASSWORD);
    await section.getByLabel('New password', { exact: true }).fill(newPassword);
    await section.getByLabel('Confirm new password').fill(newPassword);
    await section.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').getByText('Your password has been changed.').waitFor();
    assert.equal(await section.getByLabel('Current password').inputValue(), '');

    // The page goes on with the new password.
    await page.getByRole('link', { name: 'Personal access tokens' }).click();
    await page.getByRole('button', { name: 'Create token' }).click();
    const create = page.getByRole('dialog', { name: 'Create a personal access token' });
    await create.getByLabel('Token name').fill('after-change');
    await create.getByRole('button', { name: 'Create' }).click();
    const created = page.getByRole('dialog', { name: 'Your new token' });
    await created.waitFor();
    await created.getByRole('button', { name: 'Done' }).click();
    await tokenRow(page, 'after-change').waitFor();
    await signOut(page);

    await signIn(page, 'bob');
    await page.getByRole('region', { name: 'Sign in' }).getByRole('alert').waitFor();
    await signIn(page, 'bob', newPassword);
    await tokenRow(page, 'after-change').waitFor();
    assert.deepEqual(pageErrors, []);
  } finally {
    await page.close();
  }
});

test('the create dialog offers only what the token policy allows', async () => {
  deployment.addUser('dana');
  deployment.patctl('policy', 'set', '--require-expiry', 'yes', '--max-expiry-days', '30');
  const page = await openPage();
  try {
    await signIn(page, 'dana');
    await page.getByText('You have no tokens yet.').waitFor();
    await page.getByRole('button', { name: 'Create token' }).click();
    const create = page.getByRole('dialog', { name: 'Create a personal access token' });
    await create.waitFor();
    // No "never": the expiry is ticked and cannot be cleared; the maximum is
    // the default and the field's limit.
    const expires = create.getByLabel('Expire automatically');
    assert.equal(await expires.isChecked(), true);
    assert.equal(await expires.isDisabled(), true);
    const days = create.getByLabel('Days until it expires');
    assert.equal(await days.inputValue(), '30');
    assert.equal(await days.getAttribute('max'), '30');
    await create.getByText('Your administrator requires tokens to expire.').waitFor();
    await create.getByLabel('Token name').fill('short-lived');
    await days.fill('31');
    await create.getByRole('button', { name: 'Create' }).click();
    await create.getByText('Enter a whole number of days from 1 to 30.').waitFor();
    await days.fill('30');
    await create.getByRole('button', { name: 'Create' }).click();
    const created = page.getByRole('dialog', { name: 'Your new token' });
    await created.waitFor();
    await created.getByRole('button', { name: 'Done' }).click();
    await tokenRow(page, 'short-lived').waitFor();
    const tokens = deployment.tokensOf('dana');
    assert.equal(tokens.length, 1);
    assert.notEqual(tokens[0].expires, null, 'the token expires');

    // Creation disabled: the dialog says so and offers nothing to submit.
    deployment.patctl('policy', 'set', '--creation', 'disabled');
    await page.getByRole('button', { name: 'Create token' }).click();
    await create.getByText('Token creation is disabled by your administrator.').waitFor();
    assert.equal(await create.getByRole('button', { name: 'Create' }).isDisabled(), true);
    assert.equal(await create.getByLabel('Token name').isDisabled(), true);
    await create.getByRole('button', { name: 'Cancel' }).click();
    await create.waitFor({ state: 'hidden' });
    assert.equal(deployment.tokensOf('dana').length, 1);
    assert.deepEqual(pageErrors, []);
  } finally {
    deployment.patctl('policy', 'set', '--require-expiry', 'no', '--max-expiry-days', 'none',
      '--creation', 'enabled');
    await page.close();
  }
});

// Creates a token in the page as the signed-in user; its text, from the
// dialog that shows it once.
async function createToken(page, name, { expiryDays } = {}) {
  await page.getByRole('button', { name: 'Create token' }).click();
  const create = page.getByRole('dialog', { name: 'Create a personal access token' });
  await create.waitFor();
  await create.getByLabel('Token name').fill(name);
  if (expiryDays !== undefined) {
    await create.getByLabel('Expire automatically').check();
    await create.getByLabel('Days until it expires').fill(String(expiryDays));
  }
  await create.getByRole('button', { name: 'Create' }).click();
  const created = page.getByRole('dialog', { name: 'Your new token' });
  await created.waitFor();
  const secret = await created.getByRole('textbox', { name: /^Token/ }).inputValue();
  await created.getByRole('button', { name: 'Done' }).click();
  await created.waitFor({ state: 'hidden' });
  await tokenRow(page, name).waitFor();
  return secret;
}

// Waits (bounded) until patctl sees a use of the token from an address:
// the workers' flush (auth_pat_last_used_flush 1s in deployment.mjs) has
// written it to the usage file. Not an assertion on the time it takes.
async function usedFrom(user, name) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const token = deployment.tokensOf(user).find((t) => t.name === name);
    if (token?.last_used_ips?.length) return token.last_used_ips;
    if (Date.now() > deadline) throw new Error(`no use of ${name} reached the usage file: ${JSON.stringify(token)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('expiring tokens are marked, the last use shows its address, and a rotated token is replaced', async () => {
  deployment.addUser('erin');
  deployment.patctl('grant', 'erin', 'project', 'WORK', 'read');
  const page = await openPage();
  const work = mkdtempSync(path.join(os.tmpdir(), 'nginx-pat-e2e-rotate-'));
  try {
    await signIn(page, 'erin');
    await page.getByText('You have no tokens yet.').waitFor();
    const oldSecret = await createToken(page, 'deploy', { expiryDays: 30 });
    await createToken(page, 'short', { expiryDays: 3 });

    // Within 7 days: the badge, with the whole days left; 30 days: none.
    const shortRow = tokenRow(page, 'short');
    const shortBadge = shortRow.locator('.badge.warning');
    assert.equal(await shortBadge.count(), 1);
    assert.equal((await shortBadge.textContent()).trim(), 'Expires in 3 days');
    const deployRow = tokenRow(page, 'deploy');
    assert.equal(await deployRow.locator('.badge.warning').count(), 0);
    assert.doesNotMatch(await deployRow.textContent(), /Expires (in|within)/);

    // Not used yet: no address.
    assert.match(await deployRow.locator('td[data-label="Last authenticated"]').textContent(), /^Never$/);
    assert.equal(await deployRow.locator('.last-used-ips').count(), 0);

    // A clone with it through nginx; once the workers' flush has written the
    // use, the page (signed in afresh, so the list is read again) shows when
    // and from where.
    const first = clone('erin', oldSecret, path.join(work, 'first'));
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(await usedFrom('erin', 'deploy'), ['127.0.0.1']);
    await signOut(page);
    await signIn(page, 'erin');
    await deployRow.waitFor();
    const lastUsed = deployRow.locator('td[data-label="Last authenticated"]');
    assert.equal(await lastUsed.locator('time').count(), 1, 'no last-authenticated time');
    assert.equal((await lastUsed.locator('.last-used-ips').textContent()).trim(), 'from 127.0.0.1');
    assert.equal(await tokenRow(page, 'short').locator('.last-used-ips').count(), 0);

    // Rotate, with a confirmation whose safe button has the focus.
    const oldId = await deployRow.getAttribute('data-token-id');
    await deployRow.getByRole('button', { name: 'Rotate token deploy' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate token?' });
    await confirm.waitFor();
    assert.match(await confirm.textContent(), /“deploy”/);
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel');
    await confirm.getByRole('button', { name: 'Rotate' }).click();
    await confirm.waitFor({ state: 'hidden' });

    // The new token, shown once.
    const created = page.getByRole('dialog', { name: 'Your new token' });
    await created.waitFor();
    assert.match(await created.textContent(), /you won't see this token\s+again/i);
    const newSecret = await created.getByRole('textbox', { name: /^Token/ }).inputValue();
    assert.ok(newSecret.length >= 20, `a token, not ${JSON.stringify(newSecret)}`);
    assert.notEqual(newSecret, oldSecret);
    await created.getByRole('button', { name: 'Done' }).click();
    await created.waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#created-token').inputValue(), '');
    assert.equal((await page.content()).includes(newSecret), false, 'the new token is still in the page');
    assert.match(await page.getByRole('status').textContent(), /deploy.*rotated/);

    // The list: the new token in the old one's place, under the same name.
    await page.locator(`#tokens-body tr[data-token-id="${oldId}"]`).waitFor({ state: 'detached' });
    assert.equal(await tokenRow(page, 'deploy').count(), 1);
    const newId = await tokenRow(page, 'deploy').getAttribute('data-token-id');
    assert.notEqual(newId, oldId);
    assert.equal(await page.locator('#tokens-body tr').count(), 2);
    const stored = deployment.tokensOf('erin');
    assert.deepEqual(stored.map((t) => t.name).sort(), ['deploy', 'short']);
    assert.equal(String(stored.find((t) => t.name === 'deploy').id), newId);

    // The old token is refused through nginx, the new one clones.
    const refused = clone('erin', oldSecret, path.join(work, 'old'));
    assert.notEqual(refused.status, 0, 'the rotated token still clones');
    assert.match(refused.stderr, /Authentication failed|401/);
    const cloned = clone('erin', newSecret, path.join(work, 'new'));
    assert.equal(cloned.status, 0, cloned.stderr);

    for (const secret of [oldSecret, newSecret]) {
      assert.equal(deployment.errorLog().includes(secret), false, 'a token is in error.log');
      assert.equal(deployment.accessLog().includes(secret), false, 'a token is in access.log');
      assert.equal(deployment.patdLog().includes(secret), false, 'a token is in patd\'s log');
    }
    assert.deepEqual(pageErrors, []);
  } finally {
    await page.close();
    rmSync(work, { recursive: true, force: true });
  }
});
