/* proctrail web console. Plain JavaScript, no framework, nothing loaded from elsewhere.
 *
 * Every string that comes from an event (file names, argv, host names...) is put in the page
 * as a text node (el() below, textContent): never as markup. The page's CSP forbids inline
 * script and style, so nothing here uses either. */
'use strict';

const API = '/api/v1';
const LIVE_MAX = 500;              // rows the live view keeps
const PAGE = 100;                  // rows a search page asks for

const main = document.getElementById('main');
let whoRole = '';                  // the signed-in operator's role, from /whoami
let liveSource = null;             // the EventSource of the live view, closed on leaving it

/* ---- DOM helpers: text only ---- */

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'onclick' || k === 'onsubmit' || k === 'oninput') e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) append(e, c);
  return e;
}

function append(e, c) {
  if (c === undefined || c === null || c === false) return;
  if (Array.isArray(c)) { c.forEach((x) => append(e, x)); return; }
  e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function link(href, text, attrs) {
  return el('a', Object.assign({ href }, attrs || {}), text);
}

/* A value as shown: control characters and bidi overrides as visible escapes, so a file
 * name cannot pretend to be something else (the text itself is still a text node). */
function show(v) {
  if (v === undefined || v === null) return '';
  return String(v).replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g,
    (c) => {
      const n = c.charCodeAt(0);
      if (c === '\n') return '\\n';
      if (c === '\t') return '\\t';
      if (c === '\r') return '\\r';
      return n < 0x100 ? '\\x' + n.toString(16).padStart(2, '0') : '\\u' + n.toString(16).padStart(4, '0');
    });
}

function short(v, n) {
  const s = show(v);
  return s.length > n ? s.slice(0, n - 1) + '\u2026' : s;
}

function get(obj, path) {
  if (!obj) return undefined;
  if (path in obj) return obj[path];
  let o = obj;
  for (const p of path.split('.')) {
    if (o === null || typeof o !== 'object' || !(p in o)) return undefined;
    o = o[p];
  }
  return o;
}

function pick(obj, ...paths) {
  for (const p of paths) {
    const v = get(obj, p);
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

function localTime(t) {
  if (!t) return '';
  const d = new Date(t);
  if (isNaN(d)) return show(t);
  const p = (n, w) => String(n).padStart(w || 2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:` +
    `${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function human(n) {
  if (n === undefined || n === null) return '';
  const u = ['', 'K', 'M', 'G', 'T'];
  let i = 0;
  let x = Number(n);
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return i ? (x < 10 ? x.toFixed(1) : x.toFixed(0)) + u[i] : String(n);
}

/* ---- the API ---- */

class ApiError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(path, opts) {
  const o = Object.assign({ credentials: 'same-origin', headers: {} }, opts || {});
  o.headers = Object.assign({ Accept: 'application/json', 'X-Proctrail-CSRF': '1' }, o.headers);
  const r = await fetch(API + path, o);
  if (r.status === 401 && !path.startsWith('/session')) {
    signinPage('Your session ended: sign in again.');
    throw new ApiError(401, 'unauthorized');
  }
  if (r.status === 204) return null;
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new ApiError(r.status, (body && body.error) || r.statusText);
  return body;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

function errorBox(e) {
  return el('div', { class: 'error', role: 'alert' }, 'Error: ', show(e && e.message ? e.message : e));
}

/* ---- pages ---- */

function setNav(name) {
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.id === 'nav-' + name);
}

function page(title, name) {
  if (liveSource) { liveSource.close(); liveSource = null; }
  setNav(name);
  clear(main);
  document.title = 'proctrail \u2014 ' + title;
  const h = el('h1', {}, title);
  main.appendChild(h);
  return h;
}

function signinPage(message) {
  if (liveSource) { liveSource.close(); liveSource = null; }
  document.getElementById('top').hidden = true;
  clear(main);
  document.title = 'proctrail \u2014 sign in';
  const err = el('div', { class: 'error', id: 'signin-error', role: 'alert' }, message && message.startsWith('Your') ? message : '');
  const name = el('input', { id: 'operator', name: 'operator', autocomplete: 'username', required: true, maxlength: 64 });
  const token = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, maxlength: 256 });
  const form = el('form', { class: 'card signin', id: 'signin', onsubmit: async (ev) => {
    ev.preventDefault();
    clear(err);
    try {
      await api('/session', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ operator: name.value.trim(), token: token.value.trim() }) });
      token.value = '';
      await start();
    } catch (e) {
      append(err, e.status === 401 || e.status === 403 ? 'Wrong operator name or token.' : 'Sign-in failed: ' + show(e.message));
    }
  } },
  el('h1', {}, 'proctrail'),
  el('p', { class: 'muted' }, 'Sign in with an operator name and its token (proctrail pki operator NAME issues one; make run writes the local one to var/operators/local.token).'),
  el('label', { for: 'operator' }, 'Operator'), name,
  el('label', { for: 'token' }, 'Token'), token,
  err,
  el('p', {}, el('button', { class: 'primary', type: 'submit', id: 'signin-submit' }, 'Sign in')));
  main.appendChild(form);
  name.focus();
}

