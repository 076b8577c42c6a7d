import { runReadinessChecks, type ReadinessChecks } from '@tessera/adapters';
import { Router } from 'express';

export type { ReadinessChecks };

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
    const results = await runReadinessChecks(checks);
    const report = Object.fromEntries(results.map(({ name, error }) => {
      if (error === null) return [name, 'ok'];
      onDown(name, error);
      return [name, 'down'];
    }));
    const ready = results.every((r) => r.error === null);
    res.status(ready ? 200 : 503).set(ready ? {} : { 'Retry-After': '5' }).json({ status: ready ? 'ready' : 'not-ready', checks: report });
  });

  return router;
}
