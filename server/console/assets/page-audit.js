// Audit: filters, paged table (newest first), record detail, CSV / JSON lines export, chain
// verification naming the broken record, and the signed checkpoints.
import { get, post, request, parseJsonLines } from './api.js';
import { h, detailsText, table, num, field, clear, messageArea, section, kv, badge, download } from './ui.js';

const pageSize = 50;

function rfc3339(localValue) {
  if (!localValue) return '';
  return new Date(localValue).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function recordView(record) {
  return h('div', { class: 'panel detail', 'data-record': String(record.seq) }, h('h3', {}, `Record ${record.seq}`), kv([
    ['Time', record.time], ['Actor', record.actor], ['Action', record.action], ['Object', record.object],
    ['Details', detailsText(record.details)], ['Previous hash', h('span', { class: 'mono' }, record.prev_hash)],
    ['Hash', h('span', { class: 'mono' }, record.hash)],
  ]));
}

export async function render(main, { can }) {
  main.append(h('h1', {}, 'Audit trail'));
  const since = h('input', { type: 'datetime-local', name: 'since', step: 1 });
  const until = h('input', { type: 'datetime-local', name: 'until', step: 1 });
  const actor = h('input', { name: 'actor', placeholder: 'user:alice', size: 14 });
  const action = h('input', { name: 'action', placeholder: 'token.create', size: 14 });
  const device = h('input', { name: 'device', placeholder: 'instance id', size: 14 });
  const filters = h('form', { class: 'inline', role: 'search', 'aria-label': 'Filter audit records' },
    field('Since', since), field('Until', until), field('Actor', actor), field('Action', action), field('Device', device),
    h('button', { type: 'submit' }, 'Filter'));
  const exportCsv = h('button', { type: 'button', class: 'secondary' }, 'Export CSV');
  const exportJsonl = h('button', { type: 'button', class: 'secondary' }, 'Export JSON lines');
  const message = messageArea();
  const holder = h('div');
  const pager = h('div', { class: 'pager' });
  const detail = h('div', { 'aria-live': 'polite' });
  const filterQuery = () => ({
    since: rfc3339(since.value), until: rfc3339(until.value), actor: actor.value.trim(), action: action.value.trim(), device: device.value.trim(),
  });
  const cursors = [{}];
  const load = async () => {
    clear(pager);
    let res;
    try {
      res = await request('GET', '/v1/admin/audit/records', { query: { ...filterQuery(), order: 'desc', limit: pageSize, ...cursors[cursors.length - 1] }, raw: true });
    } catch (err) {
      clear(holder);
      message.error(err);
      return;
    }
    message.clear();
    const records = parseJsonLines(await res.text());
    const descending = records.length < 2 || num(records[0].seq) > num(records[1].seq);
    clear(holder).append(table([
      { label: 'Seq', value: (r) => String(r.seq), sort: (r) => num(r.seq), num: true },
      { label: 'Time', value: (r) => r.time, cls: 'nowrap' },
      { label: 'Actor', value: (r) => r.actor },
      { label: 'Action', value: (r) => r.action },
      { label: 'Object', value: (r) => r.object, mono: true },
      { label: 'Details', value: (r) => detailsText(r.details), cls: 'wrap' },
    ], records, {
      empty: 'No record matches these filters. Widen the time range or clear a filter.',
      onRow: (r) => { clear(detail).append(recordView(r)); },
      caption: 'Audit records',
    }));
    const more = res.headers.get('x-outpost-more') === 'true' || records.length === pageSize;
    const previous = h('button', { type: 'button', class: 'secondary', disabled: cursors.length === 1 }, descending ? 'Newer' : 'Previous');
    const next = h('button', { type: 'button', class: 'secondary', disabled: !more || records.length === 0 }, descending ? 'Older' : 'Next');
    previous.addEventListener('click', () => { cursors.pop(); load(); });
    next.addEventListener('click', () => {
      const last = records[records.length - 1];
      cursors.push(descending ? { before: String(last.seq) } : { after: res.headers.get('x-outpost-next-after') || String(last.seq) });
      load();
    });
    pager.append(previous, h('span', { class: 'muted' }, `Page ${cursors.length}`), next);
  };
  const exportAll = async (format) => {
    try {
      let after = '0';
      const parts = [];
      for (;;) {
        const res = await request('GET', '/v1/admin/audit/records', { query: { ...filterQuery(), format, after, limit: 10000 }, raw: true });
        let text = await res.text();
        if (format === 'csv' && parts.length > 0) text = text.slice(text.indexOf('\n') + 1);  // one header line
        parts.push(text);
        if (res.headers.get('x-outpost-more') !== 'true') break;
        after = res.headers.get('x-outpost-next-after');
      }
      download(`audit.${format === 'csv' ? 'csv' : 'jsonl'}`, parts.join(''), format === 'csv' ? 'text/csv' : 'application/x-ndjson');
      message.ok('Exported.');
    } catch (err) { message.error(err); }
  };
  exportCsv.addEventListener('click', () => exportAll('csv'));
  exportJsonl.addEventListener('click', () => exportAll('jsonl'));
  filters.addEventListener('submit', (e) => { e.preventDefault(); cursors.length = 1; load(); });
  main.append(section('Records', filters, h('div', { class: 'toolbar' }, exportCsv, exportJsonl), message, holder, pager, detail));

  const verifyResult = h('div', { 'aria-live': 'polite' });
  const verify = h('button', { type: 'button' }, 'Verify the chain');
  verify.disabled = !can('verify_audit');
  verify.addEventListener('click', async () => {
    clear(verifyResult).append(h('p', { class: 'muted' }, 'Verifying…'));
    try {
      const report = await post('/v1/admin/audit/verify');
      clear(verifyResult);
      if (report.ok) {
        verifyResult.append(h('div', { class: 'alert ok', role: 'status', 'data-verify': 'ok' },
          `The chain verifies: ${num(report.records_checked)} records and ${num(report.checkpoints_checked)} checkpoints checked; head ${num(report.last_seq)} (${report.head_hash}). Key ${report.key_fingerprint}.`));
        return;
      }
      const bad = num(report.first_bad_seq);
      verifyResult.append(h('div', { class: 'alert error', role: 'alert', 'data-verify': 'broken', 'data-first-bad-seq': String(bad) },
        h('strong', {}, `The chain is broken at record ${bad}`), ` (${report.problem_kind}): ${report.problem}. Records up to ${num(report.last_seq)} verify.`));
      if (bad > 0) {
        const res = await request('GET', '/v1/admin/audit/records', { query: { after: String(bad - 1), limit: 1 }, raw: true });
        const [record] = parseJsonLines(await res.text());
        if (record) verifyResult.append(h('p', {}, 'The record where it breaks, as stored now:'), recordView(record));
      }
    } catch (err) {
      clear(verifyResult).append(h('div', { class: 'alert error', role: 'alert' }, err.message));
    }
  });
  main.append(section('Verify', h('p', { class: 'muted' }, 'Recomputes every hash and checks every checkpoint signature.'), verify, verifyResult));

  const checkpoints = h('div');
  const loadCheckpoints = async () => {
    const list = await get('/v1/admin/audit/checkpoints');
    clear(checkpoints).append(h('p', { class: 'muted' }, `Signed by key ${list.key_id || ''} (fingerprint ${list.key_fingerprint || ''}).`), table([
      { label: 'Seq', value: (c) => String(c.seq), sort: (c) => num(c.seq), num: true },
      { label: 'Signed at', value: (c) => c.time },
      { label: 'Hash', value: (c) => c.hash, mono: true },
      { label: 'Signature', value: (c) => (c.verified ? badge('verified', 'ok') : badge(`bad: ${c.problem}`, 'bad')), sort: (c) => c.verified },
    ], [...(list.checkpoints || [])].reverse(), { empty: 'No checkpoints yet. The satellite signs one every 10 minutes and at every sync export.' }));
  };
  const checkpointParts = [];
  if (can('sign_checkpoint')) {
    const sign = h('button', { type: 'button', class: 'secondary' }, 'Sign a checkpoint now');
    const signMessage = messageArea();
    sign.addEventListener('click', async () => {
      try {
        const head = await post('/v1/admin/audit/checkpoint');
        signMessage.ok(`Signed the head at record ${head.seq}.`);
        await loadCheckpoints();
      } catch (err) { signMessage.error(err); }
    });
    checkpointParts.push(sign, signMessage);
  }
  main.append(section('Checkpoints', ...checkpointParts, checkpoints));
  await Promise.all([load(), loadCheckpoints()]);
}