function healthBadge(a) {
  const h = String(pick(a, 'health') || 'unknown');
  const connected = pick(a, 'connected');
  let cls = 'ok';
  if (!connected || /lost|loss|gap|degraded|behind/i.test(h)) cls = 'warn';
  if (/error|fail|bad/i.test(h)) cls = 'bad';
  return el('span', { class: 'badge ' + cls }, show(h));
}

function lossTotal(a) {
  const c = pick(a, 'counters', 'loss');
  let sum = 0;
  if (c && typeof c === 'object') {
    for (const v of Object.values(c)) {
      if (typeof v === 'number') sum += v;
      else if (v && typeof v === 'object') sum += Math.max(Number(v.total || 0), Number(v.reported || 0));
    }
  }
  return sum;
}

function gapCount(a) {
  const g = pick(a, 'gaps');
  if (Array.isArray(g)) return pick(a, 'unexplained_gaps') || g.length;
  return g || 0;
}

async function agentsPage() {
  page('Agents', 'agents');
  const box = el('div', { id: 'agents' }, el('p', { class: 'muted' }, 'Loading\u2026'));
  main.appendChild(box);
  try {
    const r = await api('/agents');
    clear(box);
    const rows = (r.agents || []).map((a) => el('tr', { class: 'agent' },
      el('td', {}, show(pick(a, 'name', 'agent.name'))),
      el('td', {}, show(pick(a, 'host', 'host.name'))),
      el('td', {}, show(pick(a, 'version', 'agent.version'))),
      el('td', {}, pick(a, 'connected') ? el('span', { class: 'badge ok' }, 'connected') : el('span', { class: 'badge warn' }, 'disconnected')),
      el('td', {}, healthBadge(a)),
      el('td', {}, localTime(pick(a, 'last_seen'))),
      el('td', { class: 'num' }, pick(a, 'silent_seconds') !== undefined ? show(pick(a, 'silent_seconds')) + ' s' : ''),
      el('td', { class: 'num' }, show(pick(a, 'queue_depth'))),
      el('td', { class: 'num' }, human(pick(a, 'spool_bytes'))),
      el('td', { class: 'num' }, show(lossTotal(a))),
      el('td', { class: 'num' }, show(gapCount(a))),
      el('td', { class: 'num' }, show(pick(a, 'sequence_regressions'))),
      el('td', { class: 'num' }, show(pick(a, 'policy_version')))));
    box.appendChild(el('p', { class: 'muted', id: 'agent-count' }, `${rows.length} agent${rows.length === 1 ? '' : 's'}`));
    box.appendChild(el('table', {},
      el('thead', {}, el('tr', {}, ['Name', 'Host', 'Version', 'Connection', 'Health', 'Last seen', 'Silent', 'Queue', 'Spool', 'Lost', 'Gaps', 'Regressions', 'Policy']
        .map((t, i) => el('th', { class: i >= 6 ? 'num' : undefined }, t)))),
      el('tbody', {}, rows)));
  } catch (e) {
    if (e.status !== 401) { clear(box); box.appendChild(errorBox(e)); }
  }
}

const EVENT_HEAD = ['Time', 'Host', 'Action', 'PID', 'User', 'Executable', 'Args', 'SHA-256', ''];

