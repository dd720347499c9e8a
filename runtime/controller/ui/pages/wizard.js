// The setup wizard shown on first boot: the administrator account, DNS and NTP, email and the
// orchestrator, sent as one request when the operator finishes.
import { post } from '../lib/api.js';
import { $, $$, append, clear, h } from '../lib/dom.js';
import { SMTP_TYPES, showSmtpFields } from '../lib/email.js';
import { busy, copyButton, errorBox, field, input, select, showError } from '../lib/forms.js';
import { fmtAddr } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { brand, root } from '../lib/layout.js';
import { FormError, addrList, isHostname, splitList } from '../lib/parse.js';
import { passwordProblem, passwordRules } from '../lib/password.js';
import { state } from '../lib/state.js';
import { login, renderLogin } from './login.js';

const CLOUDS = {
  CLOUD_NONE: { title: 'No orchestrator', desc: 'Add service engines by hand with a join token.', icon: 'ban' },
  CLOUD_LINUXSERVER: { title: 'Linux servers', desc: 'Deploy service engines to hosts over SSH.', icon: 'terminal' },
  CLOUD_MESOS: { title: 'Mesos / Marathon', desc: 'Turn Marathon apps into virtual services.', icon: 'cloud' },
  CLOUD_DOCKER: { title: 'Docker', desc: 'Discover containers with an avi_proxy label.', icon: 'box' },
};

