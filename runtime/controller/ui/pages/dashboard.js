// The dashboard: counts, and the virtual services with their live figures.
import { byRef, list, optional } from '../lib/api.js';
import { clear, h } from '../lib/dom.js';
import { fmtMs, fmtNum } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { crumbs, empty, pageHead, panelHead, table } from '../lib/layout.js';
import { every } from '../lib/router.js';
import { notApplied } from '../lib/members.js';
import { healthBadge, operPill } from '../lib/status.js';
import { vsAddress } from './virtualservices.js';

export async function pageDashboard(c, live) {
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
        h('td', null, healthBadge(m && !(m.oper_status && m.oper_status.state === 'OPER_DISABLED') ? m.health_score : null, m && m.health_score_reasons)),
        h('td', null, m ? [operPill(m.oper_status), notApplied(m.not_applied)] : v.enabled === false ? h('span', { class: 'pill' }, 'Disabled') : h('span', { class: 'pill' }, 'No data')),
        h('td', null, vsAddress(v)),
        h('td', null, poolName(v.pool_ref) || h('span', { class: 'muted' }, '—')),
        h('td', { class: 'num' }, m ? fmtNum(m.requests_per_second, 1) : '—'),
        h('td', { class: 'num' }, m ? fmtMs(m.p99_latency_ms) : '—'),
        h('td', { class: 'num' + (m && m.error_rate > 0 ? ' bad' : '') }, m ? fmtNum(m.error_rate, 1) : '—')))));
  }

  await load();
  every(10000, live, load);
}
