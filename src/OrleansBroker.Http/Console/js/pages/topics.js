import { get, put, del, seg, session, ApiError } from '../api.js';
import { allows, managesSome } from '../access.js';
import { h, number, time, notify, action, confirmAction } from '../ui.js';

/** The tenant's topics with their subscriptions and counters. */
export async function topicsPage(main, _, page) {
  const body = h('tbody');
  main.append(h('h1', {}, 'Topics'), managesSome(session.tenant) ? createTopicForm() : null,
    h('table', { 'aria-label': 'Topics', id: 'topics' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', { class: 'num' }, 'Subscriptions'), h('th', { class: 'num' }, 'Published'),
        h('th', { class: 'num' }, 'Unrouted'), h('th', {}, 'Created'))), body));
  await page.poll(async () => {
    const names = await get('topics');
    const infos = await Promise.all(names.map(name => get(`topics/${seg(name)}`).catch(() => null)));
    body.replaceChildren(...infos.filter(Boolean).map(t => h('tr', { 'data-topic': t.name },
      h('td', {}, h('a', { href: `#/topics/${seg(t.name)}` }, t.name)), h('td', { class: 'num' }, number(t.subscriptions.length)),
      h('td', { class: 'num' }, number(t.published)), h('td', { class: 'num' }, number(t.unrouted)), h('td', {}, time(t.createdAt)))));
    if (!names.length) body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No topics yet.')));
  }, 10000);
}

function createTopicForm() {
  const name = h('input', { id: 'new-topic-name', required: true });
  const form = h('form', { class: 'panel', 'aria-label': 'Create a topic' }, h('label', { class: 'field' }, 'New topic name', name),
    h('button', { type: 'submit', class: 'primary' }, 'Create topic'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const topic = await put(`topics/${seg(name.value.trim())}`, {});
      location.hash = `#/topics/${seg(topic.name)}`;
    } catch (error) { notify(error.message, 'error'); }
  });
  return h('details', {}, h('summary', {}, 'Create a topic'), form);
}

/** What a filter lets through, in words: routing key patterns and header conditions. */
export function describeFilter(filter) {
  const parts = [];
  if (filter?.routingKeys?.length) parts.push(`routing key ${filter.routingKeys.join(' or ')}`);
  for (const p of filter?.headers ?? []) {
    const what = {
      'one-of': `is ${(p.values ?? []).join(' or ')}`, prefix: `starts with ${(p.values ?? []).join(' or ')}`, exists: 'is present', 'not-exists': 'is absent',
    }[p.match] ?? (p.min !== undefined || p.max !== undefined ? `is between ${p.min ?? '-∞'} and ${p.max ?? '∞'}` : p.match);
    parts.push(`header ${p.header} ${what}`);
  }
  return parts.length ? parts.join(', and ') : 'everything';
}

const describeTransform = (t) => t ? `${t.name}${t.settings ? ` (${Object.entries(t.settings).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}` : 'none';

/** A topic: its subscriptions (filter, transform, depth) with create and remove. */
export async function topicPage(main, [name], page) {
  const may = allows(session.tenant, 'manage', name);
  const body = h('tbody');
  const figures = h('p', { class: 'muted' });
  main.append(h('h1', {}, 'Topic ', h('span', {}, name),
    may ? action('Delete topic', () => removeTopic(name), { class: 'danger', id: 'delete-topic' }) : null), figures,
    h('h2', {}, 'Subscriptions'),
    h('table', { 'aria-label': 'Subscriptions', id: 'subscriptions' },
      h('thead', {}, h('tr', {}, ['Subscription', 'Receives', 'Transform', 'Ready', 'In flight', ''].map((t, i) => h('th', { class: i === 3 || i === 4 ? 'num' : null }, t)))),
      body),
    may ? subscribeForm(name, () => refresh()) : null);

  async function refresh() {
    const topic = await get(`topics/${seg(name)}`);
    figures.textContent = `${number(topic.published)} published, ${number(topic.unrouted)} matched no subscription; created ${time(topic.createdAt)}.`;
    const depths = await Promise.all(topic.subscriptions.map(s => get(`queues/${seg(`${name}/${s.name}`)}`).catch(() => null)));
    if (page.left) return;
    body.replaceChildren(...topic.subscriptions.map((s, i) => h('tr', { 'data-subscription': s.name },
      h('td', {}, h('a', { href: `#/queues/${seg(`${name}/${s.name}`)}` }, s.name)),
      h('td', {}, describeFilter(s.filter)), h('td', {}, describeTransform(s.transform)),
      h('td', { class: 'num' }, number(depths[i]?.ready)), h('td', { class: 'num' }, number(depths[i]?.inFlight)),
      h('td', {}, may ? action('Remove', () => unsubscribe(name, s.name, refresh), { class: 'danger', 'aria-label': `Remove subscription ${s.name}` }) : null))));
    if (!topic.subscriptions.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No subscriptions: published messages are counted as unrouted.')));
  }

  try {
    await page.poll(refresh, 5000);
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) main.append(h('p', { class: 'notice' }, `You may not manage topic ${name}.`));
    else throw error;
  }
}

async function unsubscribe(topic, subscription, done) {
  if (!await confirmAction(`Remove subscription ${subscription} of ${topic}, with the messages waiting in it?`, 'Remove')) return;
  await del(`topics/${seg(topic)}/subscriptions/${seg(subscription)}`);
  notify(`Removed subscription ${subscription}.`);
  await done();
}

async function removeTopic(topic) {
  if (!await confirmAction(`Delete topic ${topic} and its subscriptions?`, 'Delete')) return;
  await del(`topics/${seg(topic)}`);
  location.hash = '#/topics';
}

function subscribeForm(topic, done) {
  const name = h('input', { id: 'new-subscription-name', required: true });
  const keys = h('input', { id: 'new-subscription-keys', placeholder: 'orders.* or orders.# (empty for everything)' });
  const more = h('textarea', { id: 'new-subscription-json', rows: 3, placeholder: 'Optional: {"queue": {...}, "transform": {...}, "filter": {"headers": [...]}}' });
  const form = h('form', { class: 'panel', 'aria-label': 'Add a subscription' },
    h('div', { class: 'row' }, h('label', { class: 'field' }, 'Subscription name', name), h('label', { class: 'field' }, 'Routing key patterns (comma separated)', keys)),
    h('label', { class: 'field' }, 'More (JSON)', more),
    h('button', { type: 'submit', class: 'primary' }, 'Add subscription'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const request = more.value.trim() ? JSON.parse(more.value) : {};
      const routingKeys = keys.value.split(',').map(k => k.trim()).filter(Boolean);
      if (routingKeys.length) request.filter = { ...(request.filter ?? {}), routingKeys };
      await put(`topics/${seg(topic)}/subscriptions/${seg(name.value.trim())}`, request);
      notify(`Added subscription ${name.value.trim()}.`);
      form.reset();
      await done();
    } catch (error) {
      notify(error instanceof SyntaxError ? `Not JSON: ${error.message}` : error.message, 'error');
    }
  });
  return h('details', {}, h('summary', {}, 'Add a subscription'), form);
}
