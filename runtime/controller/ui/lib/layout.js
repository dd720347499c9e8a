// The parts every page is made of: page heads, panels, tables, empty states, and listPage, the
// page of one API kind's objects.
import { list } from './api.js';
import { confirmDelete } from './dialogs.js';
import { $, clear, h } from './dom.js';
import { icon } from './icons.js';

export function root() {
  const app = $('#app');
  app.className = '';
  return clear(app);
}

export function brand(sub) {
  return h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '' }),
    h('div', null, 'avi-init', sub ? h('small', null, ' ' + sub) : null));
}

export function crumbs(...parts) {
  const c = $('#crumbs');
  if (!c) return;
  clear(c);
  parts.forEach((p, i) => {
    if (i) c.append(h('span', { class: 'sep' }, '/'));
    c.append(Array.isArray(p) ? h('a', { href: p[1] }, p[0]) : h('span', { class: 'current' }, p));
  });
}

export function pageHead(title, desc, ...actions) {
  return h('div', { class: 'page-head' },
    h('div', null, h('div', { class: 'title-row' }, h('h1', null, title)), desc ? h('p', null, desc) : null),
    actions.length ? h('div', { class: 'btn-row' }, actions) : null);
}

// kvPanel is a panel of an object's settings: pairs of [label, value].
export function kvPanel(pairs) {
  return h('div', { class: 'panel' }, h('div', { class: 'kv' },
    pairs.map(([k, v]) => h('div', null, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v)))));
}

export function empty(iconName, title, text, action) {
  return h('div', { class: 'empty', testid: 'empty' },
    h('div', { class: 'empty-icon' }, icon(iconName, 'icon-lg')),
    h('h3', null, title), text ? h('p', null, text) : null, action || null);
}

export function table(id, headers, rows) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data', id, testid: id },
    h('thead', null, h('tr', null, headers.map((x) => {
      const [label, cls] = Array.isArray(x) ? x : [x, ''];
      return h('th', { class: cls || null }, label);
    }))),
    h('tbody', null, rows)));
}

export function rowActions(onEdit, onDelete, name) {
  return h('td', { class: 'actions' },
    onEdit ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'edit', 'aria-label': 'Edit ' + name, onclick: onEdit }, icon('edit', 'icon-sm'), 'Edit') : null,
    onDelete ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm danger', testid: 'delete', 'aria-label': 'Delete ' + name, onclick: onDelete }, icon('trash', 'icon-sm'), 'Delete') : null);
}

export function createButton(id, label, onclick) {
  return h('button', { type: 'button', class: 'btn btn-primary', id, testid: id, onclick }, icon('plus', 'icon-sm'), label);
}

export function panelHead(title, text, ...extra) {
  return h('div', { class: 'panel-head' }, h('div', null, h('h2', null, title), h('p', null, text)), extra);
}

export function loadingPanel(props) {
  return h('div', Object.assign({ class: 'panel' }, props), h('div', { class: 'loading-row' }, h('span', { class: 'spinner' })));
}

// listPage renders the page of one API kind's objects (virtual services, pools, ...): a table
// with Edit and Delete on each row, or an empty state, and a create button in both. Its ids are
// page-<kind>s, create-<kind>, create-<kind>-empty and table-<kind>. The objects are loaded with
// the kinds in p.related, whose lists p.cells gets after the object; p.what names one object
// in texts ("Create pool", "Delete pool"). p.extra, when set, loads more (runtime state) that
// p.cells gets last.
export async function listPage(c, live, p) {
  crumbs(p.title);
  const panel = loadingPanel();
  const create = (id) => createButton(id, 'Create ' + p.what, () => p.form(null, load));
  c.append(h('div', { id: 'page-' + p.kind + 's', testid: 'page-' + p.kind + 's' },
    pageHead(p.title, p.subtitle, create('create-' + p.kind)),
    panel));

  async function load() {
    const [extra, objs, ...related] = await Promise.all([p.extra ? p.extra() : null, ...[p.kind, ...p.related].map((k) => list(k))]);
    if (!live()) return;
    clear(panel);
    if (!objs.length) {
      panel.append(empty(p.emptyIcon, p.emptyTitle, p.emptyText, create('create-' + p.kind + '-empty')));
      return;
    }
    panel.append(table('table-' + p.kind, p.headers,
      objs.map((o) => h('tr', { 'data-name': o.name, 'data-uuid': o.uuid },
        p.cells(o, ...related, extra),
        rowActions(() => p.form(o, load), () => confirmDelete(p.what, o.name, '/api/' + p.kind + '/' + o.uuid, load), o.name)))));
  }
  await load();
}
