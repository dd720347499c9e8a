// The health monitors page and the health monitor form.
import { byRef } from '../lib/api.js';
import { editModal } from '../lib/dialogs.js';
import { $, $$, h } from '../lib/dom.js';
import { field, input, nameField, select } from '../lib/forms.js';
import { listPage } from '../lib/layout.js';
import { FormError } from '../lib/parse.js';

export function pageHealthMonitors(c, live) {
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
