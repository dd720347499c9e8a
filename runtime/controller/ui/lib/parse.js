// What the forms accept: addresses, host names and lists, refused with a FormError naming the field.
const isIPv4 = (s) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s);
export const isIPv6 = (s) => s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s) && (s.match(/::/g) || []).length <= 1;
export const isHostname = (s) => /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(s);

export function splitList(s) {
  return String(s || '').split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);
}

export class FormError extends Error {
  constructor(field, reason) {
    super(field + ': ' + reason);
    this.field = field;
  }
}

// ipAddr turns one address into Avi's {addr, type}; allowDNS lets host names through.
export function ipAddr(s, field, allowDNS) {
  if (isIPv4(s)) return { addr: s, type: 'V4' };
  if (isIPv6(s)) return { addr: s, type: 'V6' };
  if (allowDNS && isHostname(s)) return { addr: s, type: 'DNS' };
  throw new FormError(field, '"' + s + '" is not ' + (allowDNS ? 'an IP address or a host name' : 'an IP address'));
}

export function addrList(s, field, allowDNS) {
  return splitList(s).map((x) => ipAddr(x, field, allowDNS));
}
