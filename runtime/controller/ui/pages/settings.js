// The Settings page: system configuration, the operator's password, configuration backups.
import { get, post, put } from '../lib/api.js';
import { toast } from '../lib/dialogs.js';
import { $, h } from '../lib/dom.js';
import { SMTP_TYPES, showSmtpFields } from '../lib/email.js';
import { busy, errorBox, field, input, onSubmit, select } from '../lib/forms.js';
import { fmtAddr } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { crumbs, pageHead, panelHead } from '../lib/layout.js';
import { FormError, addrList, isHostname } from '../lib/parse.js';
import { passwordProblem, passwordRules } from '../lib/password.js';
import { state } from '../lib/state.js';
import { apiTokensPanel } from './apitokens.js';

export async function pageSettings(c, live) {
  crumbs('Settings');
  const sc = await get('/api/systemconfiguration');
  if (!live()) return;
  const tokens = apiTokensPanel(live);
  c.append(h('div', { id: 'page-settings', testid: 'page-settings' },
    pageHead('Settings', 'System configuration, your account, API tokens and configuration backups.'),
    h('div', { class: 'stack' },
      systemPanel(sc),
      h('div', { class: 'grid-2' }, passwordPanel(), backupPanel()),
      tokens.panel)));
  await tokens.load();
}

function systemPanel(sc) {
  const dns = sc.dns_configuration || {};
  const ntp = sc.ntp_configuration || {};
  const email = sc.email_configuration || { smtp_type: 'SMTP_NONE' };
  const err = errorBox('settings-error');
  const type = select('settings-smtp-type', SMTP_TYPES, email.smtp_type || 'SMTP_NONE', { testid: 'settings-smtp-type' });
  const server = h('div', { class: 'field-row' },
    field('SMTP server', input('settings-smtp-server', { value: email.smtp_server || '', testid: 'settings-smtp-server' }), { field: 'email_configuration.smtp_server' }),
    field('Port', input('settings-smtp-port', { type: 'number', min: 1, max: 65535, value: String(email.mail_server_port || 25), testid: 'settings-smtp-port' }), { field: 'email_configuration.mail_server_port' }));
  const from = field('From address', input('settings-from-email', { value: email.from_email || '', testid: 'settings-from-email' }), { field: 'email_configuration.from_email' });
  const auth = h('div', { class: 'field-row' },
    field('Username', input('settings-smtp-username', { value: email.auth_username || '', testid: 'settings-smtp-username' }), { field: 'email_configuration.auth_username' }),
    field('Password', input('settings-smtp-password', { type: 'password', autocomplete: 'new-password', placeholder: email.auth_username ? 'unchanged' : '', testid: 'settings-smtp-password' }), { field: 'email_configuration.auth_password', hint: 'Leave empty to keep the stored password.' }));
  showSmtpFields(type, server, from, auth);
  const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'settings-save', testid: 'settings-save' }, 'Save');
  const form = h('form', { id: 'settings-form', testid: 'settings-form', novalidate: true, class: 'panel-body narrow' },
    err,
    h('div', { class: 'field-row' },
      field('DNS servers', input('settings-dns', { value: (dns.server_list || []).map(fmtAddr).join(', '), testid: 'settings-dns', placeholder: '192.0.2.53' }), { field: 'dns_configuration', hint: 'IP addresses, comma-separated.' }),
      field('DNS search domain', input('settings-search-domain', { value: dns.search_domain || '', testid: 'settings-search-domain' }), { field: 'dns_configuration.search_domain' })),
    field('NTP servers', input('settings-ntp', { value: (ntp.ntp_servers || []).map((n) => fmtAddr(n.server)).join(', '), testid: 'settings-ntp', placeholder: 'pool.ntp.org' }), { field: 'ntp_configuration', hint: 'IP addresses or host names, comma-separated.' }),
    h('div', { class: 'section-label' }, 'Email'),
    field('SMTP type', type, { field: 'email_configuration.smtp_type' }),
    server, from, auth,
    h('div', { class: 'btn-row' }, save));
  onSubmit(form, err, async () => {
    const o = JSON.parse(JSON.stringify(sc));
    const dnsList = addrList($('#settings-dns', form).value, 'dns_configuration', false);
    const sd = $('#settings-search-domain', form).value.trim();
    if (sd && !isHostname(sd)) throw new FormError('dns_configuration.search_domain', 'is not a domain name');
    o.dns_configuration = Object.assign({}, o.dns_configuration || {}, { server_list: dnsList });
    if (sd) o.dns_configuration.search_domain = sd; else delete o.dns_configuration.search_domain;
    o.ntp_configuration = { ntp_servers: addrList($('#settings-ntp', form).value, 'ntp_configuration', true).map((a) => ({ server: a })) };
    const t = type.value;
    const e = { smtp_type: t };
    if (t === 'SMTP_SERVER' || t === 'SMTP_ANONYMOUS_SERVER') {
      e.smtp_server = $('#settings-smtp-server', form).value.trim();
      if (!e.smtp_server) throw new FormError('email_configuration.smtp_server', 'is required for ' + SMTP_TYPES[t]);
      e.mail_server_port = Number($('#settings-smtp-port', form).value) || 25;
    }
    if (t !== 'SMTP_NONE') {
      const f = $('#settings-from-email', form).value.trim();
      if (f) e.from_email = f;
    }
    if (t === 'SMTP_SERVER') {
      const u = $('#settings-smtp-username', form).value;
      const p = $('#settings-smtp-password', form).value;
      if (u) e.auth_username = u;
      if (p) e.auth_password = p;
    }
    o.email_configuration = e;
    const out = await busy(save, () => put('/api/systemconfiguration', o));
    Object.assign(sc, out);
    $('#settings-smtp-password', form).value = '';
    toast('System configuration saved');
  });
  return h('div', { class: 'panel', testid: 'settings-system' },
    panelHead('System configuration', 'Name resolution, time and email for the controller.'),
    form);
}

