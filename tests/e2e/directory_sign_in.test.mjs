// End-to-end: a user of the organisation's directory (a real slapd,
// tests/directory/serve.py) signs in on the account page in headless
// Chromium with their directory password, creates a token and clones with
// it; their permission comes from a directory group synced into the store.
// Nothing is mocked: real nginx, patd, patctl, slapd and git.
//
//   node --test directory_sign_in.test.mjs

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { Deployment, git } from './deployment.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic',
];

let deployment;
let profile;
let browser;
const pageErrors = [];

before(async () => {
  deployment = new Deployment({ directory: true });
  await deployment.start();
  profile = mkdtempSync(path.join(os.tmpdir(), 'nginx-pat-e2e-profile-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, locale: 'en-GB',
  });
  browser.setDefaultTimeout(20_000);
});

after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (deployment) {
    await deployment.stop();
    // patd logs the 503 of the outage below at crit, as it does every 5xx.
    const problems = deployment.logProblems().filter((line) => !/the directory is unavailable/.test(line));
    const patdLog = deployment.patdLog();
    if (process.env.E2E_KEEP !== '1') deployment.remove();
    assert.deepEqual(problems, [], 'nginx error.log has alerts, or patd crit lines or an unclean stop');
    for (const password of Object.values(deployment.directoryPasswords ?? {})) {
      assert.equal(patdLog.includes(password), false, 'a directory password reached patd\'s log');
    }
  }
});

test('a directory user signs in with their directory password, creates a token and clones through a group grant',
  async () => {
    // carol is only in the directory (the store has alice, bob and root-admin):
    // the sync brings her and her posixGroup "ops"; ops may read WORK.
    const synced = JSON.parse(deployment.patctl('directory', 'sync', '--config', deployment.directoryConfig,
      '--json').stdout);
    assert.ok(synced.changes.includes('add user carol'), synced.changes.join('\n'));
    deployment.patctl('grant', '--group', 'ops', 'project', 'WORK', 'read');

    const page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
        pageErrors.push(message.text());
      }
    });
    await page.goto(deployment.url('/account/tokens/'));
    const form = page.getByRole('region', { name: 'Sign in' });
    const signIn = async (user, password) => {
      await form.getByLabel('User name').fill(user);
      await form.getByLabel('Password', { exact: true }).fill(password);
      await form.getByLabel('Password', { exact: true }).press('Enter');
    };

    // Another directory user's password is refused like any wrong one.
    await signIn('carol', deployment.directoryPasswords.bob);
    await form.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Personal access tokens' }).count(), 0);

    await signIn('Carol', deployment.directoryPasswords.carol);
    await page.getByRole('heading', { name: 'Personal access tokens', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Create token' }).click();
    const create = page.getByRole('dialog', { name: 'Create a personal access token' });
    await create.getByLabel('Token name').fill('ldap-ci');
    await create.getByLabel('Token name').press('Enter');
    const created = page.getByRole('dialog', { name: 'Your new token' });
    await created.waitFor();
    const secret = await created.getByRole('textbox', { name: /^Token/ }).inputValue();
    await page.keyboard.press('Escape');
    await created.waitFor({ state: 'hidden' });

    const users = Object.fromEntries(JSON.parse(deployment.patctl('user', 'list', '--json').stdout)
      .map((user) => [user.name, user]));
    assert.equal(users.carol.source, 'directory');
    assert.equal(users.alice.source, 'local');
    assert.deepEqual(deployment.tokensOf('carol').map((token) => token.name), ['ldap-ci']);

    const work = mkdtempSync(path.join(os.tmpdir(), 'nginx-pat-e2e-clones-'));
    try {
      const cloned = git(['clone', '-q', deployment.repoUrl('carol', secret), path.join(work, 'c')],
        { allowFailure: true });
      assert.equal(cloned.status, 0, cloned.stderr);
      // Leaving ops takes the read away at the very next request.
      deployment.patctl('group', 'remove-member', 'ops', 'carol');
      const refused = git(['clone', '-q', deployment.repoUrl('carol', secret), path.join(work, 'd')],
        { allowFailure: true });
      assert.notEqual(refused.status, 0, 'cloned after leaving the group');

      // The directory goes down: signing in says so (503), and the token,
      // which never touches the directory, still clones.
      deployment.patctl('group', 'add-member', 'ops', 'carol');
      await deployment.stopDirectory();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await form.waitFor();
      await signIn('carol', deployment.directoryPasswords.carol);
      await form.getByRole('alert').filter({ hasText: /directory that checks passwords is not answering/ }).waitFor();
      assert.equal(await page.getByRole('heading', { name: 'Personal access tokens' }).count(), 0);
      const during = git(['clone', '-q', deployment.repoUrl('carol', secret), path.join(work, 'e')],
        { allowFailure: true });
      assert.equal(during.status, 0, during.stderr);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    assert.deepEqual(pageErrors, []);
  });
