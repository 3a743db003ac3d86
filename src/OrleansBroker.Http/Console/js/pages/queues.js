import { get, post, put, del, api, seg, session, ApiError } from '../api.js';
import { allows, managesSome } from '../access.js';
import { h, number, rate, bytes, time, tile, notify, action, confirmAction } from '../ui.js';
import { RateChart } from '../chart.js';
import { messageList } from './messages.js';

const columns = [
  ['name', 'Name', false],
  ['ready', 'Ready', true],
  ['inFlight', 'In flight', true],
  ['delayed', 'Scheduled', true],
  ['consumers', 'Consumers', true],
  [null, 'Publish', true],
  [null, 'Deliver', true],
  [null, 'Ack', true],
  [null, 'Dead letters', true],
  ['partitions', 'Partitions', true],
];

// The list's state is kept while the console is open, so coming back from a queue shows the same page.
const view = { page: 1, pageSize: 50, name: '', sort: 'name', reverse: false };

/** A sortable, filterable, paged table of the tenant's queues: the server pages, so 10,000 queues cost one page. */
export async function queuesPage(main, _, page) {
  const body = h('tbody');
  const pager = h('span', { class: 'muted', id: 'queues-pager' });
  const filter = h('input', { type: 'search', id: 'queue-filter', placeholder: 'Filter by name', value: view.name, 'aria-label': 'Filter queues by name' });
  const size = h('select', { 'aria-label': 'Rows per page' }, [25, 50, 100, 200].map(n => h('option', { value: n, selected: n === view.pageSize }, `${n} rows`)));
  const previous = h('button', { type: 'button', 'aria-label': 'Previous page' }, '‹ Previous');
  const next = h('button', { type: 'button', 'aria-label': 'Next page' }, 'Next ›');
  const header = h('tr', {}, columns.map(([key, label, numeric]) => h('th', {
    class: numeric ? 'num' : null, scope: 'col', 'aria-sort': key && view.sort === key ? (view.reverse ? 'descending' : 'ascending') : null,
  }, key ? h('button', { class: 'sort', type: 'button', onclick: () => sortBy(key) }, label) : label)));
  main.append(
    h('h1', {}, 'Queues', h('small', { id: 'queues-count' })),
    managesSome(session.tenant) ? createForm() : null,
    h('div', { class: 'toolbar' }, filter, h('span', { class: 'grow' }), size, previous, pager, next),
    h('table', { 'aria-label': 'Queues', id: 'queues' }, h('thead', {}, header), body));

  let debounce;
  filter.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { view.name = filter.value.trim(); view.page = 1; refresh(); }, 250);
  });
  size.addEventListener('change', () => { view.pageSize = Number(size.value); view.page = 1; refresh(); });
  previous.addEventListener('click', () => { view.page--; refresh(); });
  next.addEventListener('click', () => { view.page++; refresh(); });

  function sortBy(key) {
    view.reverse = view.sort === key ? !view.reverse : key !== 'name';
    view.sort = key;
    header.querySelectorAll('th').forEach((th, i) => {
      const column = columns[i][0];
      if (column === key) th.setAttribute('aria-sort', view.reverse ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    });
    view.page = 1;
    refresh();
  }

  let reading = 0;
  async function refresh() {
    const mine = ++reading;
    const query = new URLSearchParams({ page: view.page, pageSize: view.pageSize, sort: view.sort, sortReverse: view.reverse });
    if (view.name) query.set('name', view.name);
    const list = await get(`queues?${query}`);
    if (mine !== reading || page.left) return;
    if (list.page > list.pageCount && list.filteredCount > 0) { view.page = list.pageCount; return refresh(); }
    body.replaceChildren(...list.items.map(row));
    if (list.items.length === 0) body.append(h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, view.name ? 'No queue matches.' : 'No queues yet.')));
    document.getElementById('queues-count').textContent = `${number(list.filteredCount)} of ${number(list.totalCount)}`;
    pager.textContent = `page ${list.page} of ${list.pageCount}`;
    previous.disabled = list.page <= 1;
    next.disabled = list.page >= list.pageCount;
    performance.mark('obroker:queues-painted');
  }

  await page.poll(refresh, 5000);
}

