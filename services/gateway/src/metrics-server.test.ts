import type { AddressInfo } from 'node:net';
import { createMetricsRegistry } from '@tessera/adapters';
import { pino } from 'pino';
import { serveMetrics } from './metrics-server';

describe(serveMetrics.name, () => {
  it('serves GET /metrics on its own port and nothing else there', async () => {
    const server = await serveMetrics(createMetricsRegistry('gateway-test'), 0, '127.0.0.1', pino({ level: 'silent' }));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('service="gateway-test"');
      const other = await fetch(`${base}/v1/uploads`);
      expect(other.status).toBe(404);
      expect(other.headers.get('content-type')).toBe('application/problem+json');
    } finally {
      server.close();
    }
  });
});
