// The integration panels of the Service engines page: each Linux server or Docker cloud's hosts,
// each Mesos cloud's Marathon apps and each Docker cloud's engines and services, from
// GET /api/cloud/<uuid>/runtime (docs/api.md). Each panel is {el, load}: load redraws el.
import { byRef, get, list, put, uuidOfRef } from '../lib/api.js';
import { modal, toast } from '../lib/dialogs.js';
import { $, clear, h } from '../lib/dom.js';
import { copyButton, field, input } from '../lib/forms.js';
import { fmtAgo, fmtTime } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { createButton, empty, panelHead, table } from '../lib/layout.js';
import { ipAddr } from '../lib/parse.js';
import { shellCommand } from '../lib/shellquote.js';

// hostStatePill shows a Linux server host's deployment state (docs/api.md).
function hostStatePill(state) {
  const cls = state === 'Ready' ? 'green' : state === 'SSH Failed' ? 'red' : state === 'Pending' ? '' : 'amber';
  return h('span', { class: 'pill ' + cls, testid: 'linuxhost-state' }, state || 'Unknown');
}

// issuesTable lists what an integration could not map (errors: skipped) or left out (notes),
// one row per app or service.
function issuesTable(testid, what, key, errors, notes) {
  const issues = (errors || []).map((x) => ['error', x]).concat((notes || []).map((x) => ['note', x]));
  return table(testid, [what, '', 'Message'], issues.map(([kind, x]) => h('tr', { ['data-' + key.split('_')[0]]: x[key] },
    h('td', { class: 'mono' }, x[key] || '—'),
    h('td', null, h('span', { class: 'pill ' + (kind === 'error' ? 'red' : 'amber'), testid: testid + '-' + kind }, kind === 'error' ? 'Skipped' : 'Note')),
    h('td', null, x.message))));
}

// cloudRuntimes returns the clouds of the given types, each as [cloud, its runtime]
// (docs/api.md: GET /api/cloud/<uuid>/runtime).
async function cloudRuntimes(...vtypes) {
  const clouds = (await list('cloud')).filter((x) => vtypes.includes(x.vtype));
  const runtimes = await Promise.all(clouds.map((cl) => get('/api/cloud/' + cl.uuid + '/runtime')));
  return clouds.map((cl, i) => [cl, runtimes[i]]);
}

// hostsConfig is where a cloud whose hosts get SEs lists them: a Linux server or Docker cloud.
const hostsConfig = (cl) => cl.vtype === 'CLOUD_DOCKER' ? 'docker_configuration' : 'linuxserver_configuration';

function setHosts(cl, hosts) {
  const o = JSON.parse(JSON.stringify(cl));
  o[hostsConfig(cl)].hosts = hosts;
  return put('/api/cloud/' + cl.uuid, o);
}

