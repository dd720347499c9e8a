// Numbers, sizes, times and addresses as the pages show them.
export function fmtNum(v, digits) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return '—';
  const n = Number(v);
  const d = digits === undefined ? (Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2) : digits;
  return n.toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: 0 });
}

export function fmtMs(v) { return v === null || v === undefined ? '—' : fmtNum(v, Number(v) >= 100 ? 0 : 1) + ' ms'; }

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return fmtNum(v, i ? 1 : 0) + ' ' + u[i];
}

export function fmtTime(s) {
  if (!s) return '—';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : d.toLocaleString();
}

export function fmtAgo(s) {
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

export function fmtAddr(a) { return a && a.addr ? a.addr : ''; }

export function hostPort(addr, port) {
  if (!addr) return '';
  return (addr.includes(':') ? '[' + addr + ']' : addr) + (port ? ':' + port : '');
}
