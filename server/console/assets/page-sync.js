// Sync: status; offline request download (file or armored text) and response upload (file or
// pasted text) with a summary; online sync now; history; traditional-license conversions.
import { get, post, request } from './api.js';
import { h, append, when, table, num, field, clear, messageArea, kv, section, badge, download, copyText } from './ui.js';

function importSummary(out) {
  if (out.already_imported) {
    return [`Response ${num(out.response_number)} was imported before; nothing changed.`];
  }
  const lines = [
    `Imported response ${num(out.response_number)} (answers request ${num(out.answers_request_sequence)}).`,
    `Entitlements now: ${num(out.entitlements)}.`,
    `Usage reports acknowledged by central: ${num(out.acknowledged_usage_reports)}.`,
    `Moves applied: ${num(out.moves_applied)}, rejected: ${num(out.moves_rejected)}.`,
    `Conversions converted: ${num(out.conversions_converted)}, rejected: ${num(out.conversions_rejected)}.`,
    `Valid until ${out.valid_until_text || ''}; sync again before then.`,
  ];
  if (out.central_key_rotated) lines.push('Central rotated its signing key; the new key is now pinned.');
  for (const m of out.move_results || []) if (m.message) lines.push(`Move ${m.move_id}: ${m.message}`);
  for (const c of out.conversion_results || []) if (c.message) lines.push(`Conversion ${c.conversion_id}: ${c.message}`);
  if (out.audit_alarm) lines.push(`Audit alarm: ${out.audit_alarm}`);
  if (out.message) lines.push(out.message);
  return lines;
}

function summaryBox(out) {
  return h('div', { class: 'alert ok', role: 'status', 'data-import-summary': '' },
    ...importSummary(out).map((line) => h('div', {}, line)));
}

