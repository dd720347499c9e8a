// The password strength rule, checked before the controller checks it again.
import { h } from './dom.js';

// passwordChecks is the strength rule the controller enforces: at least 8 characters mixing
// three of lower case, upper case, digits and other characters.
function passwordChecks(p) {
  const kinds = [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{Ll}\p{Lu}\p{Nd}]/u].filter((re) => re.test(p)).length;
  // The controller counts bytes of UTF-8, as this does.
  const bytes = new TextEncoder().encode(p).length;
  return { length: bytes >= 8, kinds: kinds >= 3, count: kinds, bytes };
}

// MAX_PASSWORD_BYTES is bcrypt's limit, which the controller enforces (docs/api.md, Limits).
export const MAX_PASSWORD_BYTES = 72;

export function passwordProblem(p) {
  const c = passwordChecks(p);
  if (!c.length) return 'password: must be at least 8 characters';
  if (c.bytes > MAX_PASSWORD_BYTES) return 'password: ' + c.bytes + ' bytes: at most ' + MAX_PASSWORD_BYTES + ' allowed (bcrypt\'s limit)';
  if (!c.kinds) return 'password: must mix at least three of: lower case, upper case, digits, other characters';
  return '';
}

// passwordRules renders the rule under a password input and keeps it up to date.
export function passwordRules(input) {
  const meter = h('div', { class: 'strength', testid: 'password-strength' }, h('div'));
  const len = h('li', { testid: 'rule-length' }, 'At least 8 characters');
  const mix = h('li', { testid: 'rule-mix' }, 'Three of: lower case, upper case, digits, symbols');
  const update = () => {
    const c = passwordChecks(input.value);
    len.classList.toggle('ok', c.length);
    mix.classList.toggle('ok', c.kinds);
    const score = !input.value ? 0 : !c.length ? 1 : c.kinds ? (c.count === 4 || input.value.length >= 12 ? 4 : 3) : 2;
    meter.className = 'strength s' + score;
  };
  input.addEventListener('input', update);
  update();
  return h('div', null, meter, h('ul', { class: 'rules', id: 'password-rules', testid: 'password-rules' }, len, mix));
}
