import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { freePort, startStack, type Stack } from '../../e2e/src/support/stack';
import { bundlePage, type BundledPage } from './support/bundle';
import { launchChromium } from './support/chromium';
import { serveStatic, type StaticServer } from './support/static-server';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;
const FILE_SIZE = 12 * MiB;
/** Uppy's PATCH size: not a multiple of the gateway's 1 MiB chunks, so chunks straddle PATCHes. */
const UPPY_CHUNK_SIZE = 5_000_000;
const ARTIFACTS = join(__dirname, '..', 'artifacts');
const SCREENSHOT = join(ARTIFACTS, 'uppy-upload.png');
/** The page's errors, straight to the test output (jest's console adds a code frame to every line). */
const say = (line: string) => void process.stderr.write(`${line}\n`);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface NativeUpload {
  id: string;
  state: string;
  protocol?: string;
  size: number;
  sha256?: string | null;
  filename?: string;
}

describe('Uppy (@uppy/core + @uppy/tus, unmodified) in headless Chromium → the gateway\'s tus endpoint', () => {
  let stack: Stack | undefined;
  let web: StaticServer | undefined;
  let bundle: BundledPage | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let token: string;
  let fileDir: string;
  let filePath: string;
  let fileSha: string;
  /** Every request the page sent to the gateway, and how it was answered: shown when something fails. */
  const exchanges: string[] = [];
  const gatewayResponses: { method: string; url: string; status: number }[] = [];

  const describeFailure = () =>
    [
      'page ↔ gateway (CORS preflights are not listed):',
      ...exchanges.map((line) => `  ${line}`),
      '--- gateway log (last 40 lines)',
      ...(stack?.logs('gateway').trimEnd().split('\n').slice(-40) ?? []),
    ].join('\n');

  beforeAll(async () => {
    fileDir = mkdtempSync(join(tmpdir(), 'tessera-uppy-'));
    filePath = join(fileDir, 'random.bin');
    const file = randomBytes(FILE_SIZE);
    fileSha = createHash('sha256').update(file).digest('hex');
    writeFileSync(filePath, file);

    bundle = await bundlePage(join(__dirname, 'uppy-page'));
    web = await serveStatic(bundle.dir, await freePort());
    // The page's origin differs from the gateway's (another port): every tus call is cross-origin.
    stack = await startStack({ DEFAULT_CHUNK_SIZE: String(MiB), CORS_ORIGIN: web.origin });
    token = await stack.token('alice');

    browser = await launchChromium();
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') say(`[browser ${message.type()}] ${message.text()}`);
    });
    page.on('pageerror', (error) => say(`[browser page error] ${error.stack ?? error.message}`));
    page.on('response', (response) => {
      const request = response.request();
      if (!request.url().startsWith(stack!.gatewayUrl)) return;
      gatewayResponses.push({ method: request.method(), url: request.url(), status: response.status() });
      const headers = response.headers();
      const shown = ['location', 'upload-offset', 'upload-length', 'tus-resumable', 'access-control-allow-origin', 'access-control-expose-headers'];
      exchanges.push(
        `${request.method()} ${request.url()} → ${response.status()} ${shown
          .filter((name) => headers[name] !== undefined)
          .map((name) => `${name}: ${headers[name]}`)
          .join('; ')}`,
      );
    });
    page.on('requestfailed', (request) => {
      exchanges.push(`${request.method()} ${request.url()} ✗ ${request.failure()?.errorText ?? 'failed'}`);
      say(`[browser request failed] ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    bundle?.remove();
    await stack?.stop();
    if (fileDir) rmSync(fileDir, { recursive: true, force: true });
  });

  it('uploads a 12 MiB file picked in a file input, shows progress and "Upload complete", and the gateway stores it whole', async () => {
    const query = new URLSearchParams({ endpoint: `${stack!.gatewayUrl}/files/`, chunkSize: String(UPPY_CHUNK_SIZE) });
    await page.goto(web!.url(`/?${query}#token=${encodeURIComponent(token)}`));
    try {
      await page.setInputFiles('#file-input', filePath);
      const row = page.locator('#files li');
      // Either outcome ends the wait; a failure is reported with the whole exchange.
      await page.locator('#files li[data-state="complete"], #files li[data-state="error"]').waitFor({ timeout: 45_000 }).catch((error: Error) => {
        throw new Error(`the page showed neither "Upload complete" nor a failure: ${error.message}\n${describeFailure()}`);
      });
      const state = await row.locator('.state').textContent();
      if (state !== 'Upload complete') throw new Error(`the page shows "${state}"\n${describeFailure()}`);

      expect(await row.getAttribute('data-percent')).toBe('100');
      // Per-file progress was shown as it went (tus-js-client reports at least once per PATCH).
      expect(Number(await row.getAttribute('data-progress-events'))).toBeGreaterThanOrEqual(Math.ceil(FILE_SIZE / UPPY_CHUNK_SIZE));
      expect(await row.locator('.percent').textContent()).toBe(' 100 %');
      expect(await row.locator('progress').evaluate((bar) => (bar as unknown as { value: number }).value)).toBe(100);
      expect(await page.locator('#summary').textContent()).toBe('1 uploaded, 0 failed');

      const uploadUrl = (await row.locator('.upload-url').textContent()) ?? '';
      expect(uploadUrl.startsWith(`${stack!.gatewayUrl}/files/`)).toBe(true);
      const id = new URL(uploadUrl).pathname.slice('/files/'.length);
      expect(id).toMatch(UUID);

      // Uppy retries some failed requests: none may have been needed.
      expect(gatewayResponses.filter((r) => r.status >= 400)).toEqual([]);
      const methods = gatewayResponses.map((r) => r.method);
      expect(methods[0]).toBe('POST');
      expect(methods.filter((m) => m === 'PATCH').length).toBe(Math.ceil(FILE_SIZE / UPPY_CHUNK_SIZE));

      // The native API sees the same upload; the worker finishes it after the last PATCH.
      const deadline = Date.now() + 20_000;
      let upload: NativeUpload;
      for (;;) {
        const res = await fetch(`${stack!.gatewayUrl}/v1/uploads/${id}`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).toBe(200);
        upload = (await res.json()) as NativeUpload;
        if (upload.state === 'completed' || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(upload).toMatchObject({ id, state: 'completed', protocol: 'tus', size: FILE_SIZE, sha256: fileSha, filename: 'random.bin' });
    } finally {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch((error: Error) => say(`no screenshot: ${error.message}`));
    }
  });
});
