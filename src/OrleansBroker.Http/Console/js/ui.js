// Small DOM helpers: elements from data (never from HTML strings, so names and bodies cannot inject markup).

/** h('td', {class: 'num'}, 'text', child...) — attributes starting with "on" are listeners; null/false children are skipped. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'class') element.className = value;
    else if (key in element && typeof value !== 'string') element[key] = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

export const number = (n) => n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
export const rate = (n) => n === null || n === undefined ? '–' : `${Number(n).toLocaleString('en-US', { maximumFractionDigits: 1 })}/s`;
export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(n), unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toLocaleString('en-US', { maximumFractionDigits: unit ? 1 : 0 })} ${units[unit]}`;
}
export const time = (iso) => iso ? new Date(iso).toLocaleString() : '–';

/** A message for the user in the status region (read out by screen readers). */
export function notify(text, kind = 'info') {
  const region = document.getElementById('notice');
  region.replaceChildren(h('div', { class: `notice ${kind}` }, text));
  if (kind !== 'error') setTimeout(() => { if (region.textContent === text) region.replaceChildren(); }, 6000);
}

export const clearNotice = () => document.getElementById('notice').replaceChildren();

/** Asks before something that cannot be undone; resolves true when confirmed. */
export function confirmAction(text, label = 'Confirm') {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = label;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise(resolve => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}

/** A tile of the figures row. */
export const tile = (label, value, test) => h('div', { class: 'tile', 'data-figure': test },
  h('div', { class: 'value' }, value), h('div', { class: 'label' }, label));

/** A button that runs an async action, disabled while it runs, reporting errors in the status region. */
export function action(label, run, attributes = {}) {
  const button = h('button', { type: 'button', ...attributes }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try { await run(); } catch (error) { notify(error.message, 'error'); } finally { button.disabled = false; }
  });
  return button;
}

/** Pretty JSON if the text is JSON, else null. */
export function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return null; }
}

/** A hex dump (offset, 16 bytes a line, printable characters) of a base64 or UTF-8 body. */
export function hexDump(message) {
  const data = message.bodyBase64 !== undefined && message.bodyBase64 !== null
    ? Uint8Array.from(atob(message.bodyBase64), c => c.charCodeAt(0))
    : new TextEncoder().encode(message.body ?? '');
  const lines = [];
  for (let offset = 0; offset < Math.min(data.length, 4096); offset += 16) {
    const row = data.slice(offset, offset + 16);
    const hex = [...row].map(b => b.toString(16).padStart(2, '0')).join(' ').padEnd(47);
    const text = [...row].map(b => b >= 32 && b < 127 ? String.fromCharCode(b) : '.').join('');
    lines.push(`${offset.toString(16).padStart(6, '0')}  ${hex}  ${text}`);
  }
  if (data.length > 4096) lines.push(`… ${data.length - 4096} more bytes`);
  return lines.join('\n');
}
