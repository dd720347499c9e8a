// Health scores and operational states, as badges and pills.
import { h } from './dom.js';

function healthClass(score) {
  if (score === null || score === undefined) return '';
  return score >= 85 ? 'green' : score >= 60 ? 'amber' : 'red';
}

export function healthBadge(score) {
  return h('span', { class: 'health ' + healthClass(score), title: 'Health score' },
    score === null || score === undefined ? '—' : String(Math.round(score)));
}

export function operPill(st) {
  const s = (st && st.state) || '';
  if (s === 'OPER_UP') return h('span', { class: 'pill green' }, 'Up');
  if (s === 'OPER_DOWN') return h('span', { class: 'pill red', title: (st && st.reason) || '' }, 'Down');
  if (s === 'OPER_DISABLED') return h('span', { class: 'pill' }, 'Disabled');
  if (!s) return h('span', { class: 'pill' }, 'Unknown');
  return h('span', { class: 'pill amber' }, s.replace(/^OPER_/, '').replace(/_/g, ' ').toLowerCase());
}
