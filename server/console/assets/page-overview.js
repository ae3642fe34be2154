// Overview: compliance per virtual account, alarms with what to do, devices, sync, identity.
import { get } from './api.js';
import { h, card, table, badge, num, when, section, kv, errorBox } from './ui.js';

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

export async function render(main) {
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
  if (!devices) main.append(errorBox(new Error('This satellite has no overview route yet; device counts and certificate dates are missing.')));
}
