// The console's shell: sign-in, the section links, the tenant choice and a hash router (#/queues/orders) whose pages
// stop their polling when left.
import { get, session, ApiError } from './api.js';
import { setPrincipal, getPrincipal, isAdministrator, tenants } from './access.js';
import { h, clearNotice, notify } from './ui.js';
import { overviewPage } from './pages/overview.js';
import { queuesPage, queuePage } from './pages/queues.js';
import { deadLettersPage } from './pages/deadletters.js';
import { topicsPage, topicPage } from './pages/topics.js';
import { clusterPage } from './pages/cluster.js';
import { principalsPage } from './pages/principals.js';

const routes = [
  [/^$/, overviewPage],
  [/^queues$/, queuesPage],
  [/^queues\/([^/]+)$/, queuePage],
  [/^dead-letters\/([^/]+)$/, deadLettersPage],
  [/^topics$/, topicsPage],
  [/^topics\/([^/]+)$/, topicPage],
  [/^cluster$/, clusterPage],
  [/^principals$/, principalsPage],
];

const main = document.getElementById('main');
let current = null;

/** What a page gets: polling that stops when the page is left, and cleanups. */
class PageContext {
  constructor() { this.left = false; this.cleanups = []; }
  onLeave(cleanup) { this.cleanups.push(cleanup); }
  leave() { this.left = true; this.cleanups.forEach(c => c()); }
  /** Runs `read` now and then every `ms` after the previous run ends; errors shown, polling goes on. */
  async poll(read, ms = 5000) {
    let timer;
    const run = async () => {
      if (this.left) return;
      try { await read(); } catch (error) { if (!this.left) notify(error.message, 'error'); }
      if (!this.left) timer = setTimeout(run, ms);
    };
    this.onLeave(() => clearTimeout(timer));
    await run();
  }
}

async function route() {
  current?.leave();
  clearNotice();
  if (!session.authorization || !getPrincipal()) {
    if (!(await restore())) return showSignIn();
  }
  const path = location.hash.replace(/^#\/?/, '');
  const found = routes.map(([pattern, page]) => [path.match(pattern), page]).find(([match]) => match);
  document.querySelectorAll('#nav a').forEach(a => {
    const section = a.getAttribute('href').slice(2).split('/')[0];
    const here = path.split('/')[0].replace('dead-letters', 'queues');
    if (section === here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  const context = current = new PageContext();
  main.replaceChildren();
  if (!found) {
    main.append(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview')));
    return;
  }
  const [match, page] = found;
  try {
    await page(main, match.slice(1).map(decodeURIComponent), context);
  } catch (error) {
    if (!context.left) notify(error.message, 'error');
  }
}

/** Signs in again with the tab's stored credentials (a reload keeps the session). */
async function restore() {
  if (!session.authorization) return false;
  try {
    setPrincipal(await get('whoami'));
    showSession();
    return true;
  } catch {
    session.signOut();
    return false;
  }
}

function showSession() {
  const principal = getPrincipal();
  document.getElementById('nav').hidden = false;
  document.getElementById('session').hidden = false;
  document.querySelector('#nav [data-administrator]').hidden = !isAdministrator();
  document.getElementById('who').textContent = principal.name;
  const select = document.getElementById('tenant');
  const typed = document.getElementById('tenant-name');
  const known = tenants();
  if (sessionStorage.getItem('obroker.tenant') === null) session.tenant = principal.access.tenant ?? '';
  if (!known.includes(session.tenant)) known.push(session.tenant);
  // An administrator reaches every tenant: it types one, with the tenants its users and keys name as suggestions.
  select.hidden = isAdministrator();
  typed.hidden = !isAdministrator();
  select.replaceChildren(...known.map(t => h('option', { value: t }, t === '' ? '(default)' : t)));
  select.value = session.tenant;
  typed.value = session.tenant;
  if (isAdministrator()) {
    get('principals').then(all => {
      const names = new Set(known);
      for (const p of all) { names.add(p.access.tenant ?? ''); (p.access.permissions ?? []).forEach(q => names.add(q.tenant ?? '')); }
      document.getElementById('tenant-names').replaceChildren(...[...names].filter(Boolean).sort().map(t => h('option', { value: t })));
    }).catch(() => {});
  }
}

function showSignIn(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('session').hidden = true;
  const name = h('input', { id: 'sign-in-name', name: 'username', autocomplete: 'username' });
  const secret = h('input', { id: 'sign-in-secret', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'notice error', role: 'alert', hidden: !message }, message ?? '');
  const form = h('form', { class: 'panel login', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('label', { class: 'field', for: 'sign-in-name' }, 'User name (empty to sign in with an API key)'), name,
    h('label', { class: 'field', for: 'sign-in-secret' }, 'Password or API key'), secret,
    error,
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    session.signIn(name.value.trim(), secret.value);
    try {
      setPrincipal(await get('whoami'));
    } catch (failure) {
      session.signOut();
      error.hidden = false;
      error.textContent = failure instanceof ApiError && failure.status === 401 ? 'Wrong user name, password or key.' : failure.message;
      return;
    }
    showSession();
    route();
  });
  main.replaceChildren(form);
  name.focus();
}

document.getElementById('sign-out').addEventListener('click', () => {
  session.signOut();
  setPrincipal(null);
  current?.leave();
  showSignIn();
});
document.getElementById('tenant').addEventListener('change', (event) => { session.tenant = event.target.value; route(); });
document.getElementById('tenant-name').addEventListener('change', (event) => { session.tenant = event.target.value.trim(); route(); });
window.addEventListener('obroker:signed-out', () => { session.signOut(); setPrincipal(null); current?.leave(); showSignIn('Signed out: sign in again.'); });
window.addEventListener('hashchange', route);
route();
