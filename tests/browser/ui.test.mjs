// Real-browser tests of the tsgate web UI: two workstations at once (desktop and phone),
// the whole request → mail → paste flow, live updates, errors, admin. Plain Node, no runner.
//
//   node ui.test.mjs <demo.json> <screenshot dir>     (run.sh starts the demo first)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [demoFile, shots] = process.argv.slice(2);
const demo = JSON.parse(readFileSync(demoFile, "utf8"));
const BASE = demo.ui_url;
const SIM = demo.sim_url;
const [U1, U2] = demo.users.map((u) => u.user_id);
const WAIT = 20_000; // guards waits that would hang a broken test; not a speed assertion

const results = [];
async function test(name, fn) {
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok   - ${name}`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL - ${name}\n       ${String(e && e.stack || e).split("\n").slice(0, 6).join("\n       ")}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function api(method, path, body, token = demo.workstation_token) {
  const r = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** The code of the newest simulator mail to `user` (optionally newer than `after`). */
async function codeFromOutbox(user, notCode) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    const mails = await (await fetch(SIM + "/sim/outbox.json")).json();
    const mail = mails
      .filter((m) => m.to.toLowerCase().startsWith(user.toLowerCase()))
      .sort((a, b) => Date.parse(b.sent_at) - Date.parse(a.sent_at))[0];
    const m = mail && /ID-SESSIONE:\s*([0-9a-f-]{36})/i.exec(mail.body_text);
    if (m && m[1] !== notCode) return m[1];
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no mail with a code for ${user} in the simulator outbox`);
}

const card = (page, user) => page.locator(`[data-testid="session-card"][data-user="${user}"]`);
const level = (page, user) => card(page, user).locator('[data-testid="session-level"]');
async function waitLevel(page, user, want) {
  await page.waitForFunction(
    ([u, l]) => document.querySelector(`[data-testid="session-card"][data-user="${u}"] [data-testid="session-level"]`)?.dataset.level === l,
    [user, want], { timeout: WAIT });
}
async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, animations: "disabled" });
}

// Playwright gives every launch a fresh temporary profile (its own --user-data-dir) and
// every context its own cookies and storage: two contexts are two workstations.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

