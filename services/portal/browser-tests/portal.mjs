// The citizen portal in a real browser: Debian's Chromium driven by
// playwright-core (no browser download), with axe-core (vendored from npm)
// run on every page a step visits. One step per invocation; the Rust test
// services/acikkapi/tests/browser.rs starts the platform, runs the steps
// and does what staff would do in between (routing, conclusion).
//
//   node portal.mjs <step> <portal-url> <options as JSON>
//
// Steps: apply, track, survey, pages, selfcheck, konsol and the console's
// life-record, life-answer, life-conclude, life-governor, life-ministry.
// Options: js (true/false), width
// (px), shots (folder for screenshots, "" for none), tag (prefix of the
// screenshot names), and per step: number, code, path.
// The last line on stdout is the step's result as JSON; any failure exits 1.

import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// WCAG 2.0, 2.1 and 2.2, levels A and AA.
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];

const [step, base, raw] = process.argv.slice(2);
const opt = { js: true, width: 1280, shots: "", tag: "", ...JSON.parse(raw || "{}") };

function fail(message) {
  console.error(`FAIL [${step} js=${opt.js} width=${opt.width}]: ${message}`);
  process.exit(1);
}

const checked = [];

let auditor = null;

/// The page to run axe in. With JavaScript on, the page itself. With it
/// off, Chromium runs no script at all (axe's too), so the exact HTML the
/// no-JS browser received is shown at the same URL, with the same
/// stylesheet, in a second context with scripts on and the page's own
/// script tag removed: the DOM a no-JS visitor has, which axe can read.
async function auditPage(page) {
  if (opt.js) return page;
  const html = (await page.content()).replace(/<script[^>]*><\/script>/g, "");
  if (!auditor) {
    const context = await page.context().browser().newContext({
      viewport: page.viewportSize(),
      isMobile: opt.width < 641,
      locale: "tr-TR",
    });
    auditor = await context.newPage();
  }
  const url = page.url();
  await auditor.route(url, (route) => route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }));
  await auditor.goto(url);
  await auditor.unroute(url);
  return auditor;
}

/// axe-core on the page as it is now; any WCAG A/AA violation fails the run.
/// Injected with evaluate (not a script tag), so the page's CSP does not
/// stop it.
async function audit(shown, what) {
  const page = await auditPage(shown);
  await page.evaluate(AXE);
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] }),
    TAGS,
  );
  checked.push(what);
  if (opt.selfcheck) return result.violations.map((v) => v.id);
  // Reflow (WCAG 1.4.10), which axe does not check: nothing wider than the
  // viewport, so no page scrolls sideways at 320 px.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`${what} is ${overflow} px wider than the ${opt.width} px viewport (${page.url()})`);
  if (result.violations.length > 0) {
    const lines = result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
    );
    fail(`axe on ${what} (${page.url()}):\n  ${lines.join("\n  ")}`);
  }
}

async function shot(page, name) {
  if (!opt.shots) return;
  mkdirSync(opt.shots, { recursive: true });
  await page.screenshot({ path: `${opt.shots}/${opt.tag}${name}.png`, fullPage: true });
}

async function expectText(page, text) {
  const body = await page.locator("body").innerText();
  if (!body.includes(text)) fail(`expected "${text}" on ${page.url()}, page says:\n${body.slice(0, 1500)}`);
}

async function expectTitle(page, prefix) {
  const title = await page.title();
  if (!title.startsWith(prefix)) fail(`title "${title}" does not start with "${prefix}" at ${page.url()}`);
}

/// Presses a button and waits for the page it leads to.
async function press(page, name) {
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name }).click()]);
  await page.waitForLoadState("load");
}

