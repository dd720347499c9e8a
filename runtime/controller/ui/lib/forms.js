// Form helpers: labelled fields, inputs, copy buttons, and errors shown next to the form.
import { $$, append, clear, h } from './dom.js';
import { icon } from './icons.js';

export function field(label, control, opts) {
  opts = opts || {};
  const id = control.id || (control.querySelector && control.querySelector('[id]') || {}).id;
  return h('div', { class: 'field' + (opts.class ? ' ' + opts.class : ''), 'data-field': opts.field || null },
    label ? h('label', { for: id || null }, label) : null,
    control,
    opts.hint ? h('div', { class: 'hint' }, opts.hint) : null);
}

export function input(id, props) {
  return h('input', Object.assign({ id, type: 'text', autocomplete: 'off', spellcheck: 'false' }, props || {}));
}

export function select(id, options, value, props) {
  return h('select', Object.assign({ id, value }, props || {}),
    Object.entries(options).map(([v, label]) => h('option', { value: v }, label)));
}

export function toggle(id, checked, title, desc) {
  return h('div', { class: 'switch-row' },
    h('div', null, h('label', { for: id }, h('strong', null, title)), desc ? h('div', { class: 'desc' }, desc) : null),
    h('label', { class: 'switch' }, h('input', { type: 'checkbox', id, checked }), h('span')));
}

export function copyButton(getText, id) {
  const b = h('button', { type: 'button', class: 'btn', id, testid: id }, icon('copy', 'icon-sm'), 'Copy');
  b.addEventListener('click', async () => {
    const text = typeof getText === 'function' ? getText() : getText;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (e) {
      ok = false;
    }
    b.textContent = '';
    append(b, [icon(ok ? 'check' : 'x', 'icon-sm'), ok ? 'Copied' : 'Copy failed: select and copy']);
    setTimeout(() => { b.textContent = ''; append(b, [icon('copy', 'icon-sm'), 'Copy']); }, 1800);
  });
  return b;
}

// showError puts a server or form error next to the form and marks the field it names.
// A message of the API's form "field: reason" is shown with the label of the field's input.
export function showError(box, form, err) {
  let msg = err instanceof Error ? err.message : String(err || '');
  const m = /^([\w.\[\]]+): ([\s\S]*)$/.exec(msg);
  const name = err && err.field ? err.field : m ? m[1] : '';
  let target = null;
  if (form) {
    $$('.field.invalid', form).forEach((f) => f.classList.remove('invalid'));
    const parts = name ? name.split(/[.\[]/) : [];
    for (let i = parts.length; i > 0 && !target; i--) {
      target = form.querySelector('.field[data-field="' + CSS.escape(parts.slice(0, i).join('.')) + '"]');
    }
  }
  if (target && m) {
    const label = target.querySelector('label, .field-label');
    if (label && label.textContent) msg = label.textContent + ': ' + m[2];
  }
  clear(box);
  if (msg) append(box, [icon('alert', 'icon-sm'), h('span', null, msg)]);
  box.classList.toggle('hidden', !msg);
  if (target) {
    target.classList.add('invalid');
    const c = target.querySelector('input:not([type=radio]):not([type=hidden]), select, textarea');
    if (c) c.focus();
  }
}

export function nameField(id, obj, placeholder) {
  return field('Name', input(id, { value: obj ? obj.name : '', testid: id, placeholder }), { field: 'name' });
}

// onSubmit runs fn when the form is submitted, showing what it throws in the error box.
export function onSubmit(form, err, fn) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(err, form, '');
    try {
      await fn();
    } catch (e) {
      showError(err, form, e);
    }
  });
}

export function errorBox(id) {
  return h('div', { class: 'alert alert-error hidden', id, testid: id, role: 'alert' });
}

export async function busy(button, fn) {
  const label = Array.from(button.childNodes);
  button.disabled = true;
  button.textContent = '';
  append(button, [h('span', { class: 'spinner' }), ' ', label.filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('')]);
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.textContent = '';
    append(button, label);
  }
}
