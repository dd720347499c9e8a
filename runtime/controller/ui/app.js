// avi-init controller web UI: one page, plain JavaScript, nothing loaded from elsewhere.
// Routes live in the URL fragment (#/dashboard, #/virtualservices/<uuid>, ...). Every element is
// built with DOM calls (no innerHTML with data), so names from the API are never parsed as HTML.
'use strict';

(() => {
  const state = {
    version: '',
    user: null,       // the logged-in account, from GET /api/useraccount
    timers: [],       // intervals of the current page, cleared on navigation
    seq: 0,           // render sequence: a late answer for a page left behind is dropped
    onResize: null,
  };

  // ---------------------------------------------------------------- DOM helpers

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    let value;
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'value') value = v;
        else if (k === 'checked' || k === 'disabled' || k === 'readOnly' || k === 'selected' || k === 'multiple') el[k] = !!v;
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'testid') el.setAttribute('data-testid', v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(el, children);
    if (value !== undefined) el.value = value;
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.from((root || document).querySelectorAll(sel)); }

  const ICONS = {
    dashboard: 'M3 3h7v7H3z M14 3h7v7h-7z M14 14h7v7h-7z M3 14h7v7H3z',
    vs: 'M13 2 3 14h9l-1 8 10-12h-9l1-8z',
    pool: 'M12 2 2 7l10 5 10-5-10-5z M2 17l10 5 10-5 M2 12l10 5 10-5',
    hm: 'M22 12h-4l-3 9L9 3l-3 9H2',
    se: 'M3 4h18v6H3z M3 14h18v6H3z M7 7h.01 M7 17h.01',
    settings: 'M4 21v-7 M4 10V3 M12 21v-9 M12 8V3 M20 21v-5 M20 12V3 M1 14h6 M9 8h6 M17 16h6',
    logout: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4 M16 17l5-5-5-5 M21 12H9',
    plus: 'M12 5v14 M5 12h14',
    copy: 'M9 9h11v11H9z M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1',
    key: 'M21 2l-2 2 M15.5 7.5l3 3L22 7l-3-3 M11.4 12.6a5.5 5.5 0 1 1-7.78 7.78 5.5 5.5 0 0 1 7.78-7.78z M11.4 12.6 19 5',
    check: 'M20 6 9 17l-5-5',
    alert: 'M12 9v4 M12 17h.01 M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z',
    edit: 'M12 20h9 M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4 12.5-12.5z',
    trash: 'M3 6h18 M8 6V4h8v2 M19 6l-1 14H6L5 6',
    x: 'M18 6 6 18 M6 6l12 12',
    up: 'M12 19V5 M5 12l7-7 7 7',
    down: 'M12 5v14 M19 12l-7 7-7-7',
    cloud: 'M18 10h-1.3A8 8 0 1 0 9 20h9a5 5 0 0 0 0-10z',
    terminal: 'M4 17l6-6-6-6 M12 19h8',
    box: 'M21 16V8l-9-5-9 5v8l9 5 9-5z M3.3 7 12 12l8.7-5 M12 22V12',
    ban: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z M5.6 5.6l12.8 12.8',
    download: 'M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4 M7 10l5 5 5-5 M12 15V3',
    upload: 'M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4 M17 8l-5-5-5 5 M12 3v12',
    lock: 'M5 11h14v10H5z M8 11V7a4 4 0 0 1 8 0v4',
    list: 'M8 6h13 M8 12h13 M8 18h13 M3 6h.01 M3 12h.01 M3 18h.01',
  };

  function icon(name, cls) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'icon' + (cls ? ' ' + cls : ''));
    svg.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    p.setAttribute('d', ICONS[name] || ICONS.dashboard);
    svg.append(p);
    return svg;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, message, data) {
      super(message);
      this.status = status;
      this.data = data;
    }
  }

  function cookie(name) {
    for (const part of document.cookie.split(';')) {
      const i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
    }
    return '';
  }

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && method !== 'HEAD') {
      const token = cookie('csrftoken');
      if (token) opts.headers['X-CSRFToken'] = token;
    }
    let resp;
    try {
      resp = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, 'The controller cannot be reached (' + e.message + ').');
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = text; }
    }
    if (!resp.ok) {
      let msg = data && typeof data === 'object' && data.error ? data.error : resp.status + ' ' + (resp.statusText || 'error');
      if (resp.status === 429) msg = (data && data.error) || 'Too many attempts: wait a moment and try again.';
      const err = new ApiError(resp.status, msg, data);
      if (resp.status === 401 && state.user && path !== '/login' && path !== '/api/useraccount') sessionExpired();
      throw err;
    }
    return data;
  }

  const get = (path) => api('GET', path);
  const post = (path, body) => api('POST', path, body);
  const put = (path, body) => api('PUT', path, body);
  const del = (path) => api('DELETE', path);

  // optional fetches an endpoint the controller may not have (yet): null on 404 / 405 / 501.
  async function optional(path) {
    try {
      return await get(path);
    } catch (e) {
      if (e.status === 404 || e.status === 405 || e.status === 501) return null;
      throw e;
    }
  }

  async function list(kind) {
    const d = await get('/api/' + kind);
    return (d && d.results) || [];
  }

  function refOf(o, kind) { return o.url || '/api/' + kind + '/' + o.uuid; }
  function uuidOfRef(ref) {
    if (!ref) return '';
    const m = /\/api\/[a-z-]+\/([^/?#]+)/.exec(ref);
    return m ? m[1] : '';
  }
  function byRef(objs, ref) {
    const id = uuidOfRef(ref);
    if (id) return objs.find((o) => o.uuid === id);
    const m = /[?&]name=([^&]*)/.exec(ref || '');
    return m ? objs.find((o) => o.name === decodeURIComponent(m[1])) : undefined;
  }

  // ---------------------------------------------------------------- formatting and parsing

  const isIPv4 = (s) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s);
  const isIPv6 = (s) => s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s) && (s.match(/::/g) || []).length <= 1;
  const isHostname = (s) => /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(s);

  function splitList(s) {
    return String(s || '').split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);
  }

  class FormError extends Error {
    constructor(field, reason) {
      super(field + ': ' + reason);
      this.field = field;
    }
  }

  // ipAddr turns one address into Avi's {addr, type}; allowDNS lets host names through.
  function ipAddr(s, field, allowDNS) {
    if (isIPv4(s)) return { addr: s, type: 'V4' };
    if (isIPv6(s)) return { addr: s, type: 'V6' };
    if (allowDNS && isHostname(s)) return { addr: s, type: 'DNS' };
    throw new FormError(field, '"' + s + '" is not ' + (allowDNS ? 'an IP address or a host name' : 'an IP address'));
  }

  function addrList(s, field, allowDNS) {
    return splitList(s).map((x) => ipAddr(x, field, allowDNS));
  }

  function fmtNum(v, digits) {
    if (v === null || v === undefined || Number.isNaN(Number(v))) return '—';
    const n = Number(v);
    const d = digits === undefined ? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2) : digits;
    return n.toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: 0 });
  }

  function fmtMs(v) { return v === null || v === undefined ? '—' : fmtNum(v, Number(v) >= 100 ? 0 : 1) + ' ms'; }

  function fmtBytes(n) {
    if (n === null || n === undefined) return '—';
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    let v = Number(n);
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return fmtNum(v, i ? 1 : 0) + ' ' + u[i];
  }

  function fmtTime(s) {
    if (!s) return '—';
    const d = new Date(s);
    return Number.isNaN(d.getTime()) ? String(s) : d.toLocaleString();
  }

  function fmtAgo(s) {
    if (!s) return 'never';
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) return String(s);
    const secs = Math.round((Date.now() - d.getTime()) / 1000);
    if (secs < 0) return 'in ' + fmtDuration(-secs);
    if (secs < 5) return 'just now';
    return fmtDuration(secs) + ' ago';
  }

  function fmtDuration(secs) {
    if (secs < 60) return secs + ' s';
    if (secs < 3600) return Math.round(secs / 60) + ' min';
    if (secs < 86400 * 2) return Math.round(secs / 3600) + ' h';
    return Math.round(secs / 86400) + ' days';
  }

  function fmtAddr(a) { return a && a.addr ? a.addr : ''; }

  const ALGORITHMS = {
    LB_ALGORITHM_LEAST_CONNECTIONS: 'Least connections',
    LB_ALGORITHM_ROUND_ROBIN: 'Round robin',
    LB_ALGORITHM_CONSISTENT_HASH: 'Consistent hash (source IP)',
  };
  const SMTP_TYPES = {
    SMTP_NONE: 'None',
    SMTP_LOCAL_HOST: 'Local host',
    SMTP_SERVER: 'SMTP server',
    SMTP_ANONYMOUS_SERVER: 'Anonymous SMTP server',
  };
  // showSmtpFields shows the email fields the chosen SMTP type uses, now and when it changes.
  function showSmtpFields(type, server, from, auth) {
    const sync = () => {
      const t = type.value;
      server.classList.toggle('hidden', t !== 'SMTP_SERVER' && t !== 'SMTP_ANONYMOUS_SERVER');
      from.classList.toggle('hidden', t === 'SMTP_NONE');
      auth.classList.toggle('hidden', t !== 'SMTP_SERVER');
    };
    type.addEventListener('change', sync);
    sync();
  }

  const CLOUDS = {
    CLOUD_NONE: { title: 'No orchestrator', desc: 'Add service engines by hand with a join token.', icon: 'ban' },
    CLOUD_LINUXSERVER: { title: 'Linux servers', desc: 'Deploy service engines to hosts over SSH.', icon: 'terminal' },
    CLOUD_MESOS: { title: 'Mesos / Marathon', desc: 'Turn Marathon apps into virtual services.', icon: 'cloud' },
    CLOUD_DOCKER: { title: 'Docker', desc: 'Discover containers with an avi_proxy label.', icon: 'box' },
  };

  function healthClass(score) {
    if (score === null || score === undefined) return '';
    return score >= 85 ? 'green' : score >= 60 ? 'amber' : 'red';
  }

  function healthBadge(score) {
    return h('span', { class: 'health ' + healthClass(score), title: 'Health score' },
      score === null || score === undefined ? '—' : String(Math.round(score)));
  }

  // hostStatePill shows a Linux server host's deployment state (docs/api.md).
  function hostStatePill(state) {
    const cls = state === 'Ready' ? 'green' : state === 'SSH Failed' ? 'red' : state === 'Pending' ? '' : 'amber';
    return h('span', { class: 'pill ' + cls, testid: 'linuxhost-state' }, state || 'Unknown');
  }

  function operPill(st) {
    const s = (st && st.state) || '';
    if (s === 'OPER_UP') return h('span', { class: 'pill green' }, 'Up');
    if (s === 'OPER_DOWN') return h('span', { class: 'pill red', title: (st && st.reason) || '' }, 'Down');
    if (s === 'OPER_DISABLED') return h('span', { class: 'pill' }, 'Disabled');
    if (!s) return h('span', { class: 'pill' }, 'Unknown');
    return h('span', { class: 'pill amber' }, s.replace(/^OPER_/, '').replace(/_/g, ' ').toLowerCase());
  }

  // passwordChecks is the strength rule the controller enforces: at least 8 characters mixing
  // three of lower case, upper case, digits and other characters.
  function passwordChecks(p) {
    const kinds = [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{Ll}\p{Lu}\p{Nd}]/u].filter((re) => re.test(p)).length;
    // The controller counts bytes of UTF-8, as this does.
    return { length: new TextEncoder().encode(p).length >= 8, kinds: kinds >= 3, count: kinds };
  }

  function passwordProblem(p) {
    const c = passwordChecks(p);
    if (!c.length) return 'password: must be at least 8 characters';
    if (!c.kinds) return 'password: must mix at least three of: lower case, upper case, digits, other characters';
    return '';
  }

  // passwordRules renders the rule under a password input and keeps it up to date.
  function passwordRules(input) {
    const meter = h('div', { class: 'strength', testid: 'password-strength' }, h('div'));
    const len = h('li', { testid: 'rule-length' }, 'At least 8 characters');
    const mix = h('li', { testid: 'rule-mix' }, 'Three of: lower case, upper case, digits, symbols');
    const update = () => {
      const c = passwordChecks(input.value);
      len.classList.toggle('ok', c.length);
      mix.classList.toggle('ok', c.kinds);
      const score = !input.value ? 0 : !c.length ? 1 : c.kinds ? (c.count === 4 || input.value.length >= 12 ? 4 : 3) : 2;
      meter.className = 'strength s' + score;
    };
    input.addEventListener('input', update);
    update();
    return h('div', null, meter, h('ul', { class: 'rules', id: 'password-rules', testid: 'password-rules' }, len, mix));
  }

  // ---------------------------------------------------------------- form helpers

  function field(label, control, opts) {
    opts = opts || {};
    const id = control.id || (control.querySelector && control.querySelector('[id]') || {}).id;
    return h('div', { class: 'field' + (opts.class ? ' ' + opts.class : ''), 'data-field': opts.field || null },
      label ? h('label', { for: id || null }, label) : null,
      control,
      opts.hint ? h('div', { class: 'hint' }, opts.hint) : null);
  }

  function input(id, props) {
    return h('input', Object.assign({ id, type: 'text', autocomplete: 'off', spellcheck: 'false' }, props || {}));
  }

  function select(id, options, value, props) {
    return h('select', Object.assign({ id, value }, props || {}),
      Object.entries(options).map(([v, label]) => h('option', { value: v }, label)));
  }

  function toggle(id, checked, title, desc) {
    return h('div', { class: 'switch-row' },
      h('div', null, h('label', { for: id }, h('strong', null, title)), desc ? h('div', { class: 'desc' }, desc) : null),
      h('label', { class: 'switch' }, h('input', { type: 'checkbox', id, checked }), h('span')));
  }

  function copyButton(getText, id) {
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
  function showError(box, form, err) {
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

  function nameField(id, obj, placeholder) {
    return field('Name', input(id, { value: obj ? obj.name : '', testid: id, placeholder }), { field: 'name' });
  }

  // onSubmit runs fn when the form is submitted, showing what it throws in the error box.
  function onSubmit(form, err, fn) {
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

  function errorBox(id) {
    return h('div', { class: 'alert alert-error hidden', id, testid: id, role: 'alert' });
  }

  async function busy(button, fn) {
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

  // ---------------------------------------------------------------- toasts and modals

  function toast(msg, isError) {
    let box = $('.toasts');
    if (!box) document.body.append(box = h('div', { class: 'toasts', testid: 'toasts' }));
    const t = h('div', { class: 'toast' + (isError ? ' error' : ''), role: 'status', testid: 'toast' }, icon(isError ? 'alert' : 'check', 'icon-sm'), msg);
    box.append(t);
    while (box.children.length > 3) box.firstChild.remove();
    setTimeout(() => t.remove(), 3500);
  }

  // modal opens a dialog; onSave returns a promise, and the dialog closes when it resolves.
  function modal(opts) {
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

  function closeModal() {
    const b = $('#modal-backdrop');
    if (b) b.remove();
  }

  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') closeModal(); });

  function capitalize(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

  // editModal opens the dialog that creates an object of the API kind, or edits obj: on save,
  // the name is read from the input nameId, fill sets the other fields of a copy of obj from
  // the form, and what the controller answers is passed to after.
  function editModal(what, kind, obj, after, opts) {
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

  function confirmDelete(what, name, path, after) {
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

  // ---------------------------------------------------------------- start

  async function start() {
    let init;
    try {
      init = await get('/api/initial-data');
    } catch (e) {
      renderFatal(e);
      return;
    }
    state.version = (init.version && init.version.Version) || '';
    if (init.setup_state === 'pending') {
      renderWizard();
      return;
    }
    try {
      state.user = await get('/api/useraccount');
    } catch (e) {
      state.user = null;
    }
    if (state.user) renderShell();
    else renderLogin();
  }

  function root() {
    const app = $('#app');
    app.className = '';
    return clear(app);
  }

  function brand(sub) {
    return h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '' }),
      h('div', null, 'avi-init', sub ? h('small', null, ' ' + sub) : null));
  }

  function renderFatal(e) {
    const app = root();
    app.append(h('div', { class: 'auth' }, brand('controller'),
      h('div', { class: 'auth-card' }, h('h1', null, 'Controller unavailable'),
        h('p', { class: 'lead' }, e.message),
        h('button', { class: 'btn btn-primary', onclick: start }, 'Try again'))));
  }

  // ---------------------------------------------------------------- login

  function renderLogin(message) {
    stopTimers();
    closeModal();
    const toasts = $('.toasts');
    if (toasts) toasts.remove();
    state.user = null;
    const app = root();
    const err = errorBox('login-error');
    const user = input('login-username', { autocomplete: 'username', testid: 'login-username', autofocus: true });
    const pass = input('login-password', { type: 'password', autocomplete: 'current-password', testid: 'login-password' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'login-submit', testid: 'login-submit' }, 'Log in');
    const form = h('form', { id: 'login-form', testid: 'login-form', novalidate: true },
      message ? h('div', { class: 'alert alert-info' }, message) : null,
      err,
      field('Username', user),
      field('Password', pass),
      submit);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      showError(err, form, '');
      if (!user.value || !pass.value) {
        showError(err, form, 'Enter your username and password.');
        return;
      }
      try {
        await busy(submit, () => login(user.value, pass.value));
      } catch (e) {
        pass.value = '';
        showError(err, null, e.status === 401 ? 'Wrong username or password.' : e);
        pass.focus();
      }
    });
    app.append(h('div', { class: 'auth', id: 'page-login', testid: 'page-login' },
      brand('controller'),
      h('div', { class: 'auth-card' },
        h('h1', null, 'Log in'),
        h('p', { class: 'lead' }, 'Sign in to manage virtual services, pools and service engines.'),
        form),
      h('div', { class: 'auth-foot' }, state.version ? 'Version ' + state.version : '')));
    user.focus();
  }

  async function login(username, password) {
    await post('/login', { username, password });
    state.user = await get('/api/useraccount');
    if (!location.hash) history.replaceState(null, '', '#/dashboard');
    renderShell();
  }

  function sessionExpired() {
    if (!state.user) return;
    renderLogin('Your session has ended: log in again.');
  }

  async function logout() {
    try {
      await post('/logout');
    } catch (e) {
      // The session is gone either way.
    }
    history.replaceState(null, '', location.pathname);
    renderLogin();
  }

  // ---------------------------------------------------------------- setup wizard

  function renderWizard() {
    const app = root();
    const data = {
      username: 'admin', password: '', password2: '',
      dns: '', ntp: '', searchDomain: '',
      smtpType: 'SMTP_NONE', smtpServer: '', smtpPort: '25', fromEmail: '', smtpUser: '', smtpPassword: '',
      cloud: 'CLOUD_NONE',
      sshUser: 'avi', sshHosts: '', keyMode: 'generate', keyId: '', publicKey: '', privateKey: '',
      marathonUrl: '', marathonUser: '', marathonPassword: '', mesosUrl: '', syncFrequency: '60',
    };
    const steps = [
      { name: 'Account', render: stepAccount, check: checkAccount },
      { name: 'DNS & NTP', render: stepNetwork, check: checkNetwork },
      { name: 'Email', render: stepEmail, check: checkEmail },
      { name: 'Orchestrator', render: stepCloud, check: checkCloud },
      { name: 'Review', render: stepReview, check: () => {} },
    ];
    let current = 0;

    const stepList = h('ol', { class: 'steps', testid: 'wizard-steps' });
    const body = h('div', { class: 'wizard-body' });
    const err = errorBox('wizard-error');
    const back = h('button', { type: 'button', class: 'btn', id: 'wizard-back', testid: 'wizard-back' }, 'Back');
    const next = h('button', { type: 'submit', class: 'btn btn-primary', id: 'wizard-next', testid: 'wizard-next' }, 'Next');
    const form = h('form', { class: 'auth-card wizard', id: 'setup-wizard', testid: 'setup-wizard', novalidate: true },
      h('div', { class: 'wizard-head' },
        h('h1', null, 'Welcome to avi-init'),
        h('p', { class: 'muted' }, 'Set up this controller. Nothing is saved until you finish the last step.'),
        stepList),
      body,
      h('div', { class: 'wizard-foot' }, back, h('span', { class: 'spacer' }), next));
    app.append(h('div', { class: 'auth', id: 'page-setup', testid: 'page-setup' }, brand('controller setup'), form,
      h('div', { class: 'auth-foot' }, state.version ? 'Version ' + state.version : '')));

    back.addEventListener('click', () => { collect(); show(current - 1); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      collect();
      try {
        steps[current].check();
      } catch (e) {
        showError(err, form, e);
        return;
      }
      if (current < steps.length - 1) {
        show(current + 1);
        return;
      }
      await finish();
    });

    function show(i) {
      current = Math.max(0, Math.min(steps.length - 1, i));
      clear(stepList);
      steps.forEach((s, j) => stepList.append(h('li', { class: j === current ? 'active' : j < current ? 'done' : '', testid: 'wizard-step-' + (j + 1) },
        h('span', { class: 'num' }, j < current ? '✓' : String(j + 1)), h('span', { class: 'label' }, s.name))));
      clear(body);
      showError(err, form, '');
      body.append(err, steps[current].render());
      form.dataset.step = String(current + 1);
      back.classList.toggle('hidden', current === 0);
      next.textContent = current === steps.length - 1 ? 'Finish setup' : 'Next';
      next.id = current === steps.length - 1 ? 'wizard-finish' : 'wizard-next';
      next.setAttribute('data-testid', next.id);
      const first = body.querySelector('input:not([type=radio]):not([readonly]), select, textarea:not([readonly])');
      if (first) first.focus();
    }

    // collect copies the inputs of the current step into data.
    function collect() {
      for (const el of $$('[data-key]', body)) {
        if (el.type === 'radio') {
          if (el.checked) data[el.dataset.key] = el.value;
        } else {
          data[el.dataset.key] = el.value;
        }
      }
    }

    function bound(id, key, props) {
      const el = input(id, Object.assign({ value: data[key], 'data-key': key, testid: id }, props || {}));
      return el;
    }

    function stepAccount() {
      const pw = bound('setup-password', 'password', { type: 'password', autocomplete: 'new-password' });
      return h('div', { testid: 'wizard-account' },
        h('h2', null, 'Administrator account'),
        h('p', { class: 'lead' }, 'There are no default credentials: choose the administrator\'s name and password.'),
        field('Username', bound('setup-username', 'username', { autocomplete: 'username' }), { field: 'admin.username' }),
        h('div', { class: 'field-row' },
          field('Password', pw, { field: 'admin.password' }),
          field('Confirm password', bound('setup-password2', 'password2', { type: 'password', autocomplete: 'new-password' }), { field: 'password2' })),
        passwordRules(pw));
    }

    function checkAccount() {
      if (!data.username.trim() || /[\s:]/.test(data.username)) throw new FormError('admin.username', 'is required, without spaces or ":"');
      const p = passwordProblem(data.password);
      if (p) throw new FormError('admin.password', p.replace(/^password: /, ''));
      if (data.password !== data.password2) throw new FormError('password2', 'the passwords do not match');
    }

    function stepNetwork() {
      return h('div', { testid: 'wizard-network' },
        h('h2', null, 'DNS and NTP'),
        h('p', { class: 'lead' }, 'The servers the controller uses to resolve names and keep its clock. Separate entries with commas.'),
        field('DNS servers', bound('setup-dns', 'dns', { placeholder: '192.0.2.53, 192.0.2.54' }), { field: 'systemconfiguration.dns_configuration', hint: 'IP addresses. Leave empty to use the host\'s resolver.' }),
        field('DNS search domain', bound('setup-search-domain', 'searchDomain', { placeholder: 'example.com' }), { field: 'systemconfiguration.dns_configuration.search_domain' }),
        field('NTP servers', bound('setup-ntp', 'ntp', { placeholder: 'pool.ntp.org, 192.0.2.123' }), { field: 'systemconfiguration.ntp_configuration', hint: 'IP addresses or host names.' }));
    }

    function checkNetwork() {
      addrList(data.dns, 'systemconfiguration.dns_configuration', false);
      addrList(data.ntp, 'systemconfiguration.ntp_configuration', true);
      if (data.searchDomain && !isHostname(data.searchDomain)) throw new FormError('systemconfiguration.dns_configuration.search_domain', 'is not a domain name');
    }

    function stepEmail() {
      const type = select('setup-smtp-type', SMTP_TYPES, data.smtpType, { 'data-key': 'smtpType', testid: 'setup-smtp-type' });
      const server = h('div', { testid: 'smtp-server-fields' },
        h('div', { class: 'field-row' },
          field('SMTP server', bound('setup-smtp-server', 'smtpServer', { placeholder: 'smtp.example.com' }), { field: 'systemconfiguration.email_configuration.smtp_server' }),
          field('Port', bound('setup-smtp-port', 'smtpPort', { type: 'number', min: 1, max: 65535 }), { field: 'systemconfiguration.email_configuration.mail_server_port' })));
      const from = field('From address', bound('setup-from-email', 'fromEmail', { placeholder: 'avi@example.com' }), { field: 'systemconfiguration.email_configuration.from_email' });
      const auth = h('div', { class: 'field-row', testid: 'smtp-auth-fields' },
        field('Username', bound('setup-smtp-username', 'smtpUser'), { field: 'systemconfiguration.email_configuration.auth_username' }),
        field('Password', bound('setup-smtp-password', 'smtpPassword', { type: 'password', autocomplete: 'new-password' }), { field: 'systemconfiguration.email_configuration.auth_password' }));
      showSmtpFields(type, server, from, auth);
      return h('div', { testid: 'wizard-email' },
        h('h2', null, 'Email'),
        h('p', { class: 'lead' }, 'How the controller sends alerts and notifications.'),
        field('SMTP type', type, { field: 'systemconfiguration.email_configuration.smtp_type' }),
        server, from, auth);
    }

    function checkEmail() {
      const t = data.smtpType;
      if ((t === 'SMTP_SERVER' || t === 'SMTP_ANONYMOUS_SERVER') && !data.smtpServer.trim()) {
        throw new FormError('systemconfiguration.email_configuration.smtp_server', 'is required for ' + SMTP_TYPES[t]);
      }
      if ((t === 'SMTP_SERVER' || t === 'SMTP_ANONYMOUS_SERVER') && data.smtpPort && !(Number(data.smtpPort) >= 1 && Number(data.smtpPort) <= 65535)) {
        throw new FormError('systemconfiguration.email_configuration.mail_server_port', 'want 1 to 65535');
      }
    }

    function stepCloud() {
      const choices = h('div', { class: 'choice-grid', role: 'radiogroup' },
        Object.entries(CLOUDS).map(([v, c]) => h('label', { class: 'choice', testid: 'cloud-' + v },
          h('input', { type: 'radio', name: 'cloud', value: v, checked: data.cloud === v, 'data-key': 'cloud', id: 'setup-cloud-' + v }),
          icon(c.icon, 'icon-lg'), h('span', { class: 'title' }, c.title), h('span', { class: 'desc' }, c.desc))));
      const details = h('div', { testid: 'cloud-details' });
      const render = () => {
        collect();
        clear(details);
        if (data.cloud === 'CLOUD_LINUXSERVER') details.append(linuxFields());
        else if (data.cloud === 'CLOUD_MESOS') details.append(mesosFields());
        else if (data.cloud === 'CLOUD_DOCKER') details.append(h('div', { class: 'alert alert-info' }, 'Service engines watch their host\'s Docker engine and publish containers that carry an avi_proxy label. Add service engines with a join token after the setup.'));
        else details.append(h('div', { class: 'alert alert-info' }, 'You can add service engines after the setup: create a join token under Service engines and run the installer on each host.'));
      };
      choices.addEventListener('change', render);
      setTimeout(render);
      return h('div', { testid: 'wizard-cloud' },
        h('h2', null, 'Orchestrator integration'),
        h('p', { class: 'lead' }, 'Where the controller creates service engines and discovers applications.'),
        choices, details);
    }

    function linuxFields() {
      const pub = h('textarea', { id: 'setup-public-key', testid: 'setup-public-key', class: 'mono', readOnly: true, rows: 3, value: data.publicKey, 'data-key': 'publicKey' });
      const genErr = errorBox('setup-keypair-error');
      const gen = h('button', { type: 'button', class: 'btn', id: 'setup-generate-key', testid: 'setup-generate-key' }, icon('key', 'icon-sm'), data.keyId ? 'Generate a new key pair' : 'Generate key pair');
      const pubBox = h('div', { class: 'field' + (data.publicKey ? '' : ' hidden'), testid: 'setup-public-key-box' },
        h('label', { for: 'setup-public-key' }, 'Public key'),
        h('div', { class: 'copy-box' }, pub, copyButton(() => pub.value, 'setup-copy-key')),
        h('div', { class: 'hint' }, 'Add it to ~/.ssh/authorized_keys of the SSH user on every host. The user needs password-less sudo.'));
      const keyIdInput = h('input', { type: 'hidden', value: data.keyId, 'data-key': 'keyId', id: 'setup-key-id' });
      gen.addEventListener('click', async () => {
        showError(genErr, null, '');
        try {
          const k = await busy(gen, () => post('/api/setup/keypair'));
          data.keyId = keyIdInput.value = k.key_id;
          data.publicKey = pub.value = k.public_key;
          pubBox.classList.remove('hidden');
          gen.textContent = '';
          append(gen, [icon('key', 'icon-sm'), 'Generate a new key pair']);
        } catch (e) {
          showError(genErr, null, e);
        }
      });
      const genPane = h('div', { testid: 'key-generate' }, genErr, h('div', { class: 'field' }, h('div', null, gen)), pubBox, keyIdInput);
      const impPane = field('Private key', h('textarea', { id: 'setup-private-key', testid: 'setup-private-key', class: 'mono', rows: 6, value: data.privateKey, 'data-key': 'privateKey', placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----', spellcheck: 'false' }),
        { field: 'cloudconnectoruser.private_key', hint: 'PEM, without a passphrase (OpenSSH, PKCS#1, PKCS#8 or EC).' });
      const modes = h('div', { class: 'segmented', role: 'radiogroup' },
        h('label', { testid: 'key-mode-generate' }, h('input', { type: 'radio', name: 'keymode', value: 'generate', checked: data.keyMode === 'generate', 'data-key': 'keyMode', id: 'setup-key-generate' }), 'Generate key pair'),
        h('label', { testid: 'key-mode-import' }, h('input', { type: 'radio', name: 'keymode', value: 'import', checked: data.keyMode === 'import', 'data-key': 'keyMode', id: 'setup-key-import' }), 'Import private key'));
      const syncMode = () => {
        const imp = $('#setup-key-import', modes).checked;
        genPane.classList.toggle('hidden', imp);
        impPane.classList.toggle('hidden', !imp);
      };
      modes.addEventListener('change', (ev) => { ev.stopPropagation(); syncMode(); });
      setTimeout(syncMode);
      return h('div', null,
        h('div', { class: 'field-row' },
          field('SSH user name', bound('setup-ssh-user', 'sshUser'), { field: 'cloudconnectoruser.name' }),
          field('Host IP addresses', bound('setup-ssh-hosts', 'sshHosts', { placeholder: '192.0.2.31, 192.0.2.32' }), { field: 'cloud.linuxserver_configuration.hosts' })),
        h('div', { class: 'field-label' }, 'SSH key'),
        modes, genPane, impPane);
    }

    function mesosFields() {
      return h('div', null,
        field('Marathon URL', bound('setup-marathon-url', 'marathonUrl', { placeholder: 'http://leader.mesos:8080' }), { field: 'cloud.mesos_configuration.marathon_configurations' }),
        h('div', { class: 'field-row' },
          field('Marathon username', bound('setup-marathon-username', 'marathonUser')),
          field('Marathon password', bound('setup-marathon-password', 'marathonPassword', { type: 'password', autocomplete: 'new-password' }))),
        h('div', { class: 'field-row' },
          field('Mesos URL', bound('setup-mesos-url', 'mesosUrl', { placeholder: 'http://leader.mesos:5050' }), { field: 'cloud.mesos_configuration.mesos_url' }),
          field('App sync frequency (seconds)', bound('setup-sync-frequency', 'syncFrequency', { type: 'number', min: 1, max: 3600 }), { field: 'cloud.mesos_configuration.app_sync_frequency' })));
    }

    function checkCloud() {
      if (data.cloud === 'CLOUD_LINUXSERVER') {
        if (!data.sshUser.trim()) throw new FormError('cloudconnectoruser.name', 'the SSH user name is required');
        if (!splitList(data.sshHosts).length) throw new FormError('cloud.linuxserver_configuration.hosts', 'list at least one host');
        addrList(data.sshHosts, 'cloud.linuxserver_configuration.hosts', false);
        if (data.keyMode === 'generate' && !data.keyId) throw new FormError('cloudconnectoruser', 'generate a key pair, or import a private key');
        if (data.keyMode === 'import' && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(data.privateKey)) throw new FormError('cloudconnectoruser.private_key', 'paste a PEM private key');
      }
      if (data.cloud === 'CLOUD_MESOS') {
        if (!/^https?:\/\/\S+$/.test(data.marathonUrl)) throw new FormError('cloud.mesos_configuration.marathon_configurations', 'want an http:// or https:// URL');
        if (data.mesosUrl && !/^https?:\/\/\S+$/.test(data.mesosUrl)) throw new FormError('cloud.mesos_configuration.mesos_url', 'want an http:// or https:// URL');
        const f = Number(data.syncFrequency);
        if (!(f >= 1 && f <= 3600)) throw new FormError('cloud.mesos_configuration.app_sync_frequency', 'want 1 to 3600 seconds');
      }
    }

    function request() {
      const sc = { email_configuration: { smtp_type: data.smtpType } };
      const dns = addrList(data.dns, 'dns', false);
      if (dns.length || data.searchDomain) {
        sc.dns_configuration = { server_list: dns };
        if (data.searchDomain) sc.dns_configuration.search_domain = data.searchDomain;
      }
      const ntp = addrList(data.ntp, 'ntp', true);
      if (ntp.length) sc.ntp_configuration = { ntp_servers: ntp.map((a) => ({ server: a })) };
      const e = sc.email_configuration;
      if (data.smtpType === 'SMTP_SERVER' || data.smtpType === 'SMTP_ANONYMOUS_SERVER') {
        e.smtp_server = data.smtpServer.trim();
        if (data.smtpPort) e.mail_server_port = Number(data.smtpPort);
      }
      if (data.smtpType !== 'SMTP_NONE' && data.fromEmail) e.from_email = data.fromEmail.trim();
      if (data.smtpType === 'SMTP_SERVER') {
        if (data.smtpUser) e.auth_username = data.smtpUser;
        if (data.smtpPassword) e.auth_password = data.smtpPassword;
      }
      const req = {
        admin: { username: data.username.trim(), password: data.password },
        systemconfiguration: sc,
        cloud: { name: 'Default-Cloud', vtype: data.cloud },
      };
      if (data.cloud === 'CLOUD_LINUXSERVER') {
        const name = data.sshUser.trim();
        req.cloudconnectoruser = { name };
        if (data.keyMode === 'import') req.cloudconnectoruser.private_key = data.privateKey.trim() + '\n';
        else req.cloudconnectoruser_key_id = data.keyId;
        req.cloud.linuxserver_configuration = {
          ssh_user_ref: '/api/cloudconnectoruser?name=' + encodeURIComponent(name),
          hosts: addrList(data.sshHosts, 'hosts', false).map((a) => ({ host_ip: a })),
        };
      } else if (data.cloud === 'CLOUD_MESOS') {
        const m = { marathon_url: data.marathonUrl.trim() };
        if (data.marathonUser) m.marathon_username = data.marathonUser;
        if (data.marathonPassword) m.marathon_password = data.marathonPassword;
        req.cloud.mesos_configuration = { app_sync_frequency: Number(data.syncFrequency) || 60, marathon_configurations: [m] };
        if (data.mesosUrl) req.cloud.mesos_configuration.mesos_url = data.mesosUrl.trim();
      }
      return req;
    }

    function stepReview() {
      const r = request();
      const sc = r.systemconfiguration;
      const e = sc.email_configuration;
      const rows = [
        ['Administrator', r.admin.username + '  (password set)'],
        ['DNS servers', sc.dns_configuration ? sc.dns_configuration.server_list.map(fmtAddr).join(', ') || '—' : 'host resolver'],
        ['NTP servers', sc.ntp_configuration ? sc.ntp_configuration.ntp_servers.map((n) => n.server.addr).join(', ') : '—'],
        ['Email', SMTP_TYPES[e.smtp_type] + (e.smtp_server ? ' — ' + e.smtp_server + ':' + (e.mail_server_port || 25) : '')],
        ['Orchestrator', CLOUDS[r.cloud.vtype].title],
      ];
      if (r.cloud.linuxserver_configuration) {
        rows.push(['SSH user', r.cloudconnectoruser.name + (r.cloudconnectoruser.private_key ? ' (imported key)' : ' (generated key)')]);
        rows.push(['Hosts', r.cloud.linuxserver_configuration.hosts.map((x) => x.host_ip.addr).join(', ')]);
      }
      if (r.cloud.mesos_configuration) {
        rows.push(['Marathon', r.cloud.mesos_configuration.marathon_configurations[0].marathon_url]);
        rows.push(['App sync', r.cloud.mesos_configuration.app_sync_frequency + ' s']);
      }
      return h('div', { testid: 'wizard-review' },
        h('h2', null, 'Review'),
        h('p', { class: 'lead' }, 'Check the settings, then finish. You will be logged in as ' + r.admin.username + '.'),
        h('table', { class: 'review', testid: 'review-table' }, h('tbody', null, rows.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v))))));
    }

    async function finish() {
      let req;
      try {
        req = request();
      } catch (e) {
        showError(err, form, e);
        return;
      }
      try {
        await busy(next, () => post('/api/setup', req));
      } catch (e) {
        // Send the user back to the step that holds the field the server rejected.
        const m = /^([\w.\[\]]+):/.exec(e.message || '');
        const f = m ? m[1] : '';
        let step = current;
        if (f.startsWith('admin')) step = 0;
        else if (/^systemconfiguration\.(dns|ntp)/.test(f)) step = 1;
        else if (f.startsWith('systemconfiguration')) step = 2;
        else if (f.startsWith('cloud')) step = 3;
        if (step !== current) show(step);
        showError(err, form, e);
        return;
      }
      try {
        history.replaceState(null, '', '#/dashboard');
        await login(req.admin.username, req.admin.password);
      } catch (e) {
        renderLogin('The controller is set up: log in as ' + req.admin.username + '.');
      }
    }

    show(0);
  }

  // ---------------------------------------------------------------- console shell and routing

  const NAV = [
    { route: 'dashboard', title: 'Dashboard', icon: 'dashboard' },
    { section: 'Applications' },
    { route: 'virtualservices', title: 'Virtual services', icon: 'vs' },
    { route: 'pools', title: 'Pools', icon: 'pool' },
    { route: 'healthmonitors', title: 'Health monitors', icon: 'hm' },
    { section: 'Infrastructure' },
    { route: 'serviceengines', title: 'Service engines', icon: 'se' },
    { route: 'settings', title: 'Settings', icon: 'settings' },
  ];

  function renderShell() {
    const app = root();
    const nav = h('ul', { class: 'nav', id: 'nav', testid: 'nav' },
      NAV.map((n) => n.section ? h('li', { class: 'nav-section' }, n.section)
        : h('li', null, h('a', { href: '#/' + n.route, 'data-nav': n.route, id: 'nav-' + n.route, testid: 'nav-' + n.route }, icon(n.icon), n.title))));
    const name = (state.user && (state.user.username || state.user.name)) || '';
    app.append(h('div', { class: 'shell', id: 'shell', testid: 'shell' },
      h('aside', { class: 'sidebar' }, h('div', { class: 'sidebar-inner' },
        brand('controller'),
        nav,
        h('div', { class: 'sidebar-foot' }, state.version ? 'avi-init ' + state.version : 'avi-init'))),
      h('div', { class: 'main' },
        h('header', { class: 'topbar' },
          h('div', { class: 'crumbs', id: 'crumbs', testid: 'crumbs' }),
          h('span', { class: 'spacer' }),
          h('span', { class: 'user-chip', testid: 'current-user' }, h('span', { class: 'avatar' }, name.slice(0, 1) || '?'), name),
          h('button', { class: 'btn btn-ghost btn-sm', id: 'logout', testid: 'logout', onclick: logout }, icon('logout', 'icon-sm'), 'Log out')),
        h('main', { class: 'content', id: 'content', testid: 'content' }))));
    route();
  }

  const ROUTES = [
    [/^dashboard$/, pageDashboard],
    [/^virtualservices$/, pageVirtualServices],
    [/^virtualservices\/([\w-]+)$/, pageVirtualService],
    [/^pools$/, pagePools],
    [/^healthmonitors$/, pageHealthMonitors],
    [/^serviceengines$/, pageServiceEngines],
    [/^settings$/, pageSettings],
  ];

  function route() {
    if (!state.user || !$('#content')) return;
    const path = location.hash.replace(/^#\/?/, '');
    let fn = null;
    let args = [];
    for (const [re, f] of ROUTES) {
      const m = re.exec(path);
      if (m) { fn = f; args = m.slice(1); break; }
    }
    if (!fn) {
      history.replaceState(null, '', '#/dashboard');
      fn = pageDashboard;
      args = [];
    }
    stopTimers();
    closeModal();
    const top = path.split('/')[0] || 'dashboard';
    $$('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.nav === top));
    const content = clear($('#content'));
    const seq = ++state.seq;
    const live = () => seq === state.seq;
    Promise.resolve(fn(content, live, ...args)).catch((e) => {
      if (!live()) return;
      if (e.status === 401) return;
      clear(content).append(h('div', { class: 'alert alert-error', testid: 'page-error' }, icon('alert', 'icon-sm'), e.message));
    });
    window.scrollTo(0, 0);
  }

  window.addEventListener('hashchange', route);
  window.addEventListener('resize', () => { if (state.onResize) state.onResize(); });

  function stopTimers() {
    state.timers.forEach(clearInterval);
    state.timers = [];
    state.onResize = null;
  }

  // every runs fn periodically while the page is shown and the tab is visible.
  function every(ms, live, fn) {
    const t = setInterval(() => {
      if (!live()) { clearInterval(t); return; }
      if (!document.hidden) fn().catch(() => {});
    }, ms);
    state.timers.push(t);
  }

  function crumbs(...parts) {
    const c = $('#crumbs');
    if (!c) return;
    clear(c);
    parts.forEach((p, i) => {
      if (i) c.append(h('span', { class: 'sep' }, '/'));
      c.append(Array.isArray(p) ? h('a', { href: p[1] }, p[0]) : h('span', { class: 'current' }, p));
    });
  }

  function pageHead(title, desc, ...actions) {
    return h('div', { class: 'page-head' },
      h('div', null, h('div', { class: 'title-row' }, h('h1', null, title)), desc ? h('p', null, desc) : null),
      actions.length ? h('div', { class: 'btn-row' }, actions) : null);
  }

  function empty(iconName, title, text, action) {
    return h('div', { class: 'empty', testid: 'empty' },
      h('div', { class: 'empty-icon' }, icon(iconName, 'icon-lg')),
      h('h3', null, title), text ? h('p', null, text) : null, action || null);
  }

  function table(id, headers, rows) {
    return h('div', { class: 'table-wrap' }, h('table', { class: 'data', id, testid: id },
      h('thead', null, h('tr', null, headers.map((x) => {
        const [label, cls] = Array.isArray(x) ? x : [x, ''];
        return h('th', { class: cls || null }, label);
      }))),
      h('tbody', null, rows)));
  }

  function rowActions(onEdit, onDelete, name) {
    return h('td', { class: 'actions' },
      onEdit ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'edit', 'aria-label': 'Edit ' + name, onclick: onEdit }, icon('edit', 'icon-sm'), 'Edit') : null,
      onDelete ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm danger', testid: 'delete', 'aria-label': 'Delete ' + name, onclick: onDelete }, icon('trash', 'icon-sm'), 'Delete') : null);
  }

  function createButton(id, label, onclick) {
    return h('button', { type: 'button', class: 'btn btn-primary', id, testid: id, onclick }, icon('plus', 'icon-sm'), label);
  }

  function panelHead(title, text, ...extra) {
    return h('div', { class: 'panel-head' }, h('div', null, h('h2', null, title), h('p', null, text)), extra);
  }

  function loadingPanel(props) {
    return h('div', Object.assign({ class: 'panel' }, props), h('div', { class: 'loading-row' }, h('span', { class: 'spinner' })));
  }

  // listPage renders the page of one API kind's objects (virtual services, pools, ...): a table
  // with Edit and Delete on each row, or an empty state, and a create button in both. Its ids are
  // page-<kind>s, create-<kind>, create-<kind>-empty and table-<kind>. The objects are loaded with
  // the kinds in p.related, whose lists p.cells gets after the object; p.what names one object
  // in texts ("Create pool", "Delete pool").
  async function listPage(c, live, p) {
    crumbs(p.title);
    const panel = loadingPanel();
    const create = (id) => createButton(id, 'Create ' + p.what, () => p.form(null, load));
    c.append(h('div', { id: 'page-' + p.kind + 's', testid: 'page-' + p.kind + 's' },
      pageHead(p.title, p.subtitle, create('create-' + p.kind)),
      panel));

    async function load() {
      const [objs, ...related] = await Promise.all([p.kind, ...p.related].map((k) => list(k)));
      if (!live()) return;
      clear(panel);
      if (!objs.length) {
        panel.append(empty(p.emptyIcon, p.emptyTitle, p.emptyText, create('create-' + p.kind + '-empty')));
        return;
      }
      panel.append(table('table-' + p.kind, p.headers,
        objs.map((o) => h('tr', { 'data-name': o.name, 'data-uuid': o.uuid },
          p.cells(o, ...related),
          rowActions(() => p.form(o, load), () => confirmDelete(p.what, o.name, '/api/' + p.kind + '/' + o.uuid, load), o.name)))));
    }
    await load();
  }

  // ---------------------------------------------------------------- dashboard

  async function pageDashboard(c, live) {
    crumbs('Dashboard');
    const cards = h('div', { class: 'cards', testid: 'dashboard-cards' });
    const vsPanel = h('div', { class: 'panel', id: 'dashboard-vs', testid: 'dashboard-vs' });
    c.append(h('div', { id: 'page-dashboard', testid: 'page-dashboard' },
      pageHead('Dashboard', 'Health and load of your applications at a glance.'),
      cards, vsPanel));

    const card = (id, iconName, color, label, value, sub) => h('div', { class: 'card', id, testid: id },
      h('div', { class: 'card-icon ' + color }, icon(iconName, 'icon-lg')),
      h('div', null, h('div', { class: 'label' }, label), h('div', { class: 'value', testid: id + '-value' }, String(value)), h('div', { class: 'sub' }, sub)));

    async function load() {
      const [vss, pools, ses, inv] = await Promise.all([
        list('virtualservice'), list('pool'), optional('/api/serviceengine'), optional('/api/virtualservice-inventory'),
      ]);
      if (!live()) return;
      const seList = (ses && ses.results) || [];
      const up = seList.filter((s) => s.oper_status && s.oper_status.state === 'OPER_UP').length;
      const down = seList.length - up;
      const servers = pools.reduce((n, p) => n + ((p.servers && p.servers.length) || 0), 0);
      const enabled = vss.filter((v) => v.enabled !== false).length;
      clear(cards).append(
        card('count-vs', 'vs', '', 'Virtual services', vss.length, enabled + ' enabled'),
        card('count-pools', 'pool', 'violet', 'Pools', pools.length, servers + (servers === 1 ? ' server' : ' servers')),
        card('count-se-up', 'up', 'green', 'Service engines up', up, seList.length + ' joined'),
        card('count-se-down', 'down', down ? 'red' : 'grey', 'Service engines down', down, down ? 'needs attention' : 'all good'));

      const invByUUID = {};
      const invResults = (inv && inv.results) || [];
      invResults.forEach((r) => { invByUUID[r.uuid] = r; });
      const poolName = (ref) => { const p = byRef(pools, ref); return p ? p.name : ''; };
      clear(vsPanel).append(panelHead('Virtual services', inv ? 'Live figures from the service engines, refreshed every 10 seconds.' : 'Analytics are not available yet: showing the configuration.',
        h('a', { class: 'btn btn-sm', href: '#/virtualservices' }, 'Manage')));
      if (!vss.length && !invResults.length) {
        vsPanel.append(empty('vs', 'No virtual services yet', 'A virtual service offers an application on a port, balanced over a pool of servers.',
          h('a', { class: 'btn btn-primary', href: '#/virtualservices' }, icon('plus', 'icon-sm'), 'Create a virtual service')));
        return;
      }
      // Configured services first, in the inventory's figures; inventory-only entries after.
      const rows = vss.map((v) => ({ v, m: invByUUID[v.uuid] }));
      invResults.filter((r) => !vss.some((v) => v.uuid === r.uuid)).forEach((r) => rows.push({ v: { uuid: r.uuid, name: r.name }, m: r }));
      vsPanel.append(table('dashboard-vs-table',
        ['Name', 'Health', 'Status', 'Address', 'Pool', ['Requests/s', 'num'], ['p99 latency', 'num'], ['Errors/s', 'num']],
        rows.map(({ v, m }) => h('tr', { 'data-name': v.name, 'data-uuid': v.uuid },
          h('td', null, h('a', { class: 'name', href: '#/virtualservices/' + v.uuid }, v.name)),
          h('td', null, healthBadge(m && !(m.oper_status && m.oper_status.state === 'OPER_DISABLED') ? m.health_score : null)),
          h('td', null, m ? operPill(m.oper_status) : v.enabled === false ? h('span', { class: 'pill' }, 'Disabled') : h('span', { class: 'pill' }, 'No data')),
          h('td', null, vsAddress(v)),
          h('td', null, poolName(v.pool_ref) || h('span', { class: 'muted' }, '—')),
          h('td', { class: 'num' }, m ? fmtNum(m.requests_per_second, 1) : '—'),
          h('td', { class: 'num' }, m ? fmtMs(m.p99_latency_ms) : '—'),
          h('td', { class: 'num' + (m && m.error_rate > 0 ? ' bad' : '') }, m ? fmtNum(m.error_rate, 1) : '—')))));
    }

    await load();
    every(10000, live, load);
  }

  // servicePorts is a virtual service's ports as the form takes them: "80, 8000-8010".
  function servicePorts(v) {
    return (v.services || []).map((s) => s.port + (s.port_range_end ? '-' + s.port_range_end : '')).join(', ');
  }

  function vsAddress(v) {
    if (!v.services) return '';
    const addr = v.ip_address && v.ip_address.addr;
    return h('span', { class: 'mono' }, addr ? hostPort(addr, servicePorts(v)) : '*:' + servicePorts(v));
  }

  // ---------------------------------------------------------------- virtual services

  function pageVirtualServices(c, live) {
    return listPage(c, live, {
      kind: 'virtualservice',
      what: 'virtual service',
      title: 'Virtual services',
      subtitle: 'Applications offered on service engine ports, balanced over pools.',
      form: vsForm,
      emptyIcon: 'vs',
      emptyTitle: 'No virtual services yet',
      emptyText: 'Create one to offer an application on the service engines. Without an address it is east-west: it listens on its ports on every service engine.',
      related: ['pool', 'applicationprofile'],
      headers: ['Name', 'Address', 'Pool', 'Profile', 'Analytics', 'State', ''],
      cells: (v, pools, profiles) => {
        const pool = byRef(pools, v.pool_ref);
        const prof = byRef(profiles, v.application_profile_ref);
        const ap = v.analytics_policy || {};
        const realtime = ap.metrics_realtime_update && ap.metrics_realtime_update.enabled;
        const logs = ap.full_client_logs && ap.full_client_logs.enabled;
        return [
          h('td', null, h('a', { class: 'name', href: '#/virtualservices/' + v.uuid }, v.name),
            h('div', { class: 'sub' }, v.ip_address ? 'north-south' : 'east-west')),
          h('td', null, vsAddress(v)),
          h('td', null, pool ? pool.name : h('span', { class: 'muted' }, 'none')),
          h('td', null, prof ? prof.name : '—'),
          h('td', null, h('div', { class: 'chips' },
            h('span', { class: 'pill nodot ' + (realtime ? 'blue' : '') }, realtime ? 'Realtime' : '5-min metrics'),
            logs ? h('span', { class: 'pill nodot blue' }, 'Client logs') : null)),
          h('td', null, v.enabled === false ? h('span', { class: 'pill' }, 'Disabled') : h('span', { class: 'pill green' }, 'Enabled')),
        ];
      },
    });
  }

  async function vsForm(vs, after) {
    const [pools, profiles] = await Promise.all([list('pool'), list('applicationprofile')]);
    const ap = (vs && vs.analytics_policy) || {};
    const curPool = vs && byRef(pools, vs.pool_ref);
    const curProf = vs ? byRef(profiles, vs.application_profile_ref) : profiles.find((p) => p.name === 'System-HTTP');
    const poolOpts = { '': '— No pool —' };
    pools.forEach((p) => { poolOpts[refOf(p, 'pool')] = p.name; });
    const profOpts = {};
    profiles.forEach((p) => { profOpts[refOf(p, 'applicationprofile')] = p.name + (p.type === 'APPLICATION_PROFILE_TYPE_L4' ? '  (L4 TCP)' : p.type === 'APPLICATION_PROFILE_TYPE_HTTP' ? '  (L7 HTTP)' : ''); });
    const ports = vs ? servicePorts(vs) : '';
    const body = h('div', null,
      nameField('vs-name', vs, 'web-vs'),
      h('div', { class: 'field-row' },
        field('VIP address', input('vs-vip', { value: vs && vs.ip_address ? vs.ip_address.addr : '', testid: 'vs-vip', placeholder: 'optional, e.g. 198.51.100.7' }),
          { field: 'ip_address', hint: 'Empty: east-west, on every service engine.' }),
        field('Service ports', input('vs-ports', { value: ports, testid: 'vs-ports', placeholder: '80, 8000-8010' }), { field: 'services', hint: 'Comma-separated ports or ranges.' })),
      h('div', { class: 'field-row' },
        field('Application profile', select('vs-profile', profOpts, curProf ? refOf(curProf, 'applicationprofile') : Object.keys(profOpts)[0], { testid: 'vs-profile' }), { field: 'application_profile_ref' }),
        field('Pool', select('vs-pool', poolOpts, curPool ? refOf(curPool, 'pool') : '', { testid: 'vs-pool' }), { field: 'pool_ref' })),
      h('div', { class: 'section-label' }, 'Analytics'),
      h('div', { class: 'field', 'data-field': 'analytics_policy' },
        toggle('vs-realtime', ap.metrics_realtime_update ? ap.metrics_realtime_update.enabled : true, 'Realtime metrics', 'Metrics every 5 seconds instead of 5-minute averages.'),
        toggle('vs-client-logs', ap.full_client_logs ? ap.full_client_logs.enabled : false, 'Full client logs', 'Log every request, not only the significant ones.')),
      vs ? toggle('vs-enabled', vs.enabled !== false, 'Enabled', 'A disabled virtual service keeps its configuration but serves nothing.') : null);
    if (!vs) body.querySelector('#vs-pool').value = pools.length === 1 ? refOf(pools[0], 'pool') : '';
    editModal('virtual service', 'virtualservice', vs, after, {
      body,
      nameId: 'vs-name',
      fill: (o, form) => {
        const vip = $('#vs-vip', form).value.trim();
        if (vip) o.ip_address = ipAddr(vip, 'ip_address', false);
        else delete o.ip_address;
        const old = {};
        ((vs && vs.services) || []).forEach((s) => { old[s.port] = s; });
        const list = splitList($('#vs-ports', form).value);
        if (!list.length) throw new FormError('services', 'at least one service port is required');
        o.services = list.map((p) => {
          const m = /^(\d+)(?:-(\d+))?$/.exec(p);
          if (!m) throw new FormError('services', '"' + p + '" is not a port or a range');
          const s = Object.assign({}, old[m[1]] || {}, { port: Number(m[1]) });
          if (m[2]) s.port_range_end = Number(m[2]); else delete s.port_range_end;
          if (s.port < 1 || s.port > 65535) throw new FormError('services', s.port + ': want 1 to 65535');
          return s;
        });
        o.application_profile_ref = $('#vs-profile', form).value;
        const pool = $('#vs-pool', form).value;
        if (pool) o.pool_ref = pool; else delete o.pool_ref;
        o.analytics_policy = Object.assign({}, o.analytics_policy || {}, {
          metrics_realtime_update: Object.assign({}, (o.analytics_policy && o.analytics_policy.metrics_realtime_update) || {}, { enabled: $('#vs-realtime', form).checked }),
          full_client_logs: Object.assign({}, (o.analytics_policy && o.analytics_policy.full_client_logs) || {}, { enabled: $('#vs-client-logs', form).checked }),
        });
        if (vs) o.enabled = $('#vs-enabled', form).checked;
      },
    });
  }

  // ---------------------------------------------------------------- virtual service detail

  const METRICS = {
    rps: 'l7_client.avg_complete_responses',
    p50: 'l7_client.pct_latency_p50',
    p90: 'l7_client.pct_latency_p90',
    p99: 'l7_client.pct_latency_p99',
    errors: 'l7_client.avg_error_responses',
    health: 'healthscore.health_score_value',
  };
  const COLORS = ['#2563eb', '#f59e0b', '#ef4444', '#10b981'];

  async function pageVirtualService(c, live, uuid) {
    const vs = await get('/api/virtualservice/' + encodeURIComponent(uuid));
    if (!live()) return;
    const [pools, profiles] = await Promise.all([list('pool'), list('applicationprofile')]);
    if (!live()) return;
    crumbs(['Virtual services', '#/virtualservices'], vs.name);
    const pool = byRef(pools, vs.pool_ref);
    const prof = byRef(profiles, vs.application_profile_ref);
    const ap = vs.analytics_policy || {};
    const realtime = !!(ap.metrics_realtime_update && ap.metrics_realtime_update.enabled);
    const step = realtime ? 5 : 300;

    const statusSlot = h('span', { testid: 'vs-status' });
    const healthSlot = h('span', { testid: 'vs-health' });
    const head = h('div', { class: 'page-head' },
      h('div', null,
        h('div', { class: 'title-row' }, h('h1', null, vs.name), healthSlot, statusSlot),
        h('p', null, vs.ip_address ? 'North-south virtual service on its VIP.' : 'East-west virtual service: listens on its ports on every service engine.')),
      h('div', { class: 'btn-row' },
        h('button', { type: 'button', class: 'btn', id: 'vs-edit', testid: 'vs-edit', onclick: () => vsForm(vs, () => route()) }, icon('edit', 'icon-sm'), 'Edit')));
    const kv = (k, v) => h('div', null, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v));
    const summary = h('div', { class: 'panel' }, h('div', { class: 'kv' },
      kv('Address', vsAddress(vs)),
      kv('Pool', pool ? h('a', { href: '#/pools' }, pool.name) : 'none'),
      kv('Application profile', prof ? prof.name : '—'),
      kv('Analytics', (realtime ? 'Realtime (5 s)' : '5-minute averages') + ((ap.full_client_logs && ap.full_client_logs.enabled) ? ', full client logs' : ''))));

    const charts = {
      rps: chartCard('chart-rps', 'Requests', '/s', [{ label: 'requests/s' }]),
      latency: chartCard('chart-latency', 'Latency', 'ms', [{ label: 'p50' }, { label: 'p90' }, { label: 'p99' }]),
      errors: chartCard('chart-errors', 'Errors', '/s', [{ label: 'errors/s', color: 2 }]),
      health: chartCard('chart-health', 'Health score', '', [{ label: 'health', color: 3 }], { max: 100 }),
    };
    const note = h('div', { class: 'alert alert-info hidden', testid: 'metrics-note' });
    const logsPanel = h('div', { class: 'panel', testid: 'vs-logs-panel' });
    c.append(h('div', { id: 'page-vs-detail', testid: 'page-vs-detail', 'data-uuid': vs.uuid },
      head, summary, note,
      h('div', { class: 'charts' }, Object.values(charts).map((x) => x.el)),
      logsPanel));

    state.onResize = () => Object.values(charts).forEach((x) => x.redraw());
    let metricsServed = false; // the header's health comes from the series when there are any

    async function loadMetrics() {
      const ids = Object.values(METRICS).join(',');
      let data = null;
      let failure = '';
      try {
        data = await optional('/api/analytics/metrics/virtualservice/' + encodeURIComponent(vs.uuid) + '?metric_id=' + encodeURIComponent(ids) + '&step=' + step + '&limit=120');
      } catch (e) {
        failure = e.message;
      }
      if (!live()) return;
      const series = {};
      ((data && data.series) || []).forEach((s) => {
        series[s.header && s.header.name] = (s.data || []).filter((d) => d.value !== null && d.value !== undefined)
          .map((d) => ({ t: new Date(d.timestamp).getTime(), v: Number(d.value) })).filter((d) => !Number.isNaN(d.t));
      });
      const none = data === null;
      metricsServed = !none && !failure;
      const emptyText = failure ? 'Metrics unavailable' : none ? 'Analytics not available yet' : 'No data yet';
      charts.rps.set([series[METRICS.rps]], emptyText);
      charts.latency.set([series[METRICS.p50], series[METRICS.p90], series[METRICS.p99]], emptyText);
      charts.errors.set([series[METRICS.errors]], emptyText);
      charts.health.set([series[METRICS.health]], emptyText);
      const hs = series[METRICS.health];
      clear(healthSlot);
      if (hs && hs.length) healthSlot.append(healthBadge(hs[hs.length - 1].v));
      note.classList.toggle('hidden', !(failure || !realtime));
      note.textContent = failure ? 'Metrics: ' + failure : !realtime ? 'Realtime metrics are off for this virtual service: the charts show 5-minute averages. Turn them on with Edit.' : '';
    }

    async function loadStatus() {
      const inv = await optional('/api/virtualservice-inventory');
      if (!live()) return;
      const m = inv && (inv.results || []).find((r) => r.uuid === vs.uuid);
      clear(statusSlot);
      if (m) {
        statusSlot.append(operPill(m.oper_status));
        if (!metricsServed && !healthSlot.firstChild && m.health_score !== undefined) healthSlot.append(healthBadge(m.health_score));
      } else if (vs.enabled === false) {
        statusSlot.append(h('span', { class: 'pill' }, 'Disabled'));
      }
    }

    async function loadLogs() {
      let data = null;
      let failure = '';
      try {
        data = await optional('/api/analytics/logs/virtualservice/' + encodeURIComponent(vs.uuid) + '?page_size=50');
      } catch (e) {
        failure = e.message;
      }
      if (!live()) return;
      const logs = (data && data.results) || [];
      clear(logsPanel).append(panelHead('Client logs',
        (ap.full_client_logs && ap.full_client_logs.enabled) ? 'Every request, newest first.' : 'Significant requests (errors), newest first. Turn on full client logs to see every request.',
        data ? h('span', { class: 'muted small' }, (data.count !== undefined ? data.count : logs.length) + ' entries') : null));
      if (!logs.length) {
        logsPanel.append(empty('list', failure ? 'Client logs unavailable' : data ? 'No client logs yet' : 'Client logs not available yet',
          failure || (data ? 'Requests to this virtual service appear here.' : 'This controller does not serve client logs yet.')));
        return;
      }
      logsPanel.append(table('vs-logs', ['Time', 'Client', 'Request', ['Status', ''], ['Time (ms)', 'num'], 'Server', ['Bytes in / out', 'num']],
        logs.map((l) => h('tr', { class: l.significant ? 'significant' : null },
          h('td', { class: 'small' }, fmtTime(l.report_timestamp)),
          h('td', { class: 'mono' }, (l.client_ip || '') + (l.client_src_port ? ':' + l.client_src_port : '')),
          h('td', null, h('span', { class: 'chip plain' }, l.method || '—'), ' ', h('span', { class: 'mono' }, l.uri_path || '')),
          h('td', null, statusPill(l.response_code)),
          h('td', { class: 'num' }, fmtNum(l.total_time, 1)),
          h('td', { class: 'mono' }, (l.server_ip || '—') + (l.server_port ? ':' + l.server_port : '')),
          h('td', { class: 'num small' }, fmtBytes(l.request_length) + ' / ' + fmtBytes(l.response_length))))));
    }

    await Promise.all([loadMetrics(), loadStatus(), loadLogs()]);
    every(5000, live, () => Promise.all([loadMetrics(), loadStatus(), loadLogs()]));
  }

  function statusPill(code) {
    const n = Number(code);
    const cls = n >= 500 ? 'red' : n >= 400 ? 'amber' : n >= 200 && n < 400 ? 'green' : '';
    return h('span', { class: 'pill nodot ' + cls }, code ? String(code) : '—');
  }

  // chartCard is a card holding one time-series chart, drawn on a canvas by drawChart.
  function chartCard(id, title, unit, lines, opts) {
    opts = opts || {};
    const canvas = h('canvas', { id, testid: id, 'aria-label': title + ' over time', role: 'img' });
    const now = h('div', { class: 'now' });
    const legend = lines.length > 1 ? h('div', { class: 'legend' }, lines.map((l, i) => h('span', null, h('i', { class: 'c' + (l.color !== undefined ? l.color : i) }), l.label))) : null;
    const el = h('div', { class: 'chart-card', testid: id + '-card' },
      h('div', { class: 'chart-head' }, h('h3', null, title), now), canvas, legend);
    let series = [];
    let emptyText = 'No data yet';
    let hover = null;
    const redraw = () => drawChart(canvas, series, { unit, max: opts.max, empty: emptyText, hover });
    canvas.addEventListener('mousemove', (ev) => { hover = ev.offsetX; redraw(); });
    canvas.addEventListener('mouseleave', () => { hover = null; redraw(); });
    return {
      el,
      redraw,
      set(data, emptyMsg) {
        emptyText = emptyMsg;
        series = lines.map((l, i) => ({ label: l.label, color: COLORS[l.color !== undefined ? l.color : i], points: data[i] || [] }));
        const last = series[series.length - 1].points;
        clear(now);
        if (last.length) append(now, [fmtNum(last[last.length - 1].v), unit ? h('small', null, unit === 'ms' ? 'ms ' + series[series.length - 1].label : unit) : null]);
        redraw();
      },
    };
  }

  // niceStep rounds a grid step up to 1, 2, 2.5 or 5 times a power of ten.
  function niceStep(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function drawChart(canvas, series, opts) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 400;
    const hgt = canvas.clientHeight || 180;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(hgt * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    ctx.font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const pad = { l: 42, r: 10, t: 10, b: 22 };
    const pw = w - pad.l - pad.r;
    const ph = hgt - pad.t - pad.b;
    const pts = series.flatMap((s) => s.points);
    const top = Math.max(0, ...pts.map((p) => p.v));
    const maxV = opts.max && top <= opts.max ? opts.max : 4 * niceStep((top * 1.1) / 4);

    // grid and y labels
    ctx.strokeStyle = '#eef1f5';
    ctx.fillStyle = '#94a3b8';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = Math.round(pad.t + ph - (ph * i) / 4) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(w - pad.r, y);
      ctx.stroke();
      ctx.fillText(fmtAxis((maxV * i) / 4), pad.l - 6, y);
    }
    if (!pts.length) {
      ctx.textAlign = 'center';
      ctx.fillStyle = '#94a3b8';
      ctx.font = '13px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
      ctx.fillText(opts.empty || 'No data yet', pad.l + pw / 2, pad.t + ph / 2);
      return;
    }
    let t0 = Math.min(...pts.map((p) => p.t));
    let t1 = Math.max(...pts.map((p) => p.t));
    if (t1 === t0) { t0 -= 60000; t1 += 1000; }
    const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * pw;
    const y = (v) => pad.t + ph - (Math.min(v, maxV) / maxV) * ph;

    // x labels
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillStyle = '#94a3b8';
    const withSeconds = t1 - t0 < 5 * 60000;
    const ticks = Math.max(1, Math.min(5, Math.floor(pw / (withSeconds ? 120 : 100))));
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + ((t1 - t0) * i) / ticks;
      const label = new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: withSeconds ? '2-digit' : undefined });
      ctx.textAlign = i === 0 ? 'left' : i === ticks ? 'right' : 'center';
      ctx.fillText(label, x(t), pad.t + ph + 6);
    }

    // lines, the first series with a soft fill
    series.forEach((s, si) => {
      if (!s.points.length) return;
      const sorted = s.points.slice().sort((a, b) => a.t - b.t);
      ctx.beginPath();
      sorted.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.8;
      ctx.lineJoin = 'round';
      ctx.stroke();
      if (si === 0 && series.length === 1) {
        ctx.lineTo(x(sorted[sorted.length - 1].t), pad.t + ph);
        ctx.lineTo(x(sorted[0].t), pad.t + ph);
        ctx.closePath();
        const g = ctx.createLinearGradient(0, pad.t, 0, pad.t + ph);
        g.addColorStop(0, hexAlpha(s.color, 0.18));
        g.addColorStop(1, hexAlpha(s.color, 0.01));
        ctx.fillStyle = g;
        ctx.fill();
      }
      if (sorted.length === 1) {
        ctx.fillStyle = s.color;
        ctx.beginPath();
        ctx.arc(x(sorted[0].t), y(sorted[0].v), 3, 0, Math.PI * 2);
        ctx.fill();
      }
    });

    // hover: a guide line and the values nearest to it
    if (opts.hover !== null && opts.hover !== undefined && opts.hover >= pad.l && opts.hover <= w - pad.r) {
      const t = t0 + ((opts.hover - pad.l) / pw) * (t1 - t0);
      const near = series.map((s) => s.points.reduce((best, p) => (!best || Math.abs(p.t - t) < Math.abs(best.t - t) ? p : best), null));
      const ref = near.find(Boolean);
      if (!ref) return;
      const gx = Math.round(x(ref.t)) + 0.5;
      ctx.strokeStyle = '#cbd5e1';
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(gx, pad.t);
      ctx.lineTo(gx, pad.t + ph);
      ctx.stroke();
      const lines = [new Date(ref.t).toLocaleTimeString()].concat(series.map((s, i) => near[i] ? s.label + ': ' + fmtNum(near[i].v) + (opts.unit ? ' ' + opts.unit : '') : null).filter(Boolean));
      ctx.font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
      const bw = Math.max(...lines.map((l) => ctx.measureText(l).width)) + 16;
      const bh = lines.length * 15 + 8;
      let bx = gx + 8;
      if (bx + bw > w - pad.r) bx = gx - 8 - bw;
      ctx.fillStyle = 'rgba(15, 23, 42, .88)';
      roundRect(ctx, bx, pad.t + 4, bw, bh, 6);
      ctx.fill();
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      lines.forEach((l, i) => {
        ctx.fillStyle = i === 0 ? '#cbd5e1' : '#fff';
        ctx.fillText(l, bx + 8, pad.t + 8 + i * 15);
      });
      near.forEach((p, i) => {
        if (!p) return;
        ctx.fillStyle = series[i].color;
        ctx.beginPath();
        ctx.arc(x(p.t), y(p.v), 3, 0, Math.PI * 2);
        ctx.fill();
      });
    }
  }

  function roundRect(ctx, x, y, w, h2, r) {
    ctx.beginPath();
    ctx.moveTo(x + r, y);
    ctx.arcTo(x + w, y, x + w, y + h2, r);
    ctx.arcTo(x + w, y + h2, x, y + h2, r);
    ctx.arcTo(x, y + h2, x, y, r);
    ctx.arcTo(x, y, x + w, y, r);
    ctx.closePath();
  }

  function hexAlpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return 'rgba(' + (n >> 16) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }

  function fmtAxis(v) {
    if (v >= 1e6) return fmtNum(v / 1e6, 1) + 'M';
    if (v >= 1e3) return fmtNum(v / 1e3, 1) + 'k';
    return fmtNum(v, 2);
  }

  // ---------------------------------------------------------------- pools

  function pagePools(c, live) {
    return listPage(c, live, {
      kind: 'pool',
      what: 'pool',
      title: 'Pools',
      subtitle: 'Groups of servers that virtual services balance traffic over.',
      form: poolForm,
      emptyIcon: 'pool',
      emptyTitle: 'No pools yet',
      emptyText: 'A pool lists the servers behind a virtual service and how to balance across them.',
      related: ['healthmonitor', 'virtualservice'],
      headers: ['Name', 'Servers', 'Algorithm', 'Health monitors', 'Used by', ''],
      cells: (p, hms, vss) => {
        const servers = p.servers || [];
        const users = vss.filter((v) => byRef([p], v.pool_ref));
        return [
          h('td', null, h('span', { class: 'name' }, p.name)),
          h('td', null, servers.length ? h('div', { class: 'chips' },
            servers.slice(0, 4).map((s) => h('span', { class: 'chip' + (s.enabled === false ? ' muted' : '') }, hostPort(s.ip && s.ip.addr, s.port || p.default_server_port))),
            servers.length > 4 ? h('span', { class: 'chip plain' }, '+' + (servers.length - 4)) : null) : h('span', { class: 'muted' }, 'no servers')),
          h('td', null, ALGORITHMS[p.lb_algorithm] || p.lb_algorithm || '—'),
          h('td', null, (p.health_monitor_refs || []).length ? h('div', { class: 'chips' },
            p.health_monitor_refs.map((r) => { const m = byRef(hms, r); return h('span', { class: 'chip plain' }, m ? m.name : r); })) : h('span', { class: 'muted' }, 'passive only')),
          h('td', null, users.length ? users.map((v, i) => [i ? ', ' : '', h('a', { href: '#/virtualservices/' + v.uuid }, v.name)]) : h('span', { class: 'muted' }, '—')),
        ];
      },
    });
  }

  function hostPort(addr, port) {
    if (!addr) return '';
    return (addr.includes(':') ? '[' + addr + ']' : addr) + (port ? ':' + port : '');
  }

  function parseServer(s) {
    let m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s);
    if (!m) m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (!m && isIPv6(s)) m = [s, s, undefined];
    if (!m) throw new FormError('servers', '"' + s + '": want ip:port');
    const srv = { ip: ipAddr(m[1], 'servers', false) };
    if (m[2]) {
      srv.port = Number(m[2]);
      if (srv.port < 1 || srv.port > 65535) throw new FormError('servers', '"' + s + '": port want 1 to 65535');
    }
    return srv;
  }

  async function poolForm(pool, after) {
    const hms = await list('healthmonitor');
    const current = new Set(((pool && pool.health_monitor_refs) || []).map((r) => { const m = byRef(hms, r); return m ? m.uuid : r; }));
    const servers = pool ? (pool.servers || []).map((s) => hostPort(s.ip && s.ip.addr, s.port)).join('\n') : '';
    const body = h('div', null,
      nameField('pool-name', pool, 'web'),
      field('Servers', h('textarea', { id: 'pool-servers', testid: 'pool-servers', class: 'mono', rows: 4, value: servers, placeholder: '192.0.2.21:8080\n192.0.2.22:8080', spellcheck: 'false' }),
        { field: 'servers', hint: 'One ip:port per line (or separated by commas). Without a port, the default server port is used.' }),
      h('div', { class: 'field-row' },
        field('Load-balancing algorithm', select('pool-algorithm', ALGORITHMS, (pool && pool.lb_algorithm) || 'LB_ALGORITHM_LEAST_CONNECTIONS', { testid: 'pool-algorithm' }), { field: 'lb_algorithm' }),
        field('Default server port', input('pool-default-port', { type: 'number', min: 1, max: 65535, value: String((pool && pool.default_server_port) || 80), testid: 'pool-default-port' }), { field: 'default_server_port' })),
      h('div', { class: 'field', 'data-field': 'health_monitor_refs' },
        h('span', { class: 'field-label' }, 'Health monitors'),
        hms.length ? h('div', { class: 'check-stack', id: 'pool-health-monitors', testid: 'pool-health-monitors' },
          hms.map((m) => h('label', { class: 'check' },
            h('input', { type: 'checkbox', name: 'pool-hm', value: refOf(m, 'healthmonitor'), 'data-name': m.name, checked: current.has(m.uuid), testid: 'pool-hm-' + m.name }),
            m.name, h('span', { class: 'muted small' }, m.type === 'HEALTH_MONITOR_TCP' ? 'TCP' : 'HTTP'))))
          : h('div', { class: 'hint' }, 'No health monitors yet: servers are checked passively. Create monitors under Health monitors.')));
    editModal('pool', 'pool', pool, after, {
      body,
      nameId: 'pool-name',
      fill: (o, form) => {
        const old = {};
        ((pool && pool.servers) || []).forEach((s) => { old[(s.ip && s.ip.addr) + ':' + (s.port || '')] = s; });
        o.servers = splitList($('#pool-servers', form).value).map((s) => {
          const srv = parseServer(s);
          return Object.assign({}, old[srv.ip.addr + ':' + (srv.port || '')] || {}, srv);
        });
        o.lb_algorithm = $('#pool-algorithm', form).value;
        if (o.lb_algorithm !== 'LB_ALGORITHM_CONSISTENT_HASH') delete o.lb_algorithm_hash;
        const dp = Number($('#pool-default-port', form).value);
        if (!(dp >= 1 && dp <= 65535)) throw new FormError('default_server_port', 'want 1 to 65535');
        o.default_server_port = dp;
        o.health_monitor_refs = $$('input[name=pool-hm]:checked', form).map((x) => x.value);
      },
    });
  }

  // ---------------------------------------------------------------- health monitors

  function pageHealthMonitors(c, live) {
    return listPage(c, live, {
      kind: 'healthmonitor',
      what: 'health monitor',
      title: 'Health monitors',
      subtitle: 'Active checks the service engines run against pool servers.',
      form: hmForm,
      emptyIcon: 'hm',
      emptyTitle: 'No health monitors yet',
      emptyText: 'A health monitor checks pool servers over HTTP or TCP and takes failing ones out of rotation.',
      related: ['pool'],
      headers: ['Name', 'Type', 'Interval / timeout', 'Checks', 'Request', 'Used by', ''],
      cells: (m, pools) => {
        const users = pools.filter((p) => (p.health_monitor_refs || []).some((r) => byRef([m], r)));
        const http = m.http_monitor || {};
        const tcp = m.tcp_monitor || {};
        return [
          h('td', null, h('span', { class: 'name' }, m.name)),
          h('td', null, h('span', { class: 'pill nodot blue' }, m.type === 'HEALTH_MONITOR_TCP' ? 'TCP' : 'HTTP')),
          h('td', null, m.send_interval + ' s / ' + m.receive_timeout + ' s'),
          h('td', null, h('span', { title: 'Successful checks to mark a server up / failed checks to mark it down' }, m.successful_checks + ' up · ' + m.failed_checks + ' down')),
          h('td', null, m.type === 'HEALTH_MONITOR_TCP'
            ? h('span', { class: 'muted' }, tcp.tcp_request ? tcp.tcp_request : 'connect only')
            : h('div', null, h('span', { class: 'mono' }, http.http_request || ''), h('div', { class: 'sub' }, (http.http_response_code || []).map((x) => x.replace('HTTP_', '')).join(', ')))),
          h('td', null, users.length ? users.map((p) => p.name).join(', ') : h('span', { class: 'muted' }, '—')),
        ];
      },
    });
  }

  function hmForm(hm, after) {
    const http = (hm && hm.http_monitor) || {};
    const tcp = (hm && hm.tcp_monitor) || {};
    const codes = new Set(http.http_response_code || ['HTTP_2XX', 'HTTP_3XX']);
    const type = select('hm-type', { HEALTH_MONITOR_HTTP: 'HTTP', HEALTH_MONITOR_TCP: 'TCP' }, (hm && hm.type) || 'HEALTH_MONITOR_HTTP', { testid: 'hm-type' });
    const num = (id, v, min, max) => input(id, { type: 'number', min, max, value: String(v), testid: id });
    const httpPart = h('div', { testid: 'hm-http-fields' },
      h('div', { class: 'section-label' }, 'HTTP'),
      field('Request', input('hm-http-request', { class: 'mono', value: http.http_request || 'GET / HTTP/1.0', testid: 'hm-http-request' }), { field: 'http_monitor.http_request', hint: 'The request line sent, e.g. "GET /healthz HTTP/1.1".' }),
      h('div', { class: 'field', 'data-field': 'http_monitor.http_response_code' },
        h('span', { class: 'field-label' }, 'Healthy response codes'),
        h('div', { class: 'check-list', id: 'hm-codes', testid: 'hm-codes' }, ['HTTP_1XX', 'HTTP_2XX', 'HTTP_3XX', 'HTTP_4XX', 'HTTP_5XX', 'HTTP_ANY'].map((c) =>
          h('label', { class: 'check check-chip' }, h('input', { type: 'checkbox', name: 'hm-code', value: c, checked: codes.has(c), testid: 'hm-code-' + c }), c.replace('HTTP_', ''))))));
    const tcpPart = h('div', { testid: 'hm-tcp-fields' },
      h('div', { class: 'section-label' }, 'TCP'),
      h('div', { class: 'field-row' },
        field('Send (optional)', input('hm-tcp-request', { class: 'mono', value: tcp.tcp_request || '', testid: 'hm-tcp-request' }), { field: 'tcp_monitor.tcp_request' }),
        field('Expect (optional)', input('hm-tcp-response', { class: 'mono', value: tcp.tcp_response || '', testid: 'hm-tcp-response' }), { field: 'tcp_monitor.tcp_response' })),
      h('div', { class: 'hint' }, 'Without a request, a completed TCP connection is healthy.'));
    const sync = () => {
      httpPart.classList.toggle('hidden', type.value !== 'HEALTH_MONITOR_HTTP');
      tcpPart.classList.toggle('hidden', type.value !== 'HEALTH_MONITOR_TCP');
    };
    type.addEventListener('change', sync);
    sync();
    const body = h('div', null,
      h('div', { class: 'field-row' },
        nameField('hm-name', hm, 'hm-http'),
        field('Type', type, { field: 'type' })),
      h('div', { class: 'field-row four' },
        field('Send interval (s)', num('hm-send-interval', hm ? hm.send_interval : 10, 1, 3600), { field: 'send_interval' }),
        field('Receive timeout (s)', num('hm-receive-timeout', hm ? hm.receive_timeout : 4, 1, 2400), { field: 'receive_timeout' }),
        field('Successful checks', num('hm-successful-checks', hm ? hm.successful_checks : 2, 1, 50), { field: 'successful_checks' }),
        field('Failed checks', num('hm-failed-checks', hm ? hm.failed_checks : 2, 1, 50), { field: 'failed_checks' })),
      httpPart, tcpPart);
    editModal('health monitor', 'healthmonitor', hm, after, {
      wide: true,
      body,
      nameId: 'hm-name',
      fill: (o, form) => {
        o.type = type.value;
        for (const [id, key, lo, hi] of [['hm-send-interval', 'send_interval', 1, 3600], ['hm-receive-timeout', 'receive_timeout', 1, 2400], ['hm-successful-checks', 'successful_checks', 1, 50], ['hm-failed-checks', 'failed_checks', 1, 50]]) {
          const v = Number($('#' + id, form).value);
          if (!Number.isInteger(v) || v < lo || v > hi) throw new FormError(key, 'want a whole number from ' + lo + ' to ' + hi);
          o[key] = v;
        }
        if (o.send_interval > 1 && o.receive_timeout >= o.send_interval) throw new FormError('receive_timeout', 'must be less than the send interval (' + o.send_interval + ' s)');
        if (o.type === 'HEALTH_MONITOR_HTTP') {
          const req = $('#hm-http-request', form).value.trim();
          if (!/^\S+ \/\S* ?/.test(req)) throw new FormError('http_monitor.http_request', 'want a request line such as "GET / HTTP/1.0"');
          const cs = $$('input[name=hm-code]:checked', form).map((x) => x.value);
          if (!cs.length) throw new FormError('http_monitor.http_response_code', 'pick at least one');
          o.http_monitor = { http_request: req, http_response_code: cs };
          delete o.tcp_monitor;
        } else {
          const rq = $('#hm-tcp-request', form).value;
          const rs = $('#hm-tcp-response', form).value;
          delete o.http_monitor;
          if (rq || rs) o.tcp_monitor = Object.assign({}, rq ? { tcp_request: rq } : {}, rs ? { tcp_response: rs } : {});
          else delete o.tcp_monitor;
        }
      },
    });
  }

  // ---------------------------------------------------------------- service engines and join tokens

  async function pageServiceEngines(c, live) {
    crumbs('Service engines');
    const sePanel = loadingPanel({ testid: 'se-panel' });
    const tokPanel = h('div', { class: 'panel', testid: 'jointoken-panel' });
    const linuxPanel = h('div', { testid: 'linuxserver-panel' });
    const mesosPanel = h('div', { testid: 'mesos-panel' });
    const dockerPanel = h('div', { testid: 'docker-panel' });
    c.append(h('div', { id: 'page-serviceengines', testid: 'page-serviceengines' },
      pageHead('Service engines', 'The data plane: hosts that run the load balancer and receive their configuration from this controller.',
        createButton('create-jointoken', 'Create join token', () => tokenForm(loadTokens))),
      sePanel, linuxPanel, mesosPanel, dockerPanel, tokPanel));

    // issuesTable lists what an integration could not map (errors: skipped) or left out (notes),
    // one row per app or service.
    function issuesTable(testid, what, key, errors, notes) {
      const issues = (errors || []).map((x) => ['error', x]).concat((notes || []).map((x) => ['note', x]));
      return table(testid, [what, '', 'Message'], issues.map(([kind, x]) => h('tr', { ['data-' + key.split('_')[0]]: x[key] },
        h('td', { class: 'mono' }, x[key] || '—'),
        h('td', null, h('span', { class: 'pill ' + (kind === 'error' ? 'red' : 'amber'), testid: testid + '-' + kind }, kind === 'error' ? 'Skipped' : 'Note')),
        h('td', null, x.message))));
    }

    // cloudRuntimes returns the clouds of the given types, each as [cloud, its runtime]
    // (docs/api.md: GET /api/cloud/<uuid>/runtime).
    async function cloudRuntimes(...vtypes) {
      const clouds = (await list('cloud')).filter((x) => vtypes.includes(x.vtype));
      const runtimes = await Promise.all(clouds.map((cl) => get('/api/cloud/' + cl.uuid + '/runtime')));
      return clouds.map((cl, i) => [cl, runtimes[i]]);
    }

    // loadMesos shows each Mesos cloud's sync: Marathon reachable or not, and every app that
    // could not be turned into a virtual service, with the reason (docs/api.md: cloud runtime).
    async function loadMesos() {
      const clouds = await cloudRuntimes('CLOUD_MESOS');
      if (!live()) return;
      clear(mesosPanel);
      clouds.forEach(([cl, rt]) => {
        const st = rt.mesos || { state: 'SYNCING' };
        const panel = h('div', { class: 'panel', testid: 'mesos-cloud', 'data-name': cl.name });
        panel.append(panelHead('Marathon apps: ' + cl.name,
          st.state + (st.reason ? ': ' + st.reason : '') + ' · ' + (st.apps || 0) + ' apps, ' + (st.virtual_services || 0) + ' virtual services' +
          (st.last_sync ? ' · synced ' + fmtAgo(st.last_sync) : '')));
        if (!(st.app_errors || []).length && !(st.app_notes || []).length) {
          panel.append(empty('cloud', 'Every app mapped', 'Each app port is a virtual service.'));
        } else {
          panel.append(issuesTable('table-mesos-apps', 'App', 'app_id', st.app_errors, st.app_notes));
        }
        mesosPanel.append(panel);
      });
    }

    // loadDocker shows each Docker cloud's engines (followed over SSH or not, and why) and every
    // labelled service that could not be turned into a virtual service (docs/api.md).
    async function loadDocker() {
      const clouds = await cloudRuntimes('CLOUD_DOCKER');
      if (!live()) return;
      clear(dockerPanel);
      clouds.forEach(([cl, rt]) => {
        const st = rt.docker || { state: 'SYNCING', hosts: [] };
        const panel = h('div', { class: 'panel', testid: 'docker-cloud', 'data-name': cl.name });
        const unfollowed = (st.hosts || []).filter((x) => x.state !== 'CONNECTED').length;
        panel.append(panelHead('Docker services: ' + cl.name,
          st.state + (unfollowed ? ' · ' + unfollowed + ' of ' + st.hosts.length + ' engines not followed (see below)' : '') + ' · ' + (st.services || 0) + ' services, ' + (st.virtual_services || 0) + ' virtual services' +
          (st.last_sync ? ' · synced ' + fmtAgo(st.last_sync) : '') + '. Containers with an avi_proxy label are mapped.'));
        panel.append(table('table-docker-hosts', ['Host', 'Engine', 'Labelled containers', 'Read'],
          (st.hosts || []).map((x) => h('tr', { 'data-host': x.host_ip.addr },
            h('td', { class: 'mono' }, x.host_ip.addr),
            h('td', null, h('span', { class: 'pill ' + ({ CONNECTED: 'green', ERROR: 'red' }[x.state] || 'amber'), testid: 'docker-host-state' }, x.state),
              x.reason ? h('div', { class: 'sub', testid: 'docker-host-reason' }, x.reason) : null),
            h('td', null, String(x.containers || 0)),
            h('td', { title: fmtTime(x.last_read) }, x.last_read ? fmtAgo(x.last_read) : '—')))));
        if ((st.service_errors || []).length || (st.service_notes || []).length) {
          panel.append(issuesTable('table-docker-services', 'Service', 'service', st.service_errors, st.service_notes));
        }
        dockerPanel.append(panel);
      });
    }

    // hostsConfig is where a cloud whose hosts get SEs lists them: a Linux server or Docker cloud.
    const hostsConfig = (cl) => cl.vtype === 'CLOUD_DOCKER' ? 'docker_configuration' : 'linuxserver_configuration';

    // loadLinux shows each Linux server (or Docker) cloud's hosts with the state of their SE
    // deployment (docs/api.md: GET /api/cloud/<uuid>/runtime), and how to prepare a host.
    async function loadLinux() {
      const clouds = await cloudRuntimes('CLOUD_LINUXSERVER', 'CLOUD_DOCKER');
      const users = clouds.length ? await list('cloudconnectoruser') : [];
      if (!live()) return;
      clear(linuxPanel);
      clouds.forEach(([cl, rt]) => {
        const user = byRef(users, (cl[hostsConfig(cl)] || {}).ssh_user_ref) || {};
        const panel = h('div', { class: 'panel', testid: 'linuxserver-cloud', 'data-name': cl.name });
        panel.append(panelHead((cl.vtype === 'CLOUD_DOCKER' ? 'Docker hosts: ' : 'Linux server hosts: ') + cl.name,
          'The controller installs a service engine on each host over SSH as ' + (user.name || '?') + '. Refreshed every 5 seconds.',
          createButton('linuxhost-add', 'Add host', () => hostForm(cl))));
        if (user.name) {
          // In a panel body: fields appended to the panel itself would touch its border.
          const cmd = 'curl -ks https://' + location.host + '/api/linux_host_install?username=' + user.name + ' | sudo bash';
          const prepare = h('div', { class: 'panel-body' },
            h('div', { class: 'field' }, h('label', { for: 'linuxhost-prepare' }, 'Prepare a host (as root): authorizes the key below, grants ' + user.name + ' password-less sudo and adds it to the docker group'),
              h('div', { class: 'copy-box' }, input('linuxhost-prepare', { class: 'mono', readOnly: true, value: cmd, testid: 'linuxhost-prepare' }), copyButton(cmd, 'linuxhost-prepare-copy'))));
          if (user.public_key) {
            prepare.append(h('div', { class: 'field' }, h('label', { for: 'linuxhost-pubkey' }, 'Public key'),
              h('div', { class: 'copy-box' }, input('linuxhost-pubkey', { class: 'mono', readOnly: true, value: user.public_key, testid: 'linuxhost-pubkey' }), copyButton(user.public_key, 'linuxhost-pubkey-copy'))));
          }
          panel.append(prepare);
        }
        const hosts = rt.linuxserver_hosts || [];
        if (!hosts.length) {
          panel.append(empty('se', 'No hosts', 'Add a host, prepared as above, and the controller installs a service engine on it.'));
        } else {
          panel.append(table('table-linuxhost', ['Host', 'State', 'Host key', 'Service engine', 'Since', ''],
            hosts.map((x) => h('tr', { 'data-host': x.host_ip.addr },
              h('td', { class: 'mono' }, x.host_ip.addr),
              h('td', null, hostStatePill(x.state), x.reason ? h('div', { class: 'sub', testid: 'linuxhost-reason' }, x.reason) : null,
                x.next_attempt ? h('div', { class: 'sub' }, 'next attempt ' + fmtAgo(x.next_attempt)) : null),
              h('td', { class: 'mono', title: 'Recorded the first time the controller connected; a different key is refused.' }, x.host_key_fingerprint || '—'),
              h('td', null, x.se_ref ? h('span', { class: 'mono' }, uuidOfRef(x.se_ref)) : '—'),
              h('td', { title: fmtTime(x.last_change) }, x.last_change ? fmtAgo(x.last_change) : '—'),
              h('td', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-ghost btn-sm danger', testid: 'linuxhost-remove', onclick: () => removeHost(cl, x.host_ip.addr) }, icon('trash', 'icon-sm'), 'Remove'))))));
        }
        linuxPanel.append(panel);
      });
    }

    function setHosts(cl, hosts) {
      const o = JSON.parse(JSON.stringify(cl));
      o[hostsConfig(cl)].hosts = hosts;
      return put('/api/cloud/' + cl.uuid, o);
    }

    function hostForm(cl) {
      modal({
        title: 'Add host to ' + cl.name,
        saveLabel: 'Add',
        body: field('Host IP address', input('linuxhost-ip', { testid: 'linuxhost-ip', placeholder: '192.0.2.31' }), { field: hostsConfig(cl) + '.hosts' }),
        onSave: async (form) => {
          const addr = ipAddr($('#linuxhost-ip', form).value.trim(), hostsConfig(cl) + '.hosts', false);
          await setHosts(cl, (cl[hostsConfig(cl)].hosts || []).concat([{ host_ip: addr }]));
          toast('Host ' + addr.addr + ' added: its service engine is being installed');
          loadLinux();
        },
      });
    }

    function removeHost(cl, addr) {
      modal({
        title: 'Remove host',
        danger: true,
        saveLabel: 'Remove',
        body: h('p', null, 'Remove ', h('strong', null, addr), ' from ' + cl.name + '? Its service engine is uninstalled and its host key forgotten.'),
        onSave: async () => {
          await setHosts(cl, (cl[hostsConfig(cl)].hosts || []).filter((x) => x.host_ip.addr !== addr));
          toast('Host ' + addr + ' removed');
          loadLinux();
        },
      });
    }

    async function loadSEs() {
      const d = await optional('/api/serviceengine');
      if (!live()) return;
      const ses = (d && d.results) || [];
      clear(sePanel).append(panelHead('Service engines', 'Refreshed every 10 seconds.'));
      if (!ses.length) {
        sePanel.append(empty('se', 'No service engines yet', 'Create a join token, then run the installer in SE mode on each host with that token.'));
        return;
      }
      sePanel.append(table('table-serviceengine', ['Name', 'Management IP', 'Connected', 'State', ['Config version', 'num'], 'Last heartbeat', ''],
        ses.map((s) => h('tr', { 'data-name': s.name, 'data-uuid': s.uuid },
          h('td', null, h('span', { class: 'name' }, s.name), s.hostname && s.hostname !== s.name ? h('div', { class: 'sub' }, s.hostname) : null,
            s.config_error ? h('div', { class: 'sub' }, h('span', { class: 'pill red nodot', title: s.config_error }, 'config error')) : null),
          h('td', { class: 'mono' }, fmtAddr(s.mgmt_ip_address) || '—'),
          h('td', null, s.se_connected ? h('span', { class: 'pill green' }, 'Connected') : h('span', { class: 'pill red' }, 'Disconnected')),
          h('td', null, operPill(s.oper_status)),
          h('td', { class: 'num' }, String(s.config_version || 0)),
          h('td', { title: fmtTime(s.last_heartbeat) }, fmtAgo(s.last_heartbeat)),
          rowActions(null, () => confirmDelete('service engine', s.name, '/api/serviceengine/' + s.uuid, loadSEs), s.name)))));
    }

    async function loadTokens() {
      const d = await optional('/api/jointoken');
      if (!live()) return;
      clear(tokPanel).append(panelHead('Join tokens', 'A service engine joins this controller with a token; revoke tokens you no longer need.'));
      if (d === null) {
        tokPanel.append(empty('key', 'Join tokens are not available', 'This controller does not serve join tokens yet.'));
        return;
      }
      const toks = d.results || [];
      if (!toks.length) {
        tokPanel.append(empty('key', 'No join tokens', 'Create one to add a service engine.', null));
        tokPanel.lastChild.classList.add('compact');
        return;
      }
      tokPanel.append(table('table-jointoken', ['Description', 'ID', 'Created', 'Expires', ''],
        toks.map((t) => {
          const expired = t.expires && new Date(t.expires).getTime() < Date.now();
          const id = t.id || t.name || t.uuid;
          return h('tr', { 'data-id': id, 'data-name': t.description || id },
            h('td', null, t.description || h('span', { class: 'muted' }, 'no description')),
            h('td', { class: 'mono' }, id),
            h('td', { title: fmtTime(t.created) }, fmtAgo(t.created)),
            h('td', null, expired ? h('span', { class: 'pill red nodot' }, 'expired') : h('span', { title: fmtTime(t.expires) }, t.expires ? fmtAgo(t.expires) : 'never')),
            h('td', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-ghost btn-sm danger', testid: 'revoke', onclick: () => revokeToken(t) }, icon('ban', 'icon-sm'), 'Revoke')));
        })));
    }

    function revokeToken(t) {
      modal({
        title: 'Revoke join token',
        danger: true,
        saveLabel: 'Revoke',
        body: h('p', null, 'Revoke the token ', h('strong', null, t.description || t.id || t.name), '? Service engines that joined with it stay; new ones cannot use it.'),
        onSave: async () => {
          // docs/api.md: DELETE /api/jointoken/<id>; a controller that lists tokens as plain
          // objects (no id) deletes them by uuid.
          await del('/api/jointoken/' + encodeURIComponent(t.id || t.uuid));
          toast('Join token revoked');
          loadTokens();
        },
      });
    }

    await Promise.all([loadSEs(), loadTokens(), loadLinux(), loadMesos(), loadDocker()]);
    every(10000, live, loadSEs);
    every(5000, live, loadLinux);
    every(5000, live, loadMesos);
    every(5000, live, loadDocker);
  }

  function tokenForm(after) {
    const TTLS = { 3600: '1 hour', 86400: '24 hours', 604800: '7 days', 2592000: '30 days' };
    const body = h('div', null,
      field('Description', input('jointoken-description', { testid: 'jointoken-description', placeholder: 'e.g. rack 4 hosts' }), { field: 'description' }),
      field('Valid for', select('jointoken-ttl', TTLS, '86400', { testid: 'jointoken-ttl' }), { field: 'ttl_seconds' }));
    const m = modal({
      title: 'Create join token',
      saveLabel: 'Create',
      keepOpen: true,
      body,
      onSave: async (form) => {
        const t = await post('/api/jointoken', { description: $('#jointoken-description', form).value.trim(), ttl_seconds: Number($('#jointoken-ttl', form).value) });
        const cmd = 'sudo ./avi-init -s -m ' + (t.controller_ip || controllerHost()) + ' --join-token ' + t.token;
        clear(m.body).append(
          h('div', { class: 'alert alert-warn' }, icon('alert', 'icon-sm'), h('span', null, 'Copy the token now: it is shown only once.')),
          h('div', { class: 'field' }, h('label', { for: 'jointoken-value' }, 'Token'),
            h('div', { class: 'copy-box' }, h('textarea', { id: 'jointoken-value', testid: 'jointoken-value', class: 'mono token-box', readOnly: true, rows: 3, value: t.token }), copyButton(t.token, 'jointoken-copy'))),
          h('div', { class: 'field' }, h('label', { for: 'jointoken-command' }, 'Run on the service engine host'),
            h('div', { class: 'copy-box' }, h('textarea', { id: 'jointoken-command', testid: 'jointoken-command', class: 'mono token-box', readOnly: true, rows: 3, value: cmd }), copyButton(cmd, 'jointoken-command-copy')),
            h('div', { class: 'hint' }, t.expires ? 'Valid until ' + fmtTime(t.expires) + '.' : '')));
        m.save.remove();
        m.cancel.textContent = 'Done';
        after();
      },
    });
  }

  function controllerHost() {
    const host = location.hostname;
    return host.includes(':') ? host.replace(/^\[|\]$/g, '') : host;
  }

  // ---------------------------------------------------------------- settings

  async function pageSettings(c, live) {
    crumbs('Settings');
    const d = await get('/api/systemconfiguration');
    if (!live()) return;
    const sc = (d.results || [])[0] || {};
    c.append(h('div', { id: 'page-settings', testid: 'page-settings' },
      pageHead('Settings', 'System configuration, your account, and configuration backups.'),
      h('div', { class: 'stack' },
        systemPanel(sc),
        h('div', { class: 'grid-2' }, passwordPanel(), backupPanel()))));
  }

  function systemPanel(sc) {
    const dns = sc.dns_configuration || {};
    const ntp = sc.ntp_configuration || {};
    const email = sc.email_configuration || { smtp_type: 'SMTP_NONE' };
    const err = errorBox('settings-error');
    const type = select('settings-smtp-type', SMTP_TYPES, email.smtp_type || 'SMTP_NONE', { testid: 'settings-smtp-type' });
    const server = h('div', { class: 'field-row' },
      field('SMTP server', input('settings-smtp-server', { value: email.smtp_server || '', testid: 'settings-smtp-server' }), { field: 'email_configuration.smtp_server' }),
      field('Port', input('settings-smtp-port', { type: 'number', min: 1, max: 65535, value: String(email.mail_server_port || 25), testid: 'settings-smtp-port' }), { field: 'email_configuration.mail_server_port' }));
    const from = field('From address', input('settings-from-email', { value: email.from_email || '', testid: 'settings-from-email' }), { field: 'email_configuration.from_email' });
    const auth = h('div', { class: 'field-row' },
      field('Username', input('settings-smtp-username', { value: email.auth_username || '', testid: 'settings-smtp-username' }), { field: 'email_configuration.auth_username' }),
      field('Password', input('settings-smtp-password', { type: 'password', autocomplete: 'new-password', placeholder: email.auth_username ? 'unchanged' : '', testid: 'settings-smtp-password' }), { field: 'email_configuration.auth_password', hint: 'Leave empty to keep the stored password.' }));
    showSmtpFields(type, server, from, auth);
    const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'settings-save', testid: 'settings-save' }, 'Save');
    const form = h('form', { id: 'settings-form', testid: 'settings-form', novalidate: true, class: 'panel-body narrow' },
      err,
      h('div', { class: 'field-row' },
        field('DNS servers', input('settings-dns', { value: (dns.server_list || []).map(fmtAddr).join(', '), testid: 'settings-dns', placeholder: '192.0.2.53' }), { field: 'dns_configuration', hint: 'IP addresses, comma-separated.' }),
        field('DNS search domain', input('settings-search-domain', { value: dns.search_domain || '', testid: 'settings-search-domain' }), { field: 'dns_configuration.search_domain' })),
      field('NTP servers', input('settings-ntp', { value: (ntp.ntp_servers || []).map((n) => fmtAddr(n.server)).join(', '), testid: 'settings-ntp', placeholder: 'pool.ntp.org' }), { field: 'ntp_configuration', hint: 'IP addresses or host names, comma-separated.' }),
      h('div', { class: 'section-label' }, 'Email'),
      field('SMTP type', type, { field: 'email_configuration.smtp_type' }),
      server, from, auth,
      h('div', { class: 'btn-row' }, save));
    onSubmit(form, err, async () => {
      const o = JSON.parse(JSON.stringify(sc));
      const dnsList = addrList($('#settings-dns', form).value, 'dns_configuration', false);
      const sd = $('#settings-search-domain', form).value.trim();
      if (sd && !isHostname(sd)) throw new FormError('dns_configuration.search_domain', 'is not a domain name');
      o.dns_configuration = Object.assign({}, o.dns_configuration || {}, { server_list: dnsList });
      if (sd) o.dns_configuration.search_domain = sd; else delete o.dns_configuration.search_domain;
      o.ntp_configuration = { ntp_servers: addrList($('#settings-ntp', form).value, 'ntp_configuration', true).map((a) => ({ server: a })) };
      const t = type.value;
      const e = { smtp_type: t };
      if (t === 'SMTP_SERVER' || t === 'SMTP_ANONYMOUS_SERVER') {
        e.smtp_server = $('#settings-smtp-server', form).value.trim();
        if (!e.smtp_server) throw new FormError('email_configuration.smtp_server', 'is required for ' + SMTP_TYPES[t]);
        e.mail_server_port = Number($('#settings-smtp-port', form).value) || 25;
      }
      if (t !== 'SMTP_NONE') {
        const f = $('#settings-from-email', form).value.trim();
        if (f) e.from_email = f;
      }
      if (t === 'SMTP_SERVER') {
        const u = $('#settings-smtp-username', form).value;
        const p = $('#settings-smtp-password', form).value;
        if (u) e.auth_username = u;
        if (p) e.auth_password = p;
      }
      o.email_configuration = e;
      const out = await busy(save, () => put('/api/systemconfiguration/' + sc.uuid, o));
      Object.assign(sc, out);
      $('#settings-smtp-password', form).value = '';
      toast('System configuration saved');
    });
    return h('div', { class: 'panel', testid: 'settings-system' },
      panelHead('System configuration', 'Name resolution, time and email for the controller.'),
      form);
  }

  function passwordPanel() {
    const err = errorBox('password-error');
    const oldPw = input('pw-old', { type: 'password', autocomplete: 'current-password', testid: 'pw-old' });
    const newPw = input('pw-new', { type: 'password', autocomplete: 'new-password', testid: 'pw-new' });
    const newPw2 = input('pw-new2', { type: 'password', autocomplete: 'new-password', testid: 'pw-new2' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'pw-save', testid: 'pw-save' }, 'Change password');
    const form = h('form', { class: 'panel-body', id: 'password-form', testid: 'password-form', novalidate: true },
      err,
      field('Current password', oldPw, { field: 'old_password' }),
      field('New password', newPw, { field: 'password' }),
      field('Confirm new password', newPw2, { field: 'password2' }),
      h('div', { class: 'field' }, passwordRules(newPw)),
      save);
    onSubmit(form, err, async () => {
      if (!oldPw.value) throw new FormError('old_password', 'enter your current password');
      const p = passwordProblem(newPw.value);
      if (p) throw new FormError('password', p.replace(/^password: /, ''));
      if (newPw.value !== newPw2.value) throw new FormError('password2', 'the passwords do not match');
      await busy(save, () => put('/api/useraccount', { old_password: oldPw.value, password: newPw.value }));
      oldPw.value = newPw.value = newPw2.value = '';
      newPw.dispatchEvent(new Event('input'));
      toast('Password changed');
    });
    return h('div', { class: 'panel', testid: 'settings-password' },
      panelHead('Change password', 'For ' + ((state.user && state.user.username) || 'your account') + '.'),
      form);
  }

  function backupPanel() {
    const exErr = errorBox('export-error');
    const exPass = input('export-passphrase', { type: 'password', autocomplete: 'new-password', testid: 'export-passphrase' });
    const exBtn = h('button', { type: 'submit', class: 'btn', id: 'export-button', testid: 'export-button' }, icon('download', 'icon-sm'), 'Export');
    const exForm = h('form', { id: 'export-form', novalidate: true }, exErr,
      field('Passphrase', exPass, { field: 'passphrase', hint: 'At least 8 characters. It encrypts the secrets in the file; you need it to import.' }),
      exBtn);
    onSubmit(exForm, exErr, async () => {
      if (exPass.value.length < 8) throw new FormError('passphrase', 'at least 8 characters');
      const data = await busy(exBtn, () => post('/api/configuration/export', { passphrase: exPass.value }));
      const blob = new Blob([JSON.stringify(data, null, 2) + '\n'], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      const a = h('a', { href: url, download: 'avi-init-configuration-' + stamp + '.json', class: 'hidden' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      exPass.value = '';
      toast('Configuration exported');
    });

    const imErr = errorBox('import-error');
    const imFile = h('input', { type: 'file', id: 'import-file', accept: 'application/json,.json', testid: 'import-file' });
    const imPass = input('import-passphrase', { type: 'password', autocomplete: 'off', testid: 'import-passphrase' });
    const imBtn = h('button', { type: 'submit', class: 'btn', id: 'import-button', testid: 'import-button' }, icon('upload', 'icon-sm'), 'Import');
    const imResult = h('div', { class: 'alert alert-success hidden', testid: 'import-result' });
    const imForm = h('form', { id: 'import-form', novalidate: true }, imErr, imResult,
      field('Export file', imFile, { field: 'configuration' }),
      field('Passphrase', imPass, { field: 'passphrase', hint: 'The passphrase the file was exported with. Objects with the same name are replaced.' }),
      imBtn);
    onSubmit(imForm, imErr, async () => {
      imResult.classList.add('hidden');
      const f = imFile.files && imFile.files[0];
      if (!f) throw new FormError('configuration', 'choose an export file');
      let configuration;
      try {
        configuration = JSON.parse(await f.text());
      } catch (e) {
        throw new FormError('configuration', 'the file is not JSON');
      }
      const out = await busy(imBtn, () => post('/api/configuration/import', { passphrase: imPass.value, configuration }));
      const counts = Object.entries((out && out.imported) || {}).map(([k, n]) => n + ' ' + k).join(', ');
      imResult.textContent = 'Imported ' + (counts || 'nothing') + '.';
      imResult.classList.remove('hidden');
      imPass.value = '';
      imFile.value = '';
      toast('Configuration imported');
    });

    return h('div', { class: 'panel', testid: 'settings-backup' },
      panelHead('Configuration backup', 'Export the whole configuration, or import an export.'),
      h('div', { class: 'panel-body' }, h('div', { class: 'section-label' }, 'Export'), exForm, h('hr', { class: 'divider' }), h('div', { class: 'section-label' }, 'Import'), imForm));
  }

  document.addEventListener('DOMContentLoaded', start);
})();