async function apply(page) {
  await page.goto(`${base}/`);
  await expectText(page, "7 iş günü içinde");
  await audit(page, "start");
  await shot(page, "start");
  await page.getByRole("button", { name: "Başvuruya başla" }).click();
  await page.waitForURL(/\/basvuru\/kisi$/);
  // Continue with nothing filled in: the error summary and the fields.
  await press(page, "Devam et");
  await expectTitle(page, "Hata: ");
  await expectText(page, "Bir sorun var");
  await expectText(page, "T.C. kimlik numaranızı veya yabancı kimlik numaranızı girin");
  if (opt.js) {
    // The enhancement moves focus to the summary for screen readers.
    const focused = await page.evaluate(() => document.activeElement?.className || "");
    if (!focused.includes("error-summary")) fail(`focus is on "${focused}", not the error summary`);
  }
  await audit(page, "apply-error");
  await shot(page, "apply-error");
  // A summary link leads to its field.
  await page.getByRole("link", { name: "Cep telefonu numaranızı girin" }).click();
  const at = await page.evaluate(() => location.hash || document.activeElement?.id);
  if (!String(at).includes("mobile_phone")) fail(`the summary link led to ${at}`);

  await page.getByLabel("T.C. kimlik numarası veya yabancı kimlik numarası").fill(opt.national_id);
  await page.getByLabel("Adınız ve soyadınız").fill("Ayşe Yılmaz");
  await page.getByLabel("Cep telefonu numarası").fill("0532 123 45 67");
  await press(page, "Devam et");
  await page.getByLabel("Başvurunuz hangi ille ilgili?").selectOption({ label: "Ankara" });
  await audit(page, "province");
  await press(page, "Devam et");
  await page.getByLabel("Ankara ilinin hangi ilçesiyle ilgili?").selectOption({ label: "Çankaya" });
  await audit(page, "district");
  await press(page, "Devam et");
  await page.getByLabel("Başvurunuz hangi konuda?").selectOption({ value: "H07" });
  await audit(page, "topic");
  await press(page, "Devam et");
  await page.getByLabel("Başvurunuzun türü nedir?").selectOption({ index: 1 });
  await audit(page, "type");
  await press(page, "Devam et");
  await page.getByLabel("Şikâyet: bir sorunu bildiriyorum").check();
  await page.getByLabel("Konu").fill("Kaldırım bozuk");
  await page.getByLabel("Başvurunuzu yazın").fill("Sokağımızdaki kaldırım aylardır bozuk; yaşlılar düşüyor.");
  await page.getByLabel("65 yaş ve üzerindeyim").check();
  await audit(page, "details");
  await press(page, "Devam et");
  await expectText(page, "Başvurunuzu göndermeden önce kontrol edin");
  await expectText(page, "Çankaya");
  await audit(page, "check-answers");
  await shot(page, "check-answers");
  // Change a answer from the check page and come back to it.
  await page.getByRole("link", { name: "Değiştir ilçe" }).click();
  await page.getByLabel("Ankara ilinin hangi ilçesiyle ilgili?").selectOption({ label: "Keçiören" });
  await press(page, "Devam et");
  await expectText(page, "Keçiören");
  await press(page, "Başvuruyu gönder");
  await expectText(page, "Başvurunuz alındı");
  await expectText(page, "Bundan sonra ne olacak");
  await audit(page, "confirmation");
  await shot(page, "confirmation");
  const number = (await page.locator("strong.number").innerText()).trim();
  const code = (await page.locator("strong.code").innerText()).trim();
  // Back from the confirmation does not send again.
  await page.goBack();
  await page.waitForLoadState("load");
  return { number, code };
}

async function track(page) {
  await page.goto(`${base}/takip`);
  await audit(page, "track-form");
  // A wrong code first: the same page as an unknown number.
  await page.getByLabel("Başvuru numarası").fill(opt.number);
  await page.getByLabel("Takip kodu").fill("ZZZZ ZZZZ");
  await press(page, "Sorgula");
  await expectText(page, "bulunamadı");
  await audit(page, "track-not-found");
  // The code as a citizen might type or paste it: lower case with a space.
  const typed = `${opt.code.slice(0, 4).toLowerCase()} ${opt.code.slice(4).toLowerCase()}`;
  await page.getByLabel("Takip kodu").fill(typed);
  await press(page, "Sorgula");
  await expectText(page, "Aşamalar");
  for (const t of opt.expect || []) await expectText(page, t);
  await audit(page, "tracking");
  await shot(page, opt.shot_name || "tracking");
  return { url: page.url() };
}