function eventRow(ev, fresh) {
  const id = pick(ev, 'proctrail.event_id');
  const sha = pick(ev, 'process.hash.sha256');
  const ent = pick(ev, 'process.entity_id');
  const args = pick(ev, 'process.args');
  const tr = el('tr', { class: 'clickable event' + (fresh ? ' fresh' : ''), 'data-event-id': id, 'data-sha256': sha, 'data-entity': ent },
    el('td', { class: 'mono' }, localTime(pick(ev, '@timestamp'))),
    el('td', {}, short(pick(ev, 'host.name', 'agent.name'), 30)),
    el('td', {}, show(pick(ev, 'event.action'))),
    el('td', { class: 'num' }, show(pick(ev, 'process.pid'))),
    el('td', {}, show(pick(ev, 'process.user.name', 'process.user.id', 'user.id'))),
    el('td', { class: 'mono wrap exe' }, short(pick(ev, 'process.executable'), 90)),
    el('td', { class: 'mono wrap' }, short(Array.isArray(args) ? args.join(' ') : args, 120)),
    el('td', { class: 'mono' }, sha ? link('#/binary/' + encodeURIComponent(sha), sha.slice(0, 12) + '\u2026', { class: 'sha', title: sha }) : ''),
    el('td', {}, ent ? link('#/tree/' + encodeURIComponent(ent), 'tree', { class: 'tree-link' }) : ''));
  tr.addEventListener('click', (e) => {
    if (e.target.closest('a')) return;
    if (id) location.hash = '#/event/' + encodeURIComponent(id);
  });
  return tr;
}

function eventTable(id) {
  const body = el('tbody', { id: id + '-rows' });
  return { table: el('table', { id }, el('thead', {}, el('tr', {}, EVENT_HEAD.map((t) => el('th', {}, t)))), body), body };
}

const FILTERS = [
  ['from', 'From (age or RFC 3339)', '1h'], ['to', 'To (age or RFC 3339)', ''],
  ['agent', 'Agent', ''], ['host', 'Host', ''], ['action', 'Action', 'exec'],
  ['sha256', 'SHA-256', ''], ['exe', 'Executable (exact)', ''], ['exe_prefix', 'Executable prefix', ''],
  ['exe_glob', 'Executable glob', ''], ['name', 'Process name', ''], ['user', 'User', ''],
  ['pid', 'PID', ''], ['entity_id', 'Entity id', ''], ['cmdline', 'Command line contains', ''],
];

function filterForm(values, onSubmit, submitText) {
  const inputs = {};
  const fields = FILTERS.map(([k, label, ph]) => {
    inputs[k] = el('input', { name: k, id: 'f-' + k, placeholder: ph, maxlength: 4096 });
    inputs[k].value = values[k] || '';
    return el('label', {}, label, inputs[k]);
  });
  const form = el('form', { class: 'card form', id: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const v = {};
    for (const [k, i] of Object.entries(inputs)) if (i.value.trim() !== '') v[k] = i.value.trim();
    onSubmit(v);
  } }, fields, el('div', { class: 'actions' }, el('button', { type: 'submit', id: 'filters-submit' }, submitText)));
  return form;
}

function hashParams() {
  const h = location.hash;
  const i = h.indexOf('?');
  const out = {};
  if (i >= 0) for (const [k, v] of new URLSearchParams(h.slice(i + 1))) out[k] = v;
  return out;
}

async function searchPage() {
  page('Search events', 'search');
  const params = hashParams();
  main.appendChild(filterForm(params, (v) => { location.hash = '#/search' + query(v); }, 'Search'));
  const status = el('p', { class: 'status', id: 'search-status' });
  const { table, body } = eventTable('results');
  const more = el('button', { class: 'link', id: 'more', hidden: true }, 'Older events\u2026');
  main.appendChild(status);
  main.appendChild(table);
  main.appendChild(el('p', {}, more));
  if (!Object.keys(params).length) { status.textContent = 'Give one or more filters.'; return; }
  let cursor = null;
  let total = 0;
  const load = async () => {
    more.hidden = true;
    status.textContent = 'Searching\u2026';
    try {
      const r = await api('/events' + query(Object.assign({ limit: PAGE, cursor }, params)));
      for (const ev of r.events || []) body.appendChild(eventRow(ev));
      total += (r.events || []).length;
      cursor = r.next_cursor;
      status.textContent = `${total} event${total === 1 ? '' : 's'}, newest first`;
      more.hidden = !cursor;
    } catch (e) {
      if (e.status !== 401) { status.textContent = ''; status.appendChild(errorBox(e)); }
    }
  };
  more.addEventListener('click', load);
  await load();
}

