// The console shown once logged in: the navigation, the top bar, and the page the URL names.
import { h } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { brand, root } from '../lib/layout.js';
import { route, setRoutes } from '../lib/router.js';
import { state } from '../lib/state.js';
import { pageAuditLog } from './auditlog.js';
import { pageCluster } from './cluster.js';
import { pageDashboard } from './dashboard.js';
import { pageHealthMonitors } from './healthmonitors.js';
import { pagePool } from './pooldetail.js';
import { pagePools } from './pools.js';
import { pageServiceEngines } from './serviceengines.js';
import { pageSettings } from './settings.js';
import { pageVirtualServices } from './virtualservices.js';
import { pageVirtualService } from './vsdetail.js';

const NAV = [
  { route: 'dashboard', title: 'Dashboard', icon: 'dashboard' },
  { section: 'Applications' },
  { route: 'virtualservices', title: 'Virtual services', icon: 'vs' },
  { route: 'pools', title: 'Pools', icon: 'pool' },
  { route: 'healthmonitors', title: 'Health monitors', icon: 'hm' },
  { section: 'Infrastructure' },
  { route: 'serviceengines', title: 'Service engines', icon: 'se' },
  { section: 'Administration' },
  { route: 'cluster', title: 'Cluster', icon: 'se' },
  { route: 'auditlog', title: 'Audit log', icon: 'list' },
  { route: 'settings', title: 'Settings', icon: 'settings' },
];

const ROUTES = [
  [/^dashboard$/, pageDashboard],
  [/^virtualservices$/, pageVirtualServices],
  [/^virtualservices\/([\w-]+)$/, pageVirtualService],
  [/^pools$/, pagePools],
  [/^pools\/([\w-]+)$/, pagePool],
  [/^healthmonitors$/, pageHealthMonitors],
  [/^serviceengines$/, pageServiceEngines],
  [/^cluster$/, pageCluster],
  [/^auditlog$/, pageAuditLog],
  [/^settings$/, pageSettings],
];

setRoutes(ROUTES);

// renderShell shows the console; its Log out button calls logout.
export function renderShell(logout) {
  const app = root();
  const nav = h('ul', { class: 'nav', id: 'nav', testid: 'nav' },
    NAV.map((n) => n.section ? h('li', { class: 'nav-section' }, n.section)
      : h('li', null, h('a', { href: '#/' + n.route, 'data-nav': n.route, id: 'nav-' + n.route, testid: 'nav-' + n.route }, icon(n.icon), n.title))));
  const name = (state.user && (state.user.username || state.user.name)) || '';
  app.append(h('div', { class: 'shell', id: 'shell', testid: 'shell' },
    h('aside', { class: 'sidebar' }, h('div', { class: 'sidebar-inner' },
      brand('controller'),
      nav,
      h('div', { class: 'sidebar-foot' }, state.version ? 'avi-init ' + state.version : 'avi-init'))),
    h('div', { class: 'main' },
      h('header', { class: 'topbar' },
        h('div', { class: 'crumbs', id: 'crumbs', testid: 'crumbs' }),
        h('span', { class: 'spacer' }),
        h('span', { class: 'user-chip', testid: 'current-user' }, h('span', { class: 'avatar' }, name.slice(0, 1) || '?'), name),
        h('button', { class: 'btn btn-ghost btn-sm', id: 'logout', testid: 'logout', onclick: logout }, icon('logout', 'icon-sm'), 'Log out')),
      h('main', { class: 'content', id: 'content', testid: 'content' }))));
  route();
}
