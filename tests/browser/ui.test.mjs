// Real-browser tests of the tsgate web UI: two workstations at once (desktop and phone),
// the whole request → mail → paste flow, live updates, errors, automatic requests, admin.
// Plain Node, no runner.
//
//   node ui.test.mjs <demo.json> <screenshot dir>     (run.sh starts the demo first)
//
// In the demo the titolare's codes come by themselves (automatic requests, the simulator's
// outbox read as his mailbox) and the sostituto keeps the manual flow (he pastes the codes
// from the outbox): the manual card is tested on the sostituto, the calm automatic card on
// the titolare.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [demoFile, shots] = process.argv.slice(2);
const demo = JSON.parse(readFileSync(demoFile, "utf8"));
const BASE = demo.ui_url;
const SIM = demo.sim_url;
const byRole = (r) => (demo.users.find((u) => u.role === r) || {}).user_id;
const TIT = byRole("titolare") || demo.users[0].user_id;
const SOS = byRole("sostituto") || demo.users[1].user_id;
const DEMO_WS = "Demo (ambulatorio)";
const PHONE_WS = "Telefono della dottoressa";
const WAIT = 20_000; // guards waits that would hang a broken test; not a speed assertion
const LONG = 90_000; // the same, for what waits on the autopilot and the simulator's mail

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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, path, body, token = demo.workstation_token) {
  const r = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function simControl(body) {
  const r = await fetch(SIM + "/sim/control", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  assert(r.ok, `sim control ${JSON.stringify(body)}: ${r.status}`);
}

/** The newest simulator mail to `user` carrying a code other than `notCode`: {mail, code}. */
async function mailFromOutbox(user, notCode) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    const mails = await (await fetch(SIM + "/sim/outbox.json")).json();
    const mail = mails
      .filter((m) => m.to.toLowerCase().startsWith(user.toLowerCase()))
      .sort((a, b) => Date.parse(b.sent_at) - Date.parse(a.sent_at))[0];
    const m = mail && /ID-SESSIONE:\s*([0-9a-f-]{36})/i.exec(mail.body_text);
    if (m && m[1] !== notCode) return { mail, code: m[1] };
    await sleep(200);
  }
  throw new Error(`no new mail with a code for ${user} in the simulator outbox`);
}
async function codeFromOutbox(user, notCode) { return (await mailFromOutbox(user, notCode)).code; }

/** Quoted-printable as mail programs write it: `=XX` escapes, soft breaks at 76 columns. */
function quotedPrintable(text) {
  const out = [];
  for (const line of text.split("\n")) {
    let enc = "";
    for (const byte of Buffer.from(line, "utf8")) {
      const c = String.fromCharCode(byte);
      enc += (byte >= 33 && byte <= 126 && c !== "=") || c === " " ? c : "=" + byte.toString(16).toUpperCase().padStart(2, "0");
    }
    while (enc.length > 75) {
      let cut = 75;
      const esc = enc.lastIndexOf("=", cut - 1);
      if (esc > cut - 3) cut = esc; // never split an =XX escape
      out.push(enc.slice(0, cut) + "=");
      enc = enc.slice(cut);
    }
    out.push(enc);
  }
  return out.join("\n");
}
/** Breaks `code` inside `qp` with a soft line break, as a narrow mail program may. */
function splitInside(qp, code) {
  const at = qp.indexOf(code);
  if (at < 0) return qp; // already split by the 76 columns
  return qp.slice(0, at + 11) + "=\n" + qp.slice(at + 11);
}

/** What a doctor pastes when he copies "the mail": the source of his forward of the
 * Sistema TS mail, with headers, a quoted-printable text part (the code broken by a soft line
 * break), a quoted-printable HTML part and the forwarded headers. */
function wholeMail({ mail, code }) {
  const forwarded = "---------- Messaggio inoltrato ----------\n" +
    `Da: Sistema TS <noreply@sistemats.example>\nData: ${mail.sent_at}\nOggetto: ${mail.subject}\nA: <${mail.to}>\n\n` +
    mail.body_text;
  const html = `<div>Inoltro la mail di Sistema TS.</div><blockquote type="cite">${mail.body_html}</blockquote>`;
  return [
    "Return-Path: <medico@studio.example>",
    "Received: from mx.studio.example by pec.studio.example; Fri, 27 Nov 2026 08:01:02 +0100",
    "From: Dott. Prova <medico@studio.example>",
    `To: <${mail.to}>`,
    `Subject: I: ${mail.subject}`,
    "Date: Fri, 27 Nov 2026 08:01:02 +0100",
    "Message-ID: <inoltro.20261127.0801@studio.example>",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="=_confine_42"',
    "",
    "--=_confine_42",
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    splitInside(quotedPrintable("Inoltro la mail di Sistema TS.\n\n" + forwarded), code),
    "--=_confine_42",
    "Content-Type: text/html; charset=UTF-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    splitInside(quotedPrintable(html), code),
    "--=_confine_42--",
    "",
  ].join("\n");
}

