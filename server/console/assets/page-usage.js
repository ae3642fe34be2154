// Usage: in use against purchased per tag over time (hourly samples), high-water, forecast.
import { get } from './api.js';
import { h, svg, field, clear, errorBox, kv, num, section, plural, when } from './ui.js';

const ranges = [['24h', '24 hours'], ['7d', '7 days'], ['30d', '30 days'], ['1y', '1 year']];

function seconds(at) {
  if (typeof at === 'number') return at;
  if (/^\d+$/.test(String(at))) return Number(at);
  return Date.parse(at) / 1000;
}

function label(unix) {
  return new Date(unix * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

// A hand-made SVG line chart: no library, nothing inline that the CSP would block.
export function chart(points, title) {
  const width = 760;
  const height = 280;
  const left = 50;
  const right = 16;
  const top = 14;
  const bottom = 34;
  const xs = points.map((p) => seconds(p.at));
  const max = Math.max(1, ...points.map((p) => Math.max(num(p.in_use), num(p.purchased))));
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const spanX = maxX - minX || 1;
  const x = (t) => left + ((t - minX) / spanX) * (width - left - right);
  const y = (v) => top + (1 - v / max) * (height - top - bottom);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title });
  root.append(svg('title', {}, title));
  for (let i = 0; i <= 4; i += 1) {
    const v = (max * i) / 4;
    root.append(svg('line', { class: 'grid', x1: left, x2: width - right, y1: y(v), y2: y(v) }),
      svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(Math.round(v))));
  }
  root.append(svg('line', { class: 'axis', x1: left, x2: width - right, y1: y(0), y2: y(0) }),
    svg('text', { x: left, y: height - 10 }, label(minX)),
    svg('text', { x: width - right, y: height - 10, 'text-anchor': 'end' }, label(maxX)));
  const path = (key) => points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(seconds(p.at)).toFixed(1)},${y(num(p[key])).toFixed(1)}`).join(' ');
  root.append(svg('path', { class: 'purchased', d: path('purchased') }), svg('path', { class: 'in-use', d: path('in_use') }));
  for (const p of points) {
    root.append(svg('circle', { class: 'point', cx: x(seconds(p.at)).toFixed(1), cy: y(num(p.in_use)).toFixed(1), r: 2.5 },
      svg('title', {}, `${label(seconds(p.at))}: ${num(p.in_use)} in use of ${num(p.purchased)}`)));
  }
  return root;
}

export async function render(main, { query }) {
  main.append(h('h1', {}, 'Usage'));
  const licenses = await get('/v1/admin/licenses');
  const pools = licenses.pools || [];
  if (pools.length === 0) {
    main.append(h('div', { class: 'empty' }, 'No licenses yet, so no usage. Import a sync response from central on the Sync page; samples are taken every hour.'));
    return;
  }
  const pick = h('select', { name: 'pool' });
  for (const p of pools) {
    const value = `${p.va}\u0000${p.tag}`;
    const option = h('option', { value }, `${p.va} · ${p.tag}`);
    if (query.get('va') === p.va && query.get('tag') === p.tag) option.selected = true;
    pick.append(option);
  }
  const range = h('select', { name: 'range' });
  for (const [value, text] of ranges) range.append(h('option', { value, selected: (query.get('range') || '7d') === value }, text));
  const holder = h('div', { 'aria-live': 'polite' });
  const draw = async () => {
    const [va, tag] = pick.value.split('\u0000');
    clear(holder).append(h('p', { class: 'muted' }, 'Loading…'));
    let data;
    try {
      data = await get('/v1/admin/usage', { va, tag, range: range.value });
    } catch (err) {
      clear(holder).append(errorBox(err));
      return;
    }
    clear(holder);
    const points = data.points || [];
    const forecast = data.forecast || {};
    const high = data.high_water || {};
    if (forecast.message) {
      const days = num(forecast.days_until_exhausted);
      holder.append(h('div', { class: `alert ${days >= 0 ? 'warn' : 'ok'}`, role: 'status', 'data-forecast': '' }, forecast.message));
    }
    if (points.length === 0) {
      holder.append(h('div', { class: 'empty' }, 'No samples in this range yet. The satellite samples usage every hour; choose a longer range or come back later.'));
    } else {
      holder.append(h('div', { class: 'chart' }, chart(points, `${tag} in ${va}: in use against purchased`),
        h('div', { class: 'legend' }, h('span', { class: 'swatch-in' }, 'in use'), h('span', { class: 'swatch-purchased' }, 'purchased'))));
    }
    holder.append(section('Figures', h('div', { class: 'panel' }, kv([
      ['High-water mark', `${num(high.in_use)}${high.at ? ` at ${when(high.at)}` : ''}`],
      ['Trend', `${Number(forecast.trend_per_day || 0).toFixed(2)} per day`],
      ['Runs out in', num(forecast.days_until_exhausted) >= 0 && forecast.days_until_exhausted !== undefined ? `about ${plural(num(forecast.days_until_exhausted), 'day')}` : 'not heading for exhaustion'],
      ['Samples', String(points.length)],
    ]))));
  };
  pick.addEventListener('change', draw);
  range.addEventListener('change', draw);
  main.append(h('div', { class: 'toolbar' }, field('License', pick), field('Range', range)), holder);
  await draw();
}
