// A virtual service's page: its configuration, charts of its metrics, its client logs.
import { byRef, get, list, optional } from '../lib/api.js';
import { chartCard } from '../lib/charts.js';
import { clear, h } from '../lib/dom.js';
import { fmtBytes, fmtNum, fmtTime } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { crumbs, empty, kvPanel, panelHead, table } from '../lib/layout.js';
import { every, onResize, route } from '../lib/router.js';
import { notApplied, poolServers, showMembers } from '../lib/members.js';
import { healthBadge, operPill, reasonText } from '../lib/status.js';
import { vsAddress, vsForm } from './virtualservices.js';

const METRICS = {
  rps: 'l7_client.avg_complete_responses',
  p50: 'l7_client.pct_latency_p50',
  p90: 'l7_client.pct_latency_p90',
  p99: 'l7_client.pct_latency_p99',
  errors: 'l7_client.avg_error_responses',
  health: 'healthscore.health_score_value',
};

export async function pageVirtualService(c, live, uuid) {
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
  const summary = kvPanel([
    ['Address', vsAddress(vs)],
    ['Pool', pool ? h('a', { href: '#/pools' }, pool.name) : 'none'],
    ['Application profile', prof ? prof.name : '—'],
    ['Analytics', (realtime ? 'Realtime (5 s)' : '5-minute averages') + ((ap.full_client_logs && ap.full_client_logs.enabled) ? ', full client logs' : '')],
  ]);

  const charts = {
    rps: chartCard('chart-rps', 'Requests', '/s', [{ label: 'requests/s' }]),
    latency: chartCard('chart-latency', 'Latency', 'ms', [{ label: 'p50' }, { label: 'p90' }, { label: 'p99' }]),
    errors: chartCard('chart-errors', 'Errors', '/s', [{ label: 'errors/s', color: 2 }]),
    health: chartCard('chart-health', 'Health score', '', [{ label: 'health', color: 3 }], { max: 100 }),
  };
  const note = h('div', { class: 'alert alert-info hidden', testid: 'metrics-note' });
  const logsPanel = h('div', { class: 'panel', testid: 'vs-logs-panel' });
  const sePanel = h('div', { class: 'panel', testid: 'vs-se-panel' });
  const membersPanel = pool ? h('div', { class: 'panel', testid: 'vs-members-panel' }) : null;
  c.append(h('div', { id: 'page-vs-detail', testid: 'page-vs-detail', 'data-uuid': vs.uuid },
    head, summary, sePanel, membersPanel, note,
    h('div', { class: 'charts' }, Object.values(charts).map((x) => x.el)),
    logsPanel));

  onResize(() => Object.values(charts).forEach((x) => x.redraw()));

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
    const emptyText = failure ? 'Metrics unavailable' : none ? 'Analytics not available yet' : 'No data yet';
    charts.rps.set([series[METRICS.rps]], emptyText);
    charts.latency.set([series[METRICS.p50], series[METRICS.p90], series[METRICS.p99]], emptyText);
    charts.errors.set([series[METRICS.errors]], emptyText);
    charts.health.set([series[METRICS.health]], emptyText);
    note.classList.toggle('hidden', !(failure || !realtime));
    note.textContent = failure ? 'Metrics: ' + failure : !realtime ? 'Realtime metrics are off for this virtual service: the charts show 5-minute averages. Turn them on with Edit.' : '';
  }

  // The runtime: state and health (with why), each SE it is placed on, its pool's members.
  async function loadStatus() {
    const [rt, servers] = await Promise.all([
      optional('/api/virtualservice/' + encodeURIComponent(vs.uuid) + '/runtime'),
      pool ? poolServers(pool.uuid) : [],
    ]);
    if (!live()) return;
    clear(statusSlot);
    clear(healthSlot);
    clear(sePanel);
    if (!rt) {
      if (vs.enabled === false) statusSlot.append(h('span', { class: 'pill' }, 'Disabled'));
      sePanel.remove();
      return;
    }
    const ses = (rt.vip_summary || []).flatMap((v) => v.service_engine || []);
    statusSlot.append(operPill(rt.oper_status), notApplied(ses.filter((a) => !a.applied && !a.is_standby)));
    if (vs.enabled !== false) healthSlot.append(healthBadge(rt.health_score, rt.health_score_reasons));
    const why = reasonText(rt.oper_status);
    const northSouth = ses.some((a) => a.is_primary || a.is_standby);
    sePanel.append(panelHead('Service engines', why || (northSouth
      ? 'The primary holds the address; the standby takes it if the primary goes down.'
      : 'Where it is placed, and whether each service engine applied it.')));
    const applied = (a) => a.is_standby ? h('span', { class: 'pill', testid: 'vs-se-standby' }, 'Standby')
      : a.applied ? h('span', { class: 'pill green' }, 'Applied') : h('span', { class: 'pill red', testid: 'vs-se-not-applied' }, 'Not applied');
    sePanel.append(ses.length ? table('vs-ses', ['Service engine', 'Role', 'Applied', 'Reason', ['Config version', 'num']],
      ses.map((a) => h('tr', { 'data-name': a.name },
        h('td', null, h('span', { class: 'name' }, a.name)),
        h('td', { class: 'small' }, a.is_primary ? 'Primary' : a.is_standby ? 'Standby' : h('span', { class: 'muted' }, 'Serves')),
        h('td', null, applied(a)),
        h('td', { class: 'small' }, a.is_standby ? h('span', { class: 'muted' }, '—') : a.reason || h('span', { class: 'muted' }, '—')),
        h('td', { class: 'num' + (a.config_version < rt.current_config_version ? ' bad' : '') }, a.config_version + ' / ' + rt.current_config_version))))
      : empty('se', 'Not placed', 'No service engine to place it on: join one on the Service engines page.'));
    if (membersPanel) {
      showMembers(membersPanel, 'vs-members', servers, {
        title: 'Servers of ' + pool.name, text: 'State, last check and why a server is down.', emptyText: 'The pool has no servers.',
      });
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
