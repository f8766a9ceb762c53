// Real-browser test of the "Orari di lavoro" section of the administration page: the
// practice's hours (an Italian error next to the form, then saved), closures added and
// removed, and one doctor's automatic requests and own hours. Plain Node, no runner.
//
//   node admin-hours.test.mjs <demo.json> <screenshot dir>   (a running `tsgate demo`)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [demoFile, shots] = process.argv.slice(2);
const demo = JSON.parse(readFileSync(demoFile, "utf8"));
const BASE = demo.ui_url;
const [U1] = demo.users.map((u) => u.user_id);
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

async function api(method, path, body) {
  const r = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${demo.workstation_token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** Waits until `locator`'s text contains `want`. */
async function waitText(locator, want) {
  const deadline = Date.now() + WAIT;
  let last = "";
  while (Date.now() < deadline) {
    last = (await locator.textContent()) || "";
    if (last.includes(want)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected «${want}», found «${last}»`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "it-IT" });
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(demo.login_url);
  await page.goto(BASE + "/admin#orari");
  const practice = page.locator('[data-testid="practice-form"]');
  const schedule = page.locator('[data-testid="schedule-form"]');

  await test("the practice's hours: an Italian error next to the form, then saved", async () => {
    await waitText(page.locator('[data-testid="practice-source"]'), "predefiniti di tsgate");
    const week = practice.locator('[data-testid="week"]');
    assert((await week.inputValue()) === "lun-ven 08:00-19:30", `prefilled ${await week.inputValue()}`);
    await week.fill("lun-ven 9-13");
    await practice.locator('[data-testid="practice-save"]').click();
    const msg = practice.locator('[data-testid="practice-msg"]');
    await waitText(msg, "orario «9-13» non valido: scrivilo come 08:00-13:00");
    assert((await msg.getAttribute("class")).includes("bad"), "shown as an error");
    assert((await api("GET", "/api/v1/practice/hours")).body.source === "built_in", "nothing saved");
    await week.fill("lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00");
    await practice.locator('[data-testid="practice-save"]').click();
    await waitText(msg, "Orari dello studio salvati");
    const saved = (await api("GET", "/api/v1/practice/hours")).body;
    assert(saved.source === "stored" && saved.text === "lun-ven 08:00-13:00 15:00-19:30; sab 08:00-12:00",
      JSON.stringify(saved));
    await waitText(page.locator('[data-testid="practice-source"]'), "Valgono per ogni medico che non ha orari propri");
  });

  await test("closures are added and removed at once", async () => {
    await practice.locator('[data-testid="closure-from"]').fill("2026-12-24");
    await practice.locator('[data-testid="closure-to"]').fill("2027-01-06");
    await practice.locator('[data-testid="closure-note"]').fill("ferie");
    await practice.locator('[data-testid="closure-add"]').click();
    const rows = practice.locator('[data-testid="closure-row"]');
    await waitText(rows.first(), "24/12/2026");
    assert((await rows.first().textContent()).includes("06/01/2027"), await rows.first().textContent());
    let saved = (await api("GET", "/api/v1/practice/hours")).body;
    assert(saved.hours.closures.length === 1 && saved.hours.closures[0].note === "ferie", JSON.stringify(saved.hours));
    await page.screenshot({ path: join(shots, "admin-hours-practice.png"), fullPage: true, animations: "disabled" });
    // A closure that ends before it starts is refused, and not kept in the list.
    await practice.locator('[data-testid="closure-from"]').fill("2026-08-21");
    await practice.locator('[data-testid="closure-to"]').fill("2026-08-10");
    await practice.locator('[data-testid="closure-add"]').click();
    await waitText(practice.locator('[data-testid="practice-msg"]'), "la fine viene prima dell'inizio");
    assert((await rows.count()) === 1, `rows: ${await rows.count()}`);
    await rows.first().locator('[data-testid="closure-remove"]').click();
    await waitText(practice.locator("tbody"), "Nessuna chiusura.");
    saved = (await api("GET", "/api/v1/practice/hours")).body;
    assert(saved.hours.closures === undefined || saved.hours.closures.length === 0, JSON.stringify(saved.hours));
  });

  await test("a doctor: automatic requests off, own hours, then the practice's again", async () => {
    await page.locator('[data-testid="schedule-user"]').selectOption(U1);
    await schedule.locator('[data-testid="auto-off"]').check();
    await schedule.locator('[data-testid="schedule-save"]').click();
    await waitText(schedule.locator('[data-testid="schedule-msg"]'), "Salvato");
    await waitText(page.locator('[data-testid="schedule-state"]'), "spente");
    assert((await api("GET", `/api/v1/users/${U1}/schedule`)).body.auto === "off", "saved off");
    // Following the practice: its hours are named, the editor is hidden.
    await waitText(schedule.locator('[data-testid="schedule-follows"]'), "lun-ven 08:00-13:00 15:00-19:30");
    const week = schedule.locator('[data-testid="week"]');
    assert(!(await week.isVisible()), "no editor while following the practice");
    await schedule.locator('[data-testid="own-hours"]').check();
    assert(await week.isVisible(), "editor for own hours");
    assert((await week.inputValue()).startsWith("lun-ven 08:00-13:00 15:00-19:30"), await week.inputValue());
    await week.fill("lunedì 07:00-12:00");
    await schedule.locator('[data-testid="schedule-save"]').click();
    await waitText(schedule.locator('[data-testid="schedule-msg"]'), "Salvato");
    let s = (await api("GET", `/api/v1/users/${U1}/schedule`)).body;
    assert(s.effective.source === "user" && s.effective.text === "lun 07:00-12:00", JSON.stringify(s));
    await week.fill("lun 7-12");
    await schedule.locator('[data-testid="schedule-save"]').click();
    await waitText(schedule.locator('[data-testid="schedule-msg"]'), "orario «7-12» non valido");
    await page.screenshot({ path: join(shots, "admin-hours-doctor.png"), fullPage: true, animations: "disabled" });
    await schedule.locator('[data-testid="own-practice"]').check();
    await schedule.locator('[data-testid="auto-default"]').check();
    await schedule.locator('[data-testid="schedule-save"]').click();
    await waitText(schedule.locator('[data-testid="schedule-msg"]'), "Salvato");
    s = (await api("GET", `/api/v1/users/${U1}/schedule`)).body;
    assert(s.hours === null && s.auto === "default", JSON.stringify(s));
  });

  await test("every change is in the audit", async () => {
    const practiceLines = (await api("GET", "/api/v1/audit?kind=practice_hours_set")).body;
    const scheduleLines = (await api("GET", `/api/v1/audit?kind=schedule_set&user=${U1}`)).body;
    assert(practiceLines.length === 3, `practice: ${JSON.stringify(practiceLines)}`);
    assert(scheduleLines.length === 3, `schedule: ${JSON.stringify(scheduleLines)}`);
    await page.locator('[data-role="audit-filter"] select[name="kind"]').selectOption("schedule_set");
    await page.locator('[data-role="audit-filter"] button[type="submit"]').click();
    await waitText(page.locator('[data-role="audit"]'), "orari e automatiche del medico");
  });

  await test("no script error on the page", async () => {
    assert(errors.length === 0, errors.join("\n"));
  });
} finally {
  await browser.close();
}

const failed = results.filter(([, ok]) => !ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
