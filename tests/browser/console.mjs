// The web console in a real headless Chromium (Debian's), driven by playwright-core, against
// a real collector and a real agent set up by tests/integration/console_browser.sh.
//
// Environment: PT_URL (https://127.0.0.1:PORT), PT_TOKEN (operator 'local'), PT_CA (unused by
// the browser: it is told to accept the deployment's certificate, which only this test trusts),
// PT_SHA (a binary only this test ran), PT_BIN (its path), PT_HOSTS (how many hosts ran it,
// counted from its events), PT_HOSTILE (an executable path with markup, quotes
// and an escape sequence), PT_LIVE_BIN (run during the live view), PT_SHOTS (screenshots
// directory), PT_PROFILE (a fresh --user-data-dir), PT_ADMIN_TOKEN (operator 'adm', admin role:
// uploads rules through the Rules page, with the collector's --rules-upload yes, and fetches a
// sample of PT_BIN from the binary page).
// Each check prints "ok: ..." or throws; the exit status is the verdict.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} not set`);
  return v;
};
const URL_ = env('PT_URL');
const TOKEN = env('PT_TOKEN');
const SHA = env('PT_SHA');
const BIN = env('PT_BIN');
const HOSTS = env('PT_HOSTS');
const HOSTILE = env('PT_HOSTILE');
const LIVE_BIN = env('PT_LIVE_BIN');
const SHOTS = env('PT_SHOTS');
const PROFILE = env('PT_PROFILE');
const ADMIN_TOKEN = env('PT_ADMIN_TOKEN');
const T = 60000;   // generous: a loaded 2-core machine

mkdirSync(SHOTS, { recursive: true });
const ok = (m) => console.log('ok: ' + m);
function expect(cond, msg) {
  if (!cond) throw new Error('FAIL: ' + msg);
  ok(msg);
}

// What the console shows for a string (web/assets/app.js show()): controls escaped.
const shown = (s) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
  const n = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  return '\\x' + n.toString(16).padStart(2, '0');
});

