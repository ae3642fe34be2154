// Licenses: compliance per VA and tag a page at a time from the server (the listing pages in
// (VA, tag) order; search runs on the server over every pool; a column's sort orders the rows of
// the page shown), CSV of every matching row (all pages), and a tag's detail.
import { get } from './api.js';
import { h, detailsText, table, badge, num, field, toCsv, download, section, kv, clear, errorBox, messageArea } from './ui.js';

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

const defaultPageSize = 100;
const csvPageSize = 1000;  // rows per request while the CSV pages through everything
const searchDelayMs = 300;  // typing pauses this long before the search goes to the server

// #/licenses?page_size=N (1..1000) shows N rows a page instead of 100, and the CSV download asks
// for N rows at a time too (instead of 1000): the browser test pages its three pools this way.
function pageSizeOf(query) {
  const size = Number(query.get('page_size'));
  return Number.isInteger(size) && size >= 1 && size <= 1000 ? size : defaultPageSize;
}

// Every row the filters match, following next_after page by page.
async function allRows(filters, size, progress) {
  const rows = [];
  let after = '';
  for (let pages = 0; pages < 100000; pages += 1) {
    const data = await get('/v1/admin/licenses', { ...filters, limit: size, after });
    rows.push(...(data.pools || []));
    progress(rows.length);
    if (!data.next_after) return rows;
    if (data.next_after === after) throw new Error('The server answered the same page twice; try the download again.');
    after = data.next_after;
  }
  throw new Error('The listing did not end; narrow the search or use the CLI (outpost licenses --json).');
}

export async function render(main, { args, query }) {
  if (args.length >= 2) return renderDetail(main, args[0], args[1]);
  const pageSize = pageSizeOf(query);
  const csvSize = query.has('page_size') ? pageSize : csvPageSize;
  main.append(h('h1', {}, 'Licenses'));
  const search = h('input', { type: 'search', name: 'q', value: query.get('q') || '', placeholder: 'part of a VA or tag', maxlength: 128 });
  const va = h('input', { name: 'va', value: query.get('va') || '', placeholder: 'any', size: 12 });
  const submit = h('button', { type: 'submit' }, 'Search');
  const csv = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const form = h('form', { class: 'inline', role: 'search' }, field('Search', search), field('Virtual account', va), submit, csv);
  const message = messageArea();
  const note = h('p', { class: 'muted' });
  const holder = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const pager = h('div', { class: 'pager' });
  main.append(form, message, note, holder, pager);

  const filters = () => ({ q: search.value.trim(), va: va.value.trim() });
  const cursors = [''];  // the `after` of each page shown so far
  let generation = 0;  // answers to an older search or page are dropped
  const load = async () => {
    generation += 1;
    const mine = generation;
    const current = filters();
    holder.setAttribute('aria-busy', 'true');
    let data;
    try {
      data = await get('/v1/admin/licenses', { ...current, limit: pageSize, after: cursors[cursors.length - 1] });
    } catch (err) {
      if (mine !== generation) return;
      holder.removeAttribute('aria-busy');
      clear(pager);
      clear(holder).append(errorBox(err));
      return;
    }
    if (mine !== generation) return;
    holder.removeAttribute('aria-busy');
    const rows = data.pools || [];
    const page = cursors.length;
    note.textContent = `Computed at ${data.computed_at_text || ''}. ${pageSize === 1 ? '1 row' : `${pageSize} rows`} a page in virtual account and tag order; `
      + 'sorting by a column orders the rows of this page. Select a row for the tag\'s devices, reservations and events.';
    clear(holder).append(table(columns, rows, {
      empty: data.next_after
        ? 'No match in this stretch of the listing; press Next to keep searching.'
        : current.q || current.va
          ? (page > 1 ? 'No more licenses match.' : 'No license matches the search; check the spelling, or clear it to see all.')
          : (page > 1 ? 'No more licenses.' : 'No licenses yet. Import a sync response from central on the Sync page to receive the entitlements.'),
      onRow: (p) => { window.location.hash = `#/licenses/${encodeURIComponent(p.va)}/${encodeURIComponent(p.tag)}`; },
      caption: 'Licenses',
    }));
    const previous = h('button', { type: 'button', class: 'secondary', disabled: page === 1 }, 'Previous');
    const next = h('button', { type: 'button', class: 'secondary', disabled: !data.next_after }, 'Next');
    previous.addEventListener('click', () => { cursors.pop(); load(); });
    next.addEventListener('click', () => { cursors.push(data.next_after); load(); });
    clear(pager).append(previous, h('span', { class: 'muted', 'data-page': String(page) }, `Page ${page}`), next);
  };
  const restart = () => {
    cursors.length = 1;
    message.clear();
    load();
  };
  let timer;
  const searchSoon = () => { clearTimeout(timer); timer = setTimeout(restart, searchDelayMs); };
  search.addEventListener('input', searchSoon);
  // A VA is an exact name: it applies when complete (Enter, or leaving the field), so a name half
  // typed does not flash "no such virtual account".
  va.addEventListener('change', () => { clearTimeout(timer); restart(); });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    restart();
  });
  csv.addEventListener('click', async () => {
    const current = filters();
    csv.disabled = true;
    message.warn('Downloading every matching license…');
    try {
      const rows = await allRows(current, csvSize, (count) => message.warn(`Downloading every matching license… ${count} so far`));
      download(`licenses${current.va ? `-${current.va}` : ''}.csv`, toCsv(columns, rows), 'text/csv');
      message.ok(`Downloaded ${rows.length} ${rows.length === 1 ? 'license' : 'licenses'} as CSV.`);
    } catch (err) {
      message.error(err);
    } finally {
      csv.disabled = false;
    }
  });
  await load();
}

async function renderDetail(main, va, tag) {
  main.append(h('p', {}, h('a', { href: '#/licenses' }, '← Licenses')), h('h1', {}, `${tag}`), h('p', { class: 'muted' }, `Virtual account ${va}`));
  let detail;
  try {
    detail = await get(`/v1/admin/licenses/${encodeURIComponent(va)}/${encodeURIComponent(tag)}`);
  } catch (err) {
    main.append(errorBox(err));
    try {
      const found = await get('/v1/admin/licenses', { va, q: tag, limit: 100 });
      const pool = (found.pools || []).find((p) => p.va === va && p.tag === tag);
      if (pool) main.append(table(columns, [pool]));
    } catch { /* the error above says what went wrong */ }
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
  }), detail.more_devices ? h('p', {}, 'More devices hold it than shown: ',
    h('a', { href: `#/devices?tag=${encodeURIComponent(tag)}&va=${encodeURIComponent(va)}` }, 'list the devices holding it'), '.') : null));
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