function livePage() {
  page('Live events', 'live');
  const params = hashParams();
  main.appendChild(filterForm(params, (v) => { location.hash = '#/live' + query(v); }, 'Follow'));
  const status = el('p', { class: 'status down', id: 'live-status' }, 'Connecting\u2026');
  const { table, body } = eventTable('live');
  main.appendChild(status);
  main.appendChild(table);
  const p = Object.assign({}, params);
  const src = new EventSource(API + '/events/stream' + query(p), { withCredentials: true });
  liveSource = src;
  let n = 0;
  src.onopen = () => { status.className = 'status live'; status.textContent = 'Live: new events appear at the top.'; };
  src.onerror = () => {
    status.className = 'status down';
    status.textContent = src.readyState === EventSource.CLOSED ? 'Stream closed.' : 'Reconnecting\u2026';
  };
  src.addEventListener('event', (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    body.insertBefore(eventRow(ev, true), body.firstChild);
    n++;
    while (body.childNodes.length > LIVE_MAX) body.removeChild(body.lastChild);
    status.className = 'status live';
    status.textContent = `Live: ${n} new event${n === 1 ? '' : 's'}.`;
  });
}

function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? prefix + '.' + k : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else out.push([key, v]);
  }
  return out;
}

async function eventPage(id) {
  page('Event ' + show(id), 'search');
  const box = el('div', { class: 'card', id: 'event' });
  main.appendChild(box);
  try {
    const ev = await api('/events/' + encodeURIComponent(id));
    const sha = pick(ev, 'process.hash.sha256');
    const ent = pick(ev, 'process.entity_id');
    box.appendChild(el('p', {},
      ent ? link('#/tree/' + encodeURIComponent(ent), 'Process tree', { id: 'event-tree' }) : '', ' ',
      sha ? link('#/binary/' + encodeURIComponent(sha), 'Binary', { id: 'event-binary' }) : '', ' ',
      ent ? link('#/search' + query({ entity_id: ent }), 'Events of this process') : ''));
    const dl = el('dl', { class: 'kv' });
    for (const [k, v] of flatten(ev, '', [])) {
      dl.appendChild(el('dt', {}, k));
      dl.appendChild(el('dd', { 'data-field': k }, Array.isArray(v) ? v.map(show).join(' \u2502 ') : show(v)));
    }
    box.appendChild(dl);
  } catch (e) {
    if (e.status !== 401) box.appendChild(errorBox(e));
  }
}

function nodeView(n, self) {
  const args = Array.isArray(n.args) ? n.args.join(' ') : n.args;
  const span = el('span', { class: 'node' + (self ? ' self' : ''), 'data-entity': n.entity_id },
    el('strong', { class: 'name' }, short(n.name, 60)),
    el('span', { class: 'muted' }, '[' + show(n.pid) + ']'),
    el('span', { class: 'mono exe' }, short(n.executable, 120)),
    el('span', { class: 'mono args' }, short(args, 160)),
    n.user !== undefined ? el('span', { class: 'muted ctx' }, 'user ' + short(n.user, 40) +
      (n.login_user ? ' (login ' + short(n.login_user, 40) + ')' : '') +
      (n.interactive ? ', tty' : '') +
      (n.entry_executable ? ', entry ' + short(n.entry_executable, 60) : '') +
      (n.container_id ? ', container ' + short(n.container_id, 16) : '')) : '',
    el('span', { class: 'muted' }, localTime(n.start), ' \u2192 ', n.end ? localTime(n.end) : 'running',
      n.exit_code !== null && n.exit_code !== undefined ? ', exit ' + show(n.exit_code) : ''),
    n.event_id ? link('#/event/' + encodeURIComponent(n.event_id), 'event') : '',
    !self && n.entity_id ? link('#/tree/' + encodeURIComponent(n.entity_id), 'as root') : '');
  return span;
}

function execChain(n) {
  if (!Array.isArray(n.execs) || n.execs.length < 2) return null;
  return el('div', { class: 'execs' }, 'exec chain: ',
    n.execs.map((x, i) => el('span', {}, i ? ' \u2192 ' : '', el('span', { class: 'mono' }, short(x.executable, 80)),
      ' (', localTime(x.time), ')')));
}

