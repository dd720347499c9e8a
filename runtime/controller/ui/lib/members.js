// Pool members as HAProxy's stats page shows them: one row each, coloured by state, with the last
// check and why a member is down, since when, its connections, rates and errors. Rows come from
// GET /api/pool/<uuid>/runtime/server.
import { optional } from './api.js';
import { clear, h } from './dom.js';
import { fmtAgo, fmtNum, hostPort } from './format.js';
import { empty, panelHead, table } from './layout.js';

const STATES = {
  OPER_UP: ['green', 'UP'],
  OPER_DOWN: ['red', 'DOWN'],
  OPER_DISABLED: ['', 'DISABLED'],
  OPER_UNKNOWN: ['amber', 'NO CHECK'],
};

// avi TimeStamp {secs, usecs} as a Date, or null.
export function tsDate(ts) {
  return ts && ts.secs ? new Date(ts.secs * 1000 + Math.floor((ts.usecs || 0) / 1000)) : null;
}

// sinceText is how long ago a TimeStamp was, for "time since change".
function sinceText(ts) {
  const d = tsDate(ts);
  return d ? fmtAgo(d.toISOString()).replace(/ ago$/, '') : '—';
}

// poolServers is a pool's members as the SEs report them: [] when the controller has none.
export async function poolServers(uuid) {
  const d = await optional('/api/pool/' + encodeURIComponent(uuid) + '/runtime/server');
  return (d && d.results) || [];
}

// showMembers fills panel with a pool's servers: a head (o.title, o.text), then the member
// table id, or, without servers, an empty state saying o.emptyText.
export function showMembers(panel, id, servers, o) {
  clear(panel).append(panelHead(o.title, o.text),
    servers.length ? memberTable(id, servers) : empty('pool', 'No servers', o.emptyText));
}

export function memberTable(id, servers) {
  return table(id, ['Server', 'State', 'Last check', 'Reason', ['Since', 'num'], ['Conns', 'num'], ['Req/s', 'num'], ['Errors/s', 'num']],
    servers.map((s) => {
      const st = (s.oper_status && s.oper_status.state) || 'OPER_UNKNOWN';
      const [color, label] = STATES[st] || ['amber', st.replace(/^OPER_/, '')];
      const reasons = (s.oper_status && s.oper_status.reason) || [];
      const last = tsDate(s.last_check);
      return h('tr', { class: 'member member-' + label.toLowerCase().replace(/ /g, '-'), 'data-server': hostPort(s.ip_addr && s.ip_addr.addr, s.port), testid: 'member-row' },
        h('td', { class: 'mono' }, hostPort(s.ip_addr && s.ip_addr.addr, s.port), s.hostname ? h('div', { class: 'sub' }, s.hostname) : null),
        h('td', null, h('span', { class: 'pill ' + color, testid: 'member-state' }, label)),
        h('td', { class: 'small', title: last ? last.toLocaleString() : '' }, last ? fmtAgo(last.toISOString()) : 'never'),
        h('td', { class: 'small', testid: 'member-reason' }, reasons.length ? reasons.join('; ') : h('span', { class: 'muted' }, '—')),
        h('td', { class: 'num small', title: tsDate(s.oper_status && s.oper_status.last_changed_time) ? tsDate(s.oper_status.last_changed_time).toLocaleString() : '' },
          sinceText(s.oper_status && s.oper_status.last_changed_time)),
        h('td', { class: 'num' }, String(s.open_conns || 0)),
        h('td', { class: 'num' }, fmtNum(s.requests_per_second, 1)),
        h('td', { class: 'num' + (s.errors_per_second > 0 ? ' bad' : '') }, fmtNum(s.errors_per_second, 1)));
    }));
}

// notApplied says, visibly, what is not applied and why, or null when the list is empty: the SEs
// a virtual service is not applied on (the inventory's not_applied), or the virtual services an SE
// could not apply (its runtime's not_applied, whose rows name a deleted service by vs_uuid alone).
export function notApplied(list) {
  if (!list || !list.length) return null;
  return h('div', { class: 'not-applied', testid: 'not-applied' },
    h('span', { class: 'pill red nodot' }, 'Not applied'),
    list.map((a) => h('div', { class: 'sub', testid: 'not-applied-reason' }, (a.name || a.vs_uuid) + ': ' + (a.reason || 'not applied'))));
}
