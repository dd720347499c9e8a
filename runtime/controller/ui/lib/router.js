// Routing: the page shown is picked by the URL fragment (#/dashboard, #/virtualservices/<uuid>, ...)
// from the table of routes the console sets. A page is a function (content, live, ...matches):
// it renders into content, and live() turns false once the operator has left it, so that a late
// answer for a page left behind is dropped.
import { closeModal } from './dialogs.js';
import { $, $$, clear, h } from './dom.js';
import { icon } from './icons.js';
import { state } from './state.js';

let routes = [];   // [pattern, page] pairs
let seq = 0;       // render sequence of the page shown
let timers = [];   // intervals of the page shown, cleared on navigation
let resize = null; // what the page shown redraws when the window is resized

// setRoutes sets the table of [pattern, page] pairs route picks from; the first, the dashboard,
// is shown when the fragment names no page.
export function setRoutes(table) {
  routes = table;
}

// onResize sets what the page shown redraws when the window is resized.
export function onResize(fn) {
  resize = fn;
}

// route shows the page the URL fragment names, once logged in.
export function route() {
  if (!state.user || !$('#content')) return;
  const path = location.hash.replace(/^#\/?/, '');
  let fn = null;
  let args = [];
  for (const [re, f] of routes) {
    const m = re.exec(path);
    if (m) { fn = f; args = m.slice(1); break; }
  }
  if (!fn) {
    history.replaceState(null, '', '#/dashboard');
    fn = routes[0][1];
    args = [];
  }
  stopTimers();
  closeModal();
  const top = path.split('/')[0] || 'dashboard';
  $$('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.nav === top));
  const content = clear($('#content'));
  const now = ++seq;
  const live = () => now === seq;
  Promise.resolve(fn(content, live, ...args)).catch((e) => {
    if (!live()) return;
    if (e.status === 401) return;
    clear(content).append(h('div', { class: 'alert alert-error', testid: 'page-error' }, icon('alert', 'icon-sm'), e.message));
  });
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
window.addEventListener('resize', () => { if (resize) resize(); });

export function stopTimers() {
  timers.forEach(clearInterval);
  timers = [];
  resize = null;
}

// every runs fn periodically while the page is shown and the tab is visible.
export function every(ms, live, fn) {
  const t = setInterval(() => {
    if (!live()) { clearInterval(t); return; }
    if (!document.hidden) fn().catch(() => {});
  }, ms);
  timers.push(t);
}
