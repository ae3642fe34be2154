// Devices (product instances): server-side search and paging, detail, release and rehost.
import { get, post } from './api.js';
import { h, when, detailsText, table, num, field, clear, errorBox, messageArea, kv, section, confirmButton, badge } from './ui.js';

const pageSize = 50;

function holdings(d) {
  return (d.holdings || []).map((x) => `${x.tag}×${num(x.count)}`).join(', ');
}

export async function render(main, context) {
  if (context.args.length >= 1) return renderDetail(main, context.args[0], context);
  const q = context.query;
  main.append(h('h1', {}, 'Devices'));
  const search = h('input', { type: 'search', name: 'q', value: q.get('q') || '', placeholder: 'start of a UDI or hostname' });
  const tag = h('input', { name: 'tag', value: q.get('tag') || '', placeholder: 'devices holding it', size: 28 });
  const va = h('input', { name: 'va', value: q.get('va') || '', placeholder: 'any', size: 12 });
  const submit = h('button', { type: 'submit' }, 'Search');
  const form = h('form', { class: 'inline', role: 'search' }, field('Search devices', search), field('Holding tag', tag), field('Virtual account', va), submit);
  const holder = h('div');
  const pager = h('div', { class: 'pager' });
  main.append(form, holder, pager);
  const cursors = [''];  // the `after` of each page shown so far
  const load = async () => {
    clear(holder).append(h('p', { class: 'muted' }, 'Searching…'));
    clear(pager);
    let data;
    try {
      data = await get('/v1/admin/devices', { q: search.value.trim(), tag: tag.value.trim(), va: va.value.trim(), after: cursors[cursors.length - 1], limit: pageSize });
    } catch (err) {
      clear(holder).append(errorBox(err));
      return;
    }
    const rows = data.devices || [];
    clear(holder).append(table([
      { label: 'Hostname', value: (d) => d.hostname },
      { label: 'UDI', value: (d) => d.udi, mono: true },
      { label: 'Virtual account', value: (d) => d.va },
      { label: 'Licenses held', value: holdings, cls: 'wrap' },
      { label: 'Registered', value: (d) => d.registered_at_text },
      { label: 'Last seen', value: (d) => d.last_seen_at_text || 'never' },
    ], rows, {
      empty: data.next_after
        ? 'No match in this stretch of the index; press Next to keep searching.'
        : search.value || tag.value || va.value
        ? 'No device matches. Check the spelling, or clear the search.'
        : 'No devices yet. Create a token on the Tokens page, then register a device: outpost device register --server URL --ca ca.pem --token TOKEN --pid PID --serial SN --state-dir DIR',
      onRow: (d) => { window.location.hash = `#/devices/${encodeURIComponent(d.instance_id)}`; },
      caption: 'Devices',
    }));
    const page = cursors.length;
    const previous = h('button', { type: 'button', class: 'secondary', disabled: page === 1 }, 'Previous');
    const next = h('button', { type: 'button', class: 'secondary', disabled: !data.next_after }, 'Next');
    previous.addEventListener('click', () => { cursors.pop(); load(); });
    next.addEventListener('click', () => { cursors.push(data.next_after); load(); });
    pager.append(previous, h('span', { class: 'muted' }, `Page ${page}${data.truncated && !data.next_after ? ' (more devices match than shown; narrow the search)' : ''}`), next);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors.length = 1;
    load();
  });
  await load();
}

async function loadDevice(id) {
  try {
    const detail = await get(`/v1/admin/devices/${encodeURIComponent(id)}`);
    return { device: detail.device, certificate: detail.certificate || null, events: detail.events || [] };
  } catch (err) {
    if (!err.missingRoute) throw err;
    const all = await get('/v1/admin/devices', { limit: 10000 });
    const device = (all.devices || []).find((d) => d.instance_id === id);
    if (!device) throw err;
    return { device, certificate: null, events: [] };
  }
}

// The detail's certificate is the one the satellite accepts now: after a rehost it has no serial
// (nothing is accepted until the replacement registers), while the device row still carries the
// old certificate's expiry.
function certificateExpiry(device, certificate) {
  const none = 'none valid: the device registers (with a token) to get one';
  if (certificate) return certificate.serial ? when(certificate.not_after) || device.certificate_not_after_text : none;
  return device.certificate_not_after_text || none;
}