const browser = await chromium.launchPersistentContext(PROFILE, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  ignoreHTTPSErrors: true,   // the deployment's own CA; the CLI and curl tests check the chain
  viewport: { width: 1400, height: 900 },
});
const errors = [];
const outside = [];
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(T);
  page.on('pageerror', (e) => errors.push(String(e)));
  // a 401 before signing in, for the wrong token and after signing out is expected, and the
  // 422 of the rule upload this test makes refused; anything else (a CSP violation, a script
  // error, another failed load) is not
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of (401|422)/.test(m.text())) errors.push(m.text());
  });
  // every request stays on the collector: nothing from outside
  page.on('request', (r) => { if (!r.url().startsWith(URL_) && !r.url().startsWith('data:')) outside.push(r.url()); });

  // ---- sign in
  const resp = await page.goto(URL_ + '/');
  const csp = resp.headers()['content-security-policy'] || '';
  expect(csp.includes("default-src 'none'") && csp.includes("script-src 'self'") &&
    csp.includes("frame-ancestors 'none'"), 'the console is served with the CSP');
  await page.waitForSelector('#signin');
  await page.screenshot({ path: `${SHOTS}/signin.png` });
  await page.fill('#operator', 'local');
  await page.fill('#token', 'pt_' + 'A'.repeat(43));
  await page.click('#signin-submit');
  await page.waitForFunction(() => document.querySelector('#signin-error').textContent.length > 0);
  expect(await page.isVisible('#signin'), 'a wrong token is refused and the sign-in form stays');
  await page.fill('#token', TOKEN);
  await page.click('#signin-submit');
  await page.waitForSelector('#agents table');
  expect((await page.textContent('#who')).startsWith('local'), 'signed in as local');
  const cookies = await browser.cookies(URL_);
  const c = cookies.find((x) => x.name === 'pt_session');
  expect(c && c.httpOnly && c.secure && c.sameSite === 'Strict', 'session cookie is HttpOnly, Secure, SameSite=Strict');
  expect(await page.evaluate(() => document.cookie.includes('pt_session')) === false, 'scripts cannot read the session cookie');
  const agentRows = await page.$$eval('#agents tr.agent', (rs) => rs.map((r) => r.textContent));
  expect(agentRows.filter((t) => t.includes('browser-agent') && t.includes('connected')).length === 2, 'agents page lists the two real agents, connected');
  await page.screenshot({ path: `${SHOTS}/agents.png`, fullPage: true });

  // ---- find an exec by its hash
  await page.goto(`${URL_}/#/search?sha256=${SHA}`);
  await page.waitForSelector('#results-rows tr.event');
  const shas = await page.$$eval('#results-rows tr.event', (rs) => rs.map((r) => r.dataset.sha256));
  expect(shas.length >= 2 && shas.every((s) => s === SHA), `search by hash finds its ${shas.length} execs, all with that hash`);
  const exes = await page.$$eval('#results-rows tr.event td.exe', (ts) => ts.map((t) => t.textContent));
  expect(exes.every((e) => e === BIN), 'each is the test binary');
  await page.screenshot({ path: `${SHOTS}/search.png`, fullPage: true });

  // ---- open its tree
  const entity = await page.$eval('#results-rows tr.event', (r) => r.dataset.entity);
  await page.click('#results-rows tr.event a.tree-link');
  await page.waitForSelector('#tree .node.self');
  expect(await page.$eval('#tree .node.self', (n) => n.dataset.entity) === entity, 'the tree is of that process');
  expect(await page.$eval('#tree .node.self .exe', (n) => n.textContent) === BIN, 'its node shows the executable');
  const levels = await page.$$eval('#tree li.tree-node', (l) => l.length);
  expect(levels >= 2, `its ancestors are drawn (${levels} nodes)`);
  // the parent shell ran the binary and is above it; collapse that branch, then expand it
  const parentToggle = page.locator('#tree li.tree-node:has(> ul > li > .node.self) > .toggle');
  await parentToggle.click();
  expect(!(await page.isVisible('#tree .node.self')), 'collapsing the parent hides the process');
  await parentToggle.click();
  expect(await page.isVisible('#tree .node.self'), 'expanding shows it again');
  await page.screenshot({ path: `${SHOTS}/tree.png`, fullPage: true });

  // ---- the event detail, from the tree
  await page.click('#tree .node.self a[href^="#/event/"]');
  await page.waitForSelector('#event dd[data-field="process.hash.sha256"]');
  expect(await page.textContent('#event dd[data-field="process.hash.sha256"]') === SHA, 'the event detail shows the hash');
  await page.screenshot({ path: `${SHOTS}/event.png`, fullPage: true });

  // ---- the binary page: prevalence
  await page.click('#event-binary');
  await page.waitForSelector('#host-count');
  expect(await page.textContent('#binary-sha') === SHA, 'the binary page is of that hash');
  expect(await page.textContent('#host-count') === HOSTS, `it shows ${HOSTS} hosts, as many as ran it`);
  expect((await page.$$('#binary-hosts tbody tr')).length === Number(HOSTS), 'and lists each host');
  expect((await page.textContent('#binary-paths')).includes(BIN), 'its path is listed');
  // the sample section: this operator has the read role only, so nothing is offered to ask
  await page.waitForSelector('#sample');
  expect(await page.$('#sample-admin-only') !== null && await page.$('#sample-fetch') === null,
    'a read-only operator is not offered a sample fetch');
  await page.screenshot({ path: `${SHOTS}/binary.png`, fullPage: true });
  await page.goto(`${URL_}/#/binaries?max_hosts=1`);
  await page.waitForSelector('#binaries table');
  await page.screenshot({ path: `${SHOTS}/binaries.png` });

  // ---- the live view shows an exec made now
  const livePrefix = LIVE_BIN.slice(0, LIVE_BIN.lastIndexOf('/') + 1);
  await page.goto(`${URL_}/#/live?exe_prefix=${encodeURIComponent(livePrefix)}`);
  await page.waitForSelector('#live-status.live');
  execFileSync(LIVE_BIN, ['--live', 'marker']);
  await page.waitForFunction((b) => [...document.querySelectorAll('#live-rows td.exe')].some((t) => t.textContent === b), LIVE_BIN);
  ok('the live view shows the exec made after it opened');
  await page.screenshot({ path: `${SHOTS}/live.png` });

  // ---- a hostile file name is text
  await page.goto(`${URL_}/#/search?exe_prefix=${encodeURIComponent(HOSTILE.slice(0, HOSTILE.indexOf('<')))}`);
  await page.waitForSelector('#results-rows tr.event');
  const cell = await page.$eval('#results-rows tr.event td.exe', (t) => t.textContent);
  expect(cell === shown(HOSTILE), 'the hostile path is shown as text, its escape sequence escaped');
  expect(cell.includes('<script>') && cell.includes('"') && cell.includes("'") && cell.includes('\\x1b'), 'markup, quotes and ESC visible as characters');
  expect(await page.evaluate(() => document.querySelectorAll('main script, main img, main iframe').length) === 0, 'no element was made from it');
  expect(await page.evaluate(() => window.__pwned === undefined), 'nothing of it ran');
  await page.click('#results-rows tr.event td.exe');
  await page.waitForSelector('#event dd[data-field="process.executable"]');
  expect(await page.textContent('#event dd[data-field="process.executable"]') === shown(HOSTILE), 'the event detail shows it as text too');
  expect(await page.evaluate(() => window.__pwned === undefined), 'still nothing ran');
  await page.goto(`${URL_}/#/search?exe_prefix=${encodeURIComponent(HOSTILE.slice(0, HOSTILE.indexOf('<')))}`);
  await page.waitForSelector('#results-rows tr.event');
  await page.screenshot({ path: `${SHOTS}/hostile.png` });

  // ---- alerts: the Sigma match of the test binary, to its event and its process tree
  await page.goto(`${URL_}/#/alerts?rule=0c0c0c0c-0000-0000-0000-00000000f1d0&agent=browser-agent`);
  await page.waitForSelector('#alerts-table tr.alert');
  const arows = await page.$$eval('#alerts-table tr.alert', (rs) => rs.map((r) => r.textContent));
  expect(arows.length === 1 && arows[0].includes('findme binary ran') && arows[0].includes(' one'),
    'the alerts page lists the one alert of the rule on that agent (the exec with argument "one")');
  await page.screenshot({ path: `${SHOTS}/alerts.png` });
  await page.click('#alerts-table tr.alert a.alert-event');
  await page.waitForSelector('#event dd[data-field="process.executable"]');
  expect(await page.textContent('#event dd[data-field="process.executable"]') === shown(BIN), 'from the alert to its event');
  await page.goBack();
  await page.waitForSelector('#alerts-table tr.alert a.alert-tree');
  await page.click('#alerts-table tr.alert a.alert-tree');
  await page.waitForSelector('ul.tree');
  expect((await page.textContent('ul.tree')).includes('findme-'), 'from the alert to its process tree');

  // ---- rules: every file with its state; a refused one's reason (markup in it) as text
  await page.goto(`${URL_}/#/rules`);
  await page.waitForSelector('#rules-table tr.rule');
  const loadedRows = await page.$$eval('#rules-table tr.rule-loaded', (rs) => rs.map((r) => r.textContent));
  expect(loadedRows.length === 1 && loadedRows[0].includes('findme.yml') && loadedRows[0].includes('findme binary ran'),
    'the rules page lists the loaded rule with its title');
  const reason = await page.textContent('#rules-table tr.rule-refused td.rule-reason');
  expect(reason === "field '<img src=x onerror=window.__pwned=2>' is not recorded by proctrail",
    "the refused rule's reason is shown, markup as text");
  expect(await page.$$eval('#rules-table img', (x) => x.length) === 0 &&
    await page.evaluate(() => window.__pwned === undefined), 'the reason made no element and ran nothing');
  expect(await page.$('#rule-form') === null, 'no upload form for a read-only operator');
  await page.screenshot({ path: `${SHOTS}/rules.png` });

  // ---- sign out ends the session
  await page.click('#signout');
  await page.waitForSelector('#signin');
  const r = await page.evaluate(async () => (await fetch('/api/v1/whoami')).status);
  expect(r === 401, 'after signing out the API answers 401');

  // ---- an admin uploads a rule from the Rules page: a refused one shows its reason
  await page.fill('#operator', 'adm');
  await page.fill('#token', ADMIN_TOKEN);
  await page.click('#signin-submit');
  await page.waitForSelector('#top:not([hidden])');
  await page.goto(`${URL_}/#/rules`);
  await page.waitForSelector('#rule-form');
  await page.fill('#rule-name', 'console_bad.yml');
  await page.fill('#rule-yaml', 'title: bad\nlogsource: {category: process_creation}\n' +
    'detection:\n  sel:\n    OriginalFileName: x\n  condition: sel\n');
  await page.click('#rule-form button[type=submit]');
  await page.waitForSelector('#rule-result .error');
  expect((await page.textContent('#rule-result .error')).includes("field 'OriginalFileName' is not recorded by proctrail"),
    'a rule that does not compile is refused in the form with its reason');
  await page.fill('#rule-name', 'console_up.yml');
  await page.fill('#rule-yaml', 'title: uploaded from the console\nid: 0c0c0c0c-0000-0000-0000-0000000c0501\n' +
    'level: low\nlogsource: {category: process_creation, product: linux}\n' +
    'detection:\n  sel:\n    CommandLine|contains: console-upload\n  condition: sel\n');
  await page.click('#rule-form button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#rules-table tr.rule-loaded')]
    .some((r) => r.textContent.includes('console_up.yml')));
  ok('an admin uploaded a rule from the console and it is listed as loaded');
  page.once('dialog', (d) => d.accept());
  await page.click('#rules-table tr.rule-loaded:has-text("console_up.yml") button.rule-delete');
  await page.waitForFunction(() => ![...document.querySelectorAll('#rules-table tr.rule')]
    .some((r) => r.textContent.includes('console_up.yml')));
  ok('and deleted it');

  // ---- an admin fetches a sample from the binary page: the agent sends the file it executed
  await page.goto(`${URL_}/#/binary/${SHA}`);
  await page.waitForSelector('#sample-fetch');
  await page.selectOption('#sample-agent', 'browser-agent');
  await page.click('#sample-fetch');
  await page.waitForFunction(() => (document.querySelector('#sample-message') || {}).textContent?.startsWith('Request '));
  ok('the fetch request is accepted');
  // the page polls the request until the collector has stored the file
  await page.waitForSelector('#sample-download');
  expect((await page.textContent('#sample-table tr.sample-request td.sample-state')) === 'stored',
    'the request is shown as stored');
  const gotSha = await page.evaluate(async (sha) => {
    const r = await fetch('/api/v1/samples/' + sha, { credentials: 'same-origin' });
    if (r.status !== 200) return 'status ' + r.status;
    const d = await crypto.subtle.digest('SHA-256', await r.arrayBuffer());
    return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, SHA);
  expect(gotSha === SHA, 'the downloaded sample has the SHA-256 of the binary the agent ran');
  await page.screenshot({ path: `${SHOTS}/sample.png`, fullPage: true });
  await page.click('#signout');
  await page.waitForSelector('#signin');

  expect(outside.length === 0, 'no request left the collector' + (outside.length ? ': ' + outside.join(' ') : ''));
  expect(errors.length === 0, 'no script error or CSP violation' + (errors.length ? ': ' + errors.join(' | ') : ''));
} finally {
  await browser.close();
}