function treeItem(n, self) {
  const kids = Array.isArray(n.children) ? n.children : [];
  const li = el('li', { class: 'tree-node' });
  const toggle = el('button', { type: 'button', class: 'toggle' + (kids.length ? '' : ' none'), 'aria-label': 'expand or collapse', 'aria-expanded': 'true' }, kids.length ? '\u2212' : '');
  toggle.addEventListener('click', () => {
    const c = li.classList.toggle('collapsed');
    toggle.textContent = c ? '+' : '\u2212';
    toggle.setAttribute('aria-expanded', c ? 'false' : 'true');
  });
  li.appendChild(toggle);
  li.appendChild(nodeView(n, self));
  append(li, execChain(n));
  if (kids.length) li.appendChild(el('ul', {}, kids.map((k) => treeItem(k, false))));
  return li;
}

async function treePage(id) {
  page('Process tree', 'search');
  const box = el('div', { class: 'card', id: 'tree' });
  main.appendChild(box);
  try {
    const t = await api('/tree/' + encodeURIComponent(id));
    if (t.truncated) box.appendChild(el('p', { class: 'muted' }, 'Older ancestors not shown: the walk stopped at its bound.'));
    const self = Object.assign({}, t.process, { children: t.descendants || [] });
    let item = treeItem(self, true);
    for (const a of (t.ancestors || []).slice().reverse()) {
      const li = treeItem(Object.assign({}, a, { children: [] }), false);
      const btn = li.querySelector('.toggle');
      btn.classList.remove('none');
      btn.textContent = '\u2212';
      li.appendChild(el('ul', {}, item));
      item = li;
    }
    box.appendChild(el('p', { class: 'muted' }, 'Ancestors above, descendants below the highlighted process. \u2212/+ collapses or expands a branch.'));
    box.appendChild(el('ul', { class: 'tree' }, item));
  } catch (e) {
    if (e.status !== 401) box.appendChild(errorBox(e));
  }
}

async function binariesPage() {
  page('Binaries', 'binaries');
  const params = hashParams();
  const maxHosts = el('input', { name: 'max_hosts', id: 'f-max_hosts', placeholder: '2', maxlength: 10 });
  const since = el('input', { name: 'since', id: 'f-since', placeholder: '7d', maxlength: 64 });
  maxHosts.value = params.max_hosts || '';
  since.value = params.since || '';
  main.appendChild(el('form', { class: 'card form', onsubmit: (ev) => {
    ev.preventDefault();
    location.hash = '#/binaries' + query({ max_hosts: maxHosts.value.trim(), since: since.value.trim() });
  } }, el('label', {}, 'Seen on at most N hosts', maxHosts), el('label', {}, 'First seen since', since),
  el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'List'))));
  const box = el('div', { id: 'binaries' });
  main.appendChild(box);
  try {
    const r = await api('/binaries' + query({ max_hosts: params.max_hosts, since: params.since, limit: 200 }));
    const rows = (r.binaries || []).map((b) => el('tr', { class: 'clickable binary', onclick: () => { location.hash = '#/binary/' + encodeURIComponent(b.sha256); } },
      el('td', { class: 'mono' }, link('#/binary/' + encodeURIComponent(b.sha256), show(b.sha256).slice(0, 16) + '\u2026', { title: b.sha256 })),
      el('td', { class: 'num' }, show(b.hosts)), el('td', { class: 'num' }, show(b.execs)),
      el('td', { class: 'num' }, human(b.size)), el('td', {}, localTime(b.first_seen)), el('td', {}, localTime(b.last_seen)),
      el('td', { class: 'mono wrap' }, (b.paths || []).map((p) => short(p, 100)).join(', '))));
    box.appendChild(el('table', {}, el('thead', {}, el('tr', {}, ['SHA-256', 'Hosts', 'Execs', 'Size', 'First seen', 'Last seen', 'Paths']
      .map((t, i) => el('th', { class: i && i < 4 ? 'num' : undefined }, t)))), el('tbody', {}, rows)));
  } catch (e) {
    if (e.status !== 401) box.appendChild(errorBox(e));
  }
}

