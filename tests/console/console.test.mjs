// Browser tests of the Outpost console (ctest console_browser; docs/console.md).
//
// Builds a real world through the real CLI — a reference central, an enrolled satellite serving
// on a free loopback port, users, tokens, devices registered with `outpost device register`, an
// offline sync round trip — then drives Debian's Chromium through every page with
// playwright-core, and checks the security properties in the browser: cookie flags, CSRF, roles
// enforced by the server, server text inserted as text, and audit verification after the
// database was tampered with. The operator's and auditor's write forms are driven too (tokens,
// reservations, moves, release and rehost, conversions, online "Sync now" against `outpost central
// serve`, users and API keys, saved audit heads and central's heads), each outcome checked in the
// page and again through the CLI or the API, and refused writes show the server's own message.
// Screenshots of every page go to $SCREENSHOT_DIR.
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
let centralServer = null;  // `outpost central serve`, for the online sync step
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

function startServer() { return startServing(['serve', '--data-dir', SAT]); }

// Starts `outpost serve` or `outpost central serve`; answers once it printed its URL.
function startServing(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(OUTPOST, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`outpost ${args[0]} did not start: ${out}`)), 60000);
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
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`outpost ${args.join(' ')} exited (${code}): ${out}`)); });
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
  return { adminPassword: init.admin_password, auditorPassword, token, coreId: core.instance_id, second, pak };
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

