// The login page, and logging in and out.
import { get, post } from '../lib/api.js';
import { closeModal } from '../lib/dialogs.js';
import { $, h } from '../lib/dom.js';
import { busy, errorBox, field, input, showError } from '../lib/forms.js';
import { brand, root } from '../lib/layout.js';
import { stopTimers } from '../lib/router.js';
import { state } from '../lib/state.js';
import { renderShell } from './shell.js';

export function renderLogin(message) {
  stopTimers();
  closeModal();
  const toasts = $('.toasts');
  if (toasts) toasts.remove();
  state.user = null;
  const app = root();
  const err = errorBox('login-error');
  const user = input('login-username', { autocomplete: 'username', testid: 'login-username', autofocus: true });
  const pass = input('login-password', { type: 'password', autocomplete: 'current-password', testid: 'login-password' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'login-submit', testid: 'login-submit' }, 'Log in');
  const form = h('form', { id: 'login-form', testid: 'login-form', novalidate: true },
    message ? h('div', { class: 'alert alert-info' }, message) : null,
    err,
    field('Username', user),
    field('Password', pass),
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(err, form, '');
    if (!user.value || !pass.value) {
      showError(err, form, 'Enter your username and password.');
      return;
    }
    try {
      await busy(submit, () => login(user.value, pass.value));
    } catch (e) {
      pass.value = '';
      showError(err, null, e.status === 401 ? 'Wrong username or password.' : e);
      pass.focus();
    }
  });
  app.append(h('div', { class: 'auth', id: 'page-login', testid: 'page-login' },
    brand('controller'),
    h('div', { class: 'auth-card' },
      h('h1', null, 'Log in'),
      h('p', { class: 'lead' }, 'Sign in to manage virtual services, pools and service engines.'),
      form),
    h('div', { class: 'auth-foot' }, state.version ? 'Version ' + state.version : '')));
  user.focus();
}

export async function login(username, password) {
  await post('/login', { username, password });
  state.user = await get('/api/useraccount');
  if (!location.hash) history.replaceState(null, '', '#/dashboard');
  renderShell(logout);
}

export function sessionExpired() {
  if (!state.user) return;
  renderLogin('Your session has ended: log in again.');
}

export async function logout() {
  try {
    await post('/logout');
  } catch (e) {
    // The session is gone either way.
  }
  history.replaceState(null, '', location.pathname);
  renderLogin();
}
