// Reservations and moves: reserve/unreserve for a named device, move licenses between VAs.
import { get, post } from './api.js';
import { h, table, num, field, clear, messageArea, badge, section, confirmButton } from './ui.js';

export async function render(main, { can }) {
  main.append(h('h1', {}, 'Reservations and moves'));
  const message = messageArea();
  // The virtual accounts this satellite knows (outpost va list), offered in the VA fields.
  const vas = await get('/v1/admin/virtual-accounts').catch(() => ({ virtual_accounts: [] }));
  const vaList = h('datalist', { id: 'known-vas' }, (vas.virtual_accounts || []).map((v) => h('option', { value: v.name })));
  main.append(message, vaList);
  const reservationsList = h('div');
  const movesList = h('div');
  const loadReservations = async () => {
    const data = await get('/v1/admin/reservations');
    clear(reservationsList).append(table([
      { label: 'Virtual account', value: (r) => r.va },
      { label: 'Tag', value: (r) => r.tag, mono: true },
      { label: 'Device (UDI)', value: (r) => r.udi, mono: true },
      { label: 'Count', value: (r) => String(num(r.count)), sort: (r) => num(r.count), num: true },
      ...(can('manage_reservations') ? [{ label: '', sortable: false, value: (r) => confirmButton('Remove', 'Press again to remove', async () => {
        try {
          await post('/v1/admin/reservations/remove', { va: r.va, tag: r.tag, udi: r.udi });
          message.ok(`Reservation of ${r.tag} for ${r.udi} removed.`);
          await loadReservations();
        } catch (err) { message.error(err); }
      }) }] : []),
    ], data.reservations || [], { empty: 'No reservations. Reserve licenses for a device that must always get them with the form above.' }));
  };
  const loadMoves = async () => {
    const data = await get('/v1/admin/licenses/moves');
    clear(movesList).append(table([
      { label: 'Created', value: (m) => m.created_at_text, sort: (m) => num(m.created_at) },
      { label: 'From', value: (m) => m.from_va },
      { label: 'To', value: (m) => m.to_va },
      { label: 'Tag', value: (m) => m.tag, mono: true },
      { label: 'Count', value: (m) => String(num(m.count)), num: true },
      { label: 'By', value: (m) => m.created_by },
      { label: 'Central\'s verdict', value: (m) => badge(m.status), sort: (m) => m.status },
      { label: 'Reason', value: (m) => m.message },
    ], data.moves || [], { empty: 'No moves yet. A move is reported to central at the next sync, which applies or rejects it.' }));
  };
  if (can('manage_reservations')) {
    const va = h('input', { name: 'va', required: true, value: 'default', size: 10, list: 'known-vas' });
    const tag = h('input', { name: 'tag', required: true, size: 34 });
    const count = h('input', { name: 'count', type: 'number', min: 1, required: true, size: 5 });
    const udi = h('input', { name: 'udi', required: true, placeholder: 'PID:SN' });
    const form = h('form', { class: 'inline', 'aria-label': 'Reserve licenses' }, field('Virtual account', va), field('Tag', tag),
      field('Count', count), field('Device UDI', udi), h('button', { type: 'submit' }, 'Reserve'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await post('/v1/admin/reservations', { va: va.value.trim(), tag: tag.value.trim(), count: String(count.value), udi: udi.value.trim() });
        message.ok(`Reserved ${count.value} of ${tag.value} for ${udi.value}.`);
        await loadReservations();
      } catch (err) { message.error(err); }
    });
    main.append(section('Reservations', form, reservationsList));
  } else {
    main.append(section('Reservations', reservationsList));
  }
  if (can('move_licenses')) {
    const from = h('input', { name: 'from_va', required: true, size: 10, list: 'known-vas' });
    const to = h('input', { name: 'to_va', required: true, size: 10, list: 'known-vas' });
    const tag = h('input', { name: 'tag', required: true, size: 34 });
    const count = h('input', { name: 'count', type: 'number', min: 1, required: true, size: 5 });
    const form = h('form', { class: 'inline', 'aria-label': 'Move licenses' }, field('From VA', from), field('To VA', to), field('Tag', tag),
      field('Count', count), h('button', { type: 'submit' }, 'Move'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const out = await post('/v1/admin/licenses/move', { from_va: from.value.trim(), to_va: to.value.trim(), tag: tag.value.trim(), count: String(count.value) });
        message.ok(`Move ${out.move_id} recorded; central decides at the next sync.`);
        await loadMoves();
      } catch (err) { message.error(err); }
    });
    main.append(section('Moves between virtual accounts', form, movesList));
  } else {
    main.append(section('Moves between virtual accounts', movesList));
  }
  await Promise.all([loadReservations(), loadMoves()]);
}
