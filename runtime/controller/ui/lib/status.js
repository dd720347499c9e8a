// Health scores and operational states, as badges and pills.
import { h } from './dom.js';

function healthClass(score) {
  if (score === null || score === undefined) return '';
  return score >= 85 ? 'green' : score >= 60 ? 'amber' : 'red';
}

// healthBadge shows a score; its reasons (why it is below 100) are its title.
export function healthBadge(score, reasons) {
  const why = reasons && reasons.length ? ': ' + reasons.join('; ') : '';
  return h('span', { class: 'health ' + healthClass(score), title: 'Health score' + why, testid: 'health-score' },
    score === null || score === undefined ? '—' : String(Math.round(score)));
}

// reasonText is an oper_status's reason: a list (Avi's OperationalStatus) or one string.
export function reasonText(st) {
  const r = st && st.reason;
  return Array.isArray(r) ? r.join('; ') : r || '';
}

export function operPill(st) {
  const s = (st && st.state) || '';
  const title = reasonText(st);
  if (s === 'OPER_UP') return h('span', { class: 'pill green', title }, 'Up');
  if (s === 'OPER_DOWN') return h('span', { class: 'pill red', title }, 'Down');
  if (s === 'OPER_DISABLED') return h('span', { class: 'pill' }, 'Disabled');
  if (s === 'OPER_PARTITIONED') return h('span', { class: 'pill amber', title }, 'Partitioned');
  if (!s) return h('span', { class: 'pill' }, 'Unknown');
  return h('span', { class: 'pill amber', title }, s.replace(/^OPER_/, '').replace(/_/g, ' ').toLowerCase());
}