let desktop, phone, phoneToken, copyCtx;
try {
  await test("sign-in link sets the session and removes the token from the address bar", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "it-IT" });
    desktop = await ctx.newPage();
    await desktop.goto(demo.login_url);
    assert(new URL(desktop.url()).pathname === "/", `landed on ${desktop.url()}`);
    assert(!desktop.url().includes("token"), "token still in the address bar");
    const cookies = await ctx.cookies();
    const c = cookies.find((c) => c.name === "tsgate_ui");
    assert(c && c.httpOnly && c.sameSite === "Strict", `cookie ${JSON.stringify(c)}`);
    assert(!(await desktop.evaluate(() => document.cookie)).includes("tsgate_ui"), "cookie visible to scripts");
    assert(await card(desktop, U1).count() === 1 && await card(desktop, U2).count() === 1, "one card per user");
    await waitLevel(desktop, U1, "red");
    await desktop.waitForSelector('[data-role="live"].ok', { timeout: WAIT });
    await shot(desktop, "01-desktop-red");
  });

  await test("a second workstation (doctor's phone) signs in with the login form", async () => {
    const created = await api("POST", "/api/v1/workstations", { name: "Telefono della dottoressa", role: "doctor", users: [U1, U2] });
    assert(created.status === 201, `create workstation: ${created.status}`);
    phoneToken = created.body.token;
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale: "it-IT" });
    await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
    phone = await ctx.newPage();
    await phone.goto(BASE + "/");
    assert(new URL(phone.url()).pathname === "/login", "not sent to sign-in");
    await shot(phone, "02-phone-login");
    await phone.fill("#token", phoneToken);
    await phone.click('button[type="submit"]');
    await phone.waitForURL(BASE + "/", { timeout: WAIT });
    await phone.waitForSelector('[data-role="live"].ok', { timeout: WAIT });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `page wider than the phone by ${overflow}px`);
    await shot(phone, "03-phone-red");
  });

  let firstCode;
  await test("request on the desktop, paste on the phone: both turn green without reload", async () => {
    await desktop.evaluate(() => { window.__noReload = true; });
    await phone.evaluate(() => { window.__noReload = true; });
    await card(desktop, U1).locator('[data-testid="request-code"]').click();
    await card(phone, U1).locator('[data-role="state"]').filter({ hasText: "In attesa della mail" }).waitFor({ timeout: WAIT });
    await shot(desktop, "04-desktop-waiting");
    firstCode = await codeFromOutbox(U1);
    // Copy noise: quotes, a "Bearer", upper case, a line break, spaces.
    await card(phone, U1).locator('[data-testid="code-input"]').fill(`  "Bearer ${firstCode.toUpperCase()}"\n `);
    await card(phone, U1).locator('[data-testid="code-submit"]').click();
    await waitLevel(phone, U1, "green");
    await waitLevel(desktop, U1, "green");
    assert(await desktop.evaluate(() => window.__noReload === true), "desktop reloaded");
    assert(await phone.evaluate(() => window.__noReload === true), "phone reloaded");
    const countdown = await card(desktop, U1).locator('[data-testid="countdown"]').textContent();
    assert(/Scade tra \d+ h \d\d min \d\d s/.test(countdown), `countdown: ${countdown}`);
    await desktop.waitForFunction(
      ([u, before]) => document.querySelector(`[data-user="${u}"] [data-testid="countdown"]`).textContent !== before,
      [U1, countdown], { timeout: WAIT });
    await shot(desktop, "05-desktop-green");
    await shot(phone, "06-phone-green");
  });

  await test("a wrong code gets the precise Italian message and changes nothing", async () => {
    await card(desktop, U2).locator('[data-testid="code-input"]').fill("1f6a0702-2cfc");
    await card(desktop, U2).locator('[data-testid="code-submit"]').click();
    await card(desktop, U2).locator('[data-role="msg"]').filter({ hasText: "36 caratteri" }).waitFor({ timeout: WAIT });
    await card(desktop, U2).locator('[data-testid="code-input"]').fill("11111111-2222-4333-8444-555555555555");
    await card(desktop, U2).locator('[data-testid="code-submit"]').click();
    await card(desktop, U2).locator('[data-role="msg"]').filter({ hasText: "non riconosce" }).waitFor({ timeout: WAIT });
    assert(await level(desktop, U2).getAttribute("data-level") === "red", "U2 changed colour");
    await shot(desktop, "07-desktop-bad-code");
  });

  await test("a prescription refused for lack of a code is told on every workstation's card", async () => {
    // The practice software of the desk workstation sends for U2, who has no code.
    const res = await fetch(demo.proxy_url + "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto", {
      method: "POST",
      headers: { "Content-Type": "text/xml; charset=utf-8", "X-Tsgate-User": U2 },
      body: '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
    });
    assert(res.headers.get("x-tsgate-error") === "no_code", `proxy answered ${res.status} ${res.headers.get("x-tsgate-error")}`);
    for (const page of [desktop, phone]) {
      const notice = card(page, U2).locator('[data-testid="proxy-refused"]');
      await notice.filter({ hasText: "Richiedi il codice" }).waitFor({ timeout: WAIT });
      assert(!(await card(page, U1).locator('[data-testid="proxy-refused"]').isVisible()), "shown on another doctor's card");
    }
    await shot(desktop, "06b-desktop-proxy-refused");
  });

  await test("replacing a valid code asks for confirmation first", async () => {
    const request = card(desktop, U1).locator('[data-testid="request-code"]');
    await request.click();
    const dialog = desktop.locator("#confirm-replace");
    await dialog.waitFor({ state: "visible", timeout: WAIT });
    const text = await dialog.textContent();
    assert(text.includes("già un codice valido"), `dialog: ${text}`);
    await shot(desktop, "08-desktop-confirm-replace");
    await dialog.locator('[data-role="confirm-cancel"]').click();
    await card(desktop, U1).locator('[data-role="msg"]').filter({ hasText: "resta in uso" }).waitFor({ timeout: WAIT });
    // Sistema TS rules: a minimum interval between two requests. The page says so; retry.
    const msg = card(desktop, U1).locator('[data-role="msg"]');
    for (let attempt = 0; ; attempt++) {
      await request.click();
      await dialog.waitFor({ state: "visible", timeout: WAIT });
      await dialog.locator('[data-testid="confirm-replace"]').click();
      await msg.filter({ hasText: /Richiesta inviata|richiesto da poco/ }).waitFor({ timeout: WAIT });
      if ((await msg.textContent()).includes("Richiesta inviata")) break;
      assert(attempt < 15, "still too soon after many attempts");
      await desktop.waitForTimeout(2000);
    }
    await card(phone, U1).locator('[data-role="state"]').filter({ hasText: "nuovo codice pronto" }).waitFor({ timeout: WAIT });
    assert(await level(phone, U1).getAttribute("data-level") === "green", "the old code stays in use");
    const second = await codeFromOutbox(U1, firstCode);
    await card(desktop, U1).locator('[data-testid="code-input"]').fill(second);
    await card(desktop, U1).locator('[data-testid="code-submit"]').click();
    await card(phone, U1).locator('[data-role="state"]').filter({ hasText: /^Codice attivo\.$/ }).waitFor({ timeout: WAIT });
    await waitLevel(phone, U1, "green");
    firstCode = second;
  });

  await test("'Copia codice' copies to the clipboard on the doctor's phone, never shown", async () => {
    const copy = card(phone, U1).locator('[data-testid="copy-code"]');
    await copy.click();
    await card(phone, U1).locator('[data-role="msg"]').filter({ hasText: "copiato" }).waitFor({ timeout: WAIT });
    const clip = await phone.evaluate(() => navigator.clipboard.readText());
    assert(clip === firstCode, "clipboard does not hold the active code");
    assert(!(await phone.content()).includes(firstCode), "code rendered in the page");
    assert(await card(desktop, U1).locator('[data-testid="copy-code"]').count() === 0, "admin workstation has a copy button");
  });

  let staffToken;
  await test("admin creates a staff workstation, which sees states but no code, then revokes it", async () => {
    await desktop.goto(BASE + "/admin");
    await desktop.locator('[data-testid="workstation-row"]').first().waitFor({ timeout: WAIT });
    await desktop.locator("#postazioni details summary").click();
    await desktop.fill('[data-testid="ws-name"]', "Segreteria <prova>");
    await desktop.selectOption('[data-testid="ws-role"]', "staff");
    await desktop.click('[data-testid="ws-create"]');
    const tokenEl = desktop.locator('[data-testid="new-token"]');
    await tokenEl.waitFor({ state: "visible", timeout: WAIT });
    staffToken = (await tokenEl.textContent()).trim();
    assert(/^tsg_/.test(staffToken), `token ${staffToken}`);
    const row = desktop.locator('[data-testid="workstation-row"][data-name="Segreteria <prova>"]');
    await row.waitFor({ timeout: WAIT });
    await shot(desktop, "09-desktop-admin");

    const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 }, locale: "it-IT" });
    const staff = await ctx.newPage();
    await staff.goto(`${BASE}/login?token=${staffToken}`);
    await card(staff, U1).waitFor({ timeout: WAIT });
    await waitLevel(staff, U1, "green");
    assert(await staff.locator('[data-testid="copy-code"]').count() === 0, "staff sees a copy button");
    assert((await staff.content()).indexOf("Segreteria &lt;prova&gt;") >= 0, "name not escaped");
    await shot(staff, "10-staff");

    await row.locator('[data-testid="ws-revoke"]').click();
    await desktop.locator('[data-testid="confirm-revoke"]').click();
    await row.waitFor({ state: "detached", timeout: WAIT });
    await staff.reload();
    assert(new URL(staff.url()).pathname === "/login", `revoked staff still in: ${staff.url()}`);
    await ctx.close();
  });

  await test("audit shows the operations, with filters", async () => {
    await desktop.selectOption('[data-role="audit-filter"] select[name="kind"]', "requested");
    await desktop.click('[data-role="audit-filter"] button[type="submit"]');
    await desktop.locator('[data-role="audit"] tr').filter({ hasText: "richiesta" }).first().waitFor({ timeout: WAIT });
    const rows = await desktop.locator('[data-role="audit"] tr').allTextContents();
    assert(rows.every((r) => r.includes("richiesta")), `unfiltered rows: ${rows.join(" | ")}`);
    await desktop.locator("#casella").scrollIntoViewIfNeeded();
    await desktop.locator('[data-role="mailbox-state"] p').first().waitFor({ timeout: WAIT });
    await shot(desktop, "11-desktop-admin-audit");
  });

  await test("help page shows the flow diagram and the troubleshooting guide", async () => {
    await phone.goto(BASE + "/aiuto");
    assert(await phone.locator("figure svg title").textContent() !== "", "no diagram");
    assert((await phone.textContent("#problemi")).includes("Certifica mail"), "no troubleshooting");
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `help page wider than the phone by ${overflow}px`);
    await shot(phone, "12-phone-help");
    await phone.locator("figure.flow-figure").screenshot({ path: join(shots, "12b-phone-flow-diagram.png") });
  });

  await test("keyboard only: tab to the request button and press Enter", async () => {
    await phone.goto(BASE + "/");
    await phone.waitForSelector('[data-role="live"].ok', { timeout: WAIT });
    for (let i = 0; i < 40; i++) {
      await phone.keyboard.press("Tab");
      const id = await phone.evaluate(() => document.activeElement?.closest("[data-user]")?.dataset.user + "/" + document.activeElement?.dataset.testid);
      if (id === `${U2}/request-code`) break;
    }
    const focused = await phone.evaluate(() => document.activeElement?.dataset.testid);
    assert(focused === "request-code", `focus on ${focused}`);
    await phone.keyboard.press("Enter");
    await card(phone, U2).locator('[data-role="state"]').filter({ hasText: "In attesa della mail" }).waitFor({ timeout: WAIT });
    // The change is also told to screen readers through the aria-live region.
    await phone.waitForFunction(() => document.getElementById("announcer").textContent.includes("In attesa"), null, { timeout: WAIT });
    await shot(phone, "13-phone-waiting");
  });

  await test("while the mail is late, the card shows the checklist and the request history", async () => {
    // U2 is waiting since the previous test. A page clock moved two minutes ahead stands in
    // for a doctor who has waited: the checklist appears only after a delay.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "it-IT" });
    const page = await ctx.newPage();
    await page.clock.install();
    await page.goto(demo.login_url);
    const trouble = card(page, U2).locator('[data-role="trouble"]');
    await card(page, U2).locator('[data-role="state"]').filter({ hasText: "In attesa della mail" }).waitFor({ timeout: WAIT });
    assert(await trouble.isHidden(), "checklist shown at once");
    await page.clock.fastForward("02:00");
    await trouble.waitFor({ state: "visible", timeout: WAIT });
    await trouble.locator("summary").click();
    const text = await trouble.textContent();
    for (const words of ["Spam", "Casella piena", "Certifica mail", "100", "200"]) {
      assert(text.includes(words), `checklist lacks ${words}`);
    }
    await card(page, U2).locator('[data-role="history"] li').filter({ hasText: "Telefono della dottoressa" }).first().waitFor({ timeout: WAIT });
    await shot(page, "14-desktop-waiting-checklist");
    await ctx.close();
  });

  await test("notifications when the code turns yellow and when it expires", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "it-IT" });
    await ctx.grantPermissions(["notifications"], { origin: BASE });
    // Record what the page notifies (headless Chromium shows nothing on screen).
    await ctx.addInitScript(() => {
      window.__notes = [];
      const Real = window.Notification;
      class Recorded extends Real {
        constructor(title, options) { super(title, options); window.__notes.push(options && options.body); }
      }
      window.Notification = Recorded;
    });
    const page = await ctx.newPage();
    await page.clock.install();
    await page.goto(demo.login_url);
    await waitLevel(page, U1, "green");
    const { body } = await api("GET", `/api/v1/users/${U1}/session`);
    assert(body.remaining_seconds > 3600, `remaining ${body.remaining_seconds}`);
    await page.clock.fastForward((body.remaining_seconds - 1800) * 1000);
    await waitLevel(page, U1, "yellow");
    await page.waitForFunction(() => window.__notes.some((n) => n.includes("scade entro un'ora")), null, { timeout: WAIT });
    await shot(page, "15-desktop-yellow");
    await page.clock.fastForward(3600 * 1000);
    await waitLevel(page, U1, "red");
    await page.waitForFunction(() => window.__notes.some((n) => n.includes("è scaduto")), null, { timeout: WAIT });
    const text = await card(page, U1).locator('[data-role="state"]').textContent();
    assert(text.includes("scaduto"), `state: ${text}`);
    await ctx.close();
  });

  await test("where the page may not create notifications (Android), the service worker shows them", async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, locale: "it-IT" });
    await ctx.grantPermissions(["notifications"], { origin: BASE });
    // Chrome on Android: permission granted, but `new Notification()` throws.
    await ctx.addInitScript(() => {
      const Real = window.Notification;
      class AndroidLike extends Real { constructor() { throw new TypeError("Illegal constructor"); } }
      window.Notification = AndroidLike;
    });
    const page = await ctx.newPage();
    await page.clock.install();
    await page.goto(demo.login_url);
    await waitLevel(page, U1, "green");
    // (waitForFunction does not await a promise: poll from here.)
    const until = async (what, check) => {
      const deadline = Date.now() + WAIT;
      while (!(await page.evaluate(check))) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await until("service worker active", async () => {
      const r = await navigator.serviceWorker.getRegistration("/assets/");
      return !!(r && r.active);
    });
    // The page's clock moves to the last half hour: yellow, and a notification.
    const { body } = await api("GET", `/api/v1/users/${U1}/session`);
    await page.clock.fastForward((body.remaining_seconds - 1800) * 1000);
    await waitLevel(page, U1, "yellow");
    await until("notification shown by the service worker", async () => {
      const r = await navigator.serviceWorker.getRegistration("/assets/");
      const shown = r ? await r.getNotifications() : [];
      return shown.some((n) => n.body.includes("scade entro un'ora"));
    });
    await ctx.close();
  });

  await test("logout ends the session", async () => {
    await phone.click('.who button[type="submit"]');
    await phone.waitForURL(BASE + "/login", { timeout: WAIT });
    const r = await phone.evaluate(async () => (await fetch("/api/v1/users")).status);
    assert(r === 401, `API after logout: ${r}`);
  });
} catch (e) {
  results.push(["setup", false]);
  console.log(`FAIL - setup: ${e && e.stack || e}`);
} finally {
  await browser.close().catch(() => {});
}

const passed = results.filter((r) => r[1]).length;
const failed = results.length - passed;
console.log(`screenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