async function survey(page) {
  await page.goto(`${base}${opt.path}`);
  await audit(page, "survey");
  await press(page, "Gönder");
  await expectTitle(page, "Hata: ");
  await audit(page, "survey-error");
  await page.getByLabel("4 – Memnun kaldım").check();
  await press(page, "Gönder");
  await expectText(page, "Teşekkür ederiz");
  await audit(page, "survey-thanks");
  await shot(page, "survey-thanks");
  return {};
}

async function pages(page) {
  for (const [path, text, name] of [
    ["/erisilebilirlik", "Erişilebilirlik beyanı", "accessibility"],
    ["/gizlilik", "Kişisel verilerin korunması", "privacy"],
    ["/yok-boyle-bir-sayfa", "Sayfa bulunamadı", "not-found"],
    ["/kiosk", "Kiosk", "kiosk"],
    ["/anket/ABCD1234", "memnun", "survey-form"],
  ]) {
    await page.goto(`${base}${path}`);
    await expectText(page, text);
    await audit(page, name);
    await shot(page, name);
  }
  return {};
}

/// The gate itself: a page with known faults, served at the portal's
/// address, must be reported, with JavaScript on and off alike.
async function selfcheck(page) {
  opt.selfcheck = true;
  const broken = '<!DOCTYPE html><html><head></head><body><img src="x.png"><input type="text"><p style="color:#ccc">soluk</p></body></html>';
  await page.route(`${base}/selfcheck`, (r) => r.fulfill({ status: 200, contentType: "text/html", body: broken }));
  await page.goto(`${base}/selfcheck`);
  const found = await audit(page, "selfcheck");
  for (const id of ["image-alt", "label", "html-has-lang", "document-title", "color-contrast"]) {
    if (!found.includes(id)) fail(`axe missed ${id} on a broken page (found ${found})`);
  }
  return { found };
}

/// The staff console on the embedded default: local sign-in as a desk
/// officer of Ankara, the scope's list, an application, a conclusion with
/// an error first, sign-out.
async function konsol(page) {
  await page.goto(`${base}/konsol`);
  await expectText(page, "Personel girişi");
  await audit(page, "console-sign-in");
  await shot(page, "console-sign-in");
  await press(page, "Giriş yap");
  await expectTitle(page, "Hata: ");
  await audit(page, "console-sign-in-error");
  await page.getByLabel("Rol").selectOption({ value: "desk-officer" });
  await page.getByLabel("İl plaka kodu").fill("6");
  await page.getByLabel("Personel kimliği").fill("masa-06-1");
  await press(page, "Giriş yap");
  await expectText(page, "Başvurular: Ankara");
  await audit(page, "console-list");
  await shot(page, "console-list");
  await page.getByRole("button", { name: "Başvuru kaydedin" }).click();
  await page.waitForLoadState("load");
  await audit(page, "console-record");
  await press(page, "Başvuruyu kaydet");
  await expectTitle(page, "Hata: ");
  await audit(page, "console-record-error");
  await shot(page, "console-record-error");
  await page.goto(`${base}/konsol`);
  await page.getByRole("link", { name: opt.number }).click();
  await page.waitForLoadState("load");
  await expectText(page, "Sonuçlandırın");
  await audit(page, "console-application");
  await shot(page, "console-application");
  await press(page, "Sonuçlandır");
  await expectTitle(page, "Hata: ");
  await audit(page, "console-conclude-error");
  await shot(page, "console-conclude-error");
  await page.getByLabel("Olumlu", { exact: true }).check();
  await page.getByLabel("Vatandaşın okuyacağı açıklama").fill("Kaldırımınız bu hafta onarılacak.");
  await press(page, "Sonuçlandır");
  await expectText(page, "Kaldırımınız bu hafta onarılacak.");
  await expectText(page, "Yeniden açın");
  await audit(page, "console-concluded");
  await press(page, "Çıkış yap");
  await expectText(page, "Çıkış yaptınız");
  await audit(page, "console-signed-out");
  // The governor: the province's figures above its applications.
  await page.getByLabel("Rol").selectOption({ value: "governor" });
  await page.getByLabel("İl plaka kodu").fill("6");
  await page.getByLabel("Personel kimliği").fill("vali-06");
  await press(page, "Giriş yap");
  await expectText(page, "Son 12 ay");
  await audit(page, "console-governor");
  await shot(page, "console-governor");
  return {};
}