async function binaryPage(sha) {
  page('Binary', 'binaries');
  const box = el('div', { id: 'binary' });
  main.appendChild(box);
  try {
    const [b, ag] = await Promise.all([api('/binaries/' + encodeURIComponent(sha)), api('/agents').catch(() => null)]);
    const fleet = ag && ag.agents ? ag.agents.length : null;
    box.appendChild(el('div', { class: 'card' },
      el('p', { class: 'mono', id: 'binary-sha' }, show(b.sha256)),
      el('div', { class: 'stats' },
        el('div', {}, el('span', {}, 'Hosts'), el('b', { class: 'big', id: 'host-count' }, show(b.hosts)),
          fleet !== null ? el('span', { id: 'prevalence' }, `of ${fleet} agent${fleet === 1 ? '' : 's'}`) : ''),
        el('div', {}, el('span', {}, 'Execs'), el('b', { class: 'big', id: 'exec-count' }, show(b.execs))),
        el('div', {}, el('span', {}, 'Size'), el('b', {}, human(b.size)), el('span', {}, show(b.size) + ' bytes')),
        el('div', {}, el('span', {}, 'First seen'), el('b', { id: 'first-seen' }, localTime(b.first_seen))),
        el('div', {}, el('span', {}, 'Last seen'), el('b', { id: 'last-seen' }, localTime(b.last_seen)))),
      el('h2', {}, 'Paths'),
      el('ul', { id: 'binary-paths' }, (b.paths || []).map((p) => el('li', { class: 'mono' }, show(p)))),
      el('p', {}, link('#/search' + query({ sha256: b.sha256 }), 'Every event with this hash', { id: 'binary-events' }))));
    const rows = (b.agents || []).map((a) => el('tr', { class: 'binary-host' },
      el('td', {}, show(a.agent)), el('td', {}, show(a.host)), el('td', {}, localTime(a.first_seen)),
      el('td', {}, localTime(a.last_seen)), el('td', { class: 'num' }, show(a.execs))));
    box.appendChild(el('h2', {}, 'Hosts'));
    box.appendChild(el('table', { id: 'binary-hosts' }, el('thead', {}, el('tr', {}, ['Agent', 'Host', 'First seen', 'Last seen', 'Execs']
      .map((t, i) => el('th', { class: i === 4 ? 'num' : undefined }, t)))), el('tbody', {}, rows)));
    box.appendChild(sampleSection(b.sha256, (b.agents || []).map((a) => a.agent)));
  } catch (e) {
    if (e.status !== 401) box.appendChild(errorBox(e));
  }
}

/* A sample of the binary: asked from a host that ran it (admin role; the agent sends only a
 * file it executed, re-hashed), the state of every request, and the file once stored. */
function sampleSection(sha, agents) {
  const sec = el('section', { id: 'sample' }, el('h2', {}, 'Sample'));
  const pick = el('select', { id: 'sample-agent' }, agents.map((a) => el('option', { value: a }, show(a))));
  const msg = el('p', { id: 'sample-message', role: 'status' });
  const list = el('div', { id: 'sample-requests' });
  const button = el('button', { id: 'sample-fetch', type: 'button' }, 'Fetch sample');
  let timer = null;
  async function refresh() {
    timer = null;
    if (!document.body.contains(sec)) return;   // left the page
    let r;
    try { r = await api('/samples' + query({ sha256: sha })); } catch (e) { clear(list); list.appendChild(errorBox(e)); return; }
    const reqs = r.requests || [];
    clear(list);
    if (reqs.some((q) => q.state === 'stored')) {
      list.appendChild(el('p', {}, el('a', { id: 'sample-download', href: API + '/samples/' + encodeURIComponent(sha), download: sha + '.sample' }, 'Download the stored sample')));
    }
    if (reqs.length) {
      list.appendChild(el('table', { id: 'sample-table' },
        el('thead', {}, el('tr', {}, ['Requested', 'Agent', 'By', 'State', 'Received', 'Reason'].map((t) => el('th', {}, t)))),
        el('tbody', {}, reqs.map((q) => el('tr', { class: 'sample-request' },
          el('td', {}, localTime(q.requested)), el('td', {}, show(q.agent)), el('td', {}, show(q.operator)),
          el('td', { class: 'sample-state' }, show(q.state)),
          el('td', { class: 'num' }, human(q.received) + (q.size !== undefined ? ' / ' + human(q.size) : '')),
          el('td', {}, show(q.reason || '')))))));
    }
    if (reqs.some((q) => q.state === 'requested' || q.state === 'transferring')) timer = setTimeout(refresh, 1000);
  }
  button.addEventListener('click', async () => {
    msg.textContent = '';
    try {
      const r = await api('/samples', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ sha256: sha, agent: pick.value }) });
      msg.textContent = 'Request ' + show(r.id) + ' sent to ' + show(pick.value) + '.';
    } catch (e) {
      if (e.status !== 401) msg.textContent = 'Refused: ' + show(e.message);
    }
    if (!timer) refresh();
  });
  // the API refuses others too; the console does not offer what would be refused
  if (whoRole !== 'admin') sec.appendChild(el('p', { id: 'sample-admin-only' }, 'Fetching a sample needs the admin role.'));
  else if (agents.length) sec.appendChild(el('p', {}, el('label', {}, 'From ', pick), ' ', button));
  sec.appendChild(msg);
  sec.appendChild(list);
  refresh();
  return sec;
}

