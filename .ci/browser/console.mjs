// The operator console in real headless Chromium (issue 16, must-shows 1 and 2), against a live
// `shelfsync demo` (real service, mock marketplaces with shoppers):
//   node .ci/browser/console.mjs <api base url> <admin token> <screenshot dir>
// Signs in through the demo's one-click link; checks that the overview lists the demo's clients
// with the API's figures; resolves an exception from the client page and sees it leave the open
// list (and the API agree); signs a viewer in, who sees no write control and whose forged post
// is refused; opens the client's monthly report (its charts drawn, its totals the API's) and its
// PDF (read back with poppler's pdftotext: the same totals as the page); and checks that no
// request of the console left the service's origin. Screenshots
// of each page go to the screenshot directory. Exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const [base, adminToken, shots] = process.argv.slice(2);
if (!base || !adminToken || !shots) {
  console.error("usage: console.mjs <api base url> <admin token> <screenshot dir>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const origin = new URL(base).origin;

function check(condition, message) {
  if (!condition) {
    throw new Error(`browser check failed: ${message}`);
  }
  console.log(`ok: ${message}`);
}

async function api(path, options = {}) {
  const reply = await fetch(`${base}${path}`, {
    ...options,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", ...(options.headers || {}) },
  });
  if (!reply.ok) {
    throw new Error(`${options.method || "GET"} ${path}: ${reply.status} ${await reply.text()}`);
  }
  return reply.status === 204 ? null : reply.json();
}

async function unresolved(code) {
  const page = await api(`/v1/clients/${code}/exceptions?state=unresolved&limit=1000`);
  return page.exceptions;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
const foreign = [];
let failed = false;
try {
  const context = await browser.newContext();
  context.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith("data:")) {
      foreign.push(url);
    }
  });
  const page = await context.newPage();

  // One-click sign-in: the token rides in the fragment, which no server sees.
  await page.goto(`${base}/signin#token=${encodeURIComponent(adminToken)}`);
  await page.waitForURL(`${base}/`);
  await page.waitForSelector("#overview");
  await page.screenshot({ path: `${shots}/overview.png`, fullPage: true });
  const cookies = await context.cookies();
  const session = cookies.find((cookie) => cookie.name === "shelfsync_session");
  check(session && session.httpOnly && session.sameSite === "Strict", "the session cookie is HttpOnly and SameSite=Strict");
  check(!page.url().includes("ssk_"), "the token is not left in the address");
  const scriptSees = await page.evaluate(() => document.cookie);
  check(!scriptSees.includes("shelfsync_session"), "script cannot read the session cookie");

  // The overview lists every client the API lists, with its exceptions to work.
  const clients = (await api("/v1/clients?limit=1000")).items.map((client) => client.code);
  for (const code of clients) {
    const row = page.locator(`tr[data-client="${code}"]`);
    check((await row.count()) === 1, `the overview lists ${code}`);
    const shown = Number(await row.locator('td[data-field="exceptions"]').innerText());
    const open = (await unresolved(code)).length;
    check(shown === open, `${code}: ${shown} exceptions shown, ${open} unresolved in the API`);
  }

  // A client page: resolve the first exception to work and see it leave the open list.
  const code = clients[0];
  await page.click(`tr[data-client="${code}"] a`);
  await page.waitForSelector("h1");
  await page.screenshot({ path: `${shots}/client.png`, fullPage: true });
  const before = await unresolved(code);
  check(before.length > 0, `${code} has exceptions to work`);
  const target = before.find((exception) => exception.kind === "unapplicable_order") || before[0];
  const row = page.locator(`tr[data-exception="${target.id}"]`);
  check((await row.count()) === 1, `exception ${target.id} is on the page`);
  await row.locator('select[name="action"]').selectOption("resolve");
  await row.locator('select[name="resolution"]').selectOption("client_informed");
  await row.locator('input[name="note"]').fill("resolved in the browser test");
  await Promise.all([page.waitForNavigation(), row.locator('button[type="submit"]').click()]);
  check((await page.locator(`tr[data-exception="${target.id}"]`).count()) === 0, "the resolved exception left the page");
  const after = await unresolved(code);
  check(!after.some((exception) => exception.id === target.id), "the API no longer lists it as unresolved");
  await page.screenshot({ path: `${shots}/client-after-resolve.png`, fullPage: true });

  // The client page also shows its checklists and its reorder alerts.
  check((await page.locator('h3[data-checklist="launch"]').count()) === 1, "the launch checklist is on the client page");
  const alerts = (await api(`/v1/clients/${code}/reorders?alerting=true&limit=1000`)).items;
  check((await page.locator("#reorders tbody tr").count()) === alerts.length, `the reorder list shows the API's ${alerts.length} alert(s)`);

  // A SKU's timeline answers "why did each channel show that then" with the API's explain.
  const sku = (await api(`/v1/clients/${code}/stock?limit=1`)).items[0].sku;
  const instant = new Date().toISOString();
  await page.goto(`${base}/clients/${code}/skus/${encodeURIComponent(sku)}?at=${encodeURIComponent(instant)}`);
  await page.waitForSelector("svg#timeline");
  await page.screenshot({ path: `${shots}/sku.png`, fullPage: true });
  const channelIds = (await api(`/v1/clients/${code}/channels?limit=1000`)).items.map((status) => status.id);
  for (const channel of channelIds) {
    const explained = await api(`/v1/clients/${code}/channels/${channel}/listings/${encodeURIComponent(sku)}/explain?at=${encodeURIComponent(instant)}`);
    const shown = (await page.locator(`tr[data-channel="${channel}"] td[data-field="shown"]`).innerText()).trim();
    const expected = explained.shown === null ? "nothing recorded" : String(explained.shown);
    check(shown === expected, `${sku} on ${channel} at ${instant}: the page says ${shown}, the API ${expected}`);
  }
  // Clicking an instant on the chart asks the same question for that instant.
  const points = page.locator("svg#timeline a");
  check((await points.count()) > 0, "the timeline has instants to click");
  // Followed by its link rather than a pointer click: points drawn a pixel apart overlap, and
  // which one a click at a point's centre lands on is the drawing's, not the test's, business.
  const href = await points.first().getAttribute("href");
  check(href && href.startsWith("?at="), `a point links to its instant (${href})`);
  await page.goto(`${base}/clients/${code}/skus/${encodeURIComponent(sku)}${href}`);
  await page.waitForSelector("#why");
  check(page.url().includes("?at="), "a chart point explains that instant");
  check((await page.locator("#why tbody tr").count()) === channelIds.length, "with a why for every channel");
  await page.screenshot({ path: `${shots}/sku-why.png`, fullPage: true });

  // A viewer: no write control, and a forged post with their own session is refused.
  const viewer = await api("/v1/members", {
    method: "POST",
    body: JSON.stringify({ name: "Browser viewer", role: "viewer", clients: [code] }),
  });
  const viewerContext = await browser.newContext();
  viewerContext.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith("data:")) {
      foreign.push(url);
    }
  });
  const viewerPage = await viewerContext.newPage();
  await viewerPage.goto(`${base}/signin`);
  await viewerPage.fill("#token", viewer.token);
  await Promise.all([viewerPage.waitForNavigation(), viewerPage.click('#signin button[type="submit"]')]);
  await viewerPage.goto(`${base}/clients/${code}`);
  await viewerPage.screenshot({ path: `${shots}/client-as-viewer.png`, fullPage: true });
  check((await viewerPage.locator("form.work").count()) === 0, "a viewer sees no write control");
  const remaining = after[0];
  if (remaining) {
    const status = await viewerPage.evaluate(async ({ code, id }) => {
      const csrf = document.querySelector('input[name="csrf"]').value;
      const body = new URLSearchParams({ csrf, action: "resolve", resolution: "fixed" });
      const reply = await fetch(`/clients/${code}/exceptions/${id}`, { method: "POST", body, redirect: "manual" });
      return reply.status;
    }, { code, id: remaining.id });
    check(status === 403, `a viewer's forged post is refused (${status})`);
    const still = await unresolved(code);
    check(still.some((exception) => exception.id === remaining.id), "and changed nothing");
  }
  // A post from another page without the session's token is refused too.
  const forged = await page.evaluate(async ({ code, id }) => {
    const body = new URLSearchParams({ csrf: "forged", action: "acknowledge" });
    const reply = await fetch(`/clients/${code}/exceptions/${id}`, { method: "POST", body, redirect: "manual" });
    return reply.status;
  }, { code, id: (after[0] || target).id });
  check(forged === 403, `a post without the session's token is refused (${forged})`);

  // The monthly report: the page with its charts, the PDF with the same totals. The demo's
  // shoppers keep buying, so the page and the PDF are compared as read one right after the
  // other, a few times if a sale fell between them.
  await page.goto(`${base}/clients/${code}`);
  const reportHref = await page.locator("#reports a").first().getAttribute("href");
  check(reportHref && reportHref.startsWith(`/clients/${code}/reports/`), `the client page links its report (${reportHref})`);
  const month = reportHref.split("/").pop();
  let same = false;
  for (let attempt = 0; attempt < 10 && !same; attempt++) {
    await page.goto(`${base}${reportHref}`);
    await page.waitForSelector("table#summary");
    const summary = {};
    for (const row of await page.locator("table#summary tr").all()) {
      summary[await row.getAttribute("data-label")] = (await row.locator("td").innerText()).trim();
    }
    const pdfHref = await page.locator("#report-pdf").getAttribute("href");
    const reply = await page.request.get(`${base}${pdfHref}`);
    check(reply.ok() && reply.headers()["content-type"] === "application/pdf", "the report's PDF downloads");
    writeFileSync(`${shots}/report.pdf`, await reply.body());
    const text = execFileSync("pdftotext", ["-layout", `${shots}/report.pdf`, "-"], { encoding: "utf8" });
    const json = await api(`/v1/clients/${code}/reports/${month}`);
    same = Object.entries(summary).every(([label, value]) => text.includes(`${label}: ${value}`))
      && summary["Units sold"] === String(json.sales.units)
      && summary["Orders"] === String(json.sales.orders);
    if (same) {
      check(Object.keys(summary).length >= 10, `the report page shows its summary (${Object.keys(summary).length} lines)`);
      check(true, `the PDF opens with the page's totals (units sold ${summary["Units sold"]}, orders ${summary["Orders"]}) and the API's`);
    }
  }
  check(same, "the report page, its PDF and the API agree");
  const charts = page.locator("svg.chart");
  check((await charts.count()) >= 3, `the report draws its charts (${await charts.count()})`);
  for (const chart of await charts.all()) {
    const box = await chart.boundingBox();
    check(box && box.width > 100 && box.height > 10, `a chart is drawn (${await chart.getAttribute("aria-label")})`);
  }
  check((await page.locator("svg.chart rect.bar").count()) > 0, "with bars");
  await page.screenshot({ path: `${shots}/report.png`, fullPage: true });
  execFileSync("pdftoppm", ["-png", "-r", "60", "-f", "1", "-l", "1", `${shots}/report.pdf`, `${shots}/report-pdf`]);

  // Sign out.
  await Promise.all([page.waitForNavigation(), page.click("form.signout button")]);
  check(page.url().endsWith("/signin"), "signed out to the sign-in form");
  await page.screenshot({ path: `${shots}/signed-out.png`, fullPage: true });

  check(foreign.length === 0, `no request left the service's origin (${foreign.join(", ")})`);
} catch (error) {
  failed = true;
  console.error(error.stack || String(error));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