function passwordPanel() {
  const err = errorBox('password-error');
  const oldPw = input('pw-old', { type: 'password', autocomplete: 'current-password', testid: 'pw-old' });
  const newPw = input('pw-new', { type: 'password', autocomplete: 'new-password', testid: 'pw-new' });
  const newPw2 = input('pw-new2', { type: 'password', autocomplete: 'new-password', testid: 'pw-new2' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'pw-save', testid: 'pw-save' }, 'Change password');
  const form = h('form', { class: 'panel-body', id: 'password-form', testid: 'password-form', novalidate: true },
    err,
    field('Current password', oldPw, { field: 'old_password' }),
    field('New password', newPw, { field: 'password' }),
    field('Confirm new password', newPw2, { field: 'password2' }),
    h('div', { class: 'field' }, passwordRules(newPw)),
    save);
  onSubmit(form, err, async () => {
    if (!oldPw.value) throw new FormError('old_password', 'enter your current password');
    const p = passwordProblem(newPw.value);
    if (p) throw new FormError('password', p.replace(/^password: /, ''));
    if (newPw.value !== newPw2.value) throw new FormError('password2', 'the passwords do not match');
    await busy(save, () => put('/api/useraccount', { old_password: oldPw.value, password: newPw.value }));
    oldPw.value = newPw.value = newPw2.value = '';
    newPw.dispatchEvent(new Event('input'));
    toast('Password changed');
  });
  return h('div', { class: 'panel', testid: 'settings-password' },
    panelHead('Change password', 'For ' + ((state.user && state.user.username) || 'your account') + '.'),
    form);
}

function backupPanel() {
  const exErr = errorBox('export-error');
  const exPass = input('export-passphrase', { type: 'password', autocomplete: 'new-password', testid: 'export-passphrase' });
  const exBtn = h('button', { type: 'submit', class: 'btn', id: 'export-button', testid: 'export-button' }, icon('download', 'icon-sm'), 'Export');
  const exForm = h('form', { id: 'export-form', novalidate: true }, exErr,
    field('Passphrase', exPass, { field: 'passphrase', hint: 'At least 8 characters. It encrypts the secrets in the file; you need it to import.' }),
    exBtn);
  onSubmit(exForm, exErr, async () => {
    if (exPass.value.length < 8) throw new FormError('passphrase', 'at least 8 characters');
    const data = await busy(exBtn, () => post('/api/configuration/export', { passphrase: exPass.value }));
    const blob = new Blob([JSON.stringify(data, null, 2) + '\n'], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    const a = h('a', { href: url, download: 'avi-init-configuration-' + stamp + '.json', class: 'hidden' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    exPass.value = '';
    toast('Configuration exported');
  });

  const imErr = errorBox('import-error');
  const imFile = h('input', { type: 'file', id: 'import-file', accept: 'application/json,.json', testid: 'import-file' });
  const imPass = input('import-passphrase', { type: 'password', autocomplete: 'off', testid: 'import-passphrase' });
  const imBtn = h('button', { type: 'submit', class: 'btn', id: 'import-button', testid: 'import-button' }, icon('upload', 'icon-sm'), 'Import');
  const imResult = h('div', { class: 'alert alert-success hidden', testid: 'import-result' });
  const imForm = h('form', { id: 'import-form', novalidate: true }, imErr, imResult,
    field('Export file', imFile, { field: 'configuration' }),
    field('Passphrase', imPass, { field: 'passphrase', hint: 'The passphrase the file was exported with. Objects with the same name are replaced.' }),
    imBtn);
  onSubmit(imForm, imErr, async () => {
    imResult.classList.add('hidden');
    const f = imFile.files && imFile.files[0];
    if (!f) throw new FormError('configuration', 'choose an export file');
    let configuration;
    try {
      configuration = JSON.parse(await f.text());
    } catch (e) {
      throw new FormError('configuration', 'the file is not JSON');
    }
    const out = await busy(imBtn, () => post('/api/configuration/import', { passphrase: imPass.value, configuration }));
    const counts = Object.entries((out && out.imported) || {}).map(([k, n]) => n + ' ' + k).join(', ');
    imResult.textContent = 'Imported ' + (counts || 'nothing') + '.';
    imResult.classList.remove('hidden');
    imPass.value = '';
    imFile.value = '';
    toast('Configuration imported');
  });

  return h('div', { class: 'panel', testid: 'settings-backup' },
    panelHead('Configuration backup', 'Export the whole configuration, or import an export.'),
    h('div', { class: 'panel-body' }, h('div', { class: 'section-label' }, 'Export'), exForm, h('hr', { class: 'divider' }), h('div', { class: 'section-label' }, 'Import'), imForm));
}