function deviceFacts({ device, certificate }) {
  return h('div', { class: 'panel' }, kv([
    ['Instance id', h('span', { class: 'mono' }, device.instance_id)],
    ['UDI', h('span', { class: 'mono', 'data-udi': '' }, device.udi)],
    ['Hostname', device.hostname],
    ['Virtual account', device.va],
    ['Registered', device.registered_at_text],
    ['Last seen', device.last_seen_at_text || 'never'],
    ['Export-controlled allowed', device.export_allowed ? 'yes' : 'no'],
    ['Registered with token', device.token_id],
    ['Certificate expires', certificateExpiry(device, certificate)],
    ['Certificate serial', certificate ? h('span', { class: 'mono' }, certificate.serial) : ''],
    ['Certificate fingerprint', certificate ? h('span', { class: 'mono' }, certificate.fingerprint) : ''],
  ]));
}

function heldTable(device) {
  return table([
    { label: 'Tag', value: (x) => x.tag, mono: true },
    { label: 'Count', value: (x) => String(num(x.count)), num: true },
    { label: 'Valid until', value: (x) => x.valid_until_text },
  ], device.holdings || [], { empty: 'This device holds no licenses. It takes them when it authorizes (outpost device authorize).' });
}

function eventsTable(events) {
  return table([
    { label: 'Seq', value: (e) => String(e.seq), sort: (e) => num(e.seq), num: true },
    { label: 'Time', value: (e) => e.time, cls: 'nowrap' },
    { label: 'Actor', value: (e) => e.actor },
    { label: 'Action', value: (e) => badge(e.action, 'plain'), sort: (e) => e.action },
    { label: 'Details', value: (e) => detailsText(e.details), cls: 'wrap' },
  ], events, { empty: 'No audit events shown for this device (the Audit page filters by device too).' });
}

async function renderDetail(main, id, { can }) {
  main.append(h('p', {}, h('a', { href: '#/devices' }, '← Devices')), h('h1', {}, 'Device'));
  let shown = await loadDevice(id);
  const facts = h('div');
  const held = h('div');
  const events = h('div');
  // Drawn again after a rehost, so the page shows the new UDI and the certificate it lost.
  const draw = () => {
    main.querySelector('h1').textContent = shown.device.hostname || shown.device.udi;
    clear(facts).append(deviceFacts(shown));
    clear(held).append(heldTable(shown.device));
    clear(events).append(eventsTable(shown.events));
  };
  draw();
  main.append(facts, section('Licenses held', held));
  if (can('manage_devices')) {
    const message = messageArea();
    const udi = h('input', { name: 'udi', placeholder: 'PID:SN', required: true });
    const rehost = h('form', { class: 'inline', 'aria-label': 'Rehost the device' }, field('New UDI (replacement device)', udi), h('button', { type: 'submit' }, 'Rehost'));
    const actions = h('div', {}, h('div', { class: 'toolbar' }), rehost);
    const release = confirmButton('Release and deregister', 'Press again to release', async () => {
      try {
        const out = await post(`/v1/admin/devices/${encodeURIComponent(shown.device.instance_id)}/release`);
        const released = (out.released || []).map((x) => `${x.tag}×${num(x.count)}`).join(', ') || 'nothing';
        message.ok(`Released ${released}; the device is deregistered and its certificate refused. It is no longer listed on the Devices page.`);
        // Nothing is left to act on: the instance is gone.
        actions.remove();
        clear(held).append(h('div', { class: 'empty' }, 'Released: the licenses went back to the pool.'));
      } catch (err) { message.error(err); }
    }, 'danger');
    actions.firstChild.append(release);
    rehost.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const out = await post(`/v1/admin/devices/${encodeURIComponent(shown.device.instance_id)}/rehost`, { udi: udi.value.trim() });
        shown = await loadDevice(out.instance_id || shown.device.instance_id);
        draw();
        message.ok(`Rehosted to ${shown.device.udi}: the old certificate is refused; the replacement registers with a token and finds its licenses waiting.`);
        udi.value = '';
      } catch (err) { message.error(err); }
    });
    main.append(section('Actions', message, actions));
  }
  main.append(section('Audit events', events));
}