function row(q) {
  const link = h('a', { href: `#/queues/${seg(q.name)}` }, q.name);
  const deadLetters = q.options.deadLetterQueue === '' ? '–' : number(q.deadLetterDepth ?? 0);
  return h('tr', { 'data-queue': q.name },
    h('td', {}, link, q.publishesRefused ? h('span', { class: 'status error', title: q.publishesRefused }, ' publishes refused') : null,
      q.inMemory === false ? h('span', { class: 'status', title: 'Not in memory (nobody called it for a while): its figures as stored; listing does not load it' }, ' idle') : null),
    h('td', { class: 'num' }, number(q.ready)), h('td', { class: 'num' }, number(q.inFlight)), h('td', { class: 'num' }, number(q.delayed)),
    h('td', { class: 'num' }, number(q.consumers)),
    h('td', { class: 'num' }, rate(q.rates?.published)), h('td', { class: 'num' }, rate(q.rates?.delivered)), h('td', { class: 'num' }, rate(q.rates?.acked)),
    h('td', { class: 'num' }, deadLetters), h('td', { class: 'num' }, number(Math.max(1, q.partitions?.length ?? 0))));
}

function createForm() {
  const name = h('input', { id: 'new-queue-name', required: true, pattern: '[^@]+' });
  const options = h('textarea', { id: 'new-queue-options', rows: 3, placeholder: '{} for the defaults, e.g. {"partitions": 4, "maxDeliveryAttempts": 5}' });
  const form = h('form', { class: 'panel', 'aria-label': 'Create a queue' },
    h('div', { class: 'row' },
      h('label', { class: 'field' }, 'New queue name', name),
      h('label', { class: 'field' }, 'Options (JSON)', options)),
    h('button', { type: 'submit', class: 'primary' }, 'Create queue'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const body = options.value.trim() ? JSON.parse(options.value) : {};
      const created = await put(`queues/${seg(name.value.trim())}`, body);
      location.hash = `#/queues/${seg(created.name)}`;
    } catch (error) {
      notify(error instanceof SyntaxError ? `Options are not JSON: ${error.message}` : error.message, 'error');
    }
  });
  return h('details', {}, h('summary', {}, 'Create a queue'), form);
}

/** A queue: figures, live rates, options, partitions, its messages (peek), a test publish, purge and delete. */
export async function queuePage(main, [name], page) {
  const tenant = session.tenant;
  const may = (operation) => allows(tenant, operation, name);
  main.append(h('h1', {}, 'Queue ', h('span', { id: 'queue-name' }, name)));
  let info;
  try {
    info = await get(`queues/${seg(name)}`);
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 403 && error.status !== 404)) throw error;
    main.append(h('p', { class: 'notice' }, error.status === 404 ? `There is no queue ${name}.` : `You may not manage queue ${name}: its figures and messages are not shown.`));
    if (error.status === 403 && may('send')) main.append(publishForm(name));
    return;
  }

  const deadLetterQueue = info.options.deadLetterQueue === '' ? null : info.options.deadLetterQueue ?? `${name}.dlq`;
  const tiles = h('div', { class: 'tiles', id: 'queue-figures' });
  const chartBox = h('div', { class: 'chart' });
  const partitions = h('div');
  main.querySelector('h1').append(
    h('small', {}, `created ${time(info.createdAt)}`),
    h('span', { class: 'toolbar' },
      deadLetterQueue ? h('a', { class: 'button', href: `#/dead-letters/${seg(deadLetterQueue)}`, id: 'dead-letters-link' }, 'Dead letters') : null,
      may('manage') ? action('Purge', () => purge(name), { id: 'purge', class: 'danger' }) : null,
      may('manage') ? action('Delete', () => remove(name), { id: 'delete', class: 'danger' }) : null));
  main.append(tiles, h('section', { class: 'panel', 'aria-label': 'Message rates' }, chartBox), partitions,
    h('h2', {}, 'Options'), h('section', { class: 'panel' }, options(info.options)));
  if (may('send')) main.append(publishForm(name, () => list.reload()));
  const list = messageList(name, { deadLetters: false });
  main.append(h('h2', {}, 'Messages'), list.element);

  const chart = new RateChart(chartBox, 'Messages per second', `queue:${tenant}:${name}`);
  page.onLeave(() => chart.destroy());
  const show = (q) => {
    tiles.replaceChildren(
      tile('Ready', number(q.ready), 'ready'), tile('In flight', number(q.inFlight), 'in-flight'), tile('Scheduled or retrying', number(q.delayed), 'delayed'),
      tile('Consumers', number(q.consumers), 'consumers'), tile('Stored', bytes(q.bytes), 'bytes'),
      tile('Published', number(q.counters.published), 'published'), tile('Delivered', number(q.counters.delivered), 'delivered'),
      tile('Redelivered', number(q.counters.redelivered), 'redelivered'), tile('Acked', number(q.counters.acked), 'acked'),
      tile('Dead-lettered', number(q.counters.deadLettered), 'dead-lettered'), tile('Expired', number(q.counters.expired), 'expired'));
    if (q.publishesRefused) tiles.prepend(h('p', { class: 'notice error' }, `Publishes refused: ${q.publishesRefused}`));
    if (q.options.push) tiles.prepend(pushNotice(q));
    chart.add(q.counters);
    partitions.replaceChildren(...(q.partitions?.length ? [h('h2', {}, 'Partitions'), h('table', { 'aria-label': 'Partitions' },
      h('thead', {}, h('tr', {}, ['Partition', 'Ready', 'In flight', 'Consumers', 'Silo'].map((t, i) => h('th', { class: i && i < 4 ? 'num' : null }, t)))),
      h('tbody', {}, q.partitions.map(p => h('tr', {}, h('td', {}, p.name, p.held ? ' (held)' : ''), h('td', { class: 'num' }, number(p.ready)),
        h('td', { class: 'num' }, number(p.inFlight)), h('td', { class: 'num' }, number(p.consumers)), h('td', {}, p.silo)))))] : []));
  };
  show(info);
  list.reload();
  await page.poll(async () => show(await get(`queues/${seg(name)}`)), 5000);
}

