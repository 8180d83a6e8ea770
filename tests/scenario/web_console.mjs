// Drives the web console in a real browser (Debian's chromium, headless, through playwright-core)
// for tests/scenario/web_console.sh, which runs it inside the lab's admin namespace. One phase per
// run, so the shell can prove with real traffic what a click changed:
//   overview  log in, check the overview (devices, vendors, the new gadget awaiting a decision)
//   quarantine  open the gadget from the overview and quarantine it through the page (its
//             confirm prompt accepted)
//   viewer    the same device page without any button; a forged POST (the viewer's own session
//             and CSRF token) is refused by the API's role check; one without the token by the
//             console; the events page fills from the live stream
//   learn     an operator starts learning on a device from its page
//   propose   an admin reviews the proposal its flows make (PROFILE names it) and applies it
//   xss       the device that announced `<script>` as its DHCP hostname shows it as text, and no
//             script runs
// Environment: URL, NAME, PASSWORD, MAC (the device), SHOTS (folder for PNG screenshots),
// PLAYWRIGHT (the playwright-core module folder). Prints "ok - ..." per check; exits 1 at the
// first failed one with what was seen.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT);
const url = process.env.URL.replace(/\/$/, '');
const phase = process.argv[2];
const shots = process.env.SHOTS;

function check(what, ok, seen) {
  if (!ok) {
    console.error(`not ok - ${what}${seen === undefined ? '' : `\n  seen: ${String(seen).slice(0, 600)}`}`);
    process.exit(1);
  }
  console.log(`ok - ${what}`);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  // Root in a network namespace: chromium's own sandbox needs user namespaces we do not set up.
  args: ['--no-sandbox', '--disable-gpu'],
});
// The box's own certificate: web_console.sh checked its fingerprint against `muzzlectl status`.
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 900 } });
const page = await context.newPage();
const dialogs = [];
page.on('dialog', async (d) => {
  dialogs.push(`${d.type()}: ${d.message()}`);
  await d.accept();
});
const cspViolations = [];
page.on('console', (m) => {
  if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
});

async function login() {
  await page.goto(`${url}/`);
  check('an anonymous visit lands on the login page', page.url().endsWith('/login'), page.url());
  await page.fill('input[name=name]', process.env.NAME);
  await page.fill('input[name=password]', process.env.PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit], input[type=submit]')]);
  check(`${process.env.NAME} is logged in`, page.url() === `${url}/`, page.url());
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'muzzle_session');
  check('the session cookie is Secure, HttpOnly and SameSite=Strict',
        session && session.secure && session.httpOnly && session.sameSite === 'Strict',
        JSON.stringify(session));
}