async function alertsPage() {
  page('Alerts', 'alerts');
  const params = hashParams();
  const inputs = {};
  const fields = [['rule', 'Rule id', ''], ['level', 'Level', 'high'], ['agent', 'Agent', ''], ['from', 'From', '24h']]
    .map(([k, label, ph]) => {
      inputs[k] = el('input', { name: k, id: 'f-' + k, placeholder: ph, maxlength: 4096 });
      inputs[k].value = params[k] || '';
      return el('label', {}, label, inputs[k]);
    });
  main.appendChild(el('form', { class: 'card form', onsubmit: (ev) => {
    ev.preventDefault();
    const v = {};
    for (const k of Object.keys(inputs)) v[k] = inputs[k].value.trim();
    location.hash = '#/alerts' + query(v);
  } }, fields, el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'List'))));
  const box = el('div', { id: 'alerts' });
  main.appendChild(box);
  try {
    const r = await api('/alerts' + query({ rule: params.rule, level: params.level, agent: params.agent, from: params.from, limit: 200 }));
    const rows = (r.alerts || []).map((a) => {
      const ev = a.event || {};
      const ent = get(ev, 'process.entity_id');
      return el('tr', { class: 'alert level-' + show(get(a, 'rule.level')).replace(/[^a-z]/g, '') },
        el('td', {}, localTime(a['@timestamp'])),
        el('td', {}, show(get(a, 'rule.level'))),
        el('td', { title: show(get(a, 'rule.id')) }, show(get(a, 'rule.name'))),
        el('td', {}, show(get(a, 'agent.name'))),
        el('td', { class: 'mono wrap' }, short(get(ev, 'process.command_line'), 120)),
        el('td', {}, link('#/event/' + encodeURIComponent(a.event_id), 'event', { class: 'alert-event' }), ' ',
          ent ? link('#/tree/' + encodeURIComponent(ent), 'tree', { class: 'alert-tree' }) : ''));
    });
    box.appendChild(el('table', { id: 'alerts-table' }, el('thead', {}, el('tr', {}, ['Time', 'Level', 'Rule', 'Agent', 'Command line', '']
      .map((t) => el('th', {}, t)))), el('tbody', {}, rows)));
    if (!rows.length) box.appendChild(el('p', { class: 'muted' }, 'No alert matches.'));
  } catch (e) {
    if (e.status !== 401) box.appendChild(errorBox(e));
  }
}

/* The rule files of the collector's --rules directory with their state; a refused file's
 * reason is shown as text. Admins put (new or replacing) and delete files when the collector
 * allows uploads (docs/detection.md). */
