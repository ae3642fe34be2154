// The console's shell: session, role-aware navigation and hash routing (#/devices). Each page
// is a module exporting render(main, context); the server checks every permission again.
import { get, post, setCsrfToken, onUnauthenticated } from './api.js';
import { h, clear, field, errorBox, messageArea } from './ui.js';
import * as overview from './page-overview.js';
import * as licenses from './page-licenses.js';
import * as usage from './page-usage.js';
import * as devices from './page-devices.js';
import * as tokens from './page-tokens.js';
import * as reservations from './page-reservations.js';
import * as sync from './page-sync.js';
import * as audit from './page-audit.js';
import * as users from './page-users.js';
import * as account from './page-account.js';

// Each page and the permission that shows it (server/auth/roles.cc has the role table).
const pages = [
  { id: 'overview', label: 'Overview', need: 'read_licenses', module: overview },
  { id: 'licenses', label: 'Licenses', need: 'read_licenses', module: licenses },
  { id: 'usage', label: 'Usage', need: 'read_licenses', module: usage },
  { id: 'devices', label: 'Devices', need: 'read_devices', module: devices },
  { id: 'tokens', label: 'Tokens', need: 'manage_tokens', module: tokens },
  { id: 'reservations', label: 'Reservations and moves', need: 'read_licenses', module: reservations },
  { id: 'sync', label: 'Sync', need: 'read_licenses', module: sync },
  { id: 'audit', label: 'Audit', need: 'read_audit', module: audit },
  { id: 'users', label: 'Users and API keys', need: 'read_users', module: users },
  { id: 'account', label: 'My account', need: '', module: account },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const identity = document.getElementById('identity');
let me = null;

function can(permission) {
  return !permission || (me && me.permissions.includes(permission));
}

function parseHash() {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [path, queryText] = hash.split('?');
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  return { page: parts[0] || 'overview', args: parts.slice(1), query: new URLSearchParams(queryText || '') };
}

function renderNav(current) {
  clear(nav);
  const list = h('ul');
  for (const page of pages) {
    if (!can(page.need)) continue;
    list.append(h('li', {}, h('a', {
      href: `#/${page.id}`, 'aria-current': page.id === current ? 'page' : undefined, 'data-page': page.id,
    }, page.label)));
  }
  nav.append(list);
}

function renderIdentity() {
  clear(identity);
  if (!me) return;
  const logout = h('button', { type: 'button' }, 'Log out');
  logout.addEventListener('click', async () => {
    try { await post('/v1/admin/logout'); } catch { /* the session may be gone already */ }
    me = null;
    setCsrfToken('');
    showLogin('You are logged out.');
  });
  identity.append(h('span', { 'data-user': me.user }, `${me.user} (${me.role})`), logout);
}

async function route() {
  if (!me) return;
  const { page, args, query } = parseHash();
  const found = pages.find((p) => p.id === page);
  renderNav(found ? found.id : '');
  clear(main);
  if (!found) {
    main.append(h('h1', {}, 'No such page'), h('p', {}, 'Choose a page on the left.'));
    return;
  }
  if (!can(found.need)) {
    main.append(h('h1', {}, found.label),
      errorBox(new Error(`Your role (${me.role}) may not open ${found.label}; ask an administrator.`)));
    return;
  }
  document.title = `${found.label} · Outpost console`;
  try {
    await found.module.render(main, { me, can, args, query, navigate });
  } catch (err) {
    main.append(errorBox(err));
  }
}

export function navigate(hash) {
  if (window.location.hash === hash) route(); else window.location.hash = hash;
}

function showLogin(notice) {
  me = null;
  clear(nav);
  renderIdentity();
  clear(main);
  document.title = 'Log in · Outpost console';
  const user = h('input', { name: 'user', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = messageArea();
  if (notice) message.warn(notice);
  const submit = h('button', { type: 'submit' }, 'Log in');
  const form = h('form', { 'aria-label': 'Log in' }, field('User', user), field('Password', password), submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      await post('/v1/admin/login', { user: user.value, password: password.value });
      await start();
    } catch (err) {
      message.error(err);
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.append(h('div', { class: 'login panel' }, h('h1', {}, 'Outpost console'), message, form,
    h('p', { class: 'muted' }, 'Use a user of this satellite. The first administrator\'s password was printed by outpost init.')));
  user.focus();
}

async function start() {
  try {
    me = await get('/v1/admin/whoami');
  } catch (err) {
    if (err.status === 401) return showLogin();
    clear(main).append(errorBox(err));
    return;
  }
  setCsrfToken(me.csrf_token);
  renderIdentity();
  await route();
  main.focus();
}

onUnauthenticated(() => showLogin('Your session ended; log in again.'));
window.addEventListener('hashchange', () => { route().then(() => main.focus()); });
start();
