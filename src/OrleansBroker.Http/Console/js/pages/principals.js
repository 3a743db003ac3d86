import { get, put, post, del, seg } from '../api.js';
import { isAdministrator } from '../access.js';
import { h, time, notify, action, confirmAction } from '../ui.js';

const permissionText = (p) => `${p.tenant || '(default)'}: manage ${p.manage || '–'}, send ${p.send || '–'}, receive ${p.receive || '–'}`;

/** Users and API keys with their permissions; administrators only (the API refuses everyone else). */
export async function principalsPage(main) {
  main.append(h('h1', {}, 'Users and API keys'));
  if (!isAdministrator()) {
    main.append(h('p', { class: 'notice' }, 'Only administrators manage users and keys.'));
    return;
  }
  const body = h('tbody');
  const shownKey = h('div', { id: 'new-key', 'aria-live': 'polite' });
  main.append(principalForm(load, shownKey), shownKey,
    h('table', { 'aria-label': 'Users and API keys', id: 'principals' },
      h('thead', {}, h('tr', {}, ['Name', 'Kind', 'Home tenant', 'Permissions', 'Created', ''].map(t => h('th', {}, t)))), body));

  async function load() {
    const principals = await get('principals');
    body.replaceChildren(...principals.map(p => h('tr', { 'data-principal': p.name },
      h('td', {}, p.name), h('td', {}, p.kind), h('td', {}, p.access.tenant || '(default)'),
      h('td', {}, p.access.administrator ? h('strong', {}, 'administrator') : null,
        (p.access.permissions ?? []).map(permission => h('div', {}, permissionText(permission)))),
      h('td', {}, time(p.createdAt)),
      h('td', {}, action(p.kind === 'api-key' ? 'Revoke' : 'Delete', async () => {
        if (!await confirmAction(`${p.kind === 'api-key' ? 'Revoke API key' : 'Delete user'} ${p.name}? It can no longer sign in.`, 'Yes')) return;
        await del(`principals/${seg(p.name)}`);
        notify(`${p.name} is gone.`);
        await load();
      }, { class: 'danger', 'aria-label': `Delete ${p.name}` })))));
  }

  await load();
}

/** Makes a user (with a password) or an API key (shown once), or sets the permissions of an existing one. */
function principalForm(reload, shownKey) {
  const field = (label, input) => h('label', { class: 'field' }, label, input);
  const kind = h('select', { id: 'principal-kind' }, h('option', { value: 'user' }, 'User'), h('option', { value: 'key' }, 'API key'), h('option', { value: 'access' }, 'Change permissions of'));
  const name = h('input', { id: 'principal-name', required: true });
  const password = h('input', { id: 'principal-password', type: 'password', autocomplete: 'new-password', minlength: 8 });
  const tenant = h('input', { id: 'principal-tenant', placeholder: '(default)' });
  const manage = h('input', { id: 'principal-manage', placeholder: 'e.g. orders.* (empty: none)' });
  const send = h('input', { id: 'principal-send', placeholder: '*' });
  const receive = h('input', { id: 'principal-receive', placeholder: '*' });
  const administrator = h('input', { id: 'principal-administrator', type: 'checkbox' });
  const passwordField = field('Password (8 characters or more)', password);
  kind.addEventListener('change', () => { passwordField.hidden = kind.value !== 'user'; password.required = kind.value === 'user'; });
  password.required = true;
  const form = h('form', { class: 'panel', 'aria-label': 'Add a user or key' },
    h('div', { class: 'row' }, field('What', kind), field('Name', name), passwordField),
    h('div', { class: 'row' }, field('Tenant', tenant), field('Manage', manage), field('Send', send), field('Receive', receive)),
    h('label', {}, administrator, ' Administrator (everything, every tenant)'),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary' }, 'Save')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const t = tenant.value.trim();
    const access = {
      tenant: t, administrator: administrator.checked,
      permissions: manage.value || send.value || receive.value ? [{ tenant: t, manage: manage.value.trim(), send: send.value.trim(), receive: receive.value.trim() }] : [],
    };
    try {
      if (kind.value === 'user') {
        await put(`users/${seg(name.value.trim())}`, { password: password.value, access });
        notify(`User ${name.value.trim()} created.`);
      } else if (kind.value === 'key') {
        const created = await post(`keys/${seg(name.value.trim())}`, { access });
        shownKey.replaceChildren(h('p', {}, 'The new key, shown this once: copy it now.'), h('div', { class: 'key' }, created.key));
      } else {
        await put(`principals/${seg(name.value.trim())}/access`, access);
        notify(`Permissions of ${name.value.trim()} changed.`);
      }
      form.reset();
      await reload();
    } catch (error) {
      notify(error.message, 'error');
    }
  });
  return h('details', {}, h('summary', {}, 'Add a user or key, or change permissions'), form);
}