export function renderWizard() {
  const app = root();
  const data = {
    setupToken: '', username: 'admin', password: '', password2: '',
    dns: '', ntp: '', searchDomain: '',
    smtpType: 'SMTP_NONE', smtpServer: '', smtpPort: '25', fromEmail: '', smtpUser: '', smtpPassword: '',
    cloud: 'CLOUD_NONE',
    sshUser: 'avi', sshHosts: '', keyMode: 'generate', keyId: '', publicKey: '', privateKey: '',
    marathonUrl: '', marathonUser: '', marathonPassword: '', mesosUrl: '', syncFrequency: '60',
  };
  const steps = [
    { name: 'Account', render: stepAccount, check: checkAccount },
    { name: 'DNS & NTP', render: stepNetwork, check: checkNetwork },
    { name: 'Email', render: stepEmail, check: checkEmail },
    { name: 'Orchestrator', render: stepCloud, check: checkCloud },
    { name: 'Review', render: stepReview, check: () => {} },
  ];
  let current = 0;

  const stepList = h('ol', { class: 'steps', testid: 'wizard-steps' });
  const body = h('div', { class: 'wizard-body' });
  const err = errorBox('wizard-error');
  const back = h('button', { type: 'button', class: 'btn', id: 'wizard-back', testid: 'wizard-back' }, 'Back');
  const next = h('button', { type: 'submit', class: 'btn btn-primary', id: 'wizard-next', testid: 'wizard-next' }, 'Next');
  const form = h('form', { class: 'auth-card wizard', id: 'setup-wizard', testid: 'setup-wizard', novalidate: true },
    h('div', { class: 'wizard-head' },
      h('h1', null, 'Welcome to avi-init'),
      h('p', { class: 'muted' }, 'Set up this controller. Nothing is saved until you finish the last step.'),
      stepList),
    body,
    h('div', { class: 'wizard-foot' }, back, h('span', { class: 'spacer' }), next));
  app.append(h('div', { class: 'auth', id: 'page-setup', testid: 'page-setup' }, brand('controller setup'), form,
    h('div', { class: 'auth-foot' }, state.version ? 'Version ' + state.version : '')));

  back.addEventListener('click', () => { collect(); show(current - 1); });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    collect();
    try {
      steps[current].check();
    } catch (e) {
      showError(err, form, e);
      return;
    }
    if (current < steps.length - 1) {
      show(current + 1);
      return;
    }
    await finish();
  });

  function show(i) {
    current = Math.max(0, Math.min(steps.length - 1, i));
    clear(stepList);
    steps.forEach((s, j) => stepList.append(h('li', { class: j === current ? 'active' : j < current ? 'done' : '', testid: 'wizard-step-' + (j + 1) },
      h('span', { class: 'num' }, j < current ? '✓' : String(j + 1)), h('span', { class: 'label' }, s.name))));
    clear(body);
    showError(err, form, '');
    body.append(err, steps[current].render());
    form.dataset.step = String(current + 1);
    back.classList.toggle('hidden', current === 0);
    next.textContent = current === steps.length - 1 ? 'Finish setup' : 'Next';
    next.id = current === steps.length - 1 ? 'wizard-finish' : 'wizard-next';
    next.setAttribute('data-testid', next.id);
    const first = body.querySelector('input:not([type=radio]):not([readonly]), select, textarea:not([readonly])');
    if (first) first.focus();
  }

  // collect copies the inputs of the current step into data.
  function collect() {
    for (const el of $$('[data-key]', body)) {
      if (el.type === 'radio') {
        if (el.checked) data[el.dataset.key] = el.value;
      } else {
        data[el.dataset.key] = el.value;
      }
    }
  }

  function bound(id, key, props) {
    const el = input(id, Object.assign({ value: data[key], 'data-key': key, testid: id }, props || {}));
    return el;
  }

  function stepAccount() {
    const pw = bound('setup-password', 'password', { type: 'password', autocomplete: 'new-password' });
    return h('div', { testid: 'wizard-account' },
      h('h2', null, 'Administrator account'),
      h('p', { class: 'lead' }, 'There are no default credentials: choose the administrator\'s name and password.'),
      field('Setup token', bound('setup-token', 'setupToken', { autocomplete: 'off' }),
        { field: 'setup_token', hint: 'The installer printed it. On the controller\'s host, run: sudo avi-init status' }),
      field('Username', bound('setup-username', 'username', { autocomplete: 'username' }), { field: 'admin.username' }),
      h('div', { class: 'field-row' },
        field('Password', pw, { field: 'admin.password' }),
        field('Confirm password', bound('setup-password2', 'password2', { type: 'password', autocomplete: 'new-password' }), { field: 'password2' })),
      passwordRules(pw));
  }

  function checkAccount() {
    if (!data.setupToken.trim()) throw new FormError('setup_token', 'is required: on the controller\'s host, run sudo avi-init status');
    if (!data.username.trim() || /[\s:]/.test(data.username)) throw new FormError('admin.username', 'is required, without spaces or ":"');
    const p = passwordProblem(data.password);
    if (p) throw new FormError('admin.password', p.replace(/^password: /, ''));
    if (data.password !== data.password2) throw new FormError('password2', 'the passwords do not match');
  }

  function stepNetwork() {
    return h('div', { testid: 'wizard-network' },
      h('h2', null, 'DNS and NTP'),
      h('p', { class: 'lead' }, 'The servers the controller uses to resolve names and keep its clock. Separate entries with commas.'),
      field('DNS servers', bound('setup-dns', 'dns', { placeholder: '192.0.2.53, 192.0.2.54' }), { field: 'systemconfiguration.dns_configuration', hint: 'IP addresses. Leave empty to use the host\'s resolver.' }),
      field('DNS search domain', bound('setup-search-domain', 'searchDomain', { placeholder: 'example.com' }), { field: 'systemconfiguration.dns_configuration.search_domain' }),
      field('NTP servers', bound('setup-ntp', 'ntp', { placeholder: 'pool.ntp.org, 192.0.2.123' }), { field: 'systemconfiguration.ntp_configuration', hint: 'IP addresses or host names.' }));
  }

  function checkNetwork() {
    addrList(data.dns, 'systemconfiguration.dns_configuration', false);
    addrList(data.ntp, 'systemconfiguration.ntp_configuration', true);
    if (data.searchDomain && !isHostname(data.searchDomain)) throw new FormError('systemconfiguration.dns_configuration.search_domain', 'is not a domain name');
  }

  function stepEmail() {
    const type = select('setup-smtp-type', SMTP_TYPES, data.smtpType, { 'data-key': 'smtpType', testid: 'setup-smtp-type' });
    const server = h('div', { testid: 'smtp-server-fields' },
      h('div', { class: 'field-row' },
        field('SMTP server', bound('setup-smtp-server', 'smtpServer', { placeholder: 'smtp.example.com' }), { field: 'systemconfiguration.email_configuration.smtp_server' }),
        field('Port', bound('setup-smtp-port', 'smtpPort', { type: 'number', min: 1, max: 65535 }), { field: 'systemconfiguration.email_configuration.mail_server_port' })));
    const from = field('From address', bound('setup-from-email', 'fromEmail', { placeholder: 'avi@example.com' }), { field: 'systemconfiguration.email_configuration.from_email' });
    const auth = h('div', { class: 'field-row', testid: 'smtp-auth-fields' },
      field('Username', bound('setup-smtp-username', 'smtpUser'), { field: 'systemconfiguration.email_configuration.auth_username' }),
      field('Password', bound('setup-smtp-password', 'smtpPassword', { type: 'password', autocomplete: 'new-password' }), { field: 'systemconfiguration.email_configuration.auth_password' }));
    showSmtpFields(type, server, from, auth);
    return h('div', { testid: 'wizard-email' },
      h('h2', null, 'Email'),
      h('p', { class: 'lead' }, 'How the controller sends alerts and notifications.'),
      field('SMTP type', type, { field: 'systemconfiguration.email_configuration.smtp_type' }),
      server, from, auth);
  }

  function checkEmail() {
    const t = data.smtpType;
    if ((t === 'SMTP_SERVER' || t === 'SMTP_ANONYMOUS_SERVER') && !data.smtpServer.trim()) {
      throw new FormError('systemconfiguration.email_configuration.smtp_server', 'is required for ' + SMTP_TYPES[t]);
    }
    if ((t === 'SMTP_SERVER' || t === 'SMTP_ANONYMOUS_SERVER') && data.smtpPort && !(Number(data.smtpPort) >= 1 && Number(data.smtpPort) <= 65535)) {
      throw new FormError('systemconfiguration.email_configuration.mail_server_port', 'want 1 to 65535');
    }
  }

  function stepCloud() {
    const choices = h('div', { class: 'choice-grid', role: 'radiogroup' },
      Object.entries(CLOUDS).map(([v, c]) => h('label', { class: 'choice', testid: 'cloud-' + v },
        h('input', { type: 'radio', name: 'cloud', value: v, checked: data.cloud === v, 'data-key': 'cloud', id: 'setup-cloud-' + v }),
        icon(c.icon, 'icon-lg'), h('span', { class: 'title' }, c.title), h('span', { class: 'desc' }, c.desc))));
    const details = h('div', { testid: 'cloud-details' });
    const render = () => {
      collect();
      clear(details);
      if (data.cloud === 'CLOUD_LINUXSERVER') details.append(linuxFields());
      else if (data.cloud === 'CLOUD_MESOS') details.append(mesosFields());
      else if (data.cloud === 'CLOUD_DOCKER') details.append(h('div', { class: 'alert alert-info' }, 'Service engines watch their host\'s Docker engine and publish containers that carry an avi_proxy label. Add service engines with a join token after the setup.'));
      else details.append(h('div', { class: 'alert alert-info' }, 'You can add service engines after the setup: create a join token under Service engines and run the installer on each host.'));
    };
    choices.addEventListener('change', render);
    setTimeout(render);
    return h('div', { testid: 'wizard-cloud' },
      h('h2', null, 'Orchestrator integration'),
      h('p', { class: 'lead' }, 'Where the controller creates service engines and discovers applications.'),
      choices, details);
  }

  function linuxFields() {
    const pub = h('textarea', { id: 'setup-public-key', testid: 'setup-public-key', class: 'mono', readOnly: true, rows: 3, value: data.publicKey, 'data-key': 'publicKey' });
    const genErr = errorBox('setup-keypair-error');
    const gen = h('button', { type: 'button', class: 'btn', id: 'setup-generate-key', testid: 'setup-generate-key' }, icon('key', 'icon-sm'), data.keyId ? 'Generate a new key pair' : 'Generate key pair');
    const pubBox = h('div', { class: 'field' + (data.publicKey ? '' : ' hidden'), testid: 'setup-public-key-box' },
      h('label', { for: 'setup-public-key' }, 'Public key'),
      h('div', { class: 'copy-box' }, pub, copyButton(() => pub.value, 'setup-copy-key')),
      h('div', { class: 'hint' }, 'Add it to ~/.ssh/authorized_keys of the SSH user on every host. The user needs password-less sudo.'));
    const keyIdInput = h('input', { type: 'hidden', value: data.keyId, 'data-key': 'keyId', id: 'setup-key-id' });
    gen.addEventListener('click', async () => {
      showError(genErr, null, '');
      try {
        const k = await busy(gen, () => post('/api/setup/keypair', { setup_token: data.setupToken.trim() }));
        data.keyId = keyIdInput.value = k.key_id;
        data.publicKey = pub.value = k.public_key;
        pubBox.classList.remove('hidden');
        gen.textContent = '';
        append(gen, [icon('key', 'icon-sm'), 'Generate a new key pair']);
      } catch (e) {
        showError(genErr, null, e);
      }
    });
    const genPane = h('div', { testid: 'key-generate' }, genErr, h('div', { class: 'field' }, h('div', null, gen)), pubBox, keyIdInput);
    const impPane = field('Private key', h('textarea', { id: 'setup-private-key', testid: 'setup-private-key', class: 'mono', rows: 6, value: data.privateKey, 'data-key': 'privateKey', placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----', spellcheck: 'false' }),
      { field: 'cloudconnectoruser.private_key', hint: 'PEM, without a passphrase (OpenSSH, PKCS#1, PKCS#8 or EC).' });
    const modes = h('div', { class: 'segmented', role: 'radiogroup' },
      h('label', { testid: 'key-mode-generate' }, h('input', { type: 'radio', name: 'keymode', value: 'generate', checked: data.keyMode === 'generate', 'data-key': 'keyMode', id: 'setup-key-generate' }), 'Generate key pair'),
      h('label', { testid: 'key-mode-import' }, h('input', { type: 'radio', name: 'keymode', value: 'import', checked: data.keyMode === 'import', 'data-key': 'keyMode', id: 'setup-key-import' }), 'Import private key'));
    const syncMode = () => {
      const imp = $('#setup-key-import', modes).checked;
      genPane.classList.toggle('hidden', imp);
      impPane.classList.toggle('hidden', !imp);
    };
    modes.addEventListener('change', (ev) => { ev.stopPropagation(); syncMode(); });
    setTimeout(syncMode);
    return h('div', null,
      h('div', { class: 'field-row' },
        field('SSH user name', bound('setup-ssh-user', 'sshUser'), { field: 'cloudconnectoruser.name' }),
        field('Host IP addresses', bound('setup-ssh-hosts', 'sshHosts', { placeholder: '192.0.2.31, 192.0.2.32' }), { field: 'cloud.linuxserver_configuration.hosts' })),
      h('div', { class: 'field-label' }, 'SSH key'),
      modes, genPane, impPane);
  }

  function mesosFields() {
    return h('div', null,
      field('Marathon URL', bound('setup-marathon-url', 'marathonUrl', { placeholder: 'http://leader.mesos:8080' }), { field: 'cloud.mesos_configuration.marathon_configurations' }),
      h('div', { class: 'field-row' },
        field('Marathon username', bound('setup-marathon-username', 'marathonUser')),
        field('Marathon password', bound('setup-marathon-password', 'marathonPassword', { type: 'password', autocomplete: 'new-password' }))),
      h('div', { class: 'field-row' },
        field('Mesos URL', bound('setup-mesos-url', 'mesosUrl', { placeholder: 'http://leader.mesos:5050' }), { field: 'cloud.mesos_configuration.mesos_url' }),
        field('App sync frequency (seconds)', bound('setup-sync-frequency', 'syncFrequency', { type: 'number', min: 1, max: 3600 }), { field: 'cloud.mesos_configuration.app_sync_frequency' })));
  }

  function checkCloud() {
    if (data.cloud === 'CLOUD_LINUXSERVER') {
      if (!data.sshUser.trim()) throw new FormError('cloudconnectoruser.name', 'the SSH user name is required');
      if (!splitList(data.sshHosts).length) throw new FormError('cloud.linuxserver_configuration.hosts', 'list at least one host');
      addrList(data.sshHosts, 'cloud.linuxserver_configuration.hosts', false);
      if (data.keyMode === 'generate' && !data.keyId) throw new FormError('cloudconnectoruser', 'generate a key pair, or import a private key');
      if (data.keyMode === 'import' && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(data.privateKey)) throw new FormError('cloudconnectoruser.private_key', 'paste a PEM private key');
    }
    if (data.cloud === 'CLOUD_MESOS') {
      if (!/^https?:\/\/\S+$/.test(data.marathonUrl)) throw new FormError('cloud.mesos_configuration.marathon_configurations', 'want an http:// or https:// URL');
      if (data.mesosUrl && !/^https?:\/\/\S+$/.test(data.mesosUrl)) throw new FormError('cloud.mesos_configuration.mesos_url', 'want an http:// or https:// URL');
      const f = Number(data.syncFrequency);
      if (!(f >= 1 && f <= 3600)) throw new FormError('cloud.mesos_configuration.app_sync_frequency', 'want 1 to 3600 seconds');
    }
  }

  function request() {
    const sc = { email_configuration: { smtp_type: data.smtpType } };
    const dns = addrList(data.dns, 'dns', false);
    if (dns.length || data.searchDomain) {
      sc.dns_configuration = { server_list: dns };
      if (data.searchDomain) sc.dns_configuration.search_domain = data.searchDomain;
    }
    const ntp = addrList(data.ntp, 'ntp', true);
    if (ntp.length) sc.ntp_configuration = { ntp_servers: ntp.map((a) => ({ server: a })) };
    const e = sc.email_configuration;
    if (data.smtpType === 'SMTP_SERVER' || data.smtpType === 'SMTP_ANONYMOUS_SERVER') {
      e.smtp_server = data.smtpServer.trim();
      if (data.smtpPort) e.mail_server_port = Number(data.smtpPort);
    }
    if (data.smtpType !== 'SMTP_NONE' && data.fromEmail) e.from_email = data.fromEmail.trim();
    if (data.smtpType === 'SMTP_SERVER') {
      if (data.smtpUser) e.auth_username = data.smtpUser;
      if (data.smtpPassword) e.auth_password = data.smtpPassword;
    }
    const req = {
      setup_token: data.setupToken.trim(),
      admin: { username: data.username.trim(), password: data.password },
      systemconfiguration: sc,
      cloud: { name: 'Default-Cloud', vtype: data.cloud },
    };
    if (data.cloud === 'CLOUD_LINUXSERVER') {
      const name = data.sshUser.trim();
      req.cloudconnectoruser = { name };
      if (data.keyMode === 'import') req.cloudconnectoruser.private_key = data.privateKey.trim() + '\n';
      else req.cloudconnectoruser_key_id = data.keyId;
      req.cloud.linuxserver_configuration = {
        ssh_user_ref: '/api/cloudconnectoruser?name=' + encodeURIComponent(name),
        hosts: addrList(data.sshHosts, 'hosts', false).map((a) => ({ host_ip: a })),
      };
    } else if (data.cloud === 'CLOUD_MESOS') {
      const m = { marathon_url: data.marathonUrl.trim() };
      if (data.marathonUser) m.marathon_username = data.marathonUser;
      if (data.marathonPassword) m.marathon_password = data.marathonPassword;
      req.cloud.mesos_configuration = { app_sync_frequency: Number(data.syncFrequency) || 60, marathon_configurations: [m] };
      if (data.mesosUrl) req.cloud.mesos_configuration.mesos_url = data.mesosUrl.trim();
    }
    return req;
  }

  function stepReview() {
    const r = request();
    const sc = r.systemconfiguration;
    const e = sc.email_configuration;
    const rows = [
      ['Administrator', r.admin.username + '  (password set)'],
      ['DNS servers', sc.dns_configuration ? sc.dns_configuration.server_list.map(fmtAddr).join(', ') || '—' : 'host resolver'],
      ['NTP servers', sc.ntp_configuration ? sc.ntp_configuration.ntp_servers.map((n) => n.server.addr).join(', ') : '—'],
      ['Email', SMTP_TYPES[e.smtp_type] + (e.smtp_server ? ' — ' + e.smtp_server + ':' + (e.mail_server_port || 25) : '')],
      ['Orchestrator', CLOUDS[r.cloud.vtype].title],
    ];
    if (r.cloud.linuxserver_configuration) {
      rows.push(['SSH user', r.cloudconnectoruser.name + (r.cloudconnectoruser.private_key ? ' (imported key)' : ' (generated key)')]);
      rows.push(['Hosts', r.cloud.linuxserver_configuration.hosts.map((x) => x.host_ip.addr).join(', ')]);
    }
    if (r.cloud.mesos_configuration) {
      rows.push(['Marathon', r.cloud.mesos_configuration.marathon_configurations[0].marathon_url]);
      rows.push(['App sync', r.cloud.mesos_configuration.app_sync_frequency + ' s']);
    }
    return h('div', { testid: 'wizard-review' },
      h('h2', null, 'Review'),
      h('p', { class: 'lead' }, 'Check the settings, then finish. You will be logged in as ' + r.admin.username + '.'),
      h('table', { class: 'review', testid: 'review-table' }, h('tbody', null, rows.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v))))));
  }

  async function finish() {
    let req;
    try {
      req = request();
    } catch (e) {
      showError(err, form, e);
      return;
    }
    try {
      await busy(next, () => post('/api/setup', req));
    } catch (e) {
      // Send the user back to the step that holds the field the server rejected.
      const m = /^([\w.\[\]]+):/.exec(e.message || '');
      const f = m ? m[1] : '';
      let step = current;
      if (f.startsWith('admin') || f === 'setup_token') step = 0;
      else if (/^systemconfiguration\.(dns|ntp)/.test(f)) step = 1;
      else if (f.startsWith('systemconfiguration')) step = 2;
      else if (f.startsWith('cloud')) step = 3;
      if (step !== current) show(step);
      showError(err, form, e);
      return;
    }
    try {
      history.replaceState(null, '', '#/dashboard');
      await login(req.admin.username, req.admin.password);
    } catch (e) {
      renderLogin('The controller is set up: log in as ' + req.admin.username + '.');
    }
  }

  show(0);
}
