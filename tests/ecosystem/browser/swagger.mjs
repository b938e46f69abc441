// node swagger.mjs GATEWAY_URL USERNAME PASSWORD: opens the gateway's Swagger UI in headless
// chromium and prints, as one JSON object, what a user of it would observe: how many operations
// it renders, how its assets came (encoding, cache headers), whether Authorize logs in with the
// OAuth2 password flow and a "Try it out" call then carries the token, where the token is kept,
// and whether it survives a reload. Fails (exit 1) only when the page cannot be driven at all;
// tests/ecosystem/test_swagger_ui.py judges the observations.
import { chromium } from "playwright-core";

const [url, username, password] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const observed = { assets: {}, console_errors: [] };
try {
  const page = await browser.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") observed.console_errors.push(message.text());
  });
  page.on("response", async (response) => {
    const path = new URL(response.url()).pathname;
    if (path.startsWith("/docs/") && !(path in observed.assets)) {
      const headers = await response.allHeaders();
      observed.assets[path] = {
        status: response.status(),
        content_encoding: headers["content-encoding"] ?? null,
        cache_control: headers["cache-control"] ?? null,
        etag: headers["etag"] ?? null,
      };
    }
  });

  await page.goto(`${url}/docs/`, { waitUntil: "networkidle" });
  await page.waitForSelector(".opblock", { timeout: 30000 });
  observed.operations = await page.locator(".opblock").count();

  // Authorize with the OAuth2 password flow.
  await page.locator(".auth-wrapper .authorize").click();
  const oauth2 = page.locator(".auth-container", { has: page.locator("#oauth_username") });
  await oauth2.locator("#oauth_username").fill(username);
  await oauth2.locator("#oauth_password").fill(password);
  const token = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/auth/token");
  await oauth2.locator(".auth-btn-wrapper .authorize").click();
  observed.token_status = (await token).status();
  // Authorized: the form turns into a summary with a Logout button.
  await page.locator(".auth-btn-wrapper button", { hasText: "Logout" }).waitFor();
  await page.locator(".dialog-ux .close-modal").click();

  // Try it out: GET /v1/users/me.
  const me = page.locator(".opblock-get", {
    has: page.locator('.opblock-summary-path[data-path="/v1/users/me"]'),
  });
  await me.locator(".opblock-summary").click();
  // The body of an operation unfolds with an animation; a click before it ends is lost.
  const execute = me.locator(".execute");
  const tryOut = me.locator(".try-out__btn", { hasText: "Try it out" });
  for (let tries = 0; tries < 10 && !(await execute.isVisible()); tries++) {
    if (await tryOut.isVisible()) await tryOut.click();
    await execute.waitFor({ timeout: 1000 }).catch(() => {});
  }
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/users/me");
  await execute.click();
  const response = await answer;
  observed.me_status = response.status();
  observed.me_username = (await response.json()).username ?? null;
  observed.me_authorization = (await response.request().allHeaders()).authorization ?? null;

  const storage = () =>
    page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }));
  const authorized = () => page.evaluate(() => window.ui.authSelectors.authorized().size);
  observed.storage_after_login = await storage();
  observed.authorized_after_login = await authorized();
  await page.reload({ waitUntil: "networkidle" });
  await page.waitForSelector(".opblock");
  observed.authorized_after_reload = await authorized();
  observed.storage_after_reload = await storage();
} catch (error) {
  // What the page looked like when it could not be driven further, for whoever reads the failure.
  const shot = `${process.env.SWATTER_STACK_RUN_DIR ?? "."}/swagger-ui-failure.png`;
  const pages = browser.contexts().flatMap((context) => context.pages());
  if (pages.length > 0) await pages[0].screenshot({ path: shot, fullPage: false });
  console.error(`${error.stack}\nconsole errors: ${JSON.stringify(observed.console_errors)}\nscreenshot: ${shot}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
if (!process.exitCode) console.log(JSON.stringify(observed));
