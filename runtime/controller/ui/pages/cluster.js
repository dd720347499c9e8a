// The Cluster page: the controllers that hold the configuration together, as this node sees
// them (GET /api/cluster/runtime), the nodes and virtual IP the cluster is to have (PUT
// /api/cluster), and a token for a fresh controller to join with.
import { get, post, put } from '../lib/api.js';
import { modal, showOnce, toast } from '../lib/dialogs.js';
import { $, clear, h } from '../lib/dom.js';
import { field, input } from '../lib/forms.js';
import { fmtAddr, fmtAgo, fmtTime } from '../lib/format.js';
import { createButton, crumbs, loadingPanel, pageHead, panelHead, table } from '../lib/layout.js';
import { FormError } from '../lib/parse.js';
import { every } from '../lib/router.js';

const STATES = {
  CLUSTER_UP_NO_HA: ['green', 'Up: one controller, no high availability'],
  CLUSTER_UP_HA_ACTIVE: ['green', 'Up: every node active'],
  CLUSTER_UP_HA_COMPROMISED: ['amber', 'Up with a quorum: a node is down'],
  CLUSTER_UP_HA_NOT_READY: ['amber', 'Up: a node listed has not joined'],
  CLUSTER_STARTING: ['red', 'No leader: changes are refused'],
};

export async function pageCluster(c, live) {
  crumbs('Cluster');
  const statePanel = loadingPanel({ testid: 'cluster-panel' });
  let cluster = null;
  c.append(h('div', { id: 'page-cluster', testid: 'page-cluster' },
    pageHead('Cluster', 'The controllers that hold the configuration together: a change is made once a majority of them has it.',
      createButton('cluster-edit', 'Edit nodes', () => editForm(cluster, load)),
      createButton('cluster-jointoken', 'Join a controller', joinForm)),
    statePanel));

  async function load() {
    const [obj, rt] = await Promise.all([get('/api/cluster'), get('/api/cluster/runtime')]);
    if (!live()) return;
    cluster = obj;
    const cs = rt.cluster_state || {};
    const [color, text] = STATES[cs.state] || ['red', cs.state];
    clear(statePanel).append(
      panelHead('Nodes', 'As this controller sees them; refreshed every 5 seconds.'),
      h('div', { class: 'panel-body' },
        h('span', { class: 'pill ' + color, testid: 'cluster-state', 'data-state': cs.state, title: cs.reason || '' }, cs.state),
        ' ', h('span', { class: 'muted' }, text), cs.reason ? h('div', { class: 'sub', testid: 'cluster-reason' }, cs.reason) : null,
        obj.virtual_ip ? h('div', { class: 'sub' }, 'Virtual IP ', h('span', { class: 'mono', testid: 'cluster-vip' }, fmtAddr(obj.virtual_ip)), ', held by the leader') : null),
      table('table-cluster', ['Name', 'Management IP', 'Role', 'State', 'Up since'],
        (rt.node_states || []).map((n) => h('tr', { 'data-name': n.name },
          h('td', null, h('span', { class: 'name' }, n.name), n.reason ? h('div', { class: 'sub' }, n.reason) : null),
          h('td', { class: 'mono' }, fmtAddr(n.mgmt_ip)),
          h('td', { testid: 'node-role' }, n.role === 'CLUSTER_LEADER' ? h('span', { class: 'pill green nodot' }, 'Leader') : n.role ? 'Follower' : '—'),
          h('td', { testid: 'node-state' }, h('span', { class: 'pill ' + (n.state === 'CLUSTER_ACTIVE' ? 'green' : n.state === 'CLUSTER_NOT_JOINED' ? 'amber' : 'red') }, n.state)),
          h('td', { title: fmtTime(n.up_since) }, n.up_since ? fmtAgo(n.up_since) : '—')))));
  }

  await load();
  every(5000, live, load);
}

// editForm changes the cluster's nodes (one management IP per line) and its virtual IP.
function editForm(cluster, after) {
  const nodes = (cluster && cluster.nodes) || [];
  const body = h('div', null,
    field('Nodes', h('textarea', { id: 'cluster-nodes', testid: 'cluster-nodes', rows: 3, class: 'mono', value: nodes.map((n) => n.ip.addr).join('\n') }),
      { field: 'nodes', hint: 'The management IP of each controller, one per line: one or three. A node added joins with a token (Join a controller).' }),
    field('Virtual IP', input('cluster-vip-input', { testid: 'cluster-vip-input', value: fmtAddr(cluster && cluster.virtual_ip), placeholder: 'optional, e.g. 192.0.2.10' }),
      { field: 'virtual_ip', hint: 'An address of the controllers\' network the leader holds, for operators and SEs to use one address.' }));
  modal({
    title: 'Edit cluster nodes',
    body,
    onSave: async (form) => {
      const ips = $('#cluster-nodes', form).value.split('\n').map((s) => s.trim()).filter(Boolean);
      if (!ips.length) throw new FormError('nodes', 'is required: this controller at least');
      const type = (a) => (a.includes(':') ? 'V6' : 'V4');
      const byIP = Object.fromEntries(nodes.map((n) => [n.ip.addr, n]));
      const body = { name: cluster.name, nodes: ips.map((ip) => byIP[ip] || { ip: { addr: ip, type: type(ip) } }) };
      const vip = $('#cluster-vip-input', form).value.trim();
      if (vip) body.virtual_ip = { addr: vip, type: type(vip) };
      await put('/api/cluster', body);
      toast('Cluster nodes saved');
      after();
    },
  });
}

// joinForm makes a token for one fresh controller and shows the command to run on it.
function joinForm() {
  const m = modal({
    title: 'Join a controller',
    saveLabel: 'Create token',
    keepOpen: true,
    body: h('p', null, 'A fresh controller (installed, not set up) joins this cluster with a single-use token. Its own empty configuration is replaced by the cluster\'s.'),
    onSave: async () => {
      const t = await post('/api/cluster/jointoken', {});
      showOnce(m, [
        { id: 'cluster-token', label: 'Token', value: t.token, rows: 3, copy: 'cluster-token-copy' },
        { id: 'cluster-command', label: 'Run on the controller that joins', value: t.command, rows: 3, copy: 'cluster-command-copy',
          hint: t.expires ? 'Valid until ' + fmtTime(t.expires) + '.' : '' },
      ]);
    },
  });
}
