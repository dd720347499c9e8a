// The API tokens panel of the Settings page: the operator's tokens for automation (a superuser
// sees everyone's), a form to mint one, shown once, and revocation.
import { del, get, optional, post } from '../lib/api.js';
import { modal, showOnce, toast } from '../lib/dialogs.js';
import { $, clear, h } from '../lib/dom.js';
import { field, input, select } from '../lib/forms.js';
import { fmtAgo, fmtTime } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { createButton, empty, panelHead, table } from '../lib/layout.js';
import { FormError } from '../lib/parse.js';
import { state } from '../lib/state.js';

export function apiTokensPanel(live) {
  const panel = h('div', { class: 'panel', testid: 'settings-apitokens', id: 'settings-apitokens' });

  async function load() {
    const d = await get('/api/user-token');
    if (!live()) return;
    clear(panel).append(panelHead('API tokens', 'For scripts and automation: send "Authorization: Token <token>". A token never has more access than you.',
      createButton('create-apitoken', 'Create API token', () => tokenForm(load))));
    const toks = d.results || [];
    if (!toks.length) {
      panel.append(empty('key', 'No API tokens', 'Create one for a script; revoke it when it is no longer needed.'));
      return;
    }
    const others = toks.some((t) => t.username !== (state.user && state.user.username));
    panel.append(table('table-apitoken', ['Description', 'ID', others ? 'User' : null, 'Scope', 'Created', 'Expires', 'Last used', ''].filter((x) => x !== null),
      toks.map((t) => h('tr', { 'data-id': t.id, 'data-name': t.description || t.id },
        h('td', null, t.description || h('span', { class: 'muted' }, 'no description')),
        h('td', { class: 'mono' }, t.id),
        others ? h('td', null, t.username || '') : null,
        h('td', null, scopeText(t)),
        h('td', { title: fmtTime(t.created) }, fmtAgo(t.created)),
        h('td', null, t.expired ? h('span', { class: 'pill red nodot' }, 'expired') : h('span', { title: fmtTime(t.expires) }, fmtTime(t.expires))),
        h('td', { title: fmtTime(t.last_used) }, fmtAgo(t.last_used)),
        h('td', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-ghost btn-sm danger', testid: 'revoke-apitoken', onclick: () => revoke(t, load) }, icon('ban', 'icon-sm'), 'Revoke'))))));
  }
  return { panel, load };
}

function scopeText(t) {
  if (t.read_only) return 'read-only';
  if (t.role_ref) return 'role ' + (t.role_name || t.role_ref);
  return 'full (as its user)';
}

// scopes are what a token may be limited to: the user's own access, read-only, or one of the
// roles the user holds (a superuser: any role). A token never gets more than its user anyway.
async function scopes() {
  const out = { full: 'Your access', read_only: 'Read-only' };
  const roles = await optional('/api/role').catch(() => null);
  const names = {};
  for (const r of (roles && roles.results) || []) names[r.uuid] = r.name;
  const held = new Set(((state.user && state.user.access) || []).map((a) => (a.role_ref || '').split('/').pop()));
  for (const id of Object.keys(names)) {
    if (state.user && (state.user.is_superuser || held.has(id))) out['role:' + id] = 'Limited to role ' + names[id];
  }
  return out;
}

async function tokenForm(after) {
  const body = h('div', null,
    field('Description', input('apitoken-description', { testid: 'apitoken-description', placeholder: 'e.g. CI deploy job' }), { field: 'description' }),
    h('div', { class: 'field-row' },
      field('Valid for (hours)', input('apitoken-hours', { type: 'number', min: 1, max: 8760, value: '24', testid: 'apitoken-hours' }), { field: 'hours', hint: '1 to 8760 (a year).' }),
      field('Scope', select('apitoken-scope', await scopes(), 'full', { testid: 'apitoken-scope' }), { field: 'role_ref' })));
  const m = modal({
    title: 'Create API token',
    saveLabel: 'Create',
    keepOpen: true,
    body,
    onSave: async (form) => {
      const hours = Number($('#apitoken-hours', form).value);
      if (!Number.isInteger(hours) || hours < 1 || hours > 8760) throw new FormError('hours', 'a whole number from 1 to 8760');
      const req = { hours, description: $('#apitoken-description', form).value.trim() };
      const scope = $('#apitoken-scope', form).value;
      if (scope === 'read_only') req.read_only = true;
      else if (scope.startsWith('role:')) req.role_ref = '/api/role/' + scope.slice(5);
      const t = await post('/api/user-token', req);
      showOnce(m, [{ id: 'apitoken-value', label: 'Token', value: t.token, rows: 2, copy: 'apitoken-copy',
        hint: 'Valid until ' + fmtTime(t.expires) + '. Send it as: Authorization: Token <token>' }]);
      after();
    },
  });
}

function revoke(t, after) {
  modal({
    title: 'Revoke API token',
    danger: true,
    saveLabel: 'Revoke',
    body: h('p', null, 'Revoke the token ', h('strong', null, t.description || t.id), '? Requests with it are refused from now on.'),
    onSave: async () => {
      await del('/api/user-token/' + encodeURIComponent(t.uuid));
      toast('API token revoked');
      after();
    },
  });
}