// linuxHostsPanel is the panel loadLinux draws, where hosts are added and removed.
export function linuxHostsPanel(live) {
  const linuxPanel = h('div', { testid: 'linuxserver-panel' });

  // loadLinux shows each Linux server (or Docker) cloud's hosts with the state of their SE
  // deployment (docs/api.md: GET /api/cloud/<uuid>/runtime), and how to prepare a host.
  async function loadLinux() {
    const clouds = await cloudRuntimes('CLOUD_LINUXSERVER', 'CLOUD_DOCKER');
    const users = clouds.length ? await list('cloudconnectoruser') : [];
    if (!live()) return;
    clear(linuxPanel);
    clouds.forEach(([cl, rt]) => {
      const user = byRef(users, (cl[hostsConfig(cl)] || {}).ssh_user_ref) || {};
      const panel = h('div', { class: 'panel', testid: 'linuxserver-cloud', 'data-name': cl.name });
      panel.append(panelHead((cl.vtype === 'CLOUD_DOCKER' ? 'Docker hosts: ' : 'Linux server hosts: ') + cl.name,
        'The controller installs a service engine on each host over SSH as ' + (user.name || '?') + '. Refreshed every 5 seconds.',
        createButton('linuxhost-add', 'Add host', () => hostForm(cl))));
      if (user.name) {
        // In a panel body: fields appended to the panel itself would touch its border.
        const cmd = shellCommand`curl -ks ${'https://' + location.host + '/api/linux_host_install?username=' + encodeURIComponent(user.name)} | sudo bash`;
        const prepare = h('div', { class: 'panel-body' },
          h('div', { class: 'field' }, h('label', { for: 'linuxhost-prepare' }, 'Prepare a host (as root): authorizes the key below, grants ' + user.name + ' password-less sudo and adds it to the docker group'),
            h('div', { class: 'copy-box' }, input('linuxhost-prepare', { class: 'mono', readOnly: true, value: cmd, testid: 'linuxhost-prepare' }), copyButton(cmd, 'linuxhost-prepare-copy'))));
        if (user.public_key) {
          prepare.append(h('div', { class: 'field' }, h('label', { for: 'linuxhost-pubkey' }, 'Public key'),
            h('div', { class: 'copy-box' }, input('linuxhost-pubkey', { class: 'mono', readOnly: true, value: user.public_key, testid: 'linuxhost-pubkey' }), copyButton(user.public_key, 'linuxhost-pubkey-copy'))));
        }
        panel.append(prepare);
      }
      const hosts = rt.linuxserver_hosts || [];
      if (!hosts.length) {
        panel.append(empty('se', 'No hosts', 'Add a host, prepared as above, and the controller installs a service engine on it.'));
      } else {
        panel.append(table('table-linuxhost', ['Host', 'State', 'Host key', 'Service engine', 'Since', ''],
          hosts.map((x) => h('tr', { 'data-host': x.host_ip.addr },
            h('td', { class: 'mono' }, x.host_ip.addr),
            h('td', null, hostStatePill(x.state), x.reason ? h('div', { class: 'sub', testid: 'linuxhost-reason' }, x.reason) : null,
              x.next_attempt ? h('div', { class: 'sub' }, 'next attempt ' + fmtAgo(x.next_attempt)) : null),
            h('td', { class: 'mono', title: 'Recorded the first time the controller connected; a different key is refused.' }, x.host_key_fingerprint || '—'),
            h('td', null, x.se_ref ? h('span', { class: 'mono' }, uuidOfRef(x.se_ref)) : '—'),
            h('td', { title: fmtTime(x.last_change) }, x.last_change ? fmtAgo(x.last_change) : '—'),
            h('td', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-ghost btn-sm danger', testid: 'linuxhost-remove', onclick: () => removeHost(cl, x.host_ip.addr) }, icon('trash', 'icon-sm'), 'Remove'))))));
      }
      linuxPanel.append(panel);
    });
  }

  function hostForm(cl) {
    modal({
      title: 'Add host to ' + cl.name,
      saveLabel: 'Add',
      body: field('Host IP address', input('linuxhost-ip', { testid: 'linuxhost-ip', placeholder: '192.0.2.31' }), { field: hostsConfig(cl) + '.hosts' }),
      onSave: async (form) => {
        const addr = ipAddr($('#linuxhost-ip', form).value.trim(), hostsConfig(cl) + '.hosts', false);
        await setHosts(cl, (cl[hostsConfig(cl)].hosts || []).concat([{ host_ip: addr }]));
        toast('Host ' + addr.addr + ' added: its service engine is being installed');
        loadLinux();
      },
    });
  }

  function removeHost(cl, addr) {
    modal({
      title: 'Remove host',
      danger: true,
      saveLabel: 'Remove',
      body: h('p', null, 'Remove ', h('strong', null, addr), ' from ' + cl.name + '? Its service engine is uninstalled and its host key forgotten.'),
      onSave: async () => {
        await setHosts(cl, (cl[hostsConfig(cl)].hosts || []).filter((x) => x.host_ip.addr !== addr));
        toast('Host ' + addr + ' removed');
        loadLinux();
      },
    });
  }

  return { el: linuxPanel, load: loadLinux };
}

// mesosAppsPanel is the panel loadMesos draws.
export function mesosAppsPanel(live) {
  const mesosPanel = h('div', { testid: 'mesos-panel' });

  // loadMesos shows each Mesos cloud's sync: Marathon reachable or not, and every app that
  // could not be turned into a virtual service, with the reason (docs/api.md: cloud runtime).
  async function loadMesos() {
    const clouds = await cloudRuntimes('CLOUD_MESOS');
    if (!live()) return;
    clear(mesosPanel);
    clouds.forEach(([cl, rt]) => {
      const st = rt.mesos || { state: 'SYNCING' };
      const panel = h('div', { class: 'panel', testid: 'mesos-cloud', 'data-name': cl.name });
      panel.append(panelHead('Marathon apps: ' + cl.name,
        st.state + (st.reason ? ': ' + st.reason : '') + ' · ' + (st.apps || 0) + ' apps, ' + (st.virtual_services || 0) + ' virtual services' +
        (st.last_sync ? ' · synced ' + fmtAgo(st.last_sync) : '')));
      if (!(st.app_errors || []).length && !(st.app_notes || []).length) {
        panel.append(empty('cloud', 'Every app mapped', 'Each app port is a virtual service.'));
      } else {
        panel.append(issuesTable('table-mesos-apps', 'App', 'app_id', st.app_errors, st.app_notes));
      }
      mesosPanel.append(panel);
    });
  }

  return { el: mesosPanel, load: loadMesos };
}

// dockerServicesPanel is the panel loadDocker draws.
export function dockerServicesPanel(live) {
  const dockerPanel = h('div', { testid: 'docker-panel' });

  // loadDocker shows each Docker cloud's engines (followed over SSH or not, and why) and every
  // labelled service that could not be turned into a virtual service (docs/api.md).
  async function loadDocker() {
    const clouds = await cloudRuntimes('CLOUD_DOCKER');
    if (!live()) return;
    clear(dockerPanel);
    clouds.forEach(([cl, rt]) => {
      const st = rt.docker || { state: 'SYNCING', hosts: [] };
      const panel = h('div', { class: 'panel', testid: 'docker-cloud', 'data-name': cl.name });
      const unfollowed = (st.hosts || []).filter((x) => x.state !== 'CONNECTED').length;
      panel.append(panelHead('Docker services: ' + cl.name,
        st.state + (unfollowed ? ' · ' + unfollowed + ' of ' + st.hosts.length + ' engines not followed (see below)' : '') + ' · ' + (st.services || 0) + ' services, ' + (st.virtual_services || 0) + ' virtual services' +
        (st.last_sync ? ' · synced ' + fmtAgo(st.last_sync) : '') + '. Containers with an avi_proxy label are mapped.'));
      panel.append(table('table-docker-hosts', ['Host', 'Engine', 'Labelled containers', 'Read'],
        (st.hosts || []).map((x) => h('tr', { 'data-host': x.host_ip.addr },
          h('td', { class: 'mono' }, x.host_ip.addr),
          h('td', null, h('span', { class: 'pill ' + ({ CONNECTED: 'green', ERROR: 'red' }[x.state] || 'amber'), testid: 'docker-host-state' }, x.state),
            x.reason ? h('div', { class: 'sub', testid: 'docker-host-reason' }, x.reason) : null),
          h('td', null, String(x.containers || 0)),
          h('td', { title: fmtTime(x.last_read) }, x.last_read ? fmtAgo(x.last_read) : '—')))));
      if ((st.service_errors || []).length || (st.service_notes || []).length) {
        panel.append(issuesTable('table-docker-services', 'Service', 'service', st.service_errors, st.service_notes));
      }
      dockerPanel.append(panel);
    });
  }

  return { el: dockerPanel, load: loadDocker };
}
