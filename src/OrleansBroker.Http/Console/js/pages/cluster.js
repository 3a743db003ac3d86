import { get, seg } from '../api.js';
import { h, number } from '../ui.js';

/** The silos and, on each, the tenant's queue partitions active there now. */
export async function clusterPage(main, _, page) {
  const list = h('div', { id: 'cluster' });
  main.append(h('h1', {}, 'Cluster'),
    h('p', { class: 'muted' }, 'Queues are placed on silos when first used; an idle queue is deactivated and shows on no silo until its next call.'), list);
  await page.poll(async () => {
    const cluster = await get('cluster');
    list.replaceChildren(...cluster.silos.map(silo => {
      const byQueue = new Map();
      for (const p of silo.partitions) byQueue.set(p.queue, [...(byQueue.get(p.queue) ?? []), p.partition]);
      return h('section', { class: 'panel', 'data-silo': silo.address, 'aria-label': `Silo ${silo.name}` },
        h('h2', {}, silo.name, ' ', h('span', { class: `status ${silo.status}` }, silo.status), ' ', h('small', { class: 'muted' }, silo.address)),
        byQueue.size === 0 ? h('p', { class: 'muted' }, 'No queues active here.') : h('table', { 'aria-label': `Queues on ${silo.name}` },
          h('thead', {}, h('tr', {}, h('th', {}, 'Queue'), h('th', {}, 'Partitions here'))),
          h('tbody', {}, [...byQueue].map(([queue, partitions]) => h('tr', {},
            h('td', {}, h('a', { href: `#/queues/${seg(queue)}` }, queue)), h('td', {}, partitions.join(', '))))),
          h('caption', { class: 'muted' }, `${number(silo.partitions.length)} partitions on ${number(byQueue.size)} queues`)));
    }));
  }, 5000);
}
