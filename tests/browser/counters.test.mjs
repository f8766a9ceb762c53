// Real-browser test of a pharmacy's counters: the demo's pharmacy (application EROGATORE,
// a practice of its own) with "Banco 1" and "Banco 2" open at once. The page speaks of
// banchi and farmacisti; a code requested at one counter turns both green without a
// reload, and each counter's history names the counter that asked. Plain Node, no runner.
//
//   node counters.test.mjs <demo.json> <screenshot dir>   (a running `tsgate demo`)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [demoFile, shots] = process.argv.slice(2);
const demo = JSON.parse(readFileSync(demoFile, "utf8"));
const WAIT = 20_000; // guards waits that would hang a broken test; not a speed assertion
// A code comes by mail: request, mail, checkToken, on a CI machine busy with other builds.
const MAIL_WAIT = 45_000;

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

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

const card = (page, user) => page.locator(`[data-testid="session-card"][data-user="${user}"]`);
const level = (page, user) => card(page, user).locator('[data-testid="session-level"]');
async function waitLevel(page, user, want) {
  try {
    await page.waitForFunction(
      ([u, l]) => document.querySelector(`[data-testid="session-card"][data-user="${u}"] [data-testid="session-level"]`)?.dataset.level === l,
      [user, want], { timeout: MAIL_WAIT });
  } catch (e) {
    // What the card says instead, so that a failure explains itself.
    const text = (await card(page, user).innerText()).replace(/\s+/g, " ").slice(0, 400);
    throw new Error(`not ${want}: «${text}»`);
  }
}
async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, animations: "disabled" });
}

try {
  await test("the demo seeds a pharmacy with two counters in a practice of its own", async () => {
    assert(demo.pharmacy, "demo.json has no pharmacy");
    assert(demo.pharmacy.counters.map((c) => c.name).join(",") === "Banco 1,Banco 2",
      `counters: ${JSON.stringify(demo.pharmacy.counters.map((c) => c.name))}`);
    assert(demo.pharmacy.practice !== "default", "the pharmacy shares the doctors' practice");
  });

  const PHARMACY = demo.pharmacy.user_id;
  const [one, two] = demo.pharmacy.counters;
  const open = async (counter) => {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: "it-IT" });
    const page = await ctx.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(counter.login_url);
    await card(page, PHARMACY).waitFor({ timeout: WAIT });
    return { page, errors };
  };
  const a = await open(one);
  const b = await open(two);

  await test("each counter shows the pharmacy's card in pharmacy words", async () => {
    for (const [{ page }, name] of [[a, "Banco 1"], [b, "Banco 2"]]) {
      const who = (await page.locator(".who-name").textContent()).replace(/\s+/g, " ").trim();
      assert(who === `${name} · farmacista`, `header «${who}»`);
      const foot = await page.locator("footer").textContent();
      assert(foot.includes("tutta la farmacia"), `footer «${foot}»`);
      assert(await page.locator('[data-testid="session-card"]').count() === 1, "one card: the pharmacy's");
      const title = await card(page, PHARMACY).locator("h2").textContent();
      assert(title.includes("Farmacia Prova"), `card «${title}»`);
    }
  });

  await test("a code requested at Banco 1 turns Banco 2 green without a reload", async () => {
    const before = await level(b.page, PHARMACY).getAttribute("data-level");
    assert(before !== "green", `Banco 2 already ${before}`);
    await card(a.page, PHARMACY).locator('[data-testid="request-code"]').click();
    const confirm = a.page.locator('[data-testid="confirm-replace"]');
    if (await confirm.isVisible()) await confirm.click();
    await waitLevel(a.page, PHARMACY, "green");
    await waitLevel(b.page, PHARMACY, "green");
    await card(a.page, PHARMACY).locator('[data-role="msg"]').filter({ hasText: "tutti i banchi" })
      .waitFor({ timeout: WAIT }).catch(() => {}); // shown only when verified on this page
    await shot(a.page, "counter-1-green");
    await shot(b.page, "counter-2-green");
  });

  await test("each counter's history names the counter that asked", async () => {
    const history = (page) => card(page, PHARMACY).locator('[data-role="history"] li');
    await history(b.page).filter({ hasText: "banco «Banco 1»" }).first().waitFor({ timeout: WAIT });
    await history(a.page).filter({ hasText: "questo banco" }).first().waitFor({ timeout: WAIT });
    const all = [...await history(a.page).allTextContents(), ...await history(b.page).allTextContents()];
    assert(!all.some((l) => l.includes("postazione")), `doctor's words at a counter: ${JSON.stringify(all)}`);
  });

  await test("the doctors' workstation does not see the pharmacy", async () => {
    const ctx = await browser.newContext({ locale: "it-IT" });
    const page = await ctx.newPage();
    await page.goto(demo.login_url);
    await page.locator('[data-testid="session-card"]').first().waitFor({ timeout: WAIT });
    assert(await card(page, PHARMACY).count() === 0, "the practice's page shows the pharmacy");
    const who = (await page.locator(".who-name").textContent()).replace(/\s+/g, " ");
    assert(who.includes("Postazione"), `header «${who}»`);
    const r = await fetch(`${demo.ui_url}/api/v1/users/${PHARMACY}/session`,
      { headers: { Authorization: `Bearer ${demo.workstation_token}` } });
    assert(r.status === 403 || r.status === 404, `the practice's token reads the pharmacy: ${r.status}`);
  });

  await test("no script error on either counter", async () => {
    assert(a.errors.length === 0 && b.errors.length === 0, JSON.stringify([...a.errors, ...b.errors]));
  });
} finally {
  await browser.close();
}

const passed = results.filter(([, ok]) => ok).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