// A request straight to the satellite's admin API (not through the browser), trusting its CA.
function api(method, urlPath, { bearer, body } = {}) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'application/json' };
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    const data = body === undefined ? undefined : JSON.stringify(body);
    if (data !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(data);
    }
    const req = https.request(`${serverUrl}${urlPath}`, { method, headers, ca: fs.readFileSync(path.join(SAT, 'ca.pem')) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}
const apiLogin = (user, password) => api('POST', '/v1/admin/login', { body: { user, password } });

// The message the server gives for a refused write, asked again through the page's session
// (a refused write changes nothing, so asking twice is safe).
async function serverRefusal(page, urlPath, body) {
  const answer = await pageFetch(page, 'POST', urlPath, { csrf: await csrfOf(page), body });
  assert.ok(answer.status >= 400 && answer.status < 500, `${urlPath} should be refused: ${answer.status} ${answer.text}`);
  return JSON.parse(answer.text).error.message;
}

// The page shows exactly the server's message for a refused write.
async function expectRefusalShown(alert, message) {
  await alert.waitFor();
  // Times in a message (e.g. "valid at ...") differ between the two requests.
  const untimed = (text) => text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>');
  const shown = (await alert.textContent()).trim();
  assert.ok(message.length > 10 && untimed(shown).includes(untimed(message)), `the page shows the server's message\n  shown:  ${shown}\n  server: ${message}`);
}

const sectionOf = (page, heading) => page.locator('section').filter({ has: page.getByRole('heading', { level: 2, name: heading, exact: true }) });

// Replaces a key's value in outpost.toml's [sync] section (the file's layout is init's).
function setSyncConfig(values) {
  const file = path.join(SAT, 'outpost.toml');
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf('[sync]');
  const end = text.indexOf('\n[', start + 1);
  let part = text.slice(start, end);
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`^${key} = .*$`, 'm');
    assert.match(part, line, `outpost.toml has sync.${key}`);
    part = part.replace(line, `${key} = "${value}"`);
  }
  fs.writeFileSync(file, text.slice(0, start) + part + text.slice(end));
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

  log('Tokens: revoke the console\'s token; it registers nothing more, its device stays registered');
  await open(page, '#/tokens', 'Registration tokens');
  const consoleTokenRow = page.getByRole('row').filter({ hasText: 'from the console' });
  await consoleTokenRow.getByRole('button', { name: 'Revoke' }).click();
  await consoleTokenRow.getByRole('button', { name: 'Press again to revoke' }).click();
  await consoleTokenRow.getByText('REVOKED', { exact: true }).waitFor();
  await page.getByText(/revoked\. Devices registered with it stay registered/).waitFor();
  assert.throws(() => registerDevice(secret, 'CONS0005', 'after-revoke'), /revoked/i, 'the revoked token registers nothing');
  const revokedToken = sat(['token', 'list'], { json: true }).tokens.find((t) => t.description === 'from the console');
  assert.equal(revokedToken.state, 'REVOKED');
  assert.ok(sat(['devices'], { json: true }).devices.some((d) => d.udi === 'C9300-48P:CONS0004'), 'its device stays registered');
  await shot(page, '20-token-revoked');

  log('Reservations and moves');
  await open(page, '#/reservations', 'Reservations and moves');
  await page.getByRole('cell', { name: 'C9300-48P:EDGE0002' }).waitFor();
  await page.getByRole('cell', { name: 'PENDING', exact: true }).waitFor();
  await shot(page, '08-reservations');

  log('Reservations: reserving more than is purchased is refused with the server\'s message');
  const fwAdv = `${T}.fw.adv`;
  const spare = 'C9300-48P:SPARE0009';
  const reserveForm = page.getByRole('form', { name: 'Reserve licenses' });
  const fillReserve = async (count) => {
    await reserveForm.getByLabel('Virtual account').fill('default');
    await reserveForm.getByLabel('Tag', { exact: true }).fill(fwAdv);
    await reserveForm.getByLabel('Count', { exact: true }).fill(String(count));
    await reserveForm.getByLabel('Device UDI').fill(spare);
    await reserveForm.getByRole('button', { name: 'Reserve' }).click();
  };
  await fillReserve(9);
  await expectRefusalShown(page.locator('main').getByRole('alert'),
    await serverRefusal(page, '/v1/admin/reservations', { va: 'default', tag: fwAdv, count: '9', udi: spare }));
  assert.ok(!sat(['reservations'], { json: true }).reservations.some((r) => r.udi === spare), 'the refused reservation changed nothing');
  await shot(page, '21-reservation-refused');

  log('Reservations: reserve one for a named device; it shows on the tag; unreserve it');
  await fillReserve(1);
  await page.getByText(`Reserved 1 of ${fwAdv} for ${spare}.`).waitFor();
  await page.getByRole('cell', { name: spare, exact: true }).waitFor();
  const reserved = sat(['reservations'], { json: true }).reservations.find((r) => r.udi === spare);
  assert.equal(Number(reserved.count), 1, 'the CLI lists the reservation');
  await open(page, `#/licenses/default/${encodeURIComponent(fwAdv)}`, fwAdv);
  await page.getByRole('cell', { name: spare, exact: true }).waitFor();
  await open(page, '#/reservations', 'Reservations and moves');
  const spareRow = page.getByRole('row').filter({ hasText: spare });
  await spareRow.getByRole('button', { name: 'Remove' }).click();
  await spareRow.getByRole('button', { name: 'Press again to remove' }).click();
  await page.getByText(`Reservation of ${fwAdv} for ${spare} removed.`).waitFor();
  await page.getByRole('cell', { name: spare, exact: true }).waitFor({ state: 'detached' });
  assert.ok(!sat(['reservations'], { json: true }).reservations.some((r) => r.udi === spare), 'the CLI no longer lists it');

  log('Moves: too many is refused with the server\'s message; a move is recorded PENDING');
  const fwBase = `${T}.fw.base`;
  const moveForm = page.getByRole('form', { name: 'Move licenses' });
  const fillMove = async (count) => {
    await moveForm.getByLabel('From VA').fill('default');
    await moveForm.getByLabel('To VA').fill('lab');
    await moveForm.getByLabel('Tag', { exact: true }).fill(fwBase);
    await moveForm.getByLabel('Count', { exact: true }).fill(String(count));
    await moveForm.getByRole('button', { name: 'Move' }).click();
  };
  await fillMove(500);
  await expectRefusalShown(page.locator('main').getByRole('alert'),
    await serverRefusal(page, '/v1/admin/licenses/move', { from_va: 'default', to_va: 'lab', tag: fwBase, count: '500' }));
  const movesBefore = sat(['moves'], { json: true }).moves.length;
  await fillMove(1);
  const moved = await page.getByText(/^Move \S+ recorded; central decides at the next sync\.$/).textContent();
  const consoleMoveId = moved.split(' ')[1];
  const consoleMoveRow = page.getByRole('row').filter({ hasText: 'user:admin' });
  await consoleMoveRow.getByText('PENDING', { exact: true }).waitFor();
  const cliMoves = sat(['moves'], { json: true }).moves;
  assert.equal(cliMoves.length, movesBefore + 1, 'exactly the one move was recorded');
  assert.equal(cliMoves.find((m) => m.move_id === consoleMoveId).status, 'PENDING');
  await shot(page, '22-moves-pending');

  log('Devices: rehost edge-router-2 to a new UDI from its detail; the replacement finds its licenses');
  await open(page, '#/devices', 'Devices');
  await page.getByRole('row').filter({ hasText: 'edge-router-2' }).click();
  await page.getByRole('heading', { level: 1, name: 'edge-router-2' }).waitFor();
  const edgeId = sat(['devices'], { json: true }).devices.find((d) => d.udi === 'C9300-48P:EDGE0002').instance_id;
  await page.getByLabel('New UDI (replacement device)').fill('C9300-48P:EDGE0099');
  await page.getByRole('button', { name: 'Rehost', exact: true }).click();
  await page.getByText(/^Rehosted to C9300-48P:EDGE0099/).waitFor();
  await page.locator('[data-udi]').filter({ hasText: 'C9300-48P:EDGE0099' }).waitFor();
  await page.getByText(/^none valid: the device registers/).waitFor();  // the old certificate is not shown as valid
  await shot(page, '23-device-rehosted');
  assert.throws(() => authorizeDevice('EDGE0002', `${T}.fw.base`), /.+/, 'the old certificate is refused after the rehost');
  registerDevice(world.token, 'EDGE0099', 'edge-router-2-replacement');
  const replacement = sat(['devices'], { json: true }).devices.find((d) => d.udi === 'C9300-48P:EDGE0099');
  assert.equal(sat(['devices'], { json: true }).devices.filter((d) => d.udi === 'C9300-48P:EDGE0099' || d.instance_id === edgeId).length, 1,
    'the replacement replaced the rehosted instance');
  assert.ok((replacement.holdings || []).some((x) => x.tag === fwBase), `its licenses were waiting: ${JSON.stringify(replacement)}`);

  log('Devices: release the console-token device from its detail; its certificate is refused');
  await open(page, '#/devices', 'Devices');
  await page.getByRole('row').filter({ hasText: 'registered-from-console-token' }).click();
  await page.getByRole('heading', { level: 1, name: 'registered-from-console-token' }).waitFor();
  await page.getByRole('button', { name: 'Release and deregister' }).click();
  await page.getByRole('button', { name: 'Press again to release' }).click();
  await page.getByText(/^Released .*the device is deregistered/).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Release and deregister' }).count(), 0, 'nothing left to act on');
  await shot(page, '24-device-released');
  assert.ok(!sat(['devices'], { json: true }).devices.some((d) => d.udi === 'C9300-48P:CONS0004'), 'the CLI no longer lists it');
  assert.throws(() => authorizeDevice('CONS0004', `${T}.fw.base`), /.+/, 'the released device\'s certificate is refused');

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
  // The history marks the refusal as a failure, whatever words the reason uses.
  const refusedRow = sectionOf(page, 'History').getByRole('row').filter({ hasText: 'not an Outpost bundle' });
  await refusedRow.locator('.badge.bad').waitFor();
  assert.equal(await refusedRow.locator('.badge.ok').count(), 0, 'a refused import is not shown as ok');
  await page.locator('[data-sync-status]').getByText(/not an Outpost bundle/).waitFor();  // Status: last refused import

  log('Sync: submit a traditional-license conversion; a key converted before is refused with the server\'s message');
  const conversions = sectionOf(page, 'Traditional-license conversions');
  const convert = async (key) => {
    await conversions.getByLabel('License key').fill(key);
    await conversions.getByLabel('Into virtual account').fill('lab');
    await conversions.getByRole('button', { name: 'Submit conversion' }).click();
  };
  await convert(world.pak);
  await expectRefusalShown(conversions.getByRole('alert'), await serverRefusal(page, '/v1/admin/conversions', { key: world.pak, va: 'lab' }));
  const pak2 = central(['central', 'pak', 'create', 'acme', 'lab', '--tag', `${T}.sim.seat`, '--count', '1'], { json: true }).key;
  await convert(pak2);
  await conversions.getByText('Queued; it goes to central with the next sync.').waitFor();
  await conversions.getByRole('cell', { name: 'PENDING', exact: true }).waitFor();
  assert.equal(sat(['conversions'], { json: true }).conversions.filter((c) => c.status === 'PENDING').length, 1, 'the CLI lists the queued conversion');
  await shot(page, '25-conversion-pending');

  log('Sync: a pasted armored response imports; central\'s verdicts on the console\'s move and conversion');
  const third = fs.readFileSync(centralAnswer('third', true), 'utf8');
  await page.getByLabel('or paste the armored response').fill(third);
  await page.getByRole('button', { name: 'Import response' }).click();
  await page.locator('[data-import-summary]').filter({ hasText: 'Imported response' }).filter({ hasText: 'Moves applied: 1' }).filter({ hasText: 'Conversions converted: 1' }).waitFor();
  await conversions.getByRole('cell', { name: 'PENDING', exact: true }).waitFor({ state: 'detached' });
  assert.equal(await conversions.getByRole('cell', { name: 'CONVERTED', exact: true }).count(), 2, 'both conversions are CONVERTED');
  assert.ok(sat(['conversions'], { json: true }).conversions.every((c) => c.status === 'CONVERTED'), 'the CLI agrees');
  const history = page.locator('section').filter({ has: page.getByRole('heading', { name: 'History' }) });
  await history.locator('tbody tr').nth(2).waitFor();  // at least three exchanges by now
  log('Sync: the request as armored text to copy');
  await page.getByRole('button', { name: 'Show request as armored text' }).click();
  await page.getByLabel('Armored sync request').waitFor();
  assert.match(await page.getByLabel('Armored sync request').inputValue(), /^-----BEGIN OUTPOST SYNC REQUEST-----/);
  await page.getByRole('button', { name: 'Copy request' }).click();
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^-----BEGIN OUTPOST SYNC REQUEST-----/);
  await open(page, '#/reservations', 'Reservations and moves');
  await page.getByRole('row').filter({ hasText: 'user:admin' }).getByText('APPLIED', { exact: true }).waitFor();
  assert.equal(await page.getByRole('cell', { name: 'PENDING', exact: true }).count(), 0, 'central answered every move');
  assert.equal(sat(['moves'], { json: true }).moves.find((m) => m.move_id === consoleMoveId).status, 'APPLIED', 'the CLI shows central\'s verdict');
  await shot(page, '26-moves-applied');

  log('Sync now (online): outpost.toml switched to online mode on the host, reloaded from the Overview');
  const { child: centralChild, url: centralUrl } = await startServing(['central', 'serve', '--data-dir', CENTRAL]);
  centralServer = centralChild;
  setSyncConfig({ mode: 'online', central_url: centralUrl });
  await open(page, '#/overview', 'Overview');
  await page.getByRole('button', { name: 'Reload configuration' }).click();
  const reloaded = page.locator('[data-reload]');
  await reloaded.waitFor();
  assert.match(await reloaded.textContent(), /sync\.mode: "?offline"? → "?online"?/);
  await open(page, '#/sync', 'Sync with central');
  await page.locator('[data-sync-status="online"]').waitFor();
  await page.getByRole('button', { name: 'Sync now (online)' }).click();
  const nowSummary = page.locator('[data-import-summary]').filter({ hasText: 'Imported response' });
  await nowSummary.waitFor();
  const nowResponse = Number((await nowSummary.textContent()).match(/Imported response (\d+)/)[1]);
  const online = sat(['sync', 'status'], { json: true });
  assert.equal(online.mode, 'online');
  assert.equal(online.last_attempt_ok, true, online.last_error);
  assert.ok(Number(online.last_response_number) >= nowResponse, `the CLI sees response ${nowResponse} imported`);
  assert.ok(Number(online.next_attempt_at) > 0, 'the schedule has a next attempt');
  // The schedule as the page shows it: the last attempt (ok) and the next one.
  const statusPanel = page.locator('[data-sync-status="online"]');
  await statusPanel.getByText(/\(ok\)$/).waitFor();
  assert.match(await statusPanel.textContent(), /Online: next attempt\d{4}-\d{2}-\d{2}T/);
  await shot(page, '27-sync-now-online');

  log('Sync now with central stopped: the failure shows the server\'s message and in the status');
  centralServer.kill('SIGTERM');
  await new Promise((resolve) => { centralServer.once('exit', resolve); });
  centralServer = null;
  await page.getByRole('button', { name: 'Sync now (online)' }).click();
  const nowFailed = page.locator('[data-sync-now-failed]');
  await nowFailed.waitFor();
  assert.ok((await nowFailed.textContent()).includes(centralUrl), `the message names central: ${await nowFailed.textContent()}`);
  const failing = sat(['sync', 'status'], { json: true });
  assert.equal(failing.last_attempt_ok, false);
  assert.ok(Number(failing.consecutive_failures) >= 1);
  await page.locator('[data-sync-status="online"]').getByText(failing.last_error, { exact: false }).first().waitFor();
  await shot(page, '28-sync-now-failed');
  setSyncConfig({ mode: 'offline' });
  sat(['reload']);

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

  log('Users: a weak password is refused with the server\'s message; add an operator who can log in');
  const addUser = page.getByRole('form', { name: 'Add a user' });
  const fillUser = async (password) => {
    await addUser.getByLabel('User name').fill('opal');
    await addUser.getByLabel('Role').selectOption('operator');
    await addUser.getByLabel('Password (empty: API keys only)').fill(password);
    await addUser.getByRole('button', { name: 'Add user' }).click();
  };
  await fillUser('password12345');
  await expectRefusalShown(page.locator('main').getByRole('alert'),
    await serverRefusal(page, '/v1/admin/users', { name: 'opal', role: 'operator', password: 'password12345' }));
  const opalFirst = 'Quartz-console-first-8d2f41';
  const opalSecond = 'Quartz-console-second-3a7c95';
  await fillUser(opalFirst);
  await page.getByText('User opal (operator) added.').waitFor();
  const opalRow = page.getByRole('row').filter({ has: page.getByRole('cell', { name: 'opal', exact: true }) });
  await opalRow.getByRole('cell', { name: 'operator', exact: true }).waitFor();
  assert.equal((await apiLogin('opal', opalFirst)).status, 200, 'opal logs in with the password the console set');

  log('Users: set another password for opal; only the new one works');
  await opalRow.getByLabel('New password for opal').fill(opalSecond);
  await opalRow.getByRole('button', { name: 'Set password' }).click();
  await page.getByText('Password of opal set; their sessions ended.').waitFor();
  assert.equal((await apiLogin('opal', opalSecond)).status, 200, 'the new password works');
  assert.equal((await apiLogin('opal', opalFirst)).status, 401, 'the old password does not');

  log('Users: disable opal (cannot log in), enable again (can)');
  await opalRow.getByRole('button', { name: 'Disable' }).click();
  await opalRow.getByRole('button', { name: 'Press again to disable' }).click();
  await page.getByText('opal disabled.').waitFor();
  await opalRow.getByText('disabled', { exact: true }).waitFor();
  assert.notEqual((await apiLogin('opal', opalSecond)).status, 200, 'a disabled user cannot log in');
  assert.equal(sat(['user', 'list'], { json: true }).users.find((u) => u.name === 'opal').disabled, true, 'the CLI lists opal disabled');
  await shot(page, '29-users-written');
  await opalRow.getByRole('button', { name: 'Enable' }).click();
  await opalRow.getByRole('button', { name: 'Press again to enable' }).click();
  await page.getByText('opal enabled.').waitFor();
  assert.equal((await apiLogin('opal', opalSecond)).status, 200, 'enabled again, opal logs in');

  log('API keys: create one for another user (shown once), use it, revoke it: 401');
  const addKey = page.getByRole('form', { name: 'Create an API key' });
  await addKey.getByLabel('For user').fill('scripts');
  await addKey.getByLabel('Description').fill('console-made key');
  await addKey.getByLabel('Expires in (days)').fill('30');
  await addKey.getByRole('button', { name: 'Create API key' }).click();
  const apiKey = (await page.locator('[data-secret]').textContent()).trim();
  assert.match(apiKey, /^opk_[0-9a-f]{12}_/);
  const keyWho = await api('GET', '/v1/admin/whoami', { bearer: apiKey });
  assert.equal(keyWho.status, 200, keyWho.text);
  assert.equal(JSON.parse(keyWho.text).user, 'scripts', 'the key acts as scripts');
  const keyRow = page.getByRole('row').filter({ hasText: 'console-made key' });
  await keyRow.getByText('ACTIVE', { exact: true }).waitFor();
  await shot(page, '30-apikey-created');
  await keyRow.getByRole('button', { name: 'Revoke' }).click();
  await keyRow.getByRole('button', { name: 'Press again to revoke' }).click();
  await keyRow.getByText('REVOKED', { exact: true }).waitFor();
  const revokedKey = await api('GET', '/v1/admin/whoami', { bearer: apiKey });
  assert.equal(revokedKey.status, 401, `the revoked key is refused: ${revokedKey.text}`);

  log('API keys: a key past its expiry shows EXPIRED (and the server refuses it)');
  const shortLived = await pageFetch(page, 'POST', '/v1/admin/apikeys', { csrf: await csrfOf(page), body: { user: 'scripts', description: 'short-lived key', expires_in_seconds: '1' } });
  assert.equal(shortLived.status, 201, shortLived.text);
  const shortKey = JSON.parse(shortLived.text).key;
  const expiresAt = Number(JSON.parse(shortLived.text).api_key.expires_at) * 1000;
  await page.waitForFunction((t) => Date.now() > t + 200, expiresAt, { timeout: 10000 });  // bounded: one second
  const expiredKey = await api('GET', '/v1/admin/whoami', { bearer: shortKey });
  assert.equal(expiredKey.status, 401, expiredKey.text);
  assert.match(expiredKey.text, /expired/);
  await page.reload();  // the page is #/users already: draw it again
  await page.getByRole('heading', { level: 1, name: 'Users and API keys' }).waitFor();
  await page.getByRole('row').filter({ hasText: 'short-lived key' }).getByText('EXPIRED', { exact: true }).waitFor();
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

  log('an auditor sees read-only pages (Users too), cannot reach Tokens, and forged writes are refused');
  await login(page, 'auditor1', world.auditorPassword);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  const navText = await page.locator('nav').textContent();
  assert.ok(navText.includes('Audit'), 'the auditor has the Audit page');
  assert.ok(navText.includes('Users and API keys'), 'auditors read users and their keys (read_users)');
  assert.ok(!navText.includes('Tokens'), 'no Tokens page for auditors');
  await page.goto(`${consoleUrl}/console/#/tokens`);
  await page.getByRole('alert').filter({ hasText: 'may not open' }).waitFor();
  await open(page, '#/users', 'Users and API keys');
  await page.getByRole('cell', { name: 'opal', exact: true }).waitFor();
  await page.getByRole('cell', { name: 'console-made key' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Add user' }).count(), 0, 'no Add user for auditors');
  assert.equal(await page.getByRole('button', { name: /^(Disable|Enable|Set password|Revoke|Create API key)$/ }).count(), 0, 'no user or key writes for auditors');
  await shot(page, '31-auditor-users');
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

  log('the auditor saves the head, verifies since it, and a malformed head file is refused with the server\'s message');
  await open(page, '#/audit', 'Audit trail');
  const [headDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Save the head' }).click()]);
  const savedHeadFile = path.join(work, 'saved-head.json');
  await headDownload.saveAs(savedHeadFile);
  const savedHead = JSON.parse(fs.readFileSync(savedHeadFile, 'utf8'));
  const cliHead = sat(['audit', 'head'], { json: true });
  assert.ok(Number(savedHead.seq) > 0 && Number(savedHead.seq) <= Number(cliHead.seq), `a head of the chain: ${JSON.stringify(savedHead)}`);
  await page.getByLabel('Saved head file').setInputFiles(savedHeadFile);
  await page.getByRole('button', { name: 'Verify since the saved head' }).click();
  await page.locator('[data-verify="ok"]').filter({ hasText: `still holds the saved head: record ${Number(savedHead.seq)}` }).waitFor();
  const badHeadFile = path.join(work, 'bad-head.json');
  fs.writeFileSync(badHeadFile, JSON.stringify({ seq: '0', hash: 'ab' }));
  await page.getByLabel('Saved head file').setInputFiles(badHeadFile);
  await page.getByRole('button', { name: 'Verify since the saved head' }).click();
  await expectRefusalShown(sectionOf(page, 'Verify').getByRole('alert'), await serverRefusal(page, '/v1/admin/audit/verify', { seq: '0', hash: 'ab' }));

  log('the auditor compares the heads central holds with the chain');
  const headsFile = path.join(work, 'central-heads.json');
  central(['central', 'audit-heads', sat(['sync', 'status'], { json: true }).satellite_id, '-o', headsFile]);
  await page.getByLabel('File of central\'s heads').setInputFiles(headsFile);
  await page.getByRole('button', { name: 'Compare with central\'s heads' }).click();
  await page.locator('[data-compare="ok"]').waitFor();
  assert.ok(await sectionOf(page, 'Central\'s heads').getByText('match', { exact: true }).count() >= 3, 'each head sent with a request matches');
  await shot(page, '32-audit-heads');

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

  log('AUDIT_TRUNCATED: central holds a head the chain no longer matches; the admin acknowledges it on the Overview');
  const satelliteId = sat(['sync', 'status'], { json: true }).satellite_id;
  const witnessFile = path.join(work, 'central-heads-2.json');
  central(['central', 'audit-heads', satelliteId, '-o', witnessFile]);
  const witnessSeq = Math.max(...JSON.parse(fs.readFileSync(witnessFile, 'utf8')).heads.map((x) => Number(x.head.seq)));
  execFileSync('sqlite3', ['-cmd', '.timeout 10000', db, `UPDATE audit_log SET hash = randomblob(32) WHERE seq = ${witnessSeq};`]);
  sat(['sync', 'import', centralAnswer('witness', false)]);
  assert.match(sat(['sync', 'status'], { json: true }).audit_alarm || '', /central holds audit head/, 'the import raised AUDIT_TRUNCATED');
  await logout(page);
  await login(page, 'admin', world.adminPassword);
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  await page.locator('[data-alarm="AUDIT_TRUNCATED"]').waitFor();
  await page.getByLabel('Reason (kept in the audit trail)').fill('console test: the record was altered on purpose');
  await page.getByRole('button', { name: 'Acknowledge the alarm' }).click();
  await page.getByText(/^Acknowledged; the alarm is cleared/).waitFor();
  await shot(page, '33-audit-alarm-acknowledged');
  assert.ok(!sat(['sync', 'status'], { json: true }).audit_alarm, 'the CLI sees the alarm cleared');
  assert.match(sat(['audit', 'export', '--action', 'audit.witness.acknowledge']), /altered on purpose/, 'the reason is in the audit trail');

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
  if (centralServer) centralServer.kill('SIGTERM');
  if (server) {
    server.kill('SIGTERM');
    await new Promise((resolve) => { server.once('exit', resolve); setTimeout(resolve, 15000); });
  }
  if (!failed && !process.env.KEEP_WORK) fs.rmSync(work, { recursive: true, force: true });
  else log('work directory kept:', work);
}
process.exit(failed ? 1 : 0);
