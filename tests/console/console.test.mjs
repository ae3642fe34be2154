// Browser tests of the Outpost console (ctest console_browser; docs/console.md).
//
// Builds a real world through the real CLI — a reference central, an enrolled satellite serving
// on a free loopback port, users, tokens, devices registered with `outpost device register`, an
// offline sync round trip — then drives Debian's Chromium through every page with
// playwright-core, and checks the security properties in the browser: cookie flags, CSRF, roles
// enforced by the server, server text inserted as text, and audit verification after the
// database was tampered with. Screenshots of every page go to $SCREENSHOT_DIR.
//
//   OUTPOST_BIN=build/release/cli/outpost SCREENSHOT_DIR=build/console-screenshots \
//     node tests/console/console.test.mjs
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const OUTPOST = path.resolve(process.env.OUTPOST_BIN || 'build/release/cli/outpost');
const SHOTS = path.resolve(process.env.SCREENSHOT_DIR || 'build/console-screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/lib/chromium/chromium';
const T = 'regid.2026-01.com.example';
const XSS = '<img src=x onerror=alert(1)>';
const STEP_TIMEOUT = 30000;
// For editing the console without rebuilding: serve /console/ from this directory (the
// satellite's headers are copied from its index answer) and pass the rest to the satellite.
const DEV_ASSETS = process.env.CONSOLE_ASSETS_DIR || '';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-console-'));
const CENTRAL = path.join(work, 'central');
const SAT = path.join(work, 'satellite');
let server = null;
let browser = null;
let serverUrl = '';  // the satellite, for the CLI
let consoleUrl = '';  // what the browser opens: the satellite, or the development proxy

function log(...args) { console.log(`[console-test ${new Date().toISOString().slice(11, 19)}]`, ...args); }

// Runs the real CLI; throws with its stderr when it fails.
function cli(args, { input, json } = {}) {
  const fullArgs = json ? ['--json', ...args] : args;
  try {
    const out = execFileSync(OUTPOST, fullArgs, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 60000 });
    return json ? JSON.parse(out) : out;
  } catch (err) {
    throw new Error(`outpost ${fullArgs.join(' ')} failed: ${err.stderr || err.message}`);
  }
}
const sat = (args, options) => cli([...args, '--data-dir', SAT, '--server', serverUrl], options);
const central = (args, options) => cli([...args, '--data-dir', CENTRAL], options);

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(OUTPOST, ['serve', '--data-dir', SAT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`outpost serve did not start: ${out}`)), 60000);
    const onData = (chunk) => {
      out += chunk;
      const match = out.match(/URL:\s+(https:\/\/127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1] });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => { out += chunk; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`outpost serve exited (${code}): ${out}`)); });
  });
}

