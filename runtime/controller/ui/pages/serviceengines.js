// The Service engines page: the SEs, the integrations' panels (clouds.js) and join tokens.
import { del, optional, post } from '../lib/api.js';
import { confirmDelete, modal, showOnce, toast } from '../lib/dialogs.js';
import { $, clear, h } from '../lib/dom.js';
import { field, input, select } from '../lib/forms.js';
import { fmtAddr, fmtAgo, fmtTime } from '../lib/format.js';
import { icon } from '../lib/icons.js';
import { createButton, crumbs, empty, loadingPanel, pageHead, panelHead, rowActions, table } from '../lib/layout.js';
import { every } from '../lib/router.js';
import { joinCommand } from '../lib/joincommand.js';
import { notApplied } from '../lib/members.js';
import { operPill } from '../lib/status.js';
import { dockerServicesPanel, linuxHostsPanel, mesosAppsPanel } from './clouds.js';

export async function pageServiceEngines(c, live) {
  crumbs('Service engines');
  const sePanel = loadingPanel({ testid: 'se-panel' });
  const tokPanel = h('div', { class: 'panel', testid: 'jointoken-panel' });
  const linux = linuxHostsPanel(live);
  const mesos = mesosAppsPanel(live);
  const docker = dockerServicesPanel(live);
  c.append(h('div', { id: 'page-serviceengines', testid: 'page-serviceengines' },
    pageHead('Service engines', 'The data plane: hosts that run the load balancer and receive their configuration from this controller.',
      createButton('create-jointoken', 'Create join token', () => tokenForm(loadTokens))),
    sePanel, linux.el, mesos.el, docker.el, tokPanel));

  async function loadSEs() {
    const d = await optional('/api/serviceengine');
    if (!live()) return;
    const ses = (d && d.results) || [];
    // Each SE's runtime: the configuration version it holds against the current one, and the
    // virtual services it could not apply, with its reasons.
    const rts = await Promise.all(ses.map((s) => optional('/api/serviceengine/' + encodeURIComponent(s.uuid) + '/runtime').catch(() => null)));
    if (!live()) return;
    clear(sePanel).append(panelHead('Service engines', 'Refreshed every 10 seconds.'));
    if (!ses.length) {
      sePanel.append(empty('se', 'No service engines yet', 'Create a join token, then run the installer in SE mode on each host with that token.'));
      return;
    }
    sePanel.append(table('table-serviceengine', ['Name', 'Management IP', 'Connected', 'State', ['Config version (held / current)', 'num'], 'Last heartbeat', ''],
      ses.map((s, i) => {
        const rt = rts[i];
        const held = rt ? rt.config_version : s.config_version || 0;
        const behind = rt && held < rt.current_config_version;
        return h('tr', { 'data-name': s.name, 'data-uuid': s.uuid },
          h('td', null, h('span', { class: 'name' }, s.name), s.hostname && s.hostname !== s.name ? h('div', { class: 'sub' }, s.hostname) : null,
            s.config_error ? h('div', { class: 'sub bad', testid: 'se-config-error' }, 'Configuration rejected: ' + s.config_error) : null,
            rt ? notApplied(rt.not_applied) : null),
          h('td', { class: 'mono' }, fmtAddr(s.mgmt_ip_address) || '—'),
          h('td', null, s.se_connected ? h('span', { class: 'pill green' }, 'Connected') : h('span', { class: 'pill red' }, 'Disconnected')),
          h('td', null, operPill(s.oper_status)),
          h('td', { class: 'num' + (behind ? ' bad' : ''), testid: 'se-config-version', title: behind ? 'The service engine holds an older configuration than the current one' : null },
            rt ? held + ' / ' + rt.current_config_version : String(held)),
          h('td', { title: fmtTime(s.last_heartbeat) }, fmtAgo(s.last_heartbeat)),
          rowActions(null, () => confirmDelete('service engine', s.name, '/api/serviceengine/' + s.uuid, loadSEs), s.name));
      })));
  }

  async function loadTokens() {
    const d = await optional('/api/jointoken');
    if (!live()) return;
    clear(tokPanel).append(panelHead('Join tokens', 'A service engine joins this controller with a token; revoke tokens you no longer need.'));
    if (d === null) {
      tokPanel.append(empty('key', 'Join tokens are not available', 'This controller does not serve join tokens yet.'));
      return;
    }
    const toks = d.results || [];
    if (!toks.length) {
      tokPanel.append(empty('key', 'No join tokens', 'Create one to add a service engine.', null));
      tokPanel.lastChild.classList.add('compact');
      return;
    }
    tokPanel.append(table('table-jointoken', ['Description', 'ID', ['Joins', 'num'], 'Created', 'Expires', ''],
      toks.map((t) => {
        const expired = t.expires && new Date(t.expires).getTime() < Date.now();
        const maxUses = t.max_uses || 1;
        const usedUp = (t.uses || 0) >= maxUses;
        const id = t.id || t.name || t.uuid;
        return h('tr', { 'data-id': id, 'data-name': t.description || id },
          h('td', null, t.description || h('span', { class: 'muted' }, 'no description')),
          h('td', { class: 'mono' }, id),
          h('td', { class: 'num', testid: 'jointoken-joins', title: usedUp ? 'Used up: create a new token' : null }, (t.uses || 0) + ' / ' + maxUses),
          h('td', { title: fmtTime(t.created) }, fmtAgo(t.created)),
          h('td', null, expired ? h('span', { class: 'pill red nodot' }, 'expired') : h('span', { title: fmtTime(t.expires) }, t.expires ? fmtAgo(t.expires) : 'never')),
          h('td', { class: 'actions' }, h('button', { type: 'button', class: 'btn btn-ghost btn-sm danger', testid: 'revoke', onclick: () => revokeToken(t) }, icon('ban', 'icon-sm'), 'Revoke')));
      })));
  }

  function revokeToken(t) {
    modal({
      title: 'Revoke join token',
      danger: true,
      saveLabel: 'Revoke',
      body: h('p', null, 'Revoke the token ', h('strong', null, t.description || t.id || t.name), '? Service engines that joined with it stay; new ones cannot use it.'),
      onSave: async () => {
        // docs/api.md: DELETE /api/jointoken/<id>; a controller that lists tokens as plain
        // objects (no id) deletes them by uuid.
        await del('/api/jointoken/' + encodeURIComponent(t.id || t.uuid));
        toast('Join token revoked');
        loadTokens();
      },
    });
  }

  await Promise.all([loadSEs(), loadTokens(), linux.load(), mesos.load(), docker.load()]);
  every(10000, live, loadSEs);
  every(5000, live, linux.load);
  every(5000, live, mesos.load);
  every(5000, live, docker.load);
}
function tokenForm(after) {
  const TTLS = { 3600: '1 hour', 86400: '24 hours', 604800: '7 days', 2592000: '30 days' };
  const body = h('div', null,
    field('Description', input('jointoken-description', { testid: 'jointoken-description', placeholder: 'e.g. rack 4 hosts' }), { field: 'description' }),
    field('Valid for', select('jointoken-ttl', TTLS, '86400', { testid: 'jointoken-ttl' }), { field: 'ttl_seconds' }),
    field('Service engines that may join', input('jointoken-max-uses', { type: 'number', min: 1, max: 10000, value: '1', testid: 'jointoken-max-uses' }),
      { field: 'max_uses', hint: 'One by default: a token lets that many service engines join, then it is used up.' }));
  const m = modal({
    title: 'Create join token',
    saveLabel: 'Create',
    keepOpen: true,
    body,
    onSave: async (form) => {
      const t = await post('/api/jointoken', {
        description: $('#jointoken-description', form).value.trim(),
        ttl_seconds: Number($('#jointoken-ttl', form).value),
        max_uses: Number($('#jointoken-max-uses', form).value),
      });
      const cmd = joinCommand(t.token, t.controller_ip || controllerHost(), t.sysint_port);
      showOnce(m, [
        { id: 'jointoken-value', label: 'Token', value: t.token, rows: 3, copy: 'jointoken-copy' },
        { id: 'jointoken-command', label: 'Run on the service engine host', value: cmd, rows: 3, copy: 'jointoken-command-copy',
          hint: t.expires ? 'Valid until ' + fmtTime(t.expires) + '.' : '' },
      ]);
      after();
    },
  });
}

function controllerHost() {
  const host = location.hostname;
  return host.includes(':') ? host.replace(/^\[|\]$/g, '') : host;
}
