// The admin web UI in a real browser (issue 7): Debian's Chromium driven by playwright-core.
// Run by crates/mppd/tests/web_browser.rs as
//   node web.mjs BASE_URL SCREENSHOT_DIR ADMIN_PASSWORD USER_PASSWORD NEW_OUTBOUND_PROXY
// It prints one JSON object with what it saw; the Rust test asserts on it and on STATE.
import { chromium } from 'playwright-core';

const [base, shots, adminPw, userPw, outbound] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const results = {};
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  const submit = async (label) => {
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.click(`button:has-text("${label}")`),
    ]);
    await page.waitForLoadState('load');
    return response.status();
  };
  const login = async (account, password) => {
    await page.goto(`${base}/`);
    await page.selectOption('select[name=account]', account);
    await page.fill('input[name=password]', password);
    return submit('Log in');
  };

  results.adminLogin = await login('admin', adminPw);
  results.afterLogin = page.url();

  // Ext 1: TLS, through the registrar's TLS port.
  await page.goto(`${base}/tab/Ext1`);
  await page.selectOption('select[name="v:SIP_Transport_1_"]', 'TLS');
  await page.fill('input[name="v:Outbound_Proxy_1_"]', outbound);
  results.ext1Submit = await submit('Submit All Changes');
  results.ext1Url = page.url();

  // System: the firewall option.
  await page.goto(`${base}/tab/System`);
  await page.fill('input[name="v:Firewall_Config"]', 'NO_ICMP_PING');
  results.systemSubmit = await submit('Submit All Changes');
  results.systemUrl = page.url();
  await page.screenshot({ path: `${shots}/system-tab.png`, fullPage: true });

  // An invalid value: the error beside the field, nothing applied.
  await page.fill('input[name="v:Firewall_Config"]', 'TCP:70000');
  results.invalidSubmit = await submit('Submit All Changes');
  results.invalidError = await page.textContent('#f-Firewall_Config .err');
  results.invalidKeptValue = await page.inputValue('input[name="v:Firewall_Config"]');

  // Status: the line registered again, over TLS; the firewall without ping.
  results.statusTls = false;
  for (let i = 0; i < 60 && !results.statusTls; i++) {
    await page.goto(`${base}/status`);
    results.statusTls = (await page.textContent('body')).includes('via TLS');
    if (!results.statusTls) await page.waitForTimeout(500);
  }
  const statusText = await page.textContent('body');
  results.statusNoIcmpPing = /no_icmp_ping\s*true/.test(statusText);
  await page.screenshot({ path: `${shots}/status.png`, fullPage: true });

  // The user account: na fields absent, ro fields read-only, rw editable.
  await submit('Log out');
  results.userLogin = await login('user', userPw);
  await page.goto(`${base}/tab/System`);
  results.userSeesAdminPassword = (await page.locator('[name="v:Admin_Password"]').count()) > 0;
  results.userSeesFirewall = (await page.locator('[name="v:Firewall_Config"]').count()) > 0;
  const ro = page.locator('[name="v:Enable_Web_Server"]');
  results.userRoPresent = (await ro.count()) > 0;
  results.userRoDisabled = results.userRoPresent ? await ro.isDisabled() : null;
  const rw = page.locator('[name="v:Enable_802.1X_Authentication"]');
  results.userRwEditable = (await rw.count()) > 0 ? await rw.isEnabled() : null;
} catch (e) {
  results.error = String(e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));
