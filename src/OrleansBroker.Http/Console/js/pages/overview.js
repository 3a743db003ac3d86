import { get, session } from '../api.js';
import { h, number, bytes, tile } from '../ui.js';
import { RateChart } from '../chart.js';

/** The tenant at a glance: figures, live rates, the silos and how many of the tenant's queues each hosts. */
export async function overviewPage(main, _, page) {
  const tiles = h('div', { class: 'tiles', id: 'overview-figures' });
  const chartBox = h('div', { class: 'chart' });
  const silos = h('tbody');
  main.append(
    h('h1', {}, 'Overview', h('small', {}, `tenant ${session.tenant || '(default)'}`)),
    tiles,
    h('section', { class: 'panel', 'aria-label': 'Message rates' }, chartBox),
    h('h2', {}, 'Silos'),
    h('table', { 'aria-label': 'Silos' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Silo'), h('th', {}, 'Address'), h('th', {}, 'Status'), h('th', { class: 'num' }, 'Queue partitions active'))),
      silos));
  const chart = new RateChart(chartBox, 'Messages per second', `overview:${session.tenant}`);
  page.onLeave(() => chart.destroy());
  await page.poll(async () => {
    const [overview, cluster] = await Promise.all([get('overview'), get('cluster')]);
    const m = overview.messages, c = overview.counters;
    tiles.replaceChildren(
      tile('Queues', number(overview.queues), 'queues'), tile('Topics', number(overview.topics), 'topics'),
      tile('Ready', number(m.ready), 'ready'), tile('In flight', number(m.inFlight), 'in-flight'),
      tile('Scheduled or retrying', number(m.delayed), 'delayed'), tile('Stored', bytes(m.bytes), 'bytes'),
      tile('Published', number(c.published), 'published'), tile('Acked', number(c.acked), 'acked'),
      tile('Dead-lettered', number(c.deadLettered), 'dead-lettered'));
    chart.add(c);
    silos.replaceChildren(...cluster.silos.map(s => h('tr', {},
      h('td', {}, s.name), h('td', {}, s.address), h('td', {}, h('span', { class: `status ${s.status}` }, s.status)),
      h('td', { class: 'num' }, h('a', { href: '#/cluster' }, number(s.partitions.length))))));
  });
}
