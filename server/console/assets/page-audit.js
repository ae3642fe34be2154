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
      { label: 'Actor', value: (r) => r.actor, cls: 'brk' },
      { label: 'Action', value: (r) => r.action },
      { label: 'Object', value: (r) => r.object, mono: true },
      { label: 'Details', value: (r) => detailsText(r.details), cls: 'wrap' },
    ], records, {
      empty: 'No record matches these filters. Widen the time range or clear a filter.',
      onRow: (r) => { clear(detail).append(recordView(r)); },
      caption: 'Audit records',
    }));
    const moreHeader = res.headers.get('x-outpost-more');
    const more = moreHeader ? moreHeader === 'true' : records.length === pageSize;
    const previous = h('button', { type: 'button', class: 'secondary', disabled: cursors.length === 1 }, descending ? 'Newer' : 'Previous');
    const next = h('button', { type: 'button', class: 'secondary', disabled: !more || records.length === 0 }, descending ? 'Older' : 'Next');
    previous.addEventListener('click', () => { cursors.pop(); load(); });
    next.addEventListener('click', () => {
      const last = records[records.length - 1];
      cursors.push(descending
        ? { before: res.headers.get('x-outpost-next-before') || String(last.seq) }
        : { after: res.headers.get('x-outpost-next-after') || String(last.seq) });
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
  // A head saved at an earlier visit (Save the head below, or outpost audit head --json): the
  // chain must still hold that record with that hash.
  const savedHead = h('input', { type: 'file', name: 'saved_head', accept: '.json,application/json' });
  const runVerify = async (body) => {
    clear(verifyResult).append(h('p', { class: 'muted' }, 'Verifying…'));
    try {
      const report = await post('/v1/admin/audit/verify', body, body === undefined ? {} : { contentType: 'application/json' });
      clear(verifyResult);
      if (report.ok) {
        const since = num(report.saved_head_seq) > 0 ? ` It still holds the saved head: record ${num(report.saved_head_seq)} with the same hash.` : '';
        const archived = num(report.archived_seq) > 0 ? ` Records 1 to ${num(report.archived_seq)} are archived (verify the archive files with outpost audit verify --archive).` : '';
        verifyResult.append(h('div', { class: 'alert ok', role: 'status', 'data-verify': 'ok' },
          `The chain verifies: ${num(report.records_checked)} records and ${num(report.checkpoints_checked)} checkpoints checked; head ${num(report.last_seq)} (${report.head_hash}). Key ${report.key_fingerprint}: compare it with the signing key fingerprint outpost init printed.${since}${archived}`));
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
  };
  verify.addEventListener('click', () => runVerify(undefined));
  const verifySince = h('button', { type: 'button', class: 'secondary' }, 'Verify since the saved head');
  verifySince.disabled = !can('verify_audit');
  verifySince.addEventListener('click', async () => {
    if (!savedHead.files || savedHead.files.length === 0) {
      clear(verifyResult).append(h('div', { class: 'alert error', role: 'alert' }, 'Choose the head file you saved at an earlier visit.'));
      return;
    }
    await runVerify(await savedHead.files[0].text());
  });
  const saveHead = h('button', { type: 'button', class: 'secondary' }, 'Save the head');
  saveHead.addEventListener('click', async () => {
    try {
      const head = await get('/v1/admin/audit/head');
      download(`audit-head-${num(head.seq)}.json`, `${JSON.stringify(head)}\n`, 'application/json');
      clear(verifyResult).append(h('div', { class: 'alert ok', role: 'status', 'data-head-saved': String(num(head.seq)) },
        `Saved the head: record ${num(head.seq)}, hash ${head.hash}. Keep the file off the satellite; at the next visit, verify since it.`));
    } catch (err) { clear(verifyResult).append(h('div', { class: 'alert error', role: 'alert' }, err.message)); }
  });
  main.append(section('Verify', h('p', { class: 'muted' }, 'Recomputes every hash and checks every checkpoint signature.'),
    h('div', { class: 'toolbar' }, verify, saveHead),
    h('div', { class: 'inline' }, field('Saved head file', savedHead), verifySince), verifyResult));

  // Central's heads (outpost central audit-heads SATELLITE -o FILE, from the vendor).
  if (can('verify_audit')) {
    const headsFile = h('input', { type: 'file', name: 'central_heads', accept: '.json,application/json' });
    const compare = h('button', { type: 'button', class: 'secondary' }, 'Compare with central\'s heads');
    const compareResult = h('div', { 'aria-live': 'polite' });
    compare.addEventListener('click', async () => {
      clear(compareResult);
      try {
        if (!headsFile.files || headsFile.files.length === 0) throw new Error('Choose the file of central\'s heads (outpost central audit-heads SATELLITE -o FILE, from the vendor).');
        const report = await post('/v1/admin/audit/compare-heads', await headsFile.files[0].text(), { contentType: 'application/json' });
        compareResult.append(h('div', { class: `alert ${report.ok ? 'ok' : 'error'}`, role: report.ok ? 'status' : 'alert', 'data-compare': report.ok ? 'ok' : 'mismatch' },
          report.ok
            ? `Every one of central's ${num(report.heads_compared)} heads matches the local chain (head ${num(report.local_last_seq)}). Key ${report.key_fingerprint}.`
            : `${num(report.heads_matched)} of ${num(report.heads_compared)} heads match: records were removed or rewritten after they were sent to central.`),
        table([
          { label: 'Request', value: (x) => String(num(x.request_sequence)), num: true },
          { label: 'Record', value: (x) => String(num(x.seq)), sort: (x) => num(x.seq), num: true },
          { label: 'Result', value: (x) => badge(x.result, x.result === 'match' || x.result === 'archived' ? 'ok' : 'bad'), sort: (x) => x.result },
          { label: 'Central\'s hash', value: (x) => x.central_hash, mono: true },
          { label: 'Problem', value: (x) => x.problem, cls: 'wrap' },
        ], report.heads || [], { empty: 'The file holds no heads.' }));
      } catch (err) {
        compareResult.append(h('div', { class: 'alert error', role: 'alert' }, err.message));
      }
    });
    main.append(section('Central\'s heads', h('p', { class: 'muted' }, 'Every sync request carries a signed head of the chain to central. Compare the heads central holds with the chain here: a log cut or rewritten after a sync cannot match.'),
      h('div', { class: 'inline' }, field('File of central\'s heads', headsFile), compare), compareResult));
  }

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
