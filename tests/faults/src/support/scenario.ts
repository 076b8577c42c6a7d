import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAMES, startStack, type Stack, type StackOptions } from '../../../e2e/src/support/stack';
import { Api, type Exchange } from './api';
import { invariantProblems, type Sent } from './invariants';
import { sleep } from './processes';
import { inParallel, type TestFile } from './test-file';
import { UploadWatcher } from './watcher';

const ARTIFACTS = join(__dirname, '..', '..', '..', '..', 'test-artifacts', 'faults');

/** One scenario's stack, with a client and a watcher of the same owner. */
export interface Scenario {
  stack: Stack;
  api: Api;
  watcher: UploadWatcher;
  /** Creates the upload and subscribes to it, without sending a byte. */
  create(file: TestFile): Promise<Sent>;
  /**
   * Sends the chunks of an upload (shuffled, `parallel` at a time, waiting `paceMs` after
   * each) with the resilient client: all of them, or only `indices`.
   */
  sendAll(sent: Sent, options?: { parallel?: number; paceMs?: number; indices?: number[] }): Promise<void>;
  /**
   * Waits (at most `timeoutMs`) until every upload has settled (polling GET) and its
   * upload.completed has arrived; the verdict reports any that did not. With `resume`, the
   * client also sends again whatever the upload lists as `missing` (a rejected chunk), as
   * the README tells clients to resume.
   */
  settle(sent: Sent[], options?: { timeoutMs?: number; resume?: boolean }): Promise<void>;
  /**
   * Everything that must hold afterwards in one value, so a failure shows every violation:
   * the invariants, and the answers no client may ever get (5xx other than 503).
   */
  verdict(sent: Sent[]): Promise<{ problems: string[]; serverErrors: Exchange[] }>;
  /** Starts any service a failed step left stopped, so the next test starts from a whole stack. */
  ensureRunning(): Promise<void>;
  /** Stops everything, keeping every service's output under test-artifacts/faults/<name>/. */
  close(): Promise<void>;
}

/** The verdict of a scenario after which everything holds. */
export const CLEAN = { problems: [], serverErrors: [] };

export async function openScenario(name: string, overrides: Record<string, string> = {}, options: StackOptions = {}): Promise<Scenario> {
  // The sweep removes what crashed processes leave behind; it runs every second here so
  // that the checks afterwards need not wait a minute for it.
  const stack = await startStack({ LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info', SWEEP_INTERVAL_MS: '1000', ...overrides }, options);
  let watcher: UploadWatcher;
  let api: Api;
  try {
    const token = await stack.token(`faults-${name}`);
    api = new Api(stack.gatewayUrl, token);
    watcher = await UploadWatcher.connect(stack.notifierUrl, token);
  } catch (error) {
    await stack.stop();
    throw error;
  }

  const settle = async (sent: Sent[], { timeoutMs = 120_000, resume = false } = {}): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const waiting = new Map(sent.map((upload) => [upload.id, upload]));
    while (waiting.size > 0 && Date.now() < deadline) {
      for (const { id, file } of [...waiting.values()]) {
        const view = await api.get(id).catch(() => null);
        if (!view) continue;
        if (view.state !== 'receiving' && view.state !== 'pending' && view.state !== 'finalizing') waiting.delete(id);
        else if (resume && view.state === 'receiving' && view.missing.length > 0) {
          await inParallel(view.missing, 2, async (index) => {
            await api.sendChunk(id, index, file.chunk(index));
          });
        }
      }
      if (waiting.size > 0) await sleep(100);
    }
    // The event is published right after the state commits: give it a moment to arrive.
    await Promise.all(
      sent.map((upload) =>
        watcher.waitFor((e) => e.type === 'upload.completed' && e.uploadId === upload.id, 5000).catch(() => undefined),
      ),
    );
    // What did not settle in time is for the verdict to report, with everything else that is wrong.
  };

  return {
    stack,
    api,
    watcher,
    async create(file) {
      const view = await api.createUpload(file);
      await watcher.watch(view.id);
      return { id: view.id, file };
    },
    async sendAll({ id, file }, { parallel = 2, paceMs = 0, indices = file.shuffledIndices() } = {}) {
      await inParallel(indices, parallel, async (index) => {
        await api.sendChunk(id, index, file.chunk(index));
        if (paceMs > 0) await sleep(paceMs);
      });
    },
    settle,
    verdict: async (sent) => ({ problems: await invariantProblems(stack, api, watcher, sent), serverErrors: api.serverErrors() }),
    async ensureRunning() {
      for (const service of SERVICE_NAMES) if (stack.pid(service) === null) await stack.start(service);
    },
    async close() {
      api.close();
      watcher.close();
      const dir = join(ARTIFACTS, name);
      mkdirSync(dir, { recursive: true });
      await stack.stop().finally(() => {
        for (const service of SERVICE_NAMES) writeFileSync(join(dir, `${service}.log`), stack.logs(service));
      });
    },
  };
}