// ---- one application's whole life in the console, each person signing in
// through the identity provider the Rust test starts (it decides who the
// provider signs in before each step) -----------------------------------

/// Sign-in through the identity provider: the console's sign-in page, its
/// button, the provider's redirect back; the console's first page.
async function signIn(page) {
  await page.goto(`${base}/konsol`);
  await expectText(page, "Personel girişi");
  await Promise.all([
    page.waitForURL(`${base}/konsol`),
    page.getByRole("button", { name: "Kurum hesabınızla giriş yapın" }).click(),
  ]);
  await page.waitForLoadState("load");
}

/// A tile's value on the current page.
async function tileValue(page, label) {
  return (await page.locator(".tiles__tile").filter({ has: page.getByText(label, { exact: true }) }).locator("dd").innerText()).trim();
}

/// The desk records a walk-in application; its number from the page it lands on.
async function lifeRecord(page) {
  await signIn(page);
  await audit(page, "life-desk-list");
  await page.getByRole("button", { name: "Başvuru kaydedin" }).click();
  await page.waitForLoadState("load");
  await page.getByLabel("Büroya gelerek (yüz yüze)").check();
  await page.getByLabel("T.C. kimlik numarası veya yabancı kimlik numarası").fill(opt.national_id);
  await page.getByLabel("Adı ve soyadı").fill("Ayşe Yılmaz");
  await page.getByLabel("Cep telefonu numarası").fill("0532 000 00 71");
  await page.getByLabel("İlçe").selectOption({ value: "6010" });
  await page.getByLabel("Konu başlığı ve başvuru türü").selectOption({ value: "H07-01" });
  await page.getByLabel("Talep", { exact: true }).check();
  await page.getByLabel("Konu", { exact: true }).fill("Kaldırım onarımı");
  await page.getByLabel("Başvuru metni").fill("Sokağımızın kaldırımı kırık, yaşlılar düşüyor.");
  await page.getByLabel("65 yaş ve üzeri").check();
  await audit(page, "life-desk-record-filled");
  await press(page, "Başvuruyu kaydet");
  const m = page.url().match(/\/konsol\/basvuru\/([0-9A-Z]+)$/);
  if (!m) fail(`recording did not open the application: ${page.url()}`);
  await expectText(page, "Sokağımızın kaldırımı kırık");
  await audit(page, "life-desk-recorded");
  await shot(page, "life-desk-recorded");
  return { number: m[1] };
}

/// The unit opens it from its inbox and answers.
async function lifeAnswer(page) {
  await signIn(page);
  await page.getByRole("link", { name: "Biriminizin gelen kutusu" }).click();
  await page.waitForLoadState("load");
  await expectText(page, "Gelen kutusu");
  await audit(page, "life-unit-inbox");
  await shot(page, "life-unit-inbox");
  await page.getByRole("link", { name: opt.pretty }).click();
  await page.waitForLoadState("load");
  await page.getByLabel("Cevabınız (Açık Kapı bürosu değerlendirir)").fill("Kaldırım 10 Aralık'ta onarılacak.");
  await page.getByLabel("Önerilen sonuç").selectOption({ value: "positive" });
  await audit(page, "life-unit-application");
  await press(page, "Cevabı gönder");
  await audit(page, "life-unit-answered");
  return {};
}

/// Reloads until the page shows `text` (an event on its way between
/// services), at most 20 s.
async function untilText(page, text) {
  for (let i = 0; i < 40; i++) {
    if ((await page.locator("body").innerText()).includes(text)) return;
    await new Promise((r) => setTimeout(r, 500));
    await page.reload();
  }
  await expectText(page, text);
}

/// The desk reads the unit's answer and concludes.
async function lifeConclude(page) {
  await signIn(page);
  await page.getByRole("link", { name: opt.pretty }).click();
  await page.waitForLoadState("load");
  await untilText(page, "Kaldırım 10 Aralık'ta onarılacak.");
  await page.getByLabel("Olumlu", { exact: true }).check();
  await page.getByLabel("Vatandaşın okuyacağı açıklama").fill("Kaldırımınız 10 Aralık'ta onarılacak.");
  await press(page, "Sonuçlandır");
  await expectText(page, "Yeniden açın");
  await audit(page, "life-desk-concluded");
  await shot(page, "life-desk-concluded");
  return {};
}

