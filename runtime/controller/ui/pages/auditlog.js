// The Audit log page: who changed what, when and from where, newest first, with filters and
// pages, from GET /api/auditlog. Secrets arrive masked; values are shown as text, never as HTML.
import { get } from '../lib/api.js';
import { clear, h } from '../lib/dom.js';
import { errorBox, field, input, onSubmit, select } from '../lib/forms.js';
import { fmtTime } from '../lib/format.js';
import { crumbs, empty, pageHead, table } from '../lib/layout.js';
import { FormError } from '../lib/parse.js';

const ACTIONS = {
  '': 'Any action', create: 'create', update: 'update', delete: 'delete', login: 'login', 'login-failed': 'login failed',
  logout: 'logout', import: 'import', export: 'export', token: 'token',
};
const PAGE_SIZE = 50;

export async function pageAuditLog(c, live) {
  crumbs('Audit log');
  const err = errorBox('audit-error');
  const user = input('audit-user', { testid: 'audit-user', placeholder: 'any user' });
  const kind = input('audit-kind', { testid: 'audit-kind', placeholder: 'any, e.g. pool' });
  const action = select('audit-action', ACTIONS, '', { testid: 'audit-action' });
  // Text, not datetime-local: the browser's picker draws its icon from a data: URL.
  const since = input('audit-since', { testid: 'audit-since', placeholder: 'e.g. 2026-03-01 12:00' });
  const until = input('audit-until', { testid: 'audit-until', placeholder: 'local time' });
  const apply = h('button', { type: 'submit', class: 'btn btn-primary', id: 'audit-apply', testid: 'audit-apply' }, 'Filter');
  const form = h('form', { id: 'audit-filters', testid: 'audit-filters', novalidate: true, class: 'panel-body' }, err,
    h('div', { class: 'field-row' },
      field('User', user, { field: 'user' }), field('Object type', kind, { field: 'kind' }), field('Action', action, { field: 'action' })),
    h('div', { class: 'field-row' }, field('Since', since, { field: 'since' }), field('Until', until, { field: 'until' })),
    h('div', { class: 'btn-row' }, apply));
  const results = h('div', { class: 'panel', testid: 'audit-results' });
  c.append(h('div', { id: 'page-auditlog', testid: 'page-auditlog' },
    pageHead('Audit log', 'Every change made through the API, every login, logout, export, import and token, newest first.'),
    h('div', { class: 'stack' }, h('div', { class: 'panel' }, form), results)));

  let page = 1;
  function query() {
    const q = new URLSearchParams({ page: String(page), page_size: String(PAGE_SIZE) });
    if (user.value.trim()) q.set('user', user.value.trim());
    if (kind.value.trim()) q.set('kind', kind.value.trim());
    if (action.value) q.set('action', action.value);
    for (const [name, el] of [['since', since], ['until', until]]) {
      const v = el.value.trim();
      if (!v) continue;
      const d = new Date(/^\d{4}-\d{2}-\d{2} /.test(v) ? v.replace(' ', 'T') : v);
      if (Number.isNaN(d.getTime())) throw new FormError(name, 'is not a time: write it as 2026-03-01 12:00');
      q.set(name, d.toISOString().replace(/\.\d+Z$/, 'Z'));
    }
    return '/api/auditlog?' + q.toString();
  }

  async function load() {
    let d;
    try {
      d = await get(query());
    } catch (e) {
      if (e.status !== 403) throw e;
      if (!live()) return;
      clear(results).append(empty('list', 'No access to the audit log', e.message));
      return;
    }
    if (!live()) return;
    clear(results);
    const entries = d.results || [];
    if (!entries.length) {
      results.append(empty('list', 'No entries', page > 1 ? 'No entries on this page.' : 'Nothing matches these filters.'));
      return;
    }
    const pages = Math.max(1, Math.ceil(d.count / PAGE_SIZE));
    results.append(table('table-auditlog', ['Time', 'User', 'Action', 'Object', 'Client', 'Status', 'Changes'],
      entries.map((e) => h('tr', { 'data-action': e.action, 'data-kind': e.kind || '' },
        h('td', { title: e.time }, fmtTime(e.time)),
        h('td', null, e.user || h('span', { class: 'muted' }, '—'), e.token_id ? h('div', { class: 'small muted', title: 'API token' }, 'token ' + e.token_id) : null),
        h('td', null, h('span', { class: 'pill nodot ' + actionColor(e) }, e.action)),
        h('td', null, e.kind ? h('span', { class: 'chip' }, e.kind) : null, ' ', e.name || '', e.tenant ? h('div', { class: 'small muted' }, 'tenant ' + e.tenant) : null),
        h('td', { class: 'mono' }, e.client || ''),
        h('td', { class: 'num' }, String(e.status)),
        h('td', null, changes(e))))),
    h('div', { class: 'panel-body btn-row', testid: 'audit-pager' },
      h('button', { type: 'button', class: 'btn btn-sm', id: 'audit-prev', testid: 'audit-prev', disabled: page <= 1, onclick: () => go(page - 1) }, 'Newer'),
      h('span', { class: 'muted', testid: 'audit-page' }, 'Page ' + page + ' of ' + pages + ' (' + d.count + ' entries)'),
      h('button', { type: 'button', class: 'btn btn-sm', id: 'audit-next', testid: 'audit-next', disabled: page >= pages, onclick: () => go(page + 1) }, 'Older')));
  }

  async function go(p) {
    page = p;
    await load();
  }

  onSubmit(form, err, async () => {
    page = 1;
    query(); // the form's own errors first
    await load();
  });
  await load();
}

function actionColor(e) {
  if (e.status >= 400 || e.action === 'login-failed') return 'red';
  if (e.action === 'delete') return 'amber';
  if (e.action === 'create' || e.action === 'token') return 'green';
  return 'blue';
}

// changes lists the fields an entry changed, each with its old and new value in a details box.
function changes(e) {
  const fields = Object.keys(e.diff || {});
  if (!fields.length) return h('span', { class: 'muted' }, '—');
  return h('details', { class: 'audit-diff' },
    h('summary', null, fields.join(', ')),
    h('div', { class: 'kv mono small' }, fields.map((f) => {
      const ch = e.diff[f] || {};
      return h('div', null, h('strong', null, f + ': '), show(ch.old), ' → ', show(ch.new));
    })),
    e.diff_truncated ? h('div', { class: 'small muted' }, 'values left out: the change was too large') : null);
}

function show(v) {
  return v === undefined ? '(unset)' : JSON.stringify(v);
}