async function rulesPage() {
  page('Rules', 'rules');
  const box = el('div', { id: 'rules' });
  main.appendChild(box);
  let r;
  try {
    r = await api('/rules');
  } catch (e) {
    if (e.status !== 401) box.appendChild(errorBox(e));
    return;
  }
  const canEdit = whoRole === 'admin' && r.upload;
  const name = el('input', { name: 'name', id: 'rule-name', placeholder: 'my_rule.yml', maxlength: 128, required: true });
  const text = el('textarea', { name: 'yaml', id: 'rule-yaml', rows: 16, spellcheck: 'false', required: true });
  const fileIn = el('input', { type: 'file', id: 'rule-file', accept: '.yml,.yaml' });
  const result = el('div', { id: 'rule-result', 'aria-live': 'polite' });
  fileIn.addEventListener('change', async () => {
    const f = fileIn.files && fileIn.files[0];
    if (!f) return;
    if (!name.value) name.value = f.name;
    text.value = await f.text();
  });
  async function change(method, file, body) {
    clear(result);
    try {
      await api('/rules/' + encodeURIComponent(file), method === 'PUT'
        ? { method, body, headers: { 'Content-Type': 'application/yaml' } } : { method });
      rulesPage();
    } catch (e) {
      if (e.status !== 401) result.appendChild(errorBox(e));
    }
  }
  const rows = (r.rules || []).map((x) => el('tr', { class: 'rule rule-' + (x.state === 'loaded' ? 'loaded' : 'refused') },
    el('td', { class: 'mono' }, show(x.file)),
    el('td', {}, el('span', { class: 'badge ' + (x.state === 'loaded' ? 'ok' : 'bad') }, show(x.state))),
    el('td', {}, show(x.title)), el('td', {}, show(x.level)), el('td', { class: 'mono' }, show(x.id)),
    el('td', { class: 'rule-reason wrap' }, show(x.reason)),
    el('td', {}, canEdit && !String(x.file).includes('/') ? [
      el('button', { type: 'button', class: 'link rule-edit', onclick: () => { name.value = x.file; text.focus(); } }, 'replace'), ' ',
      el('button', { type: 'button', class: 'link rule-delete', onclick: () => {
        if (confirm('Delete ' + show(x.file) + '?')) change('DELETE', x.file);
      } }, 'delete')] : '')));
  box.appendChild(el('p', { class: 'muted', id: 'rules-summary' },
    `${show(r.dir)}: ${show(r.loaded)} loaded, ${show(r.refused)} refused, reloaded ${localTime(r.reloaded)}`));
  if (r.reload_error) box.appendChild(errorBox('the last reload failed (' + r.reload_error + '); the rules loaded before stay in use'));
  box.appendChild(el('table', { id: 'rules-table' }, el('thead', {}, el('tr', {}, ['File', 'State', 'Title', 'Level', 'Id', 'Reason', '']
    .map((t) => el('th', {}, t)))), el('tbody', {}, rows)));
  if (!rows.length) box.appendChild(el('p', { class: 'muted' }, 'No rule file in the directory.'));
  if (canEdit) {
    box.appendChild(el('h2', {}, 'Upload a rule'));
    box.appendChild(el('form', { class: 'card rule-form', id: 'rule-form', onsubmit: (ev) => {
      ev.preventDefault();
      change('PUT', name.value.trim(), text.value);
    } }, el('label', {}, 'File name', name), el('label', {}, 'Or read a file', fileIn),
    el('label', { class: 'wide' }, 'Sigma rule (YAML)', text),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Validate and save')), result));
  } else if (whoRole === 'admin') {
    box.appendChild(el('p', { class: 'muted' }, 'Uploads are off: the collector runs without --rules-upload yes.'));
  }
}

/* ---- routing ---- */

function route() {
  const h = location.hash || '#/agents';
  const path = h.split('?')[0];
  const m = path.match(/^#\/(\w+)(?:\/(.*))?$/);
  const name = m ? m[1] : 'agents';
  const arg = m && m[2] ? decodeURIComponent(m[2]) : '';
  switch (name) {
    case 'live': return livePage();
    case 'search': return searchPage();
    case 'event': return eventPage(arg);
    case 'tree': return treePage(arg);
    case 'binaries': return binariesPage();
    case 'binary': return binaryPage(arg);
    case 'alerts': return alertsPage();
    case 'rules': return rulesPage();
    default: return agentsPage();
  }
}

async function start() {
  let who;
  try {
    const r = await fetch(API + '/whoami', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (r.status === 401) { signinPage(); return; }
    who = await r.json();
  } catch (e) {
    clear(main);
    main.appendChild(errorBox('the collector does not answer'));
    return;
  }
  const w = document.getElementById('who');
  w.textContent = show(who.operator) + ' (' + show(who.role) + ')';
  whoRole = who.role;
  document.getElementById('top').hidden = false;
  route();
}

document.getElementById('signout').addEventListener('click', async () => {
  try { await api('/session', { method: 'DELETE' }); } catch (e) { /* signed out either way */ }
  signinPage();
});
window.addEventListener('hashchange', () => { if (!document.getElementById('top').hidden) route(); });
start();
