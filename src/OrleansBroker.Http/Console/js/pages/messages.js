import { get, seg } from '../api.js';
import { h, number, time, prettyJson, hexDump, action } from '../ui.js';

const pageSize = 50;

/** A message's body as the chosen view shows it: text, JSON pretty-printed (else the text), or a hex dump. */
export function bodyView(message, view) {
  if (view === 'hex' || (message.body === undefined || message.body === null)) return hexDump(message);
  if (view === 'json') return prettyJson(message.body) ?? message.body;
  return message.body;
}

/** Peeks at a queue's messages, 50 at a time, in order; nothing is consumed. */
export function messageList(queue) {
  const items = h('div', { id: 'messages', 'aria-live': 'polite' });
  const format = h('select', { id: 'body-view', 'aria-label': 'Show bodies as' },
    h('option', { value: 'text' }, 'Bodies as text'), h('option', { value: 'json' }, 'Bodies as JSON'), h('option', { value: 'hex' }, 'Bodies in hex'));
  const more = action('Show more', () => load(false), { id: 'messages-more' });
  let after = 0;
  let shown = [];

  async function load(fromStart) {
    if (fromStart) { after = 0; shown = []; }
    const messages = await get(`queues/${seg(queue)}/messages?after=${after}&max=${pageSize}`);
    if (messages.length) after = messages[messages.length - 1].sequence;
    shown = shown.concat(messages);
    render();
    more.hidden = messages.length < pageSize;
  }

  function render() {
    items.replaceChildren(...shown.map(m => messageDetails(m, format.value)));
    if (!shown.length) items.append(h('p', { class: 'muted' }, 'No messages.'));
  }

  format.addEventListener('change', render);
  const element = h('section', { class: 'panel' },
    h('div', { class: 'toolbar' }, format, action('Refresh', () => load(true), { id: 'messages-refresh' })), items, more);
  return { element, reload: () => load(true) };
}

function messageDetails(m, view) {
  const headers = Object.entries(m.headers ?? {});
  return h('details', { class: 'message', 'data-message-id': m.messageId },
    h('summary', {},
      h('span', {}, `#${m.sequence}`), h('strong', {}, m.messageId), h('span', { class: `status ${m.state}` }, m.state),
      h('span', { class: 'muted' }, `${number(m.attempts)} attempts`), h('span', { class: 'muted' }, time(m.enqueuedAt))),
    h('dl', { class: 'pairs' },
      pair('Content type', m.contentType), pair('Routing key', m.routingKey), pair('Ordering key', m.orderingKey),
      pair('Priority', m.priority || null), pair('Not before', m.notBefore && time(m.notBefore)), pair('Expires', m.expiresAt && time(m.expiresAt)),
      pair('Lease expires', m.leaseExpiresAt && time(m.leaseExpiresAt)),
      headers.map(([k, v]) => pair(k, v))),
    h('pre', { class: 'body', 'aria-label': `Body of ${m.messageId}` }, bodyView(m, view)));
}

const pair = (label, value) => value === null || value === undefined || value === '' ? null : [h('dt', {}, label), h('dd', {}, String(value))];
