// My account: change one's own password (the current one is required) and one's API keys.
import { get, post, del } from './api.js';
import { h, table, field, clear, messageArea, section, badge, secretBox, confirmButton, kv } from './ui.js';
import { keyState } from './page-users.js';

export async function render(main, { me }) {
  main.append(h('h1', {}, 'My account'), h('div', { class: 'panel' }, kv([
    ['User', me.user], ['Role', me.role], ['May', me.permissions.join(', ')],
  ])));
  const message = messageArea();
  const current = h('input', { type: 'password', name: 'current_password', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', name: 'new_password', autocomplete: 'new-password', required: true });
  const again = h('input', { type: 'password', name: 'new_password_again', autocomplete: 'new-password', required: true });
  const form = h('form', { class: 'inline', 'aria-label': 'Change my password' }, field('Current password', current),
    field('New password', next), field('New password again', again), h('button', { type: 'submit' }, 'Change password'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (next.value !== again.value) {
      message.error(new Error('The two new passwords differ; type the same one twice.'));
      return;
    }
    try {
      await post('/v1/admin/password', { current_password: current.value, new_password: next.value });
      message.ok('Password changed.');
      form.reset();
    } catch (err) { message.error(err); }
  });
  main.append(section('Change password', message, form));

  const shown = h('div');
  const keys = h('div');
  const keyMessage = messageArea();
  const load = async () => {
    const data = await get('/v1/admin/apikeys');
    clear(keys).append(table([
      { label: 'Id', value: (k) => k.id, mono: true },
      { label: 'Description', value: (k) => k.description },
      { label: 'Created', value: (k) => k.created_at_text },
      { label: 'Last used', value: (k) => k.last_used_at_text || 'never' },
      { label: 'Expires', value: (k) => k.expires_at_text || 'never' },
      { label: 'State', value: (k) => badge(keyState(k)), sort: keyState },
      { label: '', sortable: false, value: (k) => (k.revoked_at_text ? '' : confirmButton('Revoke', 'Press again to revoke', async () => {
        try { await del(`/v1/admin/apikeys/${encodeURIComponent(k.id)}`); keyMessage.ok(`Key ${k.id} revoked.`); await load(); } catch (err) { keyMessage.error(err); }
      })) },
    ], data.api_keys || [], { empty: 'You have no API keys. Create one for the CLI or a script.' }));
  };
  const description = h('input', { name: 'description', size: 24 });
  const days = h('input', { name: 'expires_days', type: 'number', min: 1, max: 3650, placeholder: 'never', size: 6 });
  const create = h('form', { class: 'inline', 'aria-label': 'Create my API key' }, field('Description', description),
    field('Expires in (days)', days), h('button', { type: 'submit' }, 'Create API key'));
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { description: description.value };
    if (days.value) body.expires_in_seconds = String(Number(days.value) * 86400);
    try {
      const out = await post('/v1/admin/apikeys', body);
      clear(shown).append(secretBox(`API key ${out.api_key.id}:`, out.key));
      create.reset();
      await load();
    } catch (err) { keyMessage.error(err); }
  });
  main.append(section('My API keys', keyMessage, create, shown, keys));
  await load();
}
