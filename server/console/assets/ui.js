// DOM helpers. Text from the server is only ever inserted as text (text nodes and
// textContent), never parsed as HTML, so a hostname like <img onerror=...> stays a string.

export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') {
      node.className = value;
    } else if (name === 'text') {
      node.textContent = value;
    } else if (name === 'value') {
      node.value = value;
    } else if (value === true) {
      node.setAttribute(name, '');
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

const svgNs = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let nextId = 0;
export function uid(prefix) { nextId += 1; return `${prefix}-${nextId}`; }

// A labelled control: field('Virtual account', h('input', {...})).
export function field(label, control, extraClass) {
  if (!control.id) control.id = uid('f');
  if (control.type === 'checkbox') {
    return h('div', { class: 'field check' }, control, h('label', { for: control.id }, label));
  }
  return h('div', { class: `field ${extraClass || ''}` }, h('label', { for: control.id }, label), control);
}

export function alertBox(kind, message) {
  return h('div', { class: `alert ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
}

export function errorBox(err) {
  return alertBox('error', err && err.message ? err.message : String(err));
}

// A place on the page that shows one outcome at a time (error or success).
export function messageArea() {
  const area = h('div', { 'aria-live': 'polite' });
  area.error = (err) => { clear(area).append(errorBox(err)); };
  area.ok = (...text) => { clear(area).append(alertBox('ok', text.join(''))); };
  area.warn = (...text) => { clear(area).append(alertBox('warn', text.join(''))); };
  area.clear = () => clear(area);
  return area;
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind || text}` }, text);
}

// An audit record's details: JSON lines carry them as an object, other answers as text.
export function detailsText(details) {
  if (details === undefined || details === null) return '';
  return typeof details === 'string' ? details : JSON.stringify(details);
}

export function num(value) {
  if (value === undefined || value === null || value === '') return 0;
  return Number(value);
}

// A time as the server gave it: RFC 3339 text as is, unix seconds (an int64 string) as UTC.
export function when(value) {
  if (value === undefined || value === null || value === '') return '';
  if (/^-?\d+$/.test(String(value))) {
    const seconds = Number(value);
    return seconds === 0 ? '' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
  }
  return String(value);
}

export function plural(count, one, many) {
  return `${count} ${Number(count) === 1 ? one : many || `${one}s`}`;
}

// A table. columns: [{label, value(row) -> text|Node, sort(row) -> comparable, num, mono}].
// options: {empty: text or Node when there are no rows, onRow(row, tr), caption, rowClass(row)}.
export function table(columns, rows, options = {}) {
  if (!rows || rows.length === 0) {
    return h('div', { class: 'empty' }, options.empty || 'Nothing here yet.');
  }
  let sortColumn = options.sortColumn ?? -1;
  let ascending = true;
  const tbody = h('tbody');
  const headRow = h('tr');
  const wrapper = h('table', {}, options.caption ? h('caption', { class: 'sr-only' }, options.caption) : null,
    h('thead', {}, headRow), tbody);
  const render = () => {
    clear(tbody);
    let shown = rows;
    if (sortColumn >= 0) {
      const key = columns[sortColumn].sort || columns[sortColumn].value;
      shown = [...rows].sort((a, b) => {
        const x = key(a);
        const y = key(b);
        const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return ascending ? cmp : -cmp;
      });
    }
    for (const row of shown) {
      const tr = h('tr', { class: options.rowClass ? options.rowClass(row) : undefined });
      for (const column of columns) {
        const value = column.value(row);
        tr.append(h('td', { class: [column.num && 'num', column.mono && 'mono', column.cls].filter(Boolean).join(' ') || undefined }, value));
      }
      if (options.onRow) {
        tr.classList.add('clickable');
        tr.tabIndex = 0;
        tr.addEventListener('click', () => options.onRow(row, tr));
        tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); options.onRow(row, tr); } });
      }
      tbody.append(tr);
    }
  };
  columns.forEach((column, index) => {
    const th = h('th', { scope: 'col', class: column.num ? 'num' : undefined });
    if (column.sortable === false) {
      th.textContent = column.label;
    } else {
      const button = h('button', { type: 'button', class: 'sort' }, column.label);
      button.addEventListener('click', () => {
        ascending = sortColumn === index ? !ascending : true;
        sortColumn = index;
        for (const other of headRow.querySelectorAll('th')) other.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        render();
      });
      th.append(button);
    }
    headRow.append(th);
  });
  render();
  return wrapper;
}

// CSV as RFC 4180; cells that a spreadsheet would run as a formula get a leading quote.
export function toCsv(columns, rows) {
  const cell = (value) => {
    let text = value === undefined || value === null ? '' : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [columns.map((c) => cell(c.label)).join(',')];
  for (const row of rows) lines.push(columns.map((c) => cell(c.csv ? c.csv(row) : c.value(row))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function download(filename, content, type) {
  const blob = content instanceof Blob ? content : new Blob([content], { type: type || 'text/plain' });
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, class: 'hidden' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Copies text; falls back to selecting it when the clipboard API is refused.
export async function copyText(text, selectNode) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (selectNode) {
      const range = document.createRange();
      range.selectNodeContents(selectNode);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    return false;
  }
}

// A secret shown once, with a copy button.
export function secretBox(label, secret) {
  const code = h('code', { class: 'mono', 'data-secret': '' }, secret);
  const status = h('span', { 'aria-live': 'polite', class: 'muted' });
  const button = h('button', { type: 'button', class: 'secondary' }, 'Copy');
  button.addEventListener('click', async () => {
    const copied = await copyText(secret, code);
    status.textContent = copied ? 'Copied' : 'Selected: press Ctrl+C to copy';
  });
  return h('div', {}, h('p', {}, h('strong', {}, label), ' It is shown only this once: copy it now.'),
    h('div', { class: 'secret' }, code, button, status));
}

export function card(label, value, small) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label),
    h('div', { class: `value ${small ? 'small' : ''}` }, value));
}

export function kv(pairs) {
  const list = h('dl', { class: 'kv' });
  for (const [key, value] of pairs) list.append(h('dt', {}, key), h('dd', {}, value ?? ''));
  return list;
}

// A button that asks once more in place (no modal dialog): the first press arms it, the
// second within 10 s runs the action.
export function confirmButton(label, confirmLabel, action, extraClass) {
  const button = h('button', { type: 'button', class: extraClass || 'secondary' }, label);
  let armed = false;
  let timer;
  button.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      timer = setTimeout(() => { armed = false; button.textContent = label; }, 10000);
      return;
    }
    clearTimeout(timer);
    armed = false;
    button.textContent = label;
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  });
  return button;
}

export function section(title, ...children) {
  return h('section', {}, h('h2', {}, title), ...children);
}