const card = (page, user) => page.locator(`[data-testid="session-card"][data-user="${user}"]`);
const level = (page, user) => card(page, user).locator('[data-testid="session-level"]');
const role = (page, user, r) => card(page, user).locator(`[data-role="${r}"]`);
async function waitLevel(page, user, want, timeout = WAIT) {
  await page.waitForFunction(
    ([u, l]) => document.querySelector(`[data-testid="session-card"][data-user="${u}"] [data-testid="session-level"]`)?.dataset.level === l,
    [user, want], { timeout });
}
async function waitState(page, user, text, timeout = WAIT) {
  await role(page, user, "state").filter({ hasText: text }).waitFor({ timeout });
}
async function waitMessage(page, user, text, timeout = WAIT) {
  await role(page, user, "msg").filter({ hasText: text }).waitFor({ timeout });
}
/** The texts of every message-like element the card shows (one at most, on a calm card). */
async function shownMessages(page, user) {
  return card(page, user).evaluate((el) => {
    const found = new Set(el.querySelectorAll('[data-role="msg"], [role="alert"], .alert, .error, .warning'));
    return [...found].filter((e) => !e.hidden && e.getClientRects().length > 0).map((e) => e.textContent.trim());
  });
}
async function historyTexts(page, user) { return role(page, user, "history").locator("li").allTextContents(); }
async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, animations: "disabled" });
}

/** A small picture of one part of the page for the IT person's guide (docs/GUIDA-TECNICO.md):
 * `target/browser-screenshots/doc/<name>.jpg`; `bash tests/browser/doc-images.sh` copies them
 * into docs/img/. */
async function docShot(page, selector, name) {
  await page.locator(selector).first().screenshot({ path: join(shots, "doc", `${name}.jpg`), type: "jpeg", quality: 70, animations: "disabled" });
}

/** Clicks "Richiedi" on the card of `user` (and confirms the replacement if asked); returns
 * the HTTP status of the final answer. */
async function requestOnce(page, user) {
  const isRequest = (r) => r.url().endsWith(`/api/v1/users/${user}/session/request`) && r.request().method() === "POST";
  let answer = page.waitForResponse(isRequest, { timeout: WAIT });
  await role(page, user, "request").click();
  let r = await answer;
  if (r.status() === 409) {
    const dialog = page.locator("#confirm-replace");
    await dialog.waitFor({ state: "visible", timeout: WAIT });
    answer = page.waitForResponse(isRequest, { timeout: WAIT });
    await dialog.locator('[data-testid="confirm-replace"]').click();
    r = await answer;
  }
  return r.status();
}

/** Asks for a new code for `user` from `page`, past the minimum interval between two
 * requests (the page says "richiesto da poco": retry); returns the card's message. */
async function requestFrom(page, user, want = /Richiesta inviata/) {
  for (let attempt = 0; ; attempt++) {
    const status = await requestOnce(page, user);
    if (status !== 429) {
      await role(page, user, "msg").filter({ hasText: want }).waitFor({ timeout: WAIT });
      return role(page, user, "msg").textContent();
    }
    await waitMessage(page, user, "richiesto da poco");
    assert(attempt < 15, "still too soon after many attempts");
    await sleep(2000);
  }
}

/** Fails at once, with the reason, when the demo does not request the titolare's codes by
 * itself (a demo older than automatic requests with the outbox as mailbox). */
async function titolareIsAutomatic() {
  const { body } = await api("GET", `/api/v1/users/${TIT}/session`);
  assert(body.auto && body.auto.enabled, `automatic requests are not on for the titolare in this demo: ${JSON.stringify(body.auto)}`);
}

// Playwright gives every launch a fresh temporary profile (its own --user-data-dir) and
// every context its own cookies and storage: two contexts are two workstations.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const RECORD_NOTIFICATIONS = () => {
  // Record what the page notifies (headless Chromium shows nothing on screen).
  window.__notes = [];
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title, options) { super(title, options); window.__notes.push(options && options.body); }
  }
  window.Notification = Recorded;
};

