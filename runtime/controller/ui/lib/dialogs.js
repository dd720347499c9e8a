// Toasts and modal dialogs, with the create, edit and delete dialogs of API objects.
import { del, post, put } from './api.js';
import { $, clear, h } from './dom.js';
import { busy, copyButton, errorBox, showError } from './forms.js';
import { icon } from './icons.js';
import { FormError } from './parse.js';

export function toast(msg, isError) {
  let box = $('.toasts');
  if (!box) document.body.append(box = h('div', { class: 'toasts', testid: 'toasts' }));
  const t = h('div', { class: 'toast' + (isError ? ' error' : ''), role: 'status', testid: 'toast' }, icon(isError ? 'alert' : 'check', 'icon-sm'), msg);
  box.append(t);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => t.remove(), 3500);
}

// modal opens a dialog; onSave returns a promise, and the dialog closes when it resolves.
export function modal(opts) {
  closeModal();
  const err = errorBox('modal-error');
  const body = h('div', { class: 'modal-body' }, err, opts.body);
  const save = opts.saveLabel === null ? null : h('button', { type: 'submit', class: 'btn ' + (opts.danger ? 'btn-danger' : 'btn-primary'), id: 'modal-save', testid: 'modal-save' }, opts.saveLabel || 'Save');
  const cancel = h('button', { type: 'button', class: 'btn', id: 'modal-cancel', testid: 'modal-cancel', onclick: closeModal }, opts.cancelLabel || 'Cancel');
  const form = h('form', { class: 'modal' + (opts.wide ? ' wide' : ''), id: 'modal', testid: 'modal', novalidate: true, role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'modal-title' },
    h('div', { class: 'modal-head' },
      h('h2', { id: 'modal-title' }, opts.title),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'aria-label': 'Close', onclick: closeModal }, icon('x', 'icon-sm'))),
    body,
    h('div', { class: 'modal-foot' }, cancel, save));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!save || save.disabled) return;
    showError(err, form, '');
    try {
      await busy(save, () => opts.onSave(form));
      if (!opts.keepOpen) closeModal();
    } catch (e) {
      showError(err, form, e);
    }
  });
  const backdrop = h('div', { class: 'modal-backdrop', id: 'modal-backdrop' }, form);
  backdrop.addEventListener('mousedown', (ev) => { if (ev.target === backdrop) closeModal(); });
  document.body.append(backdrop);
  const first = form.querySelector('.modal-body input:not([type=hidden]):not([readonly]), .modal-body select, .modal-body textarea:not([readonly])');
  if (first) first.focus();
  return { form, body, err, save, cancel };
}

// showOnce turns the dialog m, whose save created a token, into the token's only showing: a
// warning, then each box {id, label, value, rows, copy (the copy button's id), hint}, and Done.
export function showOnce(m, boxes) {
  clear(m.body).append(
    h('div', { class: 'alert alert-warn' }, icon('alert', 'icon-sm'), h('span', null, 'Copy the token now: it is shown only once.')),
    ...boxes.map((b) => h('div', { class: 'field' }, h('label', { for: b.id }, b.label),
      h('div', { class: 'copy-box' }, h('textarea', { id: b.id, testid: b.id, class: 'mono token-box', readOnly: true, rows: b.rows, value: b.value }), copyButton(b.value, b.copy)),
      b.hint ? h('div', { class: 'hint' }, b.hint) : null)));
  m.save.remove();
  m.cancel.textContent = 'Done';
}

export function closeModal() {
  const b = $('#modal-backdrop');
  if (b) b.remove();
}

document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closeModal(); });

function capitalize(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

// editModal opens the dialog that creates an object of the API kind, or edits obj: on save,
// the name is read from the input nameId, fill sets the other fields of a copy of obj from
// the form, and what the controller answers is passed to after.
export function editModal(what, kind, obj, after, opts) {
  modal({
    title: (obj ? 'Edit ' : 'Create ') + what,
    saveLabel: obj ? 'Save' : 'Create',
    wide: opts.wide,
    body: opts.body,
    onSave: async (form) => {
      const o = obj ? JSON.parse(JSON.stringify(obj)) : {};
      o.name = $('#' + opts.nameId, form).value.trim();
      if (!o.name) throw new FormError('name', 'is required');
      opts.fill(o, form);
      const out = obj ? await put('/api/' + kind + '/' + obj.uuid, o) : await post('/api/' + kind, o);
      toast(capitalize(what) + ' ' + out.name + (obj ? ' saved' : ' created'));
      after(out);
    },
  });
}

export function confirmDelete(what, name, path, after) {
  modal({
    title: 'Delete ' + what,
    danger: true,
    saveLabel: 'Delete',
    body: h('p', null, 'Delete ', h('strong', null, name), '? This cannot be undone.'),
    onSave: async () => {
      await del(path);
      toast(capitalize(what) + ' ' + name + ' deleted');
      after();
    },
  });
}
