// The virtual services page and the virtual service form.
import { byRef, list, optional, refOf } from '../lib/api.js';
import { editModal } from '../lib/dialogs.js';
import { $, h } from '../lib/dom.js';
import { field, input, nameField, select, toggle } from '../lib/forms.js';
import { hostPort } from '../lib/format.js';
import { listPage } from '../lib/layout.js';
import { notApplied } from '../lib/members.js';
import { healthBadge, operPill } from '../lib/status.js';
import { FormError, ipAddr, splitList } from '../lib/parse.js';

// servicePorts is a virtual service's ports as the form takes them: "80, 8000-8010".
function servicePorts(v) {
  return (v.services || []).map((s) => s.port + (s.port_range_end ? '-' + s.port_range_end : '')).join(', ');
}

export function vsAddress(v) {
  if (!v.services) return '';
  const addr = v.ip_address && v.ip_address.addr;
  return h('span', { class: 'mono' }, addr ? hostPort(addr, servicePorts(v)) : '*:' + servicePorts(v));
}

export function pageVirtualServices(c, live) {
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
    headers: ['Name', 'Address', 'Pool', 'Profile', 'Analytics', 'Health', 'Status', ''],
    // The runtime state of each, as the dashboard shows it.
    extra: async () => {
      const inv = await optional('/api/virtualservice-inventory');
      const byUUID = {};
      ((inv && inv.results) || []).forEach((r) => { byUUID[r.uuid] = r; });
      return byUUID;
    },
    cells: (v, pools, profiles, inv) => {
      const m = inv && inv[v.uuid];
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
        h('td', null, healthBadge(m && v.enabled !== false ? m.health_score : null, m && m.health_score_reasons)),
        h('td', null, v.enabled === false ? h('span', { class: 'pill' }, 'Disabled') : m ? [operPill(m.oper_status), notApplied(m.not_applied)] : h('span', { class: 'pill' }, 'No data')),
      ];
    },
  });
}

export async function vsForm(vs, after) {
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
      // The form edits ip_address; vip[] (read back) follows it, so clearing the VIP clears both.
      if (vip) o.ip_address = ipAddr(vip, 'ip_address', false);
      else { delete o.ip_address; delete o.vip; }
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
