import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page, Request, Route } from 'playwright-core';
import { startStack, type Stack } from '../../e2e/src/support/stack';
import { launchChromium } from './support/chromium';
import { forwardTcp, type TcpForward } from './support/tcp-forward';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;
const BIG_SIZE = 40 * MiB;
const OWNER = 'page-owner';
const BIG_NAME = 'site-survey.mp4';
const SMALL_NAME = 'field-notes.txt';
/** Each chunk request is held this long before it reaches the gateway, so a 40-chunk upload takes seconds, not milliseconds. */
const CHUNK_DELAY_MS = 350;
/** The big file's chunk that is answered 503 once (by the test, in front of the gateway), to see a retry. */
const FLAKY_CHUNK = 2;
const ARTIFACTS = join(__dirname, '..', 'artifacts');
/** `UPDATE_DOCS_SCREENSHOT=1` also writes the README's screenshot (docs/page.png). */
const DOCS_SCREENSHOT = join(__dirname, '..', '..', '..', 'docs', 'page.png');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CHUNK_PATH = /\/v1\/uploads\/([^/]+)\/chunks\/(\d+)$/;
const say = (line: string) => void process.stderr.write(`${line}\n`);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RowWanted {
  state?: string;
  uploadId?: string;
  sentAtLeast?: number;
  sentAtMost?: number;
  storedAtLeast?: number;
}

interface NativeUpload {
  id: string;
  state: string;
  size: number;
  sha256?: string;
  filename: string;
  chunkCount: number;
}

