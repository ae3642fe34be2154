// Users and API keys. Administrators add users with a role, disable/enable them, set a password,
// create API keys (shown once) and revoke them; auditors (read_users) see the same lists read-only,
// to tell who is behind an actor of the audit trail.
import { get, post, del } from './api.js';
import { h, table, field, clear, messageArea, section, badge, secretBox, confirmButton } from './ui.js';

// ACTIVE, REVOKED, or EXPIRED once expires_at has passed (the server refuses it from then on).
export function keyState(k) {
  if (k.revoked_at_text) return 'REVOKED';
  const expires = Number(k.expires_at || 0);
  if (expires > 0 && expires * 1000 <= Date.now()) return 'EXPIRED';
  return 'ACTIVE';
}

export async function render(main, { me, can }) {
  const writes = can('manage_users');
  main.append(h('h1', {}, 'Users and API keys'));
  const message = messageArea();
  const shown = h('div');
  const usersList = h('div');
  const keysList = h('div');
  const loadUsers = async () => {
    const data = await get('/v1/admin/users');
    clear(usersList).append(table([
      { label: 'User', value: (u) => u.name },
      { label: 'Role', value: (u) => u.role },
      { label: 'Created', value: (u) => u.created_at_text },
      { label: 'By', value: (u) => u.created_by },
      { label: 'Login', value: (u) => (u.has_password ? 'password' : 'API keys only') },
      { label: 'State', value: (u) => (u.disabled ? badge('disabled', 'bad') : badge('active', 'ok')), sort: (u) => u.disabled },
      ...(!writes ? [] : [{
        label: 'Actions', sortable: false, value: (u) => {
          if (u.name === me.user) return h('span', { class: 'muted' }, 'you (My account)');
          const toggle = confirmButton(u.disabled ? 'Enable' : 'Disable', u.disabled ? 'Press again to enable' : 'Press again to disable', async () => {
            try {
              await post(`/v1/admin/users/${encodeURIComponent(u.name)}/${u.disabled ? 'enable' : 'disable'}`);
              message.ok(`${u.name} ${u.disabled ? 'enabled' : 'disabled'}.`);
              await loadUsers();
            } catch (err) { message.error(err); }
          });
          const password = h('input', { type: 'password', autocomplete: 'new-password', size: 12 });
          const reset = h('form', { class: 'inline' }, field(`New password for ${u.name}`, password), h('button', { type: 'submit', class: 'secondary' }, 'Set password'));
          reset.addEventListener('submit', async (e) => {
            e.preventDefault();
            try {
              await post(`/v1/admin/users/${encodeURIComponent(u.name)}/password`, { password: password.value });
              message.ok(`Password of ${u.name} set; their sessions ended.`);
              password.value = '';
            } catch (err) { message.error(err); }
          });
          return h('div', {}, toggle, reset);
        },
      }]),
    ], data.users || [], { empty: 'No users. Add one above.' }));
  };
  const loadKeys = async () => {
    const data = await get('/v1/admin/apikeys', { all: 'true' });
    clear(keysList).append(table([
      { label: 'Id', value: (k) => k.id, mono: true },
      { label: 'User', value: (k) => k.user },
      { label: 'Description', value: (k) => k.description },
      { label: 'Created', value: (k) => k.created_at_text },
      { label: 'Last used', value: (k) => k.last_used_at_text || 'never' },
      { label: 'Expires', value: (k) => k.expires_at_text || 'never' },
      { label: 'State', value: (k) => badge(keyState(k)), sort: keyState },
      ...(!writes ? [] : [{ label: '', sortable: false, value: (k) => (k.revoked_at_text ? '' : confirmButton('Revoke', 'Press again to revoke', async () => {
        try {
          await del(`/v1/admin/apikeys/${encodeURIComponent(k.id)}`);
          message.ok(`API key ${k.id} revoked.`);
          await loadKeys();
        } catch (err) { message.error(err); }
      })) }]),
    ], data.api_keys || [], { empty: 'No API keys. Create one above for a script or the CLI.' }));
  };

  const name = h('input', { name: 'name', required: true, pattern: '[a-z0-9._-]{1,64}', size: 14 });
  const role = h('select', { name: 'role' }, ['operator', 'auditor', 'admin'].map((r) => h('option', { value: r }, r)));
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', size: 14 });
  const addUser = h('form', { class: 'inline', 'aria-label': 'Add a user' }, field('User name', name), field('Role', role),
    field('Password (empty: API keys only)', password), h('button', { type: 'submit' }, 'Add user'));
  addUser.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), role: role.value };
    if (password.value) body.password = password.value;
    try {
      const user = await post('/v1/admin/users', body);
      message.ok(`User ${user.name} (${user.role}) added.`);
      addUser.reset();
      await loadUsers();
    } catch (err) { message.error(err); }
  });

  const keyUser = h('input', { name: 'user', placeholder: me.user, size: 12 });
  const keyDescription = h('input', { name: 'description', size: 20 });
  const keyDays = h('input', { name: 'expires_days', type: 'number', min: 1, max: 3650, placeholder: 'never', size: 6 });
  const addKey = h('form', { class: 'inline', 'aria-label': 'Create an API key' }, field('For user', keyUser), field('Description', keyDescription),
    field('Expires in (days)', keyDays), h('button', { type: 'submit' }, 'Create API key'));
  addKey.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { user: keyUser.value.trim(), description: keyDescription.value };
    if (keyDays.value) body.expires_in_seconds = String(Number(keyDays.value) * 86400);
    try {
      const out = await post('/v1/admin/apikeys', body);
      clear(shown).append(secretBox(`API key ${out.api_key.id} for ${out.api_key.user}:`, out.key));
      message.ok('API key created.');
      addKey.reset();
      await loadKeys();
    } catch (err) { message.error(err); }
  });
  if (writes) {
    main.append(message, section('Users', addUser, usersList), section('API keys', addKey, shown, keysList));
  } else {
    main.append(h('p', { class: 'muted' }, 'Read-only: only administrators change users and other users\' keys.'),
      section('Users', usersList), section('API keys', keysList));
  }
  await Promise.all([loadUsers(), loadKeys()]);
}
