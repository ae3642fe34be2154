// Licenses: compliance per VA and tag, search and sort, CSV, and a tag's detail.
import { get } from './api.js';
import { h, detailsText, table, badge, num, field, toCsv, download, section, kv, clear, errorBox } from './ui.js';

const columns = [
  { label: 'Virtual account', value: (p) => p.va },
  { label: 'Tag', value: (p) => p.tag, mono: true },
  { label: 'Purchased', value: (p) => String(num(p.purchased)), sort: (p) => num(p.purchased), num: true },
  { label: 'In use', value: (p) => String(num(p.in_use)), sort: (p) => num(p.in_use), num: true },
  { label: 'Reserved', value: (p) => String(num(p.reserved)), sort: (p) => num(p.reserved), num: true },
  { label: 'Available', value: (p) => String(num(p.available)), sort: (p) => num(p.available), num: true },
  { label: 'Status', value: (p) => badge(p.status), csv: (p) => p.status, sort: (p) => p.status },
  { label: 'Enforcement', value: (p) => `${p.enforcement}${p.floating ? ', floating' : ''}${p.export_controlled ? ', export-controlled' : ''}`, csv: (p) => p.enforcement },
  { label: 'Expires', value: (p) => p.next_end_text || 'perpetual', sort: (p) => num(p.next_end) || Infinity },
];

export async function render(main, { args, query }) {
  if (args.length >= 2) return renderDetail(main, args[0], args[1]);
  main.append(h('h1', {}, 'Licenses'));
  const data = await get('/v1/admin/licenses');
  const pools = data.pools || [];
  const search = h('input', { type: 'search', placeholder: 'VA or tag', value: query.get('va') || '' });
  const csv = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const holder = h('div');
  const matching = () => {
    const needle = search.value.trim().toLowerCase();
    return pools.filter((p) => !needle || p.va.toLowerCase().includes(needle) || p.tag.toLowerCase().includes(needle));
  };
  const draw = () => {
    clear(holder).append(table(columns, matching(), {
      empty: pools.length === 0
        ? 'No licenses yet. Import a sync response from central on the Sync page to receive the entitlements.'
        : 'No license matches the search; clear it to see all.',
      onRow: (p) => { window.location.hash = `#/licenses/${encodeURIComponent(p.va)}/${encodeURIComponent(p.tag)}`; },
      caption: 'Licenses',
    }));
  };
  search.addEventListener('input', draw);
  csv.addEventListener('click', () => download('licenses.csv', toCsv(columns, matching()), 'text/csv'));
  main.append(h('div', { class: 'toolbar' }, field('Search', search), csv),
    h('p', { class: 'muted' }, `Computed at ${data.computed_at_text || ''}. Select a row for the tag's devices, reservations and events.`),
    holder);
  draw();
}

async function renderDetail(main, va, tag) {
  main.append(h('p', {}, h('a', { href: '#/licenses' }, '← Licenses')), h('h1', {}, `${tag}`), h('p', { class: 'muted' }, `Virtual account ${va}`));
  let detail;
  try {
    detail = await get(`/v1/admin/licenses/${encodeURIComponent(va)}/${encodeURIComponent(tag)}`);
  } catch (err) {
    main.append(errorBox(err));
    const all = await get('/v1/admin/licenses');
    const pool = (all.pools || []).find((p) => p.va === va && p.tag === tag);
    if (pool) main.append(table(columns, [pool]));
    return;
  }
  const p = detail.license || {};
  main.append(h('div', { class: 'panel' }, kv([
    ['Purchased', String(num(p.purchased))], ['In use', String(num(p.in_use))], ['Reserved', String(num(p.reserved))],
    ['Available', String(num(p.available))], ['Status', badge(p.status || '')], ['Enforcement', p.enforcement],
    ['Expires', p.next_end_text || 'perpetual'],
  ])));
  main.append(section('Devices holding it', table([
    { label: 'Hostname', value: (d) => d.hostname },
    { label: 'UDI', value: (d) => d.udi, mono: true },
    { label: 'Count', value: (d) => String(num(d.count)), sort: (d) => num(d.count), num: true },
  ], detail.devices || [], {
    empty: 'No device holds this tag. Devices take it when they authorize with it (outpost device authorize --tag ...).',
    onRow: (d) => { window.location.hash = `#/devices/${encodeURIComponent(d.id)}`; },
  })));
  main.append(section('Reservations', table([
    { label: 'UDI', value: (r) => r.udi, mono: true },
    { label: 'Count', value: (r) => String(num(r.count)), num: true },
  ], detail.reservations || [], { empty: 'No reservations. Reserve licenses for a named device on the Reservations page.' })));
  main.append(section('Recent events', table([
    { label: 'Seq', value: (e) => String(e.seq), sort: (e) => num(e.seq), num: true },
    { label: 'Time', value: (e) => e.time, cls: 'nowrap' },
    { label: 'Actor', value: (e) => e.actor },
    { label: 'Action', value: (e) => e.action },
    { label: 'Details', value: (e) => detailsText(e.details), cls: 'wrap' },
  ], detail.events || [], { empty: 'No events for this tag yet.' })));
}
