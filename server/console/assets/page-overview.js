// Overview: compliance per virtual account, alarms with what to do, devices, sync, identity;
// for administrators, acknowledging AUDIT_TRUNCATED and reloading the configuration.
import { get, post } from './api.js';
import { h, card, table, badge, num, when, section, kv, errorBox, field, messageArea, clear } from './ui.js';

const alarmAdvice = {
  SYNC_OVERDUE: 'Sync with central now: on the Sync page, "Sync now" (online) or download a request, carry it to central and upload the response.',
  CLOCK_ROLLBACK: 'The system clock went backwards. Correct the clock (NTP); the satellite keeps using the highest time it has seen until then.',
  AUDIT_TRUNCATED: 'Central holds an audit head the local chain no longer contains. Verify the chain on the Audit page and investigate before acknowledging.',
};

// Builds the overview from older routes when /v1/admin/overview is not there.
async function composeOverview() {
  const [status, licenses] = await Promise.all([get('/v1/admin/sync/status'), get('/v1/admin/licenses')]);
  const byVa = new Map();
  for (const pool of licenses.pools || []) {
    const entry = byVa.get(pool.va) || { va: pool.va, tags_in_compliance: 0, tags_out_of_compliance: 0, status: 'IN_COMPLIANCE' };
    if (pool.status === 'OUT_OF_COMPLIANCE' || pool.status === 'EXPIRED') {
      entry.tags_out_of_compliance += 1;
      entry.status = 'OUT_OF_COMPLIANCE';
    } else {
      entry.tags_in_compliance += 1;
    }
    byVa.set(pool.va, entry);
  }
  const alarms = [];
  if (status.sync_overdue) alarms.push({ code: 'SYNC_OVERDUE', since: status.valid_until_text, message: `The last sync response was valid until ${status.valid_until_text}.` });
  if (status.audit_alarm) alarms.push({ code: 'AUDIT_TRUNCATED', message: status.audit_alarm });
  return {
    satellite: { name: status.satellite_id, account: status.account_name || status.account_id },
    devices: null,
    sync: { mode: status.mode, last_sync_at: status.last_import_at_text, next_due_at: status.next_attempt_at_text || status.valid_until_text, overdue: status.sync_overdue },
    alarms,
    compliance: [...byVa.values()],
  };
}

export async function render(main, { can }) {
  main.append(h('h1', {}, 'Overview'));
  let data;
  try {
    data = await get('/v1/admin/overview');
  } catch (err) {
    if (!err.missingRoute) throw err;
    data = await composeOverview();
  }
  const alarms = data.alarms || [];
  if (alarms.length === 0) {
    main.append(h('div', { class: 'alert ok', role: 'status' }, 'No alarms.'));
  } else {
    for (const alarm of alarms) {
      main.append(h('div', { class: 'alert error', role: 'alert', 'data-alarm': alarm.code },
        h('strong', {}, alarm.code), alarm.since ? ` since ${when(alarm.since)}` : '', ': ', alarm.message || '',
        h('br'), 'What to do: ', alarm.action || alarmAdvice[alarm.code] || 'See docs/operations.md.'));
      if (alarm.code === 'AUDIT_TRUNCATED' && can('manage_config')) main.append(acknowledgeForm());
    }
  }
  const sat = data.satellite || {};
  const devices = data.devices;
  const syncInfo = data.sync || {};
  main.append(h('div', { class: 'cards' },
    card('Devices registered', devices ? String(num(devices.registered)) : '—'),
    card('Active in the last 24 h', devices ? String(num(devices.active_24h)) : '—'),
    card('Sync mode', syncInfo.mode || '—'),
    card('Last sync', when(syncInfo.last_sync_at) || 'never', true),
    card('Next sync due', when(syncInfo.next_due_at) || '—', true),
    card('Sync', syncInfo.overdue ? badge('OVERDUE', 'bad') : badge('on time', 'ok'))));
  main.append(section('Compliance per virtual account', table([
    { label: 'Virtual account', value: (r) => r.va },
    { label: 'Tags in compliance', value: (r) => String(num(r.tags_in_compliance)), sort: (r) => num(r.tags_in_compliance), num: true },
    { label: 'Tags out of compliance', value: (r) => String(num(r.tags_out_of_compliance)), sort: (r) => num(r.tags_out_of_compliance), num: true },
    { label: 'Status', value: (r) => badge(r.status) },
  ], data.compliance || [], {
    empty: 'No licenses yet. Import a sync response from central (Sync page) to receive the account\'s entitlements.',
    onRow: (r) => { window.location.hash = `#/licenses?va=${encodeURIComponent(r.va)}`; },
  })));
  main.append(section('This satellite', h('div', { class: 'panel' }, kv([
    ['Name', sat.name],
    ['Account', sat.account],
    ['Signing key fingerprint', sat.key_fingerprint ? h('span', { class: 'mono' }, sat.key_fingerprint) : ''],
    ['TLS certificate expires', when(sat.tls_certificate_not_after)],
    ['Satellite certificate expires', when(sat.satellite_certificate_not_after)],
  ]))));
  if (can('reload_config')) main.append(reloadSection());
  if (!devices) main.append(errorBox(new Error('This satellite has no overview route yet; device counts and certificate dates are missing.')));
}

// AUDIT_TRUNCATED stays raised until an administrator says what was found (kept in the trail).
function acknowledgeForm() {
  const reason = h('input', { name: 'reason', required: true, size: 50, placeholder: 'what was found and done' });
  const message = messageArea();
  const form = h('form', { class: 'inline', 'aria-label': 'Acknowledge the audit alarm' },
    field('Reason (kept in the audit trail)', reason), h('button', { type: 'submit' }, 'Acknowledge the alarm'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await post('/v1/admin/audit/alarm/acknowledge', { reason: reason.value.trim() });
      message.ok('Acknowledged; the alarm is cleared and the reason recorded as audit.witness.acknowledge.');
      form.remove();
    } catch (err) { message.error(err); }
  });
  return h('div', { class: 'panel' }, form, message);
}

function changeLines(title, changes) {
  if (!changes || changes.length === 0) return [];
  return [h('div', {}, h('strong', {}, title)), ...changes.map((c) => h('div', { class: 'mono' }, `${c.key}: ${c.before} → ${c.after}`))];
}

// Re-reads outpost.toml and the TLS files, like `outpost reload` or SIGHUP: after editing the
// file on the host (e.g. [sync] mode = "online"), this applies it without a restart.
function reloadSection() {
  const result = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'secondary' }, 'Reload configuration');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const report = await post('/v1/admin/reload');
      const lines = [...changeLines('Applied now:', report.applied), ...changeLines('Needs a restart (the running value stays):', report.needs_restart),
        ...changeLines('Only outpost init uses these:', report.ignored)];
      if (report.certificate_reloaded) lines.push(h('div', {}, 'The TLS certificate was reloaded; new connections get it.'));
      if (lines.length === 0) lines.push(h('div', {}, 'Nothing changed in outpost.toml or the TLS files.'));
      clear(result).append(h('div', { class: 'alert ok', role: 'status', 'data-reload': '' }, ...lines));
    } catch (err) {
      clear(result).append(errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return section('Configuration', h('p', { class: 'muted' }, 'After editing outpost.toml on the satellite host, apply it without a restart (like outpost reload).'), button, result);
}
