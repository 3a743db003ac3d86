import { get, post, seg, session } from '../api.js';
import { allows } from '../access.js';
import { h, number, time, notify, action, confirmAction } from '../ui.js';
import { bodyView } from './messages.js';

const pageSize = 100;
const redriveStep = 500;

/**
 * A dead-letter queue: why each message failed, where from and when; redrive the selected ones or all of them (in steps,
 * with progress), or purge. Redriven messages go back to the queue each came from.
 */
export async function deadLettersPage(main, [queue], page) {
  const may = allows(session.tenant, 'manage', queue);
  const body = h('tbody');
  const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select every shown message' });
  const progress = h('div', { id: 'redrive-progress', hidden: true });
  const count = h('small', { id: 'dead-letter-count' });
  const selectedButton = action('Redrive selected', () => redriveSelected(), { id: 'redrive-selected', disabled: true });
  main.append(
    h('h1', {}, 'Dead letters ', h('span', {}, queue), count),
    may ? h('div', { class: 'toolbar' }, selectedButton, action('Redrive all', () => redriveAll(), { id: 'redrive-all' }),
      action('Purge', () => purge(), { id: 'purge-dead-letters', class: 'danger' }), progress, h('span', { class: 'grow' }),
      action('Refresh', () => load(), { id: 'dead-letters-refresh' })) : null,
    h('table', { 'aria-label': 'Dead letters', id: 'dead-letters' },
      h('thead', {}, h('tr', {}, h('th', {}, may ? selectAll : null), ...['Message', 'Reason', 'Attempts', 'Source queue', 'Dead-lettered', 'First enqueued', 'Body'].map(t => h('th', { class: t === 'Attempts' ? 'num' : null }, t)))),
      body));

  const selected = new Set();
  const updateSelection = () => { selectedButton.disabled = selected.size === 0; selectedButton.textContent = `Redrive selected (${selected.size})`; };
  selectAll.addEventListener('change', () => {
    body.querySelectorAll('input[type=checkbox]').forEach(box => { box.checked = selectAll.checked; box.dispatchEvent(new Event('change')); });
  });

  async function load() {
    const [info, messages] = await Promise.all([get(`queues/${seg(queue)}`), get(`queues/${seg(queue)}/messages?max=${pageSize}`)]);
    if (page.left) return;
    count.textContent = ` ${number(info.depth)} ${info.depth === 1 ? 'message' : 'messages'}`;
    selected.clear();
    selectAll.checked = false;
    body.replaceChildren(...messages.map(m => {
      const headers = m.headers ?? {};
      const box = h('input', { type: 'checkbox', 'aria-label': `Select ${m.messageId}` });
      box.addEventListener('change', () => { if (box.checked) selected.add(m.messageId); else selected.delete(m.messageId); updateSelection(); });
      const preview = bodyView(m, 'text');
      return h('tr', { 'data-message-id': m.messageId },
        h('td', {}, may ? box : null), h('td', {}, m.messageId), h('td', { class: 'reason' }, headers['x-broker-dlq-reason'] ?? '–'),
        h('td', { class: 'num' }, headers['x-broker-attempts'] ?? '–'), h('td', {}, headers['x-broker-source-queue'] ?? '–'),
        h('td', {}, time(m.enqueuedAt)), h('td', {}, time(headers['x-broker-enqueued-at'])),
        h('td', {}, h('code', {}, preview.length > 80 ? `${preview.slice(0, 80)}…` : preview)));
    }));
    if (!messages.length) body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No dead letters.')));
    if (info.depth > messages.length) body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, `Showing the oldest ${messages.length} of ${number(info.depth)}.`)));
    updateSelection();
  }

  async function redriveSelected() {
    const ids = [...selected];
    const result = await post(`queues/${seg(queue)}/redrive`, { messageIds: ids });
    notify(`Redrove ${number(result.moved)} ${result.moved === 1 ? 'message' : 'messages'}${result.skipped ? `; ${number(result.skipped)} have no source queue and stay` : ''}.`);
    await load();
  }

  async function redriveAll() {
    const total = (await get(`queues/${seg(queue)}`)).ready;
    const bar = h('progress', { max: Math.max(1, total), value: 0, 'aria-label': 'Redrive progress' });
    const label = h('span', {}, `0 of ${number(total)}`);
    let stop = false;
    const stopButton = h('button', { type: 'button', onclick: () => { stop = true; } }, 'Stop');
    progress.hidden = false;
    progress.replaceChildren(bar, label, stopButton);
    let moved = 0, skipped = 0;
    try {
      while (!stop && !page.left) {
        const step = await post(`queues/${seg(queue)}/redrive`, { max: redriveStep });
        moved += step.moved;
        skipped = Math.max(skipped, step.skipped);
        bar.value = Math.min(moved, bar.max);
        label.textContent = `${number(moved)} of ${number(total)}`;
        if (step.moved === 0) break;
      }
    } finally {
      progress.hidden = true;
    }
    notify(`Redrove ${number(moved)} messages${skipped ? `; ${number(skipped)} have no source queue and stay` : ''}${stop ? ' (stopped)' : ''}.`);
    await load();
  }

  async function purge() {
    if (!await confirmAction(`Purge every dead letter in ${queue}? This cannot be undone.`, 'Purge')) return;
    const result = await post(`queues/${seg(queue)}/purge`);
    notify(`Purged ${number(result.purged)} dead letters.`);
    await load();
  }

  await load();
}
