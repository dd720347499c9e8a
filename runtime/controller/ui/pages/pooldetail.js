// A pool's page: its configuration and its members as the service engines see them.
import { byRef, get, list } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { crumbs, kvPanel, pageHead } from '../lib/layout.js';
import { poolServers, showMembers } from '../lib/members.js';
import { every } from '../lib/router.js';

export async function pagePool(c, live, uuid) {
  const pool = await get('/api/pool/' + encodeURIComponent(uuid));
  if (!live()) return;
  const [hms, vss] = await Promise.all([list('healthmonitor'), list('virtualservice')]);
  if (!live()) return;
  crumbs(['Pools', '#/pools'], pool.name);
  const users = vss.filter((v) => byRef([pool], v.pool_ref));
  const monitors = (pool.health_monitor_refs || []).map((r) => { const m = byRef(hms, r); return m ? m.name : r; });
  const members = h('div', { class: 'panel', testid: 'pool-members-panel' });
  c.append(h('div', { id: 'page-pool-detail', testid: 'page-pool-detail', 'data-uuid': pool.uuid },
    pageHead(pool.name, 'Servers of this pool, as the service engines check them.'),
    kvPanel([
      ['Health monitors', monitors.length ? monitors.join(', ') : 'passive only'],
      ['Used by', users.length ? users.map((v, i) => [i ? ', ' : '', h('a', { href: '#/virtualservices/' + v.uuid }, v.name)]) : '—'],
    ]),
    members));

  async function load() {
    const servers = await poolServers(pool.uuid);
    if (!live()) return;
    showMembers(members, 'pool-members', servers, {
      title: 'Servers', text: 'State, last check and why a server is down; refreshed every 5 seconds.',
      emptyText: 'Add servers to the pool with Edit on the Pools page.',
    });
  }
  await load();
  every(5000, live, load);
}