// The development proxy of CONSOLE_ASSETS_DIR; answers with the browser-facing URL.
async function startDevProxy(target) {
  const key = path.join(work, 'proxy.key');
  const cert = path.join(work, 'proxy.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  // The satellite's own headers, taken from its index answer.
  const index = await new Promise((resolve, reject) => {
    https.get(`${target}/console/`, { rejectUnauthorized: false }, (res) => { res.resume(); resolve(res.headers); }).on('error', reject);
  });
  let security = Object.fromEntries(Object.entries(index).filter(([name]) =>
    ['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'referrer-policy', 'x-frame-options'].includes(name)));
  if (!security['content-security-policy']) {
    // A satellite built without the console (e.g. another branch's binary): the same policy.
    security = {
      'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      'strict-transport-security': 'max-age=31536000', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY',
    };
  }
  const types = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml' };
  const proxy = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    const url = new URL(req.url, 'https://x');
    if (url.pathname === '/') {
      res.writeHead(302, { ...security, location: '/console/' });
      res.end();
      return;
    }
    if (url.pathname.startsWith('/console/')) {
      const name = url.pathname.slice('/console/'.length) || 'index.html';
      const file = path.join(DEV_ASSETS, path.basename(name));
      if (!fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { ...security, 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(fs.readFileSync(file));
      return;
    }
    const upstream = https.request(`${target}${req.url}`, { method: req.method, headers: req.headers, rejectUnauthorized: false }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxy.unref();
  return `https://127.0.0.1:${proxy.address().port}`;
}

function registerDevice(token, serial, hostname) {
  const state = path.join(work, 'devices', serial);
  return cli(['device', 'register', '--server', serverUrl, '--ca', path.join(SAT, 'ca.pem'), '--token', token,
    '--pid', 'C9300-48P', '--serial', serial, '--hostname', hostname, '--state-dir', state], { json: true });
}

function authorizeDevice(serial, ...tags) {
  const state = path.join(work, 'devices', serial);
  return cli(['device', 'authorize', '--state-dir', state, ...tags.flatMap((t) => ['--tag', t])], { json: true });
}

// An offline round trip through central: export here, process there. Returns the response path.
function centralAnswer(name, armor) {
  const request = path.join(work, `${name}-request.bin`);
  const response = path.join(work, `${name}-response.${armor ? 'txt' : 'bin'}`);
  sat(['sync', 'export', '-o', request]);
  central(['central', 'sync', 'process', request, '-o', response, ...(armor ? ['--armor'] : [])]);
  return response;
}

async function setUpWorld() {
  log('work directory', work);
  central(['central', 'init', '--listen', '127.0.0.1:0']);
  central(['central', 'account', 'create', 'acme', '--name', 'Acme Corp']);
  central(['central', 'va', 'create', 'acme', 'lab']);
  central(['central', 'license', 'add', 'acme', 'default', '--tag', `${T}.fw.base`, '--count', '10']);
  central(['central', 'license', 'add', 'acme', 'default', '--tag', `${T}.fw.adv`, '--count', '4', '--enforced']);
  central(['central', 'license', 'add', 'acme', 'lab', '--tag', `${T}.sim.seat`, '--count', '3', '--floating']);
  const bundle = path.join(work, 'enrollment.bundle');
  central(['central', 'satellite', 'enroll', 'acme', '--name', 'console test', '-o', bundle]);
  const init = cli(['init', '--data-dir', SAT, '--enroll', bundle, '--listen', '127.0.0.1:0'], { json: true });
  assert.ok(init.admin_password, 'outpost init printed the first admin password');
  ({ child: server, url: serverUrl } = await startServer());
  log('satellite serving at', serverUrl);

  // The first offline round trip brings the entitlements.
  sat(['sync', 'import', centralAnswer('first', false)]);
  const auditorPassword = 'Auditor-console-7f3e91c2';
  sat(['user', 'add', 'auditor1', '--role', 'auditor', '--password-stdin'], { input: `${auditorPassword}\n` });
  sat(['user', 'add', 'locked1', '--role', 'operator', '--password-stdin'], { input: 'Locked-console-5b1d8e4a\n' });
  sat(['user', 'add', 'scripts', '--role', 'operator']);
  const token = sat(['token', 'create', '--va', 'default', '--description', 'rack 12'], { json: true }).token;
  sat(['token', 'create', '--va', 'lab', '--max-uses', '5', '--description', 'lab benches'], { json: true });
  const core = registerDevice(token, 'CORE0001', 'core-switch-1');
  authorizeDevice('CORE0001', `${T}.fw.base:2`, `${T}.fw.adv`);
  registerDevice(token, 'EDGE0002', 'edge-router-2');
  authorizeDevice('EDGE0002', `${T}.fw.base`);
  registerDevice(token, 'XSS00003', XSS);
  sat(['reserve', '--va', 'default', '--tag', `${T}.fw.adv`, '--count', '1', '--udi', 'C9300-48P:EDGE0002']);
  sat(['va', 'move', '--from', 'default', '--to', 'lab', '--tag', `${T}.fw.base`, '--count', '1']);
  const pak = central(['central', 'pak', 'create', 'acme', 'lab', '--tag', `${T}.sim.seat`, '--count', '2'], { json: true }).key;
  sat(['convert', pak, '--va', 'lab']);
  // The second answer is uploaded in the browser (as a file), the third pasted (armored).
  const second = centralAnswer('second', false);
  return { adminPassword: init.admin_password, auditorPassword, token, coreId: core.instance_id, second };
}

// DOCS_IMAGES_DIR=docs/images refreshes the few screenshots docs/console.md shows (the visible
// part of the page only, to keep them small).
const DOCS_IMAGES = { '01-overview': 'overview', '04-usage': 'usage', '05-devices': 'devices', '09-sync': 'sync', '14-audit-broken': 'audit' };

async function shot(page, name, { docs = true, top = null } = {}) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  if (docs && process.env.DOCS_IMAGES_DIR && DOCS_IMAGES[name]) {
    const viewport = page.viewportSize();
    await page.setViewportSize({ width: 1024, height: 660 });
    if (top) await top.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(process.env.DOCS_IMAGES_DIR, `console-${DOCS_IMAGES[name]}.png`) });
    await page.setViewportSize(viewport);
  }
}

async function open(page, hash, heading) {
  await page.goto(`${consoleUrl}/console/${hash}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

async function login(page, user, password) {
  await page.goto(`${consoleUrl}/`);
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

async function logout(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
}

// fetch() from the page, with the page's own session cookie.
function pageFetch(page, method, url, { csrf, body } = {}) {
  return page.evaluate(async ({ method, url, csrf, body }) => {
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (csrf !== undefined) headers['X-CSRF-Token'] = csrf;
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    return { status: res.status, text: await res.text() };
  }, { method, url, csrf, body });
}

async function csrfOf(page) {
  const who = await pageFetch(page, 'GET', '/v1/admin/whoami');
  return JSON.parse(who.text).csrf_token;
}

async function main() {
  const world = await setUpWorld();
  consoleUrl = serverUrl;
  if (DEV_ASSETS) {
    consoleUrl = await startDevProxy(serverUrl);
    log('CONSOLE_ASSETS_DIR: the browser uses', consoleUrl, 'with the assets of', DEV_ASSETS);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: consoleUrl });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  const dialogs = [];
  const problems = [];
  const offHost = [];
  page.on('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.dismiss().catch(() => {}); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => { if (!req.url().startsWith(consoleUrl) && !req.url().startsWith('blob:') && !req.url().startsWith('data:')) offHost.push(req.url()); });

  log('/ redirects to the console; the console answers with its security headers');
  const root = await page.goto(`${consoleUrl}/`);
  assert.equal(new URL(page.url()).pathname, '/console/');
  const headers = root.headers();
  assert.match(headers['content-security-policy'], /default-src 'self'/);
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.match(headers['strict-transport-security'], /max-age=/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  await shot(page, '00-login');

  log('a wrong password shows the server\'s message');
  await login(page, 'admin', 'not-the-password');
  await page.getByRole('alert').filter({ hasText: /password/i }).waitFor();

  log('lockout: after repeated failures the server says the user is locked');
  for (let i = 0; i < 6; i += 1) {
    await page.getByLabel('User').fill('locked1');
    await page.getByLabel('Password').fill(`wrong-${i}`);
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/admin/login')),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);
  }
  await page.getByRole('button', { name: 'Log in' }).and(page.locator(':enabled')).waitFor();
  const lockText = await page.getByRole('alert').textContent();
  assert.match(lockText, /lock|too many|retry/i, `lockout message: ${lockText}`);

  log('the admin logs in; the session cookie is HttpOnly, Secure, SameSite=Strict');
  await login(page, 'admin', world.adminPassword);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  const cookies = await context.cookies(consoleUrl);
  assert.ok(cookies.length >= 1, 'a session cookie is set');
  for (const cookie of cookies) {
    assert.equal(cookie.httpOnly, true, `${cookie.name} HttpOnly`);
    assert.equal(cookie.secure, true, `${cookie.name} Secure`);
    assert.equal(cookie.sameSite, 'Strict', `${cookie.name} SameSite`);
  }
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');

  log('Overview: compliance per virtual account');
  const overviewTable = page.locator('main table');
  await overviewTable.getByRole('cell', { name: 'default', exact: true }).waitFor();
  await overviewTable.getByRole('cell', { name: 'lab', exact: true }).waitFor();
  const registered = page.locator('.card').filter({ hasText: 'Devices registered' }).locator('.value');
  assert.equal((await registered.textContent()).trim(), '3', 'three devices are registered');
  await page.getByText('Acme Corp').first().waitFor();
  await page.getByText('No alarms.').waitFor();
  await shot(page, '01-overview');

  log('Licenses: the pools a page at a time, search on the server, CSV of every page, a tag\'s detail');
  await open(page, '#/licenses', 'Licenses');
  await page.getByRole('cell', { name: `${T}.fw.adv`, exact: true }).waitFor();
  await page.getByRole('cell', { name: `${T}.sim.seat`, exact: true }).waitFor();
  await shot(page, '02-licenses');
  // One row a page (#/licenses?page_size=1, docs/console.md): the four pools (the move made
  // lab's fw.base) are four pages in (VA, tag) order, each asked of the server with its cursor.
  const licenseRequests = [];
  const noteLicenses = (r) => { if (r.url().includes('/v1/admin/licenses?')) licenseRequests.push(r.url()); };
  page.on('request', noteLicenses);
  await open(page, '#/licenses?page_size=1', 'Licenses');
  const licenseRows = page.locator('main table tbody tr');
  const previousPage = page.getByRole('button', { name: 'Previous' });
  const nextPage = page.getByRole('button', { name: 'Next' });
  await page.getByRole('cell', { name: `${T}.fw.adv`, exact: true }).waitFor();
  assert.equal(await licenseRows.count(), 1, 'one row a page');
  assert.equal(await previousPage.isDisabled(), true, 'no page before the first');
  for (const [number, va, tag] of [[2, 'default', 'fw.base'], [3, 'lab', 'fw.base'], [4, 'lab', 'sim.seat']]) {
    await nextPage.click();
    await page.getByText(`Page ${number}`, { exact: true }).waitFor();
    assert.deepEqual(await licenseRows.first().locator('td').evaluateAll((cells) => cells.slice(0, 2).map((c) => c.textContent)),
      [va, `${T}.${tag}`], `page ${number}`);
  }
  assert.equal(await nextPage.isDisabled(), true, 'the last page has no Next');
  assert.ok(licenseRequests.some((u) => /[?&]after=[^&]+/.test(u)), `pages after the first carry the cursor: ${licenseRequests}`);
  await previousPage.click();
  await page.getByText('Page 3', { exact: true }).waitFor();
  // The search runs on the server over every pool: the fourth page's tag is found from page 3.
  await Promise.all([
    page.waitForRequest((r) => r.url().includes('/v1/admin/licenses?') && r.url().includes('q=sim')),
    page.getByLabel('Search').fill('sim'),
  ]);
  await page.getByRole('cell', { name: `${T}.sim.seat`, exact: true }).waitFor();
  await page.getByText('Page 1', { exact: true }).waitFor();
  assert.equal(await licenseRows.count(), 1, 'one match');
  assert.equal(await nextPage.isDisabled(), true, 'one match: one page');
  await page.getByLabel('Search').fill('no-such-tag');
  await page.getByText('No license matches the search').waitFor();
  await page.getByLabel('Search').fill('fw base');  // a space: the server's 400 is shown as it is
  await page.getByRole('alert').filter({ hasText: "query parameter 'q'" }).waitFor();
  await page.getByLabel('Search').fill('');
  await page.getByRole('cell', { name: `${T}.fw.adv`, exact: true }).waitFor();
  // The VA filter is an exact name, applied on the server; an unknown one shows the server's 404.
  const vaFilter = page.getByLabel('Virtual account');
  await vaFilter.fill('lab');
  await vaFilter.press('Enter');
  await licenseRows.first().getByRole('cell', { name: 'lab', exact: true }).waitFor();
  await vaFilter.fill('nowhere');
  await vaFilter.press('Enter');
  await page.getByRole('alert').filter({ hasText: "virtual account 'nowhere'" }).waitFor();
  await vaFilter.fill('');
  await vaFilter.press('Enter');
  await page.getByRole('cell', { name: `${T}.fw.adv`, exact: true }).waitFor();
  // The CSV pages through everything (one row a request here), not just the page shown.
  const before = licenseRequests.length;
  const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const csv = fs.readFileSync(await csvDownload.path(), 'utf8');
  assert.match(csv, /^Virtual account,Tag,Purchased/);
  assert.equal(csv.trim().split('\r\n').length, 5, `a header and the four pools: ${csv}`);
  assert.match(csv, new RegExp(`lab,${T.replace(/\./g, '\\.')}\\.sim\\.seat,3,`));
  assert.ok(licenseRequests.length - before >= 4, `the CSV asked for every page (${licenseRequests.length - before} requests)`);
  page.off('request', noteLicenses);
  await page.getByRole('cell', { name: `${T}.fw.adv`, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: `${T}.fw.adv` }).waitFor();
  await page.getByRole('cell', { name: 'core-switch-1', exact: true }).waitFor();  // holds it
  await page.getByRole('cell', { name: 'C9300-48P:EDGE0002', exact: true }).waitFor();  // the reservation
  await shot(page, '03-license-detail');

  log('Usage: the chart draws the hourly samples');
  // The satellite writes a sample when an hour closes; a test cannot wait for hours, so it
  // writes the past day's samples of one tag the way the sweep does (usage_samples rows).
  const hour = Math.floor(Date.now() / 3600000) * 3600;
  const rows = Array.from({ length: 23 }, (_, i) => `('default', '${T}.fw.base', ${hour - (23 - i) * 3600}, ${1 + Math.floor(i / 4)})`);
  execFileSync('sqlite3', ['-cmd', '.timeout 10000', path.join(SAT, 'outpost.db'),
    `INSERT OR IGNORE INTO usage_samples(va, tag, hour, max_in_use) VALUES ${rows.join(', ')};`]);
  await open(page, `#/usage?va=default&tag=${T}.fw.base&range=24h`, 'Usage');
  const points = page.locator('.chart svg circle.point');
  await points.first().waitFor();
  assert.ok(await points.count() >= 20, `the chart draws a point per hourly sample (${await points.count()})`);
  const forecast = await page.locator('[data-forecast]').textContent();
  assert.match(forecast, /runs out|not heading|no trend|at this trend/i, forecast);
  await page.getByText(/^High-water mark$/).waitFor();
  await shot(page, '04-usage');

  log('Devices: listed; a hostname with HTML in it is shown as text');
  await open(page, '#/devices', 'Devices');
  await page.getByRole('cell', { name: 'core-switch-1' }).waitFor();
  await page.getByRole('cell', { name: XSS, exact: true }).waitFor();
  assert.equal(await page.locator('main img').count(), 0, 'no <img> element was created from the hostname');
  await shot(page, '05-devices');
  await page.getByLabel('Search devices').fill('core-switch');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('cell', { name: 'edge-router-2' }).waitFor({ state: 'detached' });  // searched on the server
  // Rows open from the keyboard too: focus it, press Enter.
  await page.getByRole('row').filter({ hasText: 'core-switch-1' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'core-switch-1' }).waitFor();
  await page.getByRole('cell', { name: `${T}.fw.adv`, exact: true }).waitFor();
  await page.getByRole('cell', { name: 'device.authorize' }).first().waitFor();  // its audit events
  assert.match(await page.locator('dd').filter({ hasText: /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/i }).first().textContent(), /:/, 'the certificate fingerprint');
  await shot(page, '06-device-detail');

  log('Tokens: create one, copy it, register a device with it and see the device appear');
  await open(page, '#/tokens', 'Registration tokens');
  await page.getByRole('cell', { name: 'rack 12' }).waitFor();
  await page.getByLabel('Description').fill('from the console');
  await page.getByLabel('Max uses').fill('2');
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = (await page.locator('[data-secret]').textContent()).trim();
  assert.match(secret, /^opt_[0-9a-f]{12}_/);
  await page.getByRole('button', { name: 'Copy', exact: true }).click();
  await page.getByText('Copied').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the clipboard holds the token');
  await page.getByRole('cell', { name: 'from the console' }).waitFor();
  await shot(page, '07-tokens');
  registerDevice(secret, 'CONS0004', 'registered-from-console-token');
  await open(page, '#/devices', 'Devices');
  await page.getByRole('cell', { name: 'registered-from-console-token' }).waitFor();

  log('Reservations and moves');
  await open(page, '#/reservations', 'Reservations and moves');
  await page.getByRole('cell', { name: 'C9300-48P:EDGE0002' }).waitFor();
  await page.getByRole('cell', { name: 'PENDING', exact: true }).waitFor();
  await shot(page, '08-reservations');

  log('Sync: download a request, upload central\'s response, see the summary');
  await open(page, '#/sync', 'Sync with central');
  const [requestDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download request file' }).click()]);
  assert.match(requestDownload.suggestedFilename(), /^sync-request-\d+\.bin$/);
  assert.ok(fs.statSync(await requestDownload.path()).size > 100, 'the request file has content');
  await page.getByLabel('Response file from central').setInputFiles(world.second);
  await page.getByRole('button', { name: 'Import response' }).click();
  const summary = page.locator('[data-import-summary]');
  await summary.waitFor();
  const summaryText = await summary.textContent();
  assert.match(summaryText, /Imported response \d+/);
  assert.match(summaryText, /Moves applied: 1/);
  assert.match(summaryText, /Conversions converted: 1/);
  await shot(page, '09-sync', { top: page.getByRole('heading', { name: 'Offline: response' }) });
  log('Sync: the same response again changes nothing; garbage is refused with the reason');
  await page.getByLabel('Response file from central').setInputFiles(world.second);
  await page.getByRole('button', { name: 'Import response' }).click();
  await page.locator('[data-import-summary]').filter({ hasText: 'nothing changed' }).waitFor();
  await page.getByLabel('or paste the armored response').fill('-----BEGIN OUTPOST SYNC RESPONSE-----\nbm90IGEgYnVuZGxl\n-----END OUTPOST SYNC RESPONSE-----');
  await page.getByRole('button', { name: 'Import response' }).click();
  await page.locator('[data-import-refused]').waitFor();
  log('Sync: a pasted armored response imports');
  const third = fs.readFileSync(centralAnswer('third', true), 'utf8');
  await page.getByLabel('or paste the armored response').fill(third);
  await page.getByRole('button', { name: 'Import response' }).click();
  await page.locator('[data-import-summary]').filter({ hasText: 'Imported response' }).waitFor();
  await page.getByRole('cell', { name: 'CONVERTED', exact: true }).waitFor();
  const history = page.locator('section').filter({ has: page.getByRole('heading', { name: 'History' }) });
  await history.locator('tbody tr').nth(2).waitFor();  // at least three exchanges by now
  log('Sync: the request as armored text to copy');
  await page.getByRole('button', { name: 'Show request as armored text' }).click();
  await page.getByLabel('Armored sync request').waitFor();
  assert.match(await page.getByLabel('Armored sync request').inputValue(), /^-----BEGIN OUTPOST SYNC REQUEST-----/);
  await page.getByRole('button', { name: 'Copy request' }).click();
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^-----BEGIN OUTPOST SYNC REQUEST-----/);
  await open(page, '#/reservations', 'Reservations and moves');
  await page.getByRole('cell', { name: 'APPLIED', exact: true }).waitFor();

  log('Audit: records, filter, verify, checkpoints');
  await open(page, '#/audit', 'Audit trail');
  await page.getByRole('cell', { name: 'token.create' }).first().waitFor();
  await page.getByLabel('Action').fill('user.create');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByRole('cell', { name: 'token.create' }).first().waitFor({ state: 'detached' });  // the filter applies
  await page.getByRole('cell', { name: 'user.create' }).first().waitFor();
  await page.getByRole('cell', { name: 'user.create' }).first().click();
  await page.locator('[data-record]').waitFor();
  await page.getByRole('button', { name: 'Verify the chain' }).click();
  await page.locator('[data-verify="ok"]').waitFor();
  await shot(page, '10-audit');

  log('Users and API keys; My account');
  await open(page, '#/users', 'Users and API keys');
  await page.getByRole('cell', { name: 'auditor1', exact: true }).waitFor();
  await shot(page, '11-users');
  await open(page, '#/account', 'My account');
  await shot(page, '12-account');

  log('a state change without the CSRF token is refused by the server');
  const noCsrf = await pageFetch(page, 'POST', '/v1/admin/tokens', { body: { va: 'default' } });
  assert.equal(noCsrf.status, 403, noCsrf.text);
  assert.match(noCsrf.text, /CSRF/);
  const withCsrf = await pageFetch(page, 'POST', '/v1/admin/tokens', { csrf: await csrfOf(page), body: { va: 'default', description: 'csrf control' } });
  assert.equal(withCsrf.status, 201, `the same request with the token works: ${withCsrf.text}`);

  log('changing one\'s own password needs the current one');
  await open(page, '#/account', 'My account');
  await page.getByLabel('Current password').fill('not-my-password');
  await page.getByLabel('New password', { exact: true }).fill('Brand-new-admin-pw-4c2a');
  await page.getByLabel('New password again').fill('Brand-new-admin-pw-4c2a');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').waitFor();
  await logout(page);

  log('an auditor sees read-only pages, cannot reach Users, and forged writes are refused');
  await login(page, 'auditor1', world.auditorPassword);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  const navText = await page.locator('nav').textContent();
  assert.ok(navText.includes('Audit'), 'the auditor has the Audit page');
  assert.ok(!navText.includes('Users and API keys'), 'no Users page for auditors');
  assert.ok(!navText.includes('Tokens'), 'no Tokens page for auditors');
  await page.goto(`${consoleUrl}/console/#/users`);
  await page.getByRole('alert').filter({ hasText: 'may not open' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add user' }).count(), 0);
  const auditorCsrf = await csrfOf(page);
  const forgedUser = await pageFetch(page, 'POST', '/v1/admin/users', { csrf: auditorCsrf, body: { name: 'mallory', role: 'admin', password: 'Mallory-pw-12345678' } });
  assert.equal(forgedUser.status, 403, forgedUser.text);
  const forgedRelease = await pageFetch(page, 'POST', `/v1/admin/devices/${world.coreId}/release`, { csrf: auditorCsrf, body: {} });
  assert.equal(forgedRelease.status, 403, forgedRelease.text);
  const forgedToken = await pageFetch(page, 'POST', '/v1/admin/tokens', { csrf: auditorCsrf, body: { va: 'default' } });
  assert.equal(forgedToken.status, 403, forgedToken.text);
  await open(page, '#/sync', 'Sync with central');
  assert.equal(await page.getByRole('button', { name: 'Import response' }).count(), 0, 'no sync actions for auditors');
  await shot(page, '13-auditor-sync');
  await open(page, `#/devices/${world.coreId}`, 'core-switch-1');
  assert.equal(await page.getByRole('button', { name: 'Release and deregister' }).count(), 0, 'no release for auditors');

  log('an audit record edited in the database: verify names the broken record');
  const db = path.join(SAT, 'outpost.db');
  const target = Number(execFileSync('sqlite3', [db, "SELECT MIN(seq) FROM audit_log WHERE action = 'token.create';"], { encoding: 'utf8' }).trim());
  assert.ok(target > 1);
  execFileSync('sqlite3', ['-cmd', '.timeout 10000', db, `UPDATE audit_log SET details = '{"tampered":true}' WHERE seq = ${target};`]);
  await open(page, '#/audit', 'Audit trail');
  await page.getByRole('button', { name: 'Verify the chain' }).click();
  const broken = page.locator('[data-verify="broken"]');
  await broken.waitFor();
  assert.equal(await broken.getAttribute('data-first-bad-seq'), String(target));
  await page.locator(`[data-record="${target}"]`).getByText('{"tampered":true}').waitFor();
  await shot(page, '14-audit-broken', { top: page.getByRole('heading', { name: 'Verify' }) });

  assert.deepEqual(dialogs, [], 'no dialog fired (the XSS hostname stayed text)');
  assert.deepEqual(problems, [], 'no page errors or CSP violations');
  assert.deepEqual(offHost, [], 'nothing was loaded from another host');
  log('PASS: every console check passed; screenshots in', SHOTS);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  console.error('FAIL:', err && err.stack ? err.stack : err);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) {
    server.kill('SIGTERM');
    await new Promise((resolve) => { server.once('exit', resolve); setTimeout(resolve, 15000); });
  }
  if (!failed && !process.env.KEEP_WORK) fs.rmSync(work, { recursive: true, force: true });
  else log('work directory kept:', work);
}
process.exit(failed ? 1 : 0);