describe('the upload web page (served by the gateway at /) in headless Chromium, against the real stack', () => {
  let stack: Stack | undefined;
  let notifierProxy: TcpForward | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let token: string;
  let dir: string;
  let bigPath: string;
  let smallPath: string;
  let bigSha: string;
  let smallSha: string;
  let smallBytes: Buffer;
  let bigId: string;
  let smallId: string;
  const startedAt = Date.now();

  /** What the page sent for chunks: every request's upload, index, body size, the phase it belonged to, and its answer (none: aborted). */
  const chunkRequests: { uploadId: string; index: number; bytes: number; phase: 'first visit' | 'after reload'; answered: number | null }[] = [];
  const entries = new Map<Request, (typeof chunkRequests)[number]>();
  const answered = (status: number) => chunkRequests.filter((r) => r.answered === status);
  let phase: 'first visit' | 'after reload' = 'first visit';
  let flakyDone = false;
  const browserProblems: string[] = [];
  const socketEvents: string[] = [];

  const row = (name: string): Locator => page.locator('#transfers li.transfer', { has: page.locator('.name', { hasText: name }) }).first();
  const bar = (name: string, which: 'Sent' | 'Stored and verified') => row(name).getByRole('progressbar', { name: `${which}: ${name}` });
  const valueOf = async (locator: Locator) => Number(await locator.getAttribute('aria-valuenow'));
  /**
   * Polls the page until the row of `name` matches `want` (the page's CSP forbids eval, so
   * the check is data, not code): its data-state, its upload id, and bounds on the bars.
   */
  const waitRow = async (name: string, what: string, want: RowWanted, timeout = 20_000) => {
    try {
      await page.waitForFunction(
        ([n, w]) => {
          const li = Array.from(document.querySelectorAll<HTMLElement>('#transfers li.transfer')).find((el) => el.querySelector('.name')?.textContent === n);
          if (!li) return false;
          const value = (label: string) => Number(li.querySelector(`[role=progressbar][aria-label^="${label}"]`)?.getAttribute('aria-valuenow'));
          const sent = value('Sent');
          const stored = value('Stored');
          return (
            (w.state === undefined || li.dataset.state === w.state) &&
            (w.uploadId === undefined || li.dataset.uploadId === w.uploadId) &&
            sent >= (w.sentAtLeast ?? 0) &&
            sent <= (w.sentAtMost ?? 100) &&
            stored >= (w.storedAtLeast ?? 0)
          );
        },
        [name, want] as const,
        { timeout, polling: 25 },
      );
    } catch (error) {
      throw new Error(`${name}: waited ${timeout} ms for ${what} (${JSON.stringify(want)}): ${(error as Error).message}\n${await report()}`);
    }
  };
  const report = async () => {
    const rows = await page
      .locator('#transfers li.transfer')
      .evaluateAll((lis) => lis.map((li) => `${li.querySelector('.name')?.textContent}: ${(li as HTMLElement).dataset.state} | ${li.querySelector('.stats')?.textContent} | ${li.querySelector('.notice')?.textContent ?? ''}`))
      .catch(() => []);
    return [
      'rows:',
      ...rows.map((r) => `  ${r}`),
      `chunk requests: ${chunkRequests.length}, browser problems: ${browserProblems.join(' / ') || 'none'}`,
      '--- gateway log (last 20 lines)',
      ...(stack?.logs('gateway').trimEnd().split('\n').slice(-20) ?? []),
    ].join('\n');
  };
  const screenshot = async (path: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    await page.screenshot({ path, fullPage: true }).catch((error: Error) => say(`no screenshot ${path}: ${error.message}`));
  };

  /** Holds each chunk request a moment (the test's stand-in for a slower network); one chunk gets a 503 the first time. */
  const routeChunks = async (route: Route) => {
    const request = route.request();
    const match = CHUNK_PATH.exec(new URL(request.url()).pathname);
    if (!match || request.method() !== 'PUT') return route.continue();
    const entry = { uploadId: match[1]!, index: Number(match[2]), bytes: request.postDataBuffer()?.length ?? 0, phase, answered: null };
    chunkRequests.push(entry);
    entries.set(request, entry);
    if (entry.index === FLAKY_CHUNK && !flakyDone) {
      flakyDone = true;
      const problem = { type: 'service-unavailable', title: 'Service unavailable', status: 503, detail: 'injected by the test' };
      return route.fulfill({ status: 503, headers: { 'content-type': 'application/problem+json', 'retry-after': '0' }, body: JSON.stringify(problem) }).catch(() => undefined);
    }
    await sleep(phase === 'first visit' ? CHUNK_DELAY_MS : CHUNK_DELAY_MS / 4);
    // A pause or the reload may have aborted it meanwhile: then it never reaches the gateway.
    await route.continue().catch(() => undefined);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-page-'));
    const big = randomBytes(BIG_SIZE);
    bigSha = sha256(big);
    bigPath = join(dir, BIG_NAME);
    writeFileSync(bigPath, big);
    const lines = Array.from({ length: 3000 }, (_, i) => `${String(i + 1).padStart(4, '0')} ${randomBytes(24).toString('base64')} reading ok\n`);
    smallBytes = Buffer.from(lines.join(''));
    smallSha = sha256(smallBytes);
    smallPath = join(dir, SMALL_NAME);
    writeFileSync(smallPath, smallBytes);

    // The notifier's public address (NOTIFIER_PUBLIC_URL) must be known before the gateway
    // starts; a forwarder stands in for the Ingress in front of the notifier.
    notifierProxy = await forwardTcp();
    stack = await startStack(
      { DEFAULT_CHUNK_SIZE: String(MiB) },
      { services: { gateway: { DEV_TOKEN_SUBJECT: OWNER, NOTIFIER_PUBLIC_URL: notifierProxy.origin } } },
    );
    notifierProxy.to(Number(new URL(stack.notifierUrl).port));
    token = await stack.token(OWNER);

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1120, height: 860 }, deviceScaleFactor: 1, acceptDownloads: true });
    page.on('console', (message) => {
      if (message.type() !== 'error' && message.type() !== 'warning') return;
      // A chunk request the test aborts or answers 503 on purpose is logged by Chromium: not a problem of the page.
      if (/Failed to load resource|net::ERR_ABORTED/.test(message.text())) return;
      browserProblems.push(message.text());
      say(`[browser ${message.type()}] ${message.text()}`);
    });
    page.on('pageerror', (error) => {
      browserProblems.push(error.message);
      say(`[browser page error] ${error.stack ?? error.message}`);
    });
    page.on('websocket', (ws) => {
      ws.on('framereceived', ({ payload }) => {
        const type = /^\d+\["([\w.]+)"/.exec(String(payload))?.[1];
        if (type) socketEvents.push(type);
      });
    });
    page.on('response', (response) => {
      const entry = entries.get(response.request());
      if (entry) entry.answered = response.status();
    });
    await page.route((url) => CHUNK_PATH.test(url.pathname), routeChunks);
  });

  afterAll(async () => {
    if (page) await screenshot(join(ARTIFACTS, 'page.png'));
    await browser?.close();
    await stack?.stop();
    await notifierProxy?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    say(`page.test: ${((Date.now() - startedAt) / 1000).toFixed(1)} s in all`);
  });

  it('is served at / with its own CSP (scripts and styles from the gateway, sockets to the notifier) and a development token', async () => {
    const res = await fetch(`${stack!.gatewayUrl}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ${notifierProxy!.origin} ${notifierProxy!.origin.replace('http', 'ws')}`);
    expect(csp).toContain("frame-ancestors 'none'");
    // The API keeps its strict policy.
    expect((await fetch(`${stack!.gatewayUrl}/v1/uploads`)).headers.get('content-security-policy')).not.toContain(notifierProxy!.origin);

    const config = (await (await fetch(`${stack!.gatewayUrl}/page-config.json`)).json()) as { notifierUrl: string; devToken: string };
    expect(config.notifierUrl).toBe(notifierProxy!.origin);
    const list = await fetch(`${stack!.gatewayUrl}/v1/uploads`, { headers: { authorization: `Bearer ${config.devToken}` } });
    expect(list.status).toBe(200);

    await page.goto(stack!.gatewayUrl);
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 10_000 });
    await expect(page.locator('#identity').textContent()).resolves.toContain(`Signed in as ${OWNER}`);
    expect(await page.locator('#token-section').isHidden()).toBe(true);
  });

  it('uploads two files picked at once: both bars of the small one reach 100 %; the big one shows a retried chunk, pauses and resumes', async () => {
    await page.locator('#file-input').setInputFiles([bigPath, smallPath]);

    // The small file (one chunk): sent, then stored & verified, 100 % each.
    await waitRow(SMALL_NAME, 'completion', { state: 'completed', sentAtLeast: 100, storedAtLeast: 100 });
    smallId = (await row(SMALL_NAME).getAttribute('data-upload-id'))!;
    expect(smallId).toMatch(UUID);
    await expect(row(SMALL_NAME).locator('.stats .sha').textContent()).resolves.toBe(smallSha);
    for (const which of ['Sent', 'Stored and verified'] as const) {
      const progress = bar(SMALL_NAME, which);
      expect(await progress.getAttribute('aria-valuemin')).toBe('0');
      expect(await progress.getAttribute('aria-valuemax')).toBe('100');
      expect(await valueOf(progress)).toBe(100);
    }

    // The big one: the 503 on one chunk is retried, and the row says so.
    const notice = row(BIG_NAME).locator('.notice');
    await notice.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await notice.textContent()).toMatch(new RegExp(`Chunk ${FLAKY_CHUNK + 1}\\b.*HTTP 503`));
    expect(Number(await row(BIG_NAME).getAttribute('data-retries'))).toBeGreaterThanOrEqual(1);
    bigId = (await row(BIG_NAME).getAttribute('data-upload-id'))!;
    expect(bigId).toMatch(UUID);

    // Stored progress comes from the socket while chunks are still being sent.
    await waitRow(BIG_NAME, 'some progress, sent and stored', { sentAtLeast: 10, sentAtMost: 60, storedAtLeast: 1 });
    expect(socketEvents).toContain('upload.progress');

    // Pause: nothing more is sent; the buttons swap, keyboard focus follows.
    await row(BIG_NAME).getByRole('button', { name: `Pause ${BIG_NAME}` }).focus();
    await page.keyboard.press('Enter');
    await waitRow(BIG_NAME, 'the paused state', { state: 'paused' });
    const resumeButton = row(BIG_NAME).getByRole('button', { name: `Resume ${BIG_NAME}` });
    expect(await resumeButton.evaluate((b) => b === document.activeElement)).toBe(true);
    const pausedAt = await valueOf(bar(BIG_NAME, 'Sent'));
    const acceptedAtPause = answered(202).length;
    const requestedAtPause = chunkRequests.length;
    await sleep(1000);
    // The bar may only catch up with chunks the server stored from just before the pause.
    expect(await valueOf(bar(BIG_NAME, 'Sent'))).toBeLessThanOrEqual(Math.max(pausedAt, await valueOf(bar(BIG_NAME, 'Stored and verified'))));
    expect(answered(202).length).toBe(acceptedAtPause);
    expect(chunkRequests.length).toBe(requestedAtPause);
    expect(pausedAt).toBeLessThan(100);
    await expect(page.locator('#status').textContent()).resolves.toContain(`${BIG_NAME}: paused`);
    if (process.env.UPDATE_DOCS_SCREENSHOT) await screenshot(DOCS_SCREENSHOT);

    // Resume (a click this time): it goes on from where it stopped.
    await resumeButton.click();
    await waitRow(BIG_NAME, 'sending again', { state: 'uploading', sentAtLeast: pausedAt + 1 });
  });

  it('after a reload mid-upload, the same file chosen again resumes its upload and sends only what was missing', async () => {
    await waitRow(BIG_NAME, 'about a third sent', { sentAtLeast: 30 });
    expect(await row(BIG_NAME).getAttribute('data-state')).toBe('uploading');
    expect(await valueOf(bar(BIG_NAME, 'Sent'))).toBeLessThan(100);
    phase = 'after reload';
    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 10_000 });

    // The page remembers the unfinished upload and asks for the file again.
    const remembered = page.locator('#resumable-list li');
    await expect(remembered.count()).resolves.toBe(1);
    expect(await remembered.getAttribute('data-upload-id')).toBe(bigId);
    expect(await remembered.textContent()).toContain(BIG_NAME);

    await page.locator('#file-input').setInputFiles(bigPath);
    await waitRow(BIG_NAME, 'the resumed upload id', { uploadId: bigId }, 10_000);
    expect(await row(BIG_NAME).getAttribute('data-resumed')).toBe('true');
    expect(await row(BIG_NAME).locator('.upload-id').textContent()).toBe(bigId);
    expect(await row(BIG_NAME).locator('.meta').textContent()).toContain('resumed');
    const alreadyThere = Number(await row(BIG_NAME).getAttribute('data-resumed-from'));
    expect(alreadyThere).toBeGreaterThanOrEqual(0.25 * BIG_SIZE);

    await waitRow(BIG_NAME, 'completion', { state: 'completed', sentAtLeast: 100, storedAtLeast: 100 }, 30_000);
    await expect(row(BIG_NAME).locator('.stats .sha').textContent()).resolves.toBe(bigSha);
    expect(await page.locator('#resumable').isHidden()).toBe(true);

    // Only the missing part went over the wire after the reload.
    const after = answered(202).filter((r) => r.phase === 'after reload');
    const sentAfter = after.reduce((sum, r) => sum + r.bytes, 0);
    expect(after.every((r) => r.uploadId === bigId)).toBe(true);
    expect(sentAfter).toBeGreaterThan(0);
    expect(sentAfter).toBeLessThanOrEqual(BIG_SIZE - alreadyThere);
    expect(sentAfter).toBeLessThan(BIG_SIZE);

    // The native API agrees: one upload, completed, the right SHA-256.
    const res = await fetch(`${stack!.gatewayUrl}/v1/uploads/${bigId}`, { headers: { authorization: `Bearer ${token}` } });
    const upload = (await res.json()) as NativeUpload;
    expect(upload).toMatchObject({ id: bigId, state: 'completed', size: BIG_SIZE, sha256: bigSha, filename: BIG_NAME, chunkCount: 40 });
  });

  it("lists the owner's uploads with state, size and SHA-256, and downloads them through the page's links, byte for byte", async () => {
    const listRow = (id: string) => page.locator(`#uploads-body tr[data-upload-id="${id}"]`);
    await page.locator(`#uploads-body tr[data-upload-id="${bigId}"][data-state="completed"]`).waitFor({ timeout: 10_000 });
    await page.locator(`#uploads-body tr[data-upload-id="${smallId}"][data-state="completed"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator('#uploads-body tr').count()).toBe(2);
    expect(await listRow(bigId).locator('td.name').textContent()).toBe(BIG_NAME);
    expect(await listRow(bigId).locator('td.num').getAttribute('data-size')).toBe(String(BIG_SIZE));
    expect(await listRow(bigId).locator('td.num').textContent()).toBe('40.0 MiB');
    expect(await listRow(bigId).locator('.sha').textContent()).toBe(bigSha);
    expect(await listRow(smallId).locator('.sha').textContent()).toBe(smallSha);
    expect(await listRow(bigId).locator('.badge').textContent()).toBe('completed');

    for (const [id, name, expected] of [
      [bigId, BIG_NAME, bigSha],
      [smallId, SMALL_NAME, smallSha],
    ] as const) {
      const link = listRow(id).getByRole('link', { name: `Download ${name}` });
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 20_000 }), link.click()]);
      expect(download.suggestedFilename()).toBe(name);
      const bytes = readFileSync(await download.path());
      expect(sha256(bytes)).toBe(expected);
      if (id === smallId) expect(bytes.equals(smallBytes)).toBe(true);
      await expect(page.locator('#status').textContent()).resolves.toContain(`${name} downloaded; its SHA-256 matches`);
    }
    expect(browserProblems).toEqual([]);
  });

  it('without a development token, asks for one, keeps it in this tab only, and never ships one in the bundle', async () => {
    const context = await browser!.newContext({ viewport: { width: 1120, height: 700 } });
    const tab = await context.newPage();
    try {
      // As a production gateway answers (no DEV_TOKEN_SUBJECT): no token in the configuration.
      await tab.route(/\/page-config\.json$/, (route) => route.fulfill({ json: { notifierUrl: notifierProxy!.origin } }));
      await tab.goto(stack!.gatewayUrl);
      await tab.locator('body[data-ready="true"]').waitFor({ timeout: 10_000 });
      expect(await tab.locator('#token-section').isVisible()).toBe(true);
      expect(await tab.locator('#upload-section').isHidden()).toBe(true);
      expect(await tab.locator('#identity').textContent()).toBe('Not signed in');

      const field = tab.getByLabel('Access token');
      await field.fill('not-a-token');
      await field.press('Enter');
      expect(await tab.locator('#token-error').textContent()).toContain('does not look like a JWT');
      await field.fill(`${token.slice(0, -4)}AAAA`); // the signature broken: the server refuses it
      await field.press('Enter');
      await tab.locator('#token-error', { hasText: 'refused' }).waitFor({ timeout: 5000 });
      mkdirSync(ARTIFACTS, { recursive: true });
      await tab.screenshot({ path: join(ARTIFACTS, 'page-sign-in.png') });

      await field.fill(token);
      await tab.getByRole('button', { name: 'Use token' }).click();
      await tab.locator('#upload-section').waitFor({ state: 'visible', timeout: 5000 });
      expect(await tab.locator('#identity').textContent()).toContain(`Signed in as ${OWNER}`);
      await tab.locator(`#uploads-body tr[data-upload-id="${bigId}"]`).waitFor({ timeout: 5000 });
      expect(await tab.evaluate(() => sessionStorage.getItem('tessera.token'))).toBe(token);
      expect(await tab.evaluate(() => JSON.stringify(localStorage))).not.toContain(token.split('.')[2]!);

      // Files dropped on the page upload like picked ones.
      const dropped = await tab.evaluateHandle(() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(['dropped on the page\n'.repeat(1000)], 'dropped.txt', { type: 'text/plain' }));
        return transfer;
      });
      await tab.locator('#drop-zone').dispatchEvent('dragenter', { dataTransfer: dropped });
      expect(await tab.locator('#drop-zone').getAttribute('class')).toContain('dragging');
      await tab.locator('#drop-zone').dispatchEvent('drop', { dataTransfer: dropped });
      await tab.locator('#transfers li.transfer[data-state="completed"]', { hasText: 'dropped.txt' }).waitFor({ timeout: 10_000 });
      expect(await tab.locator('#drop-zone').getAttribute('class')).not.toContain('dragging');

      // Still signed in after a reload of the tab; signing out forgets it.
      await tab.reload();
      await tab.locator('#upload-section').waitFor({ state: 'visible', timeout: 5000 });
      await tab.getByRole('button', { name: 'Sign out' }).click();
      expect(await tab.locator('#token-section').isVisible()).toBe(true);
      expect(await tab.evaluate(() => sessionStorage.getItem('tessera.token'))).toBeNull();

      // Nothing like a JWT is baked into what the gateway serves.
      const html = await (await fetch(`${stack!.gatewayUrl}/`)).text();
      const assets = [...html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(assets.length).toBe(2);
      for (const asset of assets) {
        const text = await (await fetch(`${stack!.gatewayUrl}/${asset}`)).text();
        expect({ asset, jwt: /eyJ[\w-]{10,}\.eyJ/.test(text) }).toEqual({ asset, jwt: false });
      }
    } finally {
      await context.close();
    }
  });
});