export async function render(main, { can }) {
  main.append(h('h1', {}, 'Sync with central'));
  const statusHolder = h('div');
  const loadStatus = async () => {
    const s = await get('/v1/admin/sync/status');
    append(clear(statusHolder), [
      s.sync_overdue ? h('div', { class: 'alert error', role: 'alert' }, `SYNC_OVERDUE: the last response was valid until ${s.valid_until_text}. Sync now.`) : null,
      s.audit_alarm ? h('div', { class: 'alert error', role: 'alert' }, `AUDIT_TRUNCATED: ${s.audit_alarm} Investigate on the Audit page; an administrator acknowledges it on the Overview.`) : null,
      !s.enrolled ? h('div', { class: 'alert warn' }, 'This satellite is not enrolled with central: initialise it with outpost init --enroll FILE.') : null,
      h('div', { class: 'panel', 'data-sync-status': s.mode }, kv([
        ['Mode', s.mode], ['Account', s.account_name || s.account_id], ['Satellite id', h('span', { class: 'mono' }, s.satellite_id)],
        ['Central URL', s.central_url || '—'], ['Central key id', h('span', { class: 'mono' }, s.central_key_id || '—')],
        ['Last export', `${s.last_export_at_text || 'never'} (request ${num(s.last_request_sequence)})`],
        ['Last import', `${s.last_import_at_text || 'never'} (response ${num(s.last_response_number)})`],
        ['Valid until', s.valid_until_text || '—'], ['Entitlements', String(num(s.entitlements))],
        ['Waiting for the next sync', `${num(s.pending_usage_reports)} usage reports, ${num(s.pending_moves)} moves, ${num(s.pending_conversions)} conversions`],
        ['Online: last attempt', s.last_attempt_at_text ? `${s.last_attempt_at_text} (${s.last_attempt_ok ? 'ok' : `failed: ${s.last_error}`})` : '—'],
        ['Online: failures in a row', String(num(s.consecutive_failures))],
        ['Online: next attempt', s.next_attempt_at_text || (s.mode === 'online' ? 'not scheduled' : '— (offline mode)')],
        ['Last refused import', s.last_failed_import_at_text ? `${s.last_failed_import_at_text}: ${s.last_failed_import_error}` : '—'],
      ]))]);
  };
  main.append(section('Status', statusHolder));
  await loadStatus();

  const history = h('div');
  const loadHistory = async () => {
    let data;
    try {
      data = await get('/v1/admin/sync/history');
    } catch (err) {
      clear(history).append(h('div', { class: 'alert error', role: 'alert' }, err.message));
      return;
    }
    clear(history).append(table([
      { label: '#', value: (x) => String(x.sequence), sort: (x) => num(x.sequence), num: true },
      { label: 'Kind', value: (x) => x.kind },
      { label: 'When', value: (x) => when(x.at), sort: (x) => String(x.at) },
      // `result` is "ok" or the reason it failed, in the server's words (which need not say "failed").
      { label: 'Result', value: (x) => badge(x.result, x.result === 'ok' ? 'ok' : 'bad'), sort: (x) => x.result },
      { label: 'Summary', value: (x) => x.summary },
      { label: 'Usage reports', value: (x) => String(num(x.usage_reports)), num: true },
      { label: 'Moves', value: (x) => String(num(x.moves)), num: true },
      { label: 'Conversions', value: (x) => String(num(x.conversions)), num: true },
    ], data.exchanges || [], { empty: 'No exchanges yet. Download a request above (offline) or sync now (online).' }));
  };
  const conversions = h('div');
  const loadConversions = async () => {
    const data = await get('/v1/admin/conversions');
    clear(conversions).append(table([
      { label: 'Requested', value: (c) => c.requested_at_text, sort: (c) => num(c.requested_at) },
      { label: 'Key', value: (c) => `${c.key_prefix}…`, mono: true },
      { label: 'Virtual account', value: (c) => c.va },
      { label: 'By', value: (c) => c.requested_by },
      { label: 'Status', value: (c) => badge(c.status), sort: (c) => c.status },
      { label: 'Result', value: (c) => c.message || (c.entitlement_ids || []).join(', ') },
    ], data.conversions || [], { empty: 'No conversions. Submit a traditional license key; it travels with the next sync and central answers in the response.' }));
  };
  const refresh = () => Promise.all([loadStatus(), loadHistory(), loadConversions()]);

  if (can('sync')) {
    const message = messageArea();
    const armored = h('textarea', { readonly: true, 'aria-label': 'Armored sync request', class: 'hidden' });
    const copy = h('button', { type: 'button', class: 'secondary hidden' }, 'Copy request');
    const asFile = h('button', { type: 'button' }, 'Download request file');
    const asText = h('button', { type: 'button', class: 'secondary' }, 'Show request as armored text');
    asFile.addEventListener('click', async () => {
      try {
        const res = await request('POST', '/v1/admin/sync/export', { body: {}, raw: true });
        const seq = res.headers.get('x-outpost-sequence') || 'new';
        download(`sync-request-${seq}.bin`, await res.blob());
        message.ok(`Request ${seq} downloaded (${res.headers.get('x-outpost-usage-reports') || 0} usage reports). Carry it to central: outpost central sync process FILE -o RESPONSE.`);
        await refresh();
      } catch (err) { message.error(err); }
    });
    asText.addEventListener('click', async () => {
      try {
        const res = await request('POST', '/v1/admin/sync/export', { body: {}, query: { armor: 'true' }, raw: true });
        const text = await res.text();
        if (!text.startsWith('-----BEGIN')) throw new Error('This satellite cannot export armored text yet; download the file instead.');
        armored.value = text;
        armored.classList.remove('hidden');
        copy.classList.remove('hidden');
        message.ok(`Request ${res.headers.get('x-outpost-sequence') || ''} exported as text. Copy it to central.`);
        await refresh();
      } catch (err) { message.error(err); }
    });
    copy.addEventListener('click', async () => {
      const copied = await copyText(armored.value, null);
      if (!copied) armored.select();
      message.ok(copied ? 'Copied.' : 'Selected: press Ctrl+C.');
    });

    const file = h('input', { type: 'file', name: 'response' });
    const pasted = h('textarea', { name: 'armored', placeholder: '-----BEGIN OUTPOST SYNC RESPONSE-----' });
    const upload = h('form', { 'aria-label': 'Import a sync response' },
      field('Response file from central', file), field('or paste the armored response', pasted),
      h('p', {}, h('button', { type: 'submit' }, 'Import response')));
    const importResult = h('div', { 'aria-live': 'polite' });
    upload.addEventListener('submit', async (e) => {
      e.preventDefault();
      clear(importResult);
      try {
        let body;
        if (file.files && file.files.length > 0) body = await file.files[0].arrayBuffer();
        else if (pasted.value.trim() !== '') body = pasted.value.trim();
        else throw new Error('Choose the response file from central, or paste its armored text.');
        const out = await request('POST', '/v1/admin/sync/import', { body, contentType: 'application/octet-stream' });
        importResult.append(summaryBox(out));
        upload.reset();
        await refresh();
      } catch (err) {
        importResult.append(h('div', { class: 'alert error', role: 'alert', 'data-import-refused': '' }, 'Refused; nothing changed: ', err.message));
        // The refusal is recorded (Status: last refused import; History): show it.
        await refresh().catch(() => {});
      }
    });

    const now = h('button', { type: 'button' }, 'Sync now (online)');
    const nowResult = h('div', { 'aria-live': 'polite' });
    now.addEventListener('click', async () => {
      now.disabled = true;
      clear(nowResult).append(h('p', { class: 'muted' }, 'Syncing…'));
      try {
        const out = await post('/v1/admin/sync/now');
        clear(nowResult).append(summaryBox(out));
      } catch (err) {
        clear(nowResult).append(h('div', { class: 'alert error', role: 'alert', 'data-sync-now-failed': '' }, 'Sync failed; nothing changed: ', err.message));
      } finally {
        now.disabled = false;
        await refresh();
      }
    });
    main.append(section('Offline: request', message, h('div', { class: 'toolbar' }, asFile, asText, copy), armored),
      section('Offline: response', upload, importResult),
      section('Online', h('p', { class: 'muted' }, 'In online mode the satellite syncs on its interval by itself (the next attempt is in the status above); this syncs at once, in either mode, whenever central is reachable. To switch modes, set [sync] mode in outpost.toml on the satellite host, then reload the configuration (Overview, administrators) or restart the satellite.'), now, nowResult));
  }

  main.append(section('History', history));
  const convertParts = [];
  if (can('convert_licenses')) {
    const key = h('input', { name: 'key', required: true, size: 30, autocomplete: 'off' });
    const va = h('input', { name: 'va', required: true, value: 'default', size: 10 });
    const convertMessage = messageArea();
    const form = h('form', { class: 'inline', 'aria-label': 'Convert a traditional license' }, field('License key', key), field('Into virtual account', va), h('button', { type: 'submit' }, 'Submit conversion'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await post('/v1/admin/conversions', { key: key.value.trim(), va: va.value.trim() });
        convertMessage.ok('Queued; it goes to central with the next sync.');
        form.reset();
        await loadConversions();
      } catch (err) { convertMessage.error(err); }
    });
    convertParts.push(form, convertMessage);
  }
  main.append(section('Traditional-license conversions', ...convertParts, conversions));
  await Promise.all([loadHistory(), loadConversions()]);
}
