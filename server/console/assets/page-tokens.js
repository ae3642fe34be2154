// Tokens: create (shown once, with a copy button), list with uses and expiry, revoke.
import { get, post, del } from './api.js';
import { h, table, num, field, clear, messageArea, secretBox, badge, section, confirmButton } from './ui.js';

export async function render(main) {
  main.append(h('h1', {}, 'Registration tokens'));
  const vas = await get('/v1/admin/virtual-accounts').catch(() => ({ virtual_accounts: [] }));
  const va = h('select', { name: 'va', required: true });
  const names = (vas.virtual_accounts || []).map((v) => v.name);
  if (!names.includes('default')) names.unshift('default');
  for (const name of names) va.append(h('option', { value: name }, name));
  const expires = h('input', { name: 'expires_days', type: 'number', min: 1, max: 365, placeholder: 'policy default', size: 8 });
  const maxUses = h('input', { name: 'max_uses', type: 'number', min: 1, placeholder: 'unlimited', size: 8 });
  const description = h('input', { name: 'description', maxlength: 256, size: 24 });
  const exportControlled = h('input', { name: 'export_controlled', type: 'checkbox' });
  const form = h('form', { class: 'inline', 'aria-label': 'Create a token' },
    field('Virtual account', va), field('Expires in (days)', expires), field('Max uses', maxUses),
    field('Description', description), field('Export-controlled features allowed', exportControlled),
    h('button', { type: 'submit' }, 'Create token'));
  const message = messageArea();
  const created = h('div');
  const list = h('div');
  main.append(section('Create', form, message, created), section('Tokens', list));
  const load = async () => {
    const data = await get('/v1/admin/tokens');
    clear(list).append(table([
      { label: 'Prefix', value: (t) => t.prefix, mono: true },
      { label: 'Virtual account', value: (t) => t.va },
      { label: 'Description', value: (t) => t.description },
      { label: 'Uses', value: (t) => `${num(t.uses)} of ${num(t.max_uses) === 0 ? 'unlimited' : num(t.max_uses)}`, sort: (t) => num(t.uses) },
      { label: 'Expires', value: (t) => t.expires_at_text, sort: (t) => num(t.expires_at) },
      { label: 'Export', value: (t) => (t.export_controlled ? 'allowed' : 'no') },
      { label: 'State', value: (t) => badge(t.state), sort: (t) => t.state },
      { label: '', sortable: false, value: (t) => (t.state === 'REVOKED' ? '' : confirmButton('Revoke', 'Press again to revoke', async () => {
        try {
          await del(`/v1/admin/tokens/${encodeURIComponent(t.id)}`);
          message.ok(`Token ${t.prefix} revoked. Devices registered with it stay registered.`);
          await load();
        } catch (err) { message.error(err); }
      })) },
    ], data.tokens || [], { empty: 'No tokens yet. Create one above, then give it to whoever registers devices.', caption: 'Tokens' }));
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { va: va.value, description: description.value, export_controlled: exportControlled.checked };
    if (expires.value) body.expires_days = Number(expires.value);
    if (maxUses.value) body.max_uses = String(maxUses.value);
    try {
      const out = await post('/v1/admin/tokens', body);
      message.ok(`Token ${out.record.prefix} created for ${out.record.va}.`);
      clear(created).append(secretBox('The token:', out.token));
      form.reset();
      await load();
    } catch (err) { message.error(err); }
  });
  await load();
}