const mac = process.env.MAC;
try {
  await login();
  if (phase === 'overview') {
    const body = await page.textContent('body');
    check('the overview shows the cameras\' vendor', /Hikvision/i.test(body), body);
    // The gadget's rejected connection to the NVR, made before this first page.
    const chart = await page.locator('figure.chart svg').getAttribute('aria-label');
    check('the denial chart counts the denials made before the first page',
          /in the last hour: [1-9]/.test(chart), chart);
    check('the overview lists the gadget', body.includes(mac), body);
    const awaiting = await page.locator('section.awaiting').textContent().catch(() => '');
    check('the gadget is among the new devices awaiting a decision', awaiting.includes(mac), awaiting);
    await page.screenshot({ path: `${shots}/overview.png`, fullPage: true });
    // On a phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check('the overview fits a phone\'s width', overflow <= 0, overflow);
    await page.screenshot({ path: `${shots}/overview-phone.png`, fullPage: true });
  } else if (phase === 'quarantine') {
    await Promise.all([page.waitForNavigation(), page.locator(`a[href="/devices/${mac}"]`).first().click()]);
    check('the gadget\'s page opens', page.url().endsWith(`/devices/${mac}`), page.url());
    await page.screenshot({ path: `${shots}/device.png`, fullPage: true });
    const quarantine = page.locator('form[action$="/quarantine"] button');
    check('an operator sees Quarantine', (await quarantine.count()) === 1);
    await Promise.all([page.waitForNavigation(), quarantine.click()]);
    check('the page asked before quarantining', dialogs.some((d) => d.startsWith('confirm')), dialogs);
    const after = await page.textContent('body');
    check('the page says the gadget is quarantined', /quarantined/i.test(after), after);
    check('Release is offered now', (await page.locator('form[action$="/release"] button').count()) === 1);
    await page.screenshot({ path: `${shots}/device-quarantined.png`, fullPage: true });

    await page.goto(`${url}/policy`);
    const policy = await page.textContent('body');
    check('the policy page lists the web user\'s change', policy.includes(`web:${process.env.NAME}`), policy);
    await page.screenshot({ path: `${shots}/policy.png`, fullPage: true });
  } else if (phase === 'viewer') {
    await page.goto(`${url}/devices/${mac}`);
    const forms = await page.locator('main form').count();
    check('a viewer\'s device page has no change buttons', forms === 0, forms);
    const csrf = await page.getAttribute('form[action="/logout"] input[name=csrf]', 'value');
    check('the page carries the session\'s CSRF token', csrf && csrf.length >= 40, csrf);
    const forged = await page.request.post(`${url}/devices/${mac}/release`, {
      form: { csrf }, maxRedirects: 0,
    });
    const forgedText = await forged.text();
    check('a viewer\'s forged release is refused by the API (403, the role named)',
          forged.status() === 403 && /viewer.*may not release devices/.test(forgedText),
          `${forged.status()} ${forgedText}`);
    const tokenless = await page.request.post(`${url}/devices/${mac}/release`, { form: {}, maxRedirects: 0 });
    check('a POST without the CSRF token is refused by the console (403)',
          tokenless.status() === 403 && /CSRF/.test(await tokenless.text()), tokenless.status());
    await page.goto(`${url}/events`);
    await page.waitForFunction(() => document.querySelectorAll('main li, main tr').length > 2, null,
                               { timeout: 10000 });
    const events = await page.textContent('main');
    check('the events page fills from the live stream', /event=deny/.test(events), events);
    await page.screenshot({ path: `${shots}/events.png`, fullPage: true });
  } else if (phase === 'xss') {
    await page.goto(`${url}/devices/${mac}`);
    const text = await page.textContent('body');
    check('the device\'s DHCP hostname is shown as text', text.includes('<script>alert("muzzle")</script>'), text);
    const scripts = await page.locator('script:not([src])').count();
    check('no script element came from the device', scripts === 0, scripts);
    check('no dialog opened', dialogs.length === 0, dialogs);
  } else if (phase === 'learn') {
    await page.goto(`${url}/devices/${mac}`);
    const start = page.locator('form[action$="/learn"] button');
    check('an operator sees Start learning', (await start.count()) === 1);
    await Promise.all([page.waitForNavigation(), start.click()]);
    const after = await page.textContent('body');
    check('the page says the device is learning', /Learning: what the device does is recorded/.test(after), after);
    check('Stop learning is offered now', (await page.locator('form[action$="/learn/stop"] button').count()) === 1);
  } else if (phase === 'propose') {
    await page.goto(`${url}/devices/${mac}/proposal?profile=${process.env.PROFILE}`);
    const text = await page.textContent('main');
    check('the proposal allows the cloud the device used by name', text.includes('telemetry.vendor.example'), text);
    check('the hard-coded address is a finding, not a rule', /hard-coded-ip\s*203\.0\.113\.10/.test(text), text);
    await page.screenshot({ path: `${shots}/proposal.png`, fullPage: true });
    const apply = page.locator('form[action$="/proposal/apply"] button');
    check('an admin sees Apply', (await apply.count()) === 1);
    await Promise.all([page.waitForNavigation(), apply.click()]);
    check('the page asked before applying', dialogs.some((d) => d.includes('Apply this profile')), dialogs);
    const after = await page.textContent('body');
    check('the page says the proposal is applied', /proposed profile is applied/.test(after), after);
  } else {
    check(`known phase ${phase}`, false);
  }
  check('the Content-Security-Policy refused nothing the pages do', cspViolations.length === 0, cspViolations);
} finally {
  await browser.close();
}
