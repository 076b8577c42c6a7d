import { Router } from 'express';

/** Named checks of the dependencies readiness depends on; each throws when its dependency is down. */
export type ReadinessChecks = Record<string, () => Promise<void>>;

const CHECK_TIMEOUT_MS = 2000;

function withTimeout(check: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    check().then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/**
 * `/healthz` and `/readyz`. The public answer names each check `ok` or `down`; why one is
 * down (driver messages, host names) goes to `onDown`, the operator's log, not to whoever asked.
 */
export function healthRouter(checks: ReadinessChecks, onDown: (check: string, error: unknown) => void = () => undefined): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const names = Object.keys(checks);
    const results = await Promise.allSettled(names.map((name) => withTimeout(checks[name]!)));
    const report = Object.fromEntries(names.map((name, i) => {
      const result = results[i]!;
      if (result.status === 'fulfilled') return [name, 'ok'];
      onDown(name, result.reason);
      return [name, 'down'];
    }));
    const ready = results.every((r) => r.status === 'fulfilled');
    res.status(ready ? 200 : 503).set(ready ? {} : { 'Retry-After': '5' }).json({ status: ready ? 'ready' : 'not-ready', checks: report });
  });

  return router;
}
