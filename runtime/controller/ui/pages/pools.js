// The pools page and the pool form.
import { byRef, list, refOf } from '../lib/api.js';
import { editModal } from '../lib/dialogs.js';
import { $, $$, h } from '../lib/dom.js';
import { field, input, nameField, select } from '../lib/forms.js';
import { hostPort } from '../lib/format.js';
import { listPage } from '../lib/layout.js';
import { poolServers } from '../lib/members.js';
import { reasonText } from '../lib/status.js';
import { FormError, ipAddr, isIPv6, splitList } from '../lib/parse.js';

const ALGORITHMS = {
  LB_ALGORITHM_LEAST_CONNECTIONS: 'Least connections',
  LB_ALGORITHM_ROUND_ROBIN: 'Round robin',
  LB_ALGORITHM_CONSISTENT_HASH: 'Consistent hash (source IP)',
};

export function pagePools(c, live) {
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
    // Each pool's members as the SEs report them, by pool uuid then ip:port. A pool whose
    // runtime cannot be read shows its servers uncoloured; the page and the other pools still show.
    extra: async () => {
      const pools = await list('pool');
      const states = {};
      await Promise.all(pools.map(async (p) => {
        const servers = await poolServers(p.uuid).catch(() => []);
        states[p.uuid] = {};
        servers.forEach((s) => { states[p.uuid][hostPort(s.ip_addr && s.ip_addr.addr, s.port)] = s; });
      }));
      return states;
    },
    cells: (p, hms, vss, states) => {
      const servers = p.servers || [];
      const users = vss.filter((v) => byRef([p], v.pool_ref));
      const state = (s) => {
        const rt = states && states[p.uuid] && states[p.uuid][hostPort(s.ip && s.ip.addr, s.port || p.default_server_port)];
        return rt && rt.oper_status ? rt.oper_status : null;
      };
      return [
        h('td', null, h('a', { class: 'name', href: '#/pools/' + p.uuid }, p.name)),
        h('td', null, servers.length ? h('div', { class: 'chips' },
          servers.slice(0, 4).map((s) => {
            const st = state(s);
            const color = s.enabled === false ? ' muted' : st && st.state === 'OPER_UP' ? ' green' : st && st.state === 'OPER_DOWN' ? ' red' : '';
            return h('span', { class: 'chip' + color, title: reasonText(st) || null, 'data-state': st ? st.state : null },
              hostPort(s.ip && s.ip.addr, s.port || p.default_server_port));
          }),
          servers.length > 4 ? h('span', { class: 'chip plain' }, '+' + (servers.length - 4)) : null) : h('span', { class: 'muted' }, 'no servers')),
        h('td', null, ALGORITHMS[p.lb_algorithm] || p.lb_algorithm || '—'),
        h('td', null, (p.health_monitor_refs || []).length ? h('div', { class: 'chips' },
          p.health_monitor_refs.map((r) => { const m = byRef(hms, r); return h('span', { class: 'chip plain' }, m ? m.name : r); })) : h('span', { class: 'muted' }, 'passive only')),
        h('td', null, users.length ? users.map((v, i) => [i ? ', ' : '', h('a', { href: '#/virtualservices/' + v.uuid }, v.name)]) : h('span', { class: 'muted' }, '—')),
      ];
    },
  });
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