// What the queue's push delivery is doing: its state, concurrency and counts, and the last failure.
function pushNotice(q) {
  const p = q.push;
  const text = p
    ? `Pushing to ${q.options.push.url}: ${p.state}, ${number(p.concurrency)} at once, ${number(p.pushed)} pushed, ${number(p.failed)} failed` +
      (p.lastError ? `; last failure ${p.lastError} at ${time(p.lastErrorAt)}` : '')
    : `Pushes to ${q.options.push.url}: not running on any silo now (the queue is not active)`;
  return h('p', { class: p?.state === 'active' ? 'notice' : 'notice error', id: 'push-state' }, text);
}

function options(o) {
  return h('dl', { class: 'pairs', id: 'queue-options' }, Object.entries(o).flatMap(([key, value]) =>
    [h('dt', {}, key), h('dd', {}, typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value))]));
}

async function purge(name) {
  if (!await confirmAction(`Purge queue ${name}? Every ready message in it is removed; this cannot be undone.`, 'Purge')) return;
  const result = await post(`queues/${seg(name)}/purge`);
  notify(`Purged ${number(result.purged)} messages from ${name}.`);
}

async function remove(name) {
  if (!await confirmAction(`Delete queue ${name} and every message in it? This cannot be undone.`, 'Delete')) return;
  await del(`queues/${seg(name)}`);
  notify(`Deleted queue ${name}.`);
  location.hash = '#/queues';
}

function publishForm(name, published) {
  const body = h('textarea', { id: 'publish-body', rows: 4, required: true });
  const type = h('input', { id: 'publish-content-type', value: 'application/json' });
  const id = h('input', { id: 'publish-message-id', placeholder: 'generated when empty' });
  const form = h('form', { class: 'panel', 'aria-label': 'Publish a test message' },
    h('label', { class: 'field' }, 'Body', body),
    h('div', { class: 'row' }, h('label', { class: 'field' }, 'Content type', type), h('label', { class: 'field' }, 'Message id', id)),
    h('button', { type: 'submit', class: 'primary', id: 'publish' }, 'Publish'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const receipt = await api('POST', `queues/${seg(name)}/messages`, {
        raw: body.value, contentType: type.value || 'text/plain', headers: id.value ? { 'Broker-Message-Id': id.value } : {},
      });
      notify(`Published message ${receipt.messageId} (sequence ${receipt.sequence}).`);
      published?.();
    } catch (error) {
      notify(error.message, 'error');
    }
  });
  return h('details', {}, h('summary', {}, 'Publish a test message'), form);
}
