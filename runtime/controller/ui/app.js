// avi-init controller web UI: one page, native JavaScript modules, nothing loaded from elsewhere.
// lib/ holds the shared parts (API, DOM, forms, dialogs, layout, router, charts), pages/ one module
// per page; pages import lib, never the other way round.
import { get, onSessionExpired } from './lib/api.js';
import { h } from './lib/dom.js';
import { brand, root } from './lib/layout.js';
import { state } from './lib/state.js';
import { logout, renderLogin, sessionExpired } from './pages/login.js';
import { renderShell } from './pages/shell.js';
import { renderWizard } from './pages/wizard.js';

async function start() {
  let init;
  try {
    init = await get('/api/initial-data');
  } catch (e) {
    renderFatal(e);
    return;
  }
  // The build of avi-init, and the Avi API version it serves.
  const v = init.version || {};
  state.version = [v.build, v.Version ? '(API ' + v.Version + ')' : ''].filter(Boolean).join(' ');
  if (init.setup_state === 'pending') {
    renderWizard();
    return;
  }
  try {
    state.user = await get('/api/useraccount');
  } catch (e) {
    state.user = null;
  }
  if (state.user) renderShell(logout);
  else renderLogin();
}

function renderFatal(e) {
  const app = root();
  app.append(h('div', { class: 'auth' }, brand('controller'),
    h('div', { class: 'auth-card' }, h('h1', null, 'Controller unavailable'),
      h('p', { class: 'lead' }, e.message),
      h('button', { class: 'btn btn-primary', onclick: start }, 'Try again'))));
}

onSessionExpired(sessionExpired);
start();