let desktop, phone, phoneToken;
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
    assert(await card(desktop, TIT).count() === 1 && await card(desktop, SOS).count() === 1, "one card per user");
    await waitLevel(desktop, SOS, "red");
    await desktop.waitForSelector('[data-role="live"].ok', { timeout: WAIT });
    // Red and manual: one headline, no line repeating it, no message.
    assert((await role(desktop, SOS, "countdown").isHidden()), "a detail line repeats the headline");
    assert((await shownMessages(desktop, SOS)).length === 0, `messages: ${await shownMessages(desktop, SOS)}`);
    await shot(desktop, "01-desktop-start");
  });

  await test("a second workstation (doctor's phone) signs in with the login form", async () => {
    const created = await api("POST", "/api/v1/workstations", { name: PHONE_WS, role: "doctor", users: [TIT, SOS] });
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
    await shot(phone, "03-phone-start");
  });

  await test("a prescription refused for lack of a code is told on every workstation's card", async () => {
    // The practice software of the desk workstation sends for the sostituto, who has no code.
    const res = await fetch(demo.proxy_url + "/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto", {
      method: "POST",
      headers: { "Content-Type": "text/xml; charset=utf-8", "X-Tsgate-User": SOS },
      body: '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
    });
    assert(res.headers.get("x-tsgate-error") === "no_code", `proxy answered ${res.status} ${res.headers.get("x-tsgate-error")}`);
    for (const page of [desktop, phone]) {
      await card(page, SOS).locator('[data-role="msg"][data-code="proxy_refused"]').filter({ hasText: "Richiedi il codice" }).waitFor({ timeout: WAIT });
      const shown = await shownMessages(page, SOS);
      assert(shown.length === 1, `messages on the card: ${JSON.stringify(shown)}`);
      assert(!(await card(page, TIT).locator('[data-code="proxy_refused"]').isVisible()), "shown on another doctor's card");
    }
    await shot(desktop, "04-desktop-proxy-refused");
  });

  await test("keyboard only on the phone: the request replaces the notice, and waiting has its own look", async () => {
    await phone.evaluate(() => { window.__noReload = true; });
    for (let i = 0; i < 60; i++) {
      await phone.keyboard.press("Tab");
      const id = await phone.evaluate(() => document.activeElement?.closest("[data-user]")?.dataset.user + "/" + document.activeElement?.dataset.testid);
      if (id === `${SOS}/request-code`) break;
    }
    const focused = await phone.evaluate(() => document.activeElement?.dataset.testid);
    assert(focused === "request-code", `focus on ${focused}`);
    await phone.keyboard.press("Enter");
    await waitState(phone, SOS, "In attesa della mail");
    // One current message: the request's, which replaced the refused-call notice.
    await waitMessage(phone, SOS, "Richiesta inviata a Sistema TS.");
    const shown = await shownMessages(phone, SOS);
    assert(shown.length === 1 && !shown[0].includes("rifiutat"), `messages: ${JSON.stringify(shown)}`);
    // The desktop's notice was about the same thing: the new state replaced it there too.
    await waitState(desktop, SOS, "In attesa della mail");
    assert((await shownMessages(desktop, SOS)).length === 0, `desktop messages: ${JSON.stringify(await shownMessages(desktop, SOS))}`);
    // Waiting is not the red of "no code": its own light, and the time waited.
    for (const page of [phone, desktop]) {
      await waitLevel(page, SOS, "waiting");
      assert(/look-waiting/.test(await card(page, SOS).getAttribute("class")), "card without the waiting look");
      const colour = await level(page, SOS).evaluate((e) => getComputedStyle(e).backgroundColor + getComputedStyle(e).boxShadow);
      assert(!colour.includes("239, 68, 68"), `waiting light is red: ${colour}`);
      await role(page, SOS, "countdown").filter({ hasText: /^Richiesto alle \d\d:\d\d · in attesa da \d+\ss$/ }).waitFor({ timeout: WAIT });
    }
    // The change is also told to screen readers through the aria-live region.
    await phone.waitForFunction(() => document.getElementById("announcer").textContent.includes("In attesa"), null, { timeout: WAIT });
    await shot(phone, "05-phone-waiting");
    await shot(desktop, "05b-desktop-waiting");
  });

  await test("while the mail is late, the card shows the checklist and the request history", async () => {
    // The sostituto is waiting since the previous test. A page clock moved two minutes ahead
    // stands in for a doctor who has waited: the checklist appears only after a delay.
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "it-IT" });
    const page = await ctx.newPage();
    await page.clock.install();
    await page.goto(demo.login_url);
    const trouble = role(page, SOS, "trouble");
    await waitState(page, SOS, "In attesa della mail");
    assert(await trouble.isHidden(), "checklist shown at once");
    await page.clock.fastForward("02:00");
    await trouble.waitFor({ state: "visible", timeout: WAIT });
    await role(page, SOS, "countdown").filter({ hasText: /in attesa da 2\smin$/ }).waitFor({ timeout: WAIT });
    await trouble.locator("summary").click();
    const text = await trouble.textContent();
    for (const words of ["Spam", "Casella piena", "Certifica mail", "100", "200"]) {
      assert(text.includes(words), `checklist lacks ${words}`);
    }
    await role(page, SOS, "history").locator("li").filter({ hasText: `postazione «${PHONE_WS}»` }).first().waitFor({ timeout: WAIT });
    await shot(page, "06-desktop-waiting-checklist");
    await ctx.close();
  });

  let firstCode;
  await test("paste on the desktop: both turn green without reload, nothing left of the other's action", async () => {
    await desktop.evaluate(() => { window.__noReload = true; });
    firstCode = await codeFromOutbox(SOS);
    // Copy noise: quotes, a "Bearer", upper case, a line break, spaces.
    await role(desktop, SOS, "paste").locator('[data-testid="code-input"]').fill(`  "Bearer ${firstCode.toUpperCase()}"\n `);
    await card(desktop, SOS).locator('[data-testid="code-submit"]').click();
    await waitLevel(desktop, SOS, "green");
    await waitLevel(phone, SOS, "green");
    assert(await desktop.evaluate(() => window.__noReload === true), "desktop reloaded");
    assert(await phone.evaluate(() => window.__noReload === true), "phone reloaded");
    await waitMessage(desktop, SOS, "Codice verificato");
    // The phone's "Richiesta inviata" was about the wait, which is over: no leftover there.
    await waitState(phone, SOS, /^Codice attivo\.$/);
    assert((await shownMessages(phone, SOS)).length === 0, `phone messages: ${JSON.stringify(await shownMessages(phone, SOS))}`);
    const countdown = await role(desktop, SOS, "countdown").textContent();
    assert(/^Scade tra \d+\sh\s\d\d\smin \(\d\d\/\d\d alle \d\d:\d\d\)$/.test(countdown), `countdown: ${countdown}`);
    await shot(desktop, "07-desktop-green");
    await shot(phone, "07b-phone-green");
  });

  await test("a wrong code gets the precise Italian message and changes nothing", async () => {
    // The messages are this workstation's own.
    const input = role(desktop, SOS, "paste").locator('[data-testid="code-input"]');
    await input.fill("1f6a0702-2cfc");
    await card(desktop, SOS).locator('[data-testid="code-submit"]').click();
    await waitMessage(desktop, SOS, "36 caratteri");
    await input.fill("11111111-2222-4333-8444-555555555555");
    await card(desktop, SOS).locator('[data-testid="code-submit"]').click();
    await waitMessage(desktop, SOS, "non riconosce");
    assert(await level(desktop, SOS).getAttribute("data-level") === "green", "the good code was touched");
    assert((await shownMessages(desktop, SOS)).length === 1, "more than one message");
    // The other workstation is not bothered with this one's typing.
    assert((await shownMessages(phone, SOS)).length === 0, `phone messages: ${JSON.stringify(await shownMessages(phone, SOS))}`);
    await shot(desktop, "08-desktop-bad-code");
  });

  let secondCode;
  await test("replacing a valid code asks first; pasting the whole mail (headers, quoted-printable, HTML, forward) finds the code", async () => {
    const request = role(desktop, SOS, "request");
    await request.click();
    const dialog = desktop.locator("#confirm-replace");
    await dialog.waitFor({ state: "visible", timeout: WAIT });
    const text = await dialog.textContent();
    assert(text.includes("già un codice valido"), `dialog: ${text}`);
    await shot(desktop, "09-desktop-confirm-replace");
    await dialog.locator('[data-role="confirm-cancel"]').click();
    await waitMessage(desktop, SOS, "resta in uso");
    await requestFrom(desktop, SOS);
    await waitState(phone, SOS, "nuovo codice richiesto");
    assert(await level(phone, SOS).getAttribute("data-level") === "green", "the old code stays in use");
    // The other workstation's history follows without a reload.
    await role(phone, SOS, "history").locator("li").first().filter({ hasText: `postazione «${DEMO_WS}»` }).waitFor({ timeout: WAIT });
    const found = await mailFromOutbox(SOS, firstCode);
    secondCode = found.code;
    const pasted = wholeMail(found);
    assert(!pasted.includes(secondCode), "the test mail should hide the code behind quoted-printable");
    const input = role(phone, SOS, "paste").locator('[data-testid="code-input"]');
    await input.fill(pasted);
    assert((await input.inputValue()).split("\n").length > 20, "the field dropped the line breaks of the mail");
    await card(phone, SOS).locator('[data-testid="code-submit"]').click();
    await waitMessage(phone, SOS, "Codice verificato", WAIT).catch(async (e) => {
      throw new Error(`after pasting the whole mail: ${await role(phone, SOS, "msg").textContent()}`);
    });
    await waitState(desktop, SOS, /^Codice attivo\.$/);
    await waitLevel(desktop, SOS, "green");
    await shot(phone, "10-phone-whole-mail");
  });

  await test("an old, replaced code pasted while another is active says that the active one stays valid", async () => {
    const input = role(desktop, SOS, "paste").locator('[data-testid="code-input"]');
    await input.fill(firstCode);
    await card(desktop, SOS).locator('[data-testid="code-submit"]').click();
    const msg = role(desktop, SOS, "msg");
    await msg.filter({ hasText: /resta valido|revocato|sostituito|scaduto|non riconosce/ }).waitFor({ timeout: WAIT });
    const text = await msg.textContent();
    assert(text.includes("resta valido"), `message: ${text}`);
    assert(!/richiedine uno nuovo/i.test(text), `asks for a new code although one is active: ${text}`);
    assert(!(await msg.getAttribute("class")).includes("bad"), "told as an error");
    assert(await level(desktop, SOS).getAttribute("data-level") === "green", "the card changed colour");
    assert((await shownMessages(desktop, SOS)).length === 1, "more than one message");
    await shot(desktop, "11-desktop-old-code");
  });

  let thirdCode;
  await test("a retry after a failed request is not refused as too soon", async () => {
    await simControl({ fault: { operation: "create", kind: "http500", count: 1 } });
    const failed = await requestFrom(desktop, SOS, /non risponde/);
    assert(/non risponde/.test(failed), failed);
    const shown = await shownMessages(desktop, SOS);
    assert(shown.length === 1, `messages after the failure: ${JSON.stringify(shown)}`);
    await shot(desktop, "12-desktop-request-failed");
    // At once: the minimum interval follows a request Sistema TS accepted, not one that failed.
    const status = await requestOnce(desktop, SOS);
    assert(status === 202, `the retry got ${status}: ${await role(desktop, SOS, "msg").textContent()}`);
    await waitMessage(desktop, SOS, "Richiesta inviata");
    thirdCode = await codeFromOutbox(SOS, secondCode);
    await role(phone, SOS, "paste").locator('[data-testid="code-input"]').fill(thirdCode);
    await card(phone, SOS).locator('[data-testid="code-submit"]').click();
    await waitState(desktop, SOS, /^Codice attivo\.$/);
  });

  await test("'Ultime richieste' survives a reload and names the workstation that asked", async () => {
    await phone.reload();
    await phone.waitForSelector('[data-role="live"].ok', { timeout: WAIT });
    // The phone is a doctor's workstation, not the admin's: it reads the history all the same.
    await role(phone, SOS, "history").locator("li").filter({ hasText: `postazione «${DEMO_WS}»` }).first().waitFor({ timeout: WAIT });
    const lines = await historyTexts(phone, SOS);
    assert((await historyTexts(desktop, SOS)).some((l) => l.includes("questa postazione")), "the desktop does not see its own requests");
    assert(lines.some((l) => l.includes("Sistema TS non ha risposto")), `the failed request is missing: ${JSON.stringify(lines)}`);
    assert(lines.length <= 5, `history: ${JSON.stringify(lines)}`);
    for (const code of [firstCode, secondCode, thirdCode]) {
      assert(!(await phone.content()).includes(code), "a code is in the page");
    }
    await shot(phone, "13-phone-history");
  });

  await test("'Copia codice' copies to the clipboard on the doctor's phone, never shown", async () => {
    const copy = card(phone, SOS).locator('[data-testid="copy-code"]');
    await copy.click();
    await waitMessage(phone, SOS, "copiato");
    const clip = await phone.evaluate(() => navigator.clipboard.readText());
    assert(clip === thirdCode, "clipboard does not hold the active code");
    assert(!(await phone.content()).includes(thirdCode), "code rendered in the page");
    assert(await card(desktop, SOS).locator('[data-testid="copy-code"]').count() === 0, "admin workstation has a copy button");
  });

  await test("the titolare's code comes by itself: a calm green card with the next automatic action", async () => {
    await titolareIsAutomatic();
    // Automatic requests start before working hours; outside them, a call of the practice
    // software needs the code and the proxy holds it while tsgate obtains one.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await level(desktop, TIT).getAttribute("data-level")) !== "green") await sleep(500);
    if ((await level(desktop, TIT).getAttribute("data-level")) !== "green") {
      await fetch(demo.proxy_url + "/DemRicettaPrescrittoServicesWeb/services/demVisualizzaPrescritto", {
        method: "POST",
        headers: { "Content-Type": "text/xml; charset=utf-8", "X-Tsgate-User": TIT },
        body: '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
      }).catch(() => {});
    }
    for (const page of [desktop, phone]) {
      await waitLevel(page, TIT, "green", LONG);
      await waitState(page, TIT, /^Codice attivo\.$/);
    }
    const { body } = await api("GET", `/api/v1/users/${TIT}/session`);
    assert(body.auto && body.auto.enabled && body.auto.next, `automatic requests not on: ${JSON.stringify(body.auto)}`);
    for (const page of [desktop, phone]) {
      await role(page, TIT, "auto").filter({ hasText: body.auto.next }).waitFor({ timeout: WAIT });
      assert(/^(Rinnovo|Richiesta) automatic[oa] /.test(await role(page, TIT, "auto").textContent()), "next automatic action");
      // Nothing to do: the paste field is folded away, a new request is a secondary action.
      assert(await card(page, TIT).locator('[data-testid="code-input"]').isHidden(), "paste field shown");
      assert(await card(page, TIT).locator('[data-testid="paste-toggle"]').isVisible(), "no way to paste by hand");
      const request = role(page, TIT, "request");
      assert((await request.textContent()) === "Richiedi un nuovo codice", await request.textContent());
      assert(!(await request.getAttribute("class")).includes("primary"), "the request is still the main action");
      assert((await shownMessages(page, TIT)).length === 0, `messages: ${JSON.stringify(await shownMessages(page, TIT))}`);
    }
    await role(phone, TIT, "history").locator("li").filter({ hasText: /rinnovo automatico|casella di posta/ }).first().waitFor({ timeout: WAIT });
    await shot(desktop, "14-desktop-automatic");
    await shot(phone, "14b-phone-automatic");
    // The paste field comes back on demand.
    await card(desktop, TIT).locator('[data-testid="paste-toggle"]').click();
    assert(await card(desktop, TIT).locator('[data-testid="code-input"]').isVisible(), "paste field did not unfold");
    await desktop.reload();
    await desktop.waitForSelector('[data-role="live"].ok', { timeout: WAIT });
  });

  await test("a late mail of an automatic request is on every workstation's card, with a notification", async () => {
    await titolareIsAutomatic();
    const pages = [];
    for (const [w, h, mobile, login] of [[1280, 800, false, demo.login_url], [360, 740, true, `${BASE}/login?token=${phoneToken}`]]) {
      const ctx = await browser.newContext({ viewport: { width: w, height: h }, isMobile: mobile, locale: "it-IT" });
      await ctx.grantPermissions(["notifications"], { origin: BASE });
      await ctx.addInitScript(RECORD_NOTIFICATIONS);
      const page = await ctx.newPage();
      await page.goto(login);
      await page.waitForSelector('[data-role="live"].ok', { timeout: WAIT });
      await waitLevel(page, TIT, "green", LONG);
      pages.push(page);
    }
    // The mailbox finds the mail, but its verification is slow: meanwhile the simulated clock
    // passes the time allowed to the mail.
    await simControl({ fault: { operation: "checkToken", kind: "slow", count: 1, delay_ms: 15000 } });
    for (let attempt = 0; ; attempt++) {
      const r = await api("POST", `/api/v1/users/${TIT}/session/request`, { replace: true });
      if (r.status === 202) break;
      assert(r.status === 429 && attempt < 15, `request: ${r.status} ${JSON.stringify(r.body)}`);
      await sleep(2000);
    }
    await waitState(pages[0], TIT, "nuovo codice richiesto: tsgate lo attiva");
    await simControl({ advance_clock_seconds: 240 });
    for (const page of pages) {
      const msg = card(page, TIT).locator('[data-role="msg"][data-code="mail_late"]');
      await msg.filter({ hasText: "non è arrivato" }).waitFor({ timeout: WAIT });
      assert((await msg.textContent()).includes("Nuovo tentativo"), `no next step: ${await msg.textContent()}`);
      await page.waitForFunction(() => window.__notes.some((n) => n.includes("non è arrivato") && n.includes("Nuovo tentativo")), null, { timeout: WAIT });
      assert((await shownMessages(page, TIT)).length === 1, `messages: ${JSON.stringify(await shownMessages(page, TIT))}`);
    }
    await shot(pages[0], "15-desktop-mail-late");
    await shot(pages[1], "15b-phone-mail-late");
    // The code does come in the end: the card is calm again.
    await waitState(pages[0], TIT, /^Codice attivo\.$/, LONG);
    await card(pages[0], TIT).locator('[data-code="mail_late"]').waitFor({ state: "hidden", timeout: WAIT });
    for (const page of pages) await page.context().close();
  });

  await test("admin creates a staff workstation, which sees states but no code, then revokes it", async () => {
    await desktop.goto(BASE + "/admin");
    await desktop.locator('[data-testid="workstation-row"]').first().waitFor({ timeout: WAIT });
    await desktop.locator("#postazioni details summary").click();
    await desktop.fill('[data-testid="ws-name"]', "Segreteria <prova>");
    await desktop.selectOption('[data-testid="ws-role"]', "staff");
    await desktop.click('[data-testid="ws-create"]');
    const tokenEl = desktop.locator('[data-testid="new-token"]');
    await tokenEl.waitFor({ state: "visible", timeout: WAIT });
    const staffToken = (await tokenEl.textContent()).trim();
    assert(/^tsg_/.test(staffToken), "not a workstation token");
    // The sign-in link as a QR code, for the workstation's phone or tablet.
    const qr = desktop.locator('[data-testid="new-qr"]');
    await qr.waitFor({ state: "visible", timeout: WAIT });
    assert(await qr.evaluate((img) => img.complete && img.naturalWidth >= 200), "QR code not drawn");
    await docShot(desktop, "#postazioni", "postazione-nuova");
    const row = desktop.locator('[data-testid="workstation-row"][data-name="Segreteria <prova>"]');
    await row.waitFor({ timeout: WAIT });
    await shot(desktop, "16-desktop-admin");
    await docShot(desktop, "#utenti", "medici");

    const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 }, locale: "it-IT" });
    const staff = await ctx.newPage();
    await staff.goto(`${BASE}/login?token=${staffToken}`);
    await card(staff, SOS).waitFor({ timeout: WAIT });
    await waitLevel(staff, SOS, "green");
    assert(await staff.locator('[data-testid="copy-code"]').count() === 0, "staff sees a copy button");
    assert((await staff.content()).indexOf("Segreteria &lt;prova&gt;") >= 0, "name not escaped");
    await shot(staff, "17-staff");

    await row.locator('[data-testid="ws-revoke"]').click();
    await desktop.locator('[data-testid="confirm-revoke"]').click();
    await row.waitFor({ state: "detached", timeout: WAIT });
    await staff.reload();
    assert(new URL(staff.url()).pathname === "/login", `revoked staff still in: ${staff.url()}`);
    await ctx.close();
  });

  await test("admin gives a workstation its doctors after a warning, and edits a doctor with named field errors", async () => {
    await desktop.goto(BASE + "/admin");
    await desktop.locator('[data-testid="workstation-row"]').first().waitFor({ timeout: WAIT });
    await desktop.locator("#postazioni details summary").click();
    await desktop.fill('[data-testid="ws-name"]', "Ambulatorio vuoto");
    await desktop.locator('[data-role="ws-users"] input').evaluateAll((els) => els.forEach((e) => { e.checked = false; }));
    await desktop.click('[data-testid="ws-create"]');
    const row = desktop.locator('[data-testid="workstation-row"][data-name="Ambulatorio vuoto"]');
    await row.locator('[data-testid="ws-no-doctor"]').waitFor({ timeout: WAIT });
    await shot(desktop, "16c-admin-workstation-without-doctor");
    await docShot(desktop, '[data-testid="workstation-row"][data-name="Ambulatorio vuoto"]', "postazione-senza-medici");
    await row.locator('[data-testid="ws-doctors"]').click();
    await row.locator(`[data-testid="ws-doctors-form"] input[value="${TIT}"]`).check();
    await row.locator('[data-testid="ws-doctors-save"]').click();
    await desktop.locator('[data-testid="workstation-row"][data-name="Ambulatorio vuoto"]').filter({ hasText: TIT }).waitFor({ timeout: WAIT });
    assert(await desktop.locator('[data-testid="workstation-row"][data-name="Ambulatorio vuoto"] [data-testid="ws-no-doctor"]').count() === 0, "warning still shown");

    const userRow = desktop.locator('[data-role="users"] tr').filter({ hasText: TIT }).first();
    await userRow.locator('[data-testid="user-edit"]').click();
    const box = desktop.locator('[data-testid="edit-user-box"]');
    await box.waitFor({ state: "visible", timeout: WAIT });
    const edit = desktop.locator('[data-testid="edit-user"]');
    const name = await edit.locator('input[name="display_name"]').inputValue();
    const cf = await edit.locator('input[name="cf"]').inputValue();
    assert(cf.length === 16, `fiscal code not filled in: ${cf}`);
    await edit.locator('input[name="cf"]').fill("ABC");
    await desktop.click('[data-testid="edit-user-save"]');
    const msg = desktop.locator('[data-role="edit-msg"]');
    await msg.filter({ hasText: "(cf)" }).waitFor({ timeout: WAIT });
    await shot(desktop, "16d-admin-edit-doctor-error");
    await docShot(desktop, '[data-testid="edit-user-box"]', "medico-modifica-errore");
    await edit.locator('input[name="cf"]').fill(cf);
    await edit.locator('input[name="display_name"]').fill("Dott. Modificato");
    await desktop.click('[data-testid="edit-user-save"]');
    await msg.filter({ hasText: "salvati" }).waitFor({ timeout: WAIT });
    await desktop.locator('[data-role="users"] tr').filter({ hasText: "Dott. Modificato" }).first().waitFor({ timeout: WAIT });
    // Back as it was, for the other tests.
    await desktop.locator('[data-role="users"] tr').filter({ hasText: TIT }).first().locator('[data-testid="user-edit"]').click();
    await edit.locator('input[name="display_name"]').fill(name);
    await desktop.click('[data-testid="edit-user-save"]');
    await msg.filter({ hasText: "salvati" }).waitFor({ timeout: WAIT });
  });

  await test("admin pages through 450 imported doctors and finds one by searching", async () => {
    await desktop.goto(BASE + "/admin");
    await desktop.locator('[data-testid="workstation-row"]').first().waitFor({ timeout: WAIT });
    // A vendor-size list, imported in bulk through the API with the page's own session.
    const lines = ["practice;user_id;cf;region;asl;display_name"];
    for (let i = 1; i <= 450; i++) {
      const n = String(i).padStart(5, "0");
      // After the demo's doctors in the order of the list, so that the other suites find
      // them on the first page.
      lines.push(`default;ZPAG${n};PRVPGN80A01H${n.slice(2)}X;130;201;Dott. Pagina ${n}`);
    }
    const report = await desktop.evaluate(async (csv) => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const r = await fetch("/api/v1/import", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "text/csv", "X-CSRF-Token": csrf }, body: csv });
      return { status: r.status, body: await r.json() };
    }, lines.join("\n") + "\n");
    assert(report.status === 200, `import: ${JSON.stringify(report)}`);
    assert(report.body.users_accepted === 450, `import: ${JSON.stringify(report.body).slice(0, 300)}`);
    await desktop.reload();
    const rows = desktop.locator('[data-role="users"] tr');
    const more = desktop.locator('[data-testid="users-more"]');
    await more.waitFor({ state: "visible", timeout: WAIT });
    const first = await rows.count();
    assert(first === 200, `first page: ${first} rows`);
    await more.click();
    await desktop.waitForFunction(() => document.querySelectorAll('[data-role="users"] tr').length === 400, null, { timeout: WAIT });
    await more.click();
    await desktop.waitForFunction(() => document.querySelectorAll('[data-role="users"] tr').length > 400, null, { timeout: WAIT });
    assert(await more.isHidden(), "a 'more' button after the last page");
    await desktop.fill('[data-testid="users-search"]', "pagina 00449");
    await desktop.press('[data-testid="users-search"]', "Enter");
    await desktop.waitForFunction(() => document.querySelectorAll('[data-role="users"] tr').length === 1, null, { timeout: WAIT });
    assert(/ZPAG00449/.test(await rows.first().textContent()), "search did not find ZPAG00449");
    await shot(desktop, "16b-admin-search");
    await desktop.fill('[data-testid="users-search"]', "");
    await desktop.press('[data-testid="users-search"]', "Enter");
  });

  await test("audit shows the operations, with filters", async () => {
    await desktop.selectOption('[data-role="audit-filter"] select[name="kind"]', "requested");
    await desktop.click('[data-role="audit-filter"] button[type="submit"]');
    await desktop.locator('[data-role="audit"] tr').filter({ hasText: "richiesta" }).first().waitFor({ timeout: WAIT });
    // Workstations are named in Italian words, never by their id.
    await desktop.selectOption('[data-role="audit-filter"] select[name="kind"]', "workstation_users_set");
    await desktop.click('[data-role="audit-filter"] button[type="submit"]');
    await desktop.locator('[data-role="audit"] tr').filter({ hasText: "postazione «Ambulatorio vuoto»" }).first().waitFor({ timeout: WAIT });
    assert(await desktop.locator('[data-role="audit-filter"] select[name="workstation"] option', { hasText: "Ambulatorio vuoto" }).count() === 1, "no workstation filter by name");
    await desktop.selectOption('[data-role="audit-filter"] select[name="kind"]', "requested");
    await desktop.click('[data-role="audit-filter"] button[type="submit"]');
    await desktop.locator('[data-role="audit"] tr').filter({ hasText: "richiesta" }).first().waitFor({ timeout: WAIT });
    const rows = await desktop.locator('[data-role="audit"] tr').allTextContents();
    assert(rows.every((r) => r.includes("richiesta")), `unfiltered rows: ${rows.join(" | ")}`);
    await desktop.locator("#casella").scrollIntoViewIfNeeded();
    await desktop.locator('[data-role="mailbox-state"] p').first().waitFor({ timeout: WAIT });
    await shot(desktop, "18-desktop-admin-audit");
    await docShot(desktop, "#registro", "registro");
  });

  await test("admin downloads the support bundle with one click: a .zip named for the practice", async () => {
    await desktop.locator("#assistenza").scrollIntoViewIfNeeded();
    const text = await desktop.textContent("#assistenza");
    assert(text.includes("Non contiene password, PIN, codici ID-SESSIONE"), `section: ${text}`);
    const [download] = await Promise.all([
      desktop.waitForEvent("download", { timeout: WAIT }),
      desktop.click('[data-testid="support-bundle"]'),
    ]);
    const name = download.suggestedFilename();
    assert(/^tsgate-support-default-\d{8}-\d{6}\.zip$/.test(name), `file name ${name}`);
    const bytes = readFileSync(await download.path());
    assert(bytes.length > 500 && bytes.subarray(0, 2).toString() === "PK", `not a zip: ${bytes.length} bytes`);
    await shot(desktop, "18c-desktop-admin-support");
  });

  await test("help page: the flow diagram says requests and renewals are automatic, and the troubleshooting guide", async () => {
    await phone.goto(BASE + "/aiuto");
    assert(await phone.locator("figure svg title").textContent() !== "", "no diagram");
    const figure = await phone.locator("figure.flow-figure").textContent();
    assert(figure.includes("automatico") && figure.includes("Rinnovo"), `diagram: ${figure}`);
    assert((await phone.textContent("#h-flow + p + p")).includes("fa tutto da solo"), "no word about automatic requests");
    assert((await phone.textContent("#problemi")).includes("Certifica mail"), "no troubleshooting");
    assert((await phone.textContent("#problemi")).includes("non è arrivato nella casella"), "no word about a late mail");
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `help page wider than the phone by ${overflow}px`);
    await shot(phone, "19-phone-help");
    await phone.locator("figure.flow-figure").screenshot({ path: join(shots, "19b-phone-flow-diagram.png") });
  });

  await test("notifications when the code turns yellow and when it expires; durations read '58 min'", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "it-IT" });
    await ctx.grantPermissions(["notifications"], { origin: BASE });
    await ctx.addInitScript(RECORD_NOTIFICATIONS);
    const page = await ctx.newPage();
    await page.clock.install();
    await page.goto(demo.login_url);
    await waitLevel(page, SOS, "green");
    const { body } = await api("GET", `/api/v1/users/${SOS}/session`);
    assert(body.remaining_seconds > 3600, `remaining ${body.remaining_seconds}`);
    await page.clock.fastForward((body.remaining_seconds - 1800) * 1000);
    await waitLevel(page, SOS, "yellow");
    await page.waitForFunction(() => window.__notes.some((n) => n.includes("scade entro un'ora")), null, { timeout: WAIT });
    const countdown = await role(page, SOS, "countdown").textContent();
    assert(/^Scade tra (29|30)\smin \(/.test(countdown), `countdown: ${countdown}`);
    await shot(page, "20-desktop-yellow");
    await page.clock.fastForward(3600 * 1000);
    await waitLevel(page, SOS, "red");
    await page.waitForFunction(() => window.__notes.some((n) => n.includes("è scaduto")), null, { timeout: WAIT });
    const text = await role(page, SOS, "state").textContent();
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
    await waitLevel(page, SOS, "green");
    // (waitForFunction does not await a promise: poll from here.)
    const until = async (what, check) => {
      const deadline = Date.now() + WAIT;
      while (!(await page.evaluate(check))) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
        await sleep(200);
      }
    };
    await until("service worker active", async () => {
      const r = await navigator.serviceWorker.getRegistration("/assets/");
      return !!(r && r.active);
    });
    // The page's clock moves to the last half hour: yellow, and a notification.
    const { body } = await api("GET", `/api/v1/users/${SOS}/session`);
    await page.clock.fastForward((body.remaining_seconds - 1800) * 1000);
    await waitLevel(page, SOS, "yellow");
    await until("notification shown by the service worker", async () => {
      const r = await navigator.serviceWorker.getRegistration("/assets/");
      const shown = r ? await r.getNotifications() : [];
      return shown.some((n) => n.body.includes("scade entro un'ora"));
    });
    await ctx.close();
  });

  await test("logout ends the session", async () => {
    await phone.goto(BASE + "/");
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