/// The governor: the application in the province's list, concluded; the
/// province's monitoring and overdue pages.
async function lifeGovernor(page) {
  await signIn(page);
  const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: opt.pretty }) });
  if ((await row.count()) !== 1) fail(`${opt.pretty} is not in the governor's list`);
  const text = await row.innerText();
  if (!text.includes("sonuçlandı")) fail(`the governor's list shows ${text}`);
  await audit(page, "life-governor-list");
  await page.getByRole("link", { name: "İzleme ve raporlar" }).click();
  await page.waitForLoadState("load");
  await expectText(page, "Ankara");
  await audit(page, "life-governor-monitor");
  await shot(page, "life-governor-monitor");
  await page.goto(`${base}/konsol/geciken`);
  await audit(page, "life-governor-overdue");
  // A public-day meeting: an error first, then scheduled; its report page.
  await page.goto(`${base}/konsol`);
  await page.getByRole("link", { name: "Halk günü toplantıları" }).click();
  await page.waitForLoadState("load");
  await page.getByLabel("Tarih").fill("15.12.2026");
  await page.getByLabel("Yer").fill("Ankara Valiliği toplantı salonu");
  await page.getByLabel("Başkanlık eden").fill("Vali Ayşe Demir");
  await press(page, "Toplantıyı planla");
  await expectTitle(page, "Hata: ");
  await audit(page, "life-governor-meeting-error");
  await page.getByLabel("Tarih").fill("2026-12-15");
  await press(page, "Toplantıyı planla");
  await expectText(page, "Vali Ayşe Demir");
  await audit(page, "life-governor-meeting");
  await shot(page, "life-governor-meeting");
  return {};
}

/// The Ministry's country view: the figures (with a wrong filter first),
/// waiting up to 20 s for them to reach opt.until when given.
async function lifeMinistry(page) {
  await signIn(page);
  await page.getByRole("link", { name: "İzleme ve raporlar" }).click();
  await page.waitForLoadState("load");
  const read = async () => ({
    received: Number(await tileValue(page, "Alınan")),
    concluded: Number(await tileValue(page, "Sonuçlanan")),
  });
  let figures = await read();
  for (let i = 0; opt.until && i < 40; i++) {
    if (figures.received >= opt.until.received && figures.concluded >= opt.until.concluded) break;
    await new Promise((r) => setTimeout(r, 500));
    await page.reload();
    figures = await read();
  }
  await audit(page, "life-ministry-monitor");
  await shot(page, "life-ministry-monitor");
  if (opt.until) {
    // Filters: a wrong month at its field, then a province, kept in the address.
    await page.getByText("Süzgeçler", { exact: true }).click();
    await page.getByLabel("İlk ay").fill("2026-13");
    await press(page, "Uygulayın");
    await expectTitle(page, "Hata: ");
    await audit(page, "life-ministry-filter-error");
    await page.getByLabel("İlk ay").fill("");
    await page.getByLabel("İl", { exact: true }).selectOption({ value: "6" });
    await press(page, "Uygulayın");
    if (!page.url().includes("il=6")) fail(`the filter is not in the address: ${page.url()}`);
    await expectText(page, "İlçe karşılaştırması");
    await audit(page, "life-ministry-province");
    await shot(page, "life-ministry-province");
  }
  return figures;
}

const STEPS = {
  apply, track, survey, pages, selfcheck, konsol,
  "life-record": lifeRecord,
  "life-answer": lifeAnswer,
  "life-conclude": lifeConclude,
  "life-governor": lifeGovernor,
  "life-ministry": lifeMinistry,
};
if (!STEPS[step]) fail(`unknown step ${step}`);

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const phone = opt.width < 641;
  const context = await browser.newContext({
    javaScriptEnabled: opt.js,
    viewport: { width: opt.width, height: phone ? 740 : 900 },
    isMobile: phone,
    hasTouch: phone,
    locale: "tr-TR",
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const result = await STEPS[step](page);
  console.log(JSON.stringify({ ...result, checked }));
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await browser.close();
}
