import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
const require = createRequire("/work/main/services/portal/browser-tests/portal.mjs");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const b = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox","--disable-gpu"] });
for (const js of [true, false]) {
  const p = await (await b.newContext({ javaScriptEnabled: js })).newPage();
  await p.setContent('<html><body><img src="x.png"><input type="text"><p style="color:#ccc">low</p></body></html>');
  await p.evaluate(AXE);
  const r = await p.evaluate(() => window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a","wcag2aa"] } }));
  console.log("js", js, r.violations.map(v => v.id));
}
await b.close();
