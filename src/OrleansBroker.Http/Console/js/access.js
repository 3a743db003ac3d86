// What the signed-in principal may do, from /api/whoami: the console shows only the buttons it may use.
// The API checks every call anyway; this only keeps the page honest. Same rules as the broker's AccessRules/NamePattern:
// '*' any run of characters, '|' between alternatives, an empty pattern allows nothing.

let principal = null;

export function setPrincipal(value) { principal = value; }
export function getPrincipal() { return principal; }
export const isAdministrator = () => !!principal?.access?.administrator;

/** The tenants the principal reaches: its own and those its permissions name. */
export function tenants() {
  const names = new Set([principal?.access?.tenant ?? '']);
  for (const p of principal?.access?.permissions ?? []) names.add(p.tenant ?? '');
  return [...names];
}

/** Whether the principal may manage some names in the tenant (so it sees the forms that create them). */
export function managesSome(tenant) {
  const access = principal?.access;
  return !!access && (access.administrator || (access.permissions ?? []).some(p => (p.tenant ?? '') === tenant && p.manage));
}

/** Whether the principal may `operation` ('manage' | 'send' | 'receive') the name in the tenant. */
export function allows(tenant, operation, name) {
  if (!principal) return false;
  if (principal.access.administrator) return true;
  const permission = (principal.access.permissions ?? []).find(p => (p.tenant ?? '') === tenant);
  if (!permission) return false;
  return matches(permission[operation] ?? '', name);
}

export function matches(pattern, name) {
  return pattern.split('|').some(one => one.length > 0 && glob(one, name));
}

function glob(pattern, name) {
  let p = 0, n = 0, star = -1, resume = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] === '*') { star = p++; resume = n; }
    else if (p < pattern.length && pattern[p] === name[n]) { p++; n++; }
    else if (star >= 0) { p = star + 1; n = ++resume; }
    else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
