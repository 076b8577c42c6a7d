// The middleware against a real express 5 app (express is the framework it is written for;
// it resolves from the workspace, as in the gateway that uses it).
import express, { Router } from 'express';
import request from 'supertest';
import { createMetricsRegistry, metricsHandler, type Registry } from './registry';
import { CLIENT_CLOSED_STATUS, httpMetricsMiddleware, UNMATCHED_ROUTE } from './http-metrics';

/** The value of one sample (`name` may be a histogram's `_count` or `_sum`) whose labels include `labels`. */
async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const family = registry.getSingleMetric(name) ?? registry.getSingleMetric(name.replace(/_(count|sum)$/, ''));
  const { values } = await family!.get();
  const found = values.find((v) => ((v as { metricName?: string }).metricName ?? name) === name && Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return found?.value;
}

function app(registry: Registry): express.Express {
  const app = express();
  app.use(httpMetricsMiddleware(registry));
  app.get('/metrics', metricsHandler(registry));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  const uploads = Router();
  uploads.post('/', (_req, res) => void res.status(201).json({}));
  uploads.put('/:id/chunks/:index', (req, _res) => {
    throw Object.assign(new Error(`refused ${req.params.id}`), { status: 409 });
  });
  uploads.get('/:id', (_req, res) => void res.json({}));
  const tokenRequired: express.RequestHandler = (req, _res, next) => {
    if (!req.headers.authorization) throw Object.assign(new Error('no token'), { status: 401 });
    next();
  };
  app.use('/v1/uploads', tokenRequired, uploads);
  app.get('/slow', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
    // never ends: the client gives up
  });
  app.use((_req, res) => void res.status(404).json({}));
  app.use(((error, _req, res, _next) => void res.status((error as { status?: number }).status ?? 500).json({})) as express.ErrorRequestHandler);
  return app;
}

describe('httpMetricsMiddleware (express 5)', () => {
  let registry: Registry;
  beforeEach(() => {
    registry = createMetricsRegistry('test', { defaultMetrics: false });
  });

  it('labels requests by the route pattern, never the concrete path', async () => {
    const server = app(registry);
    const auth = { authorization: 'Bearer x' };
    await request(server).post('/v1/uploads').set(auth).expect(201);
    await request(server).get('/v1/uploads/0190aaaa-0000-7000-8000-000000000001').set(auth).expect(200);
    await request(server).get('/v1/uploads/0190aaaa-0000-7000-8000-000000000002').set(auth).expect(200);
    await request(server).get('/healthz').expect(200);

    expect(await value(registry, 'tessera_http_requests_total', { method: 'POST', route: '/v1/uploads', status: '201' })).toBe(1);
    expect(await value(registry, 'tessera_http_requests_total', { method: 'GET', route: '/v1/uploads/:id', status: '200' })).toBe(2);
    expect(await value(registry, 'tessera_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })).toBe(1);
    expect(await value(registry, 'tessera_http_request_duration_seconds_count', { route: '/v1/uploads/:id' })).toBe(2);
    const text = await registry.metrics();
    expect(text).not.toContain('0190aaaa');
    expect(text).toContain('tessera_http_request_duration_seconds_bucket{le="+Inf",service="test",method="GET",route="/healthz",status="200"} 1');
  });

  it('keeps the pattern of a route whose handler threw on to the error handler', async () => {
    await request(app(registry)).put('/v1/uploads/abc/chunks/3').set('authorization', 'Bearer x').send('x').expect(409);
    expect(await value(registry, 'tessera_http_requests_total', { method: 'PUT', route: '/v1/uploads/:id/chunks/:index', status: '409' })).toBe(1);
  });

  it('labels a refusal inside a mounted router by the mount, and unknown paths as unmatched', async () => {
    const server = app(registry);
    await request(server).get('/v1/uploads/abc').expect(401);
    await request(server).get('/nothing/here').expect(404);
    await request(server).get('/another/path').expect(404);
    expect(await value(registry, 'tessera_http_requests_total', { method: 'GET', route: '/v1/uploads/*', status: '401' })).toBe(1);
    expect(await value(registry, 'tessera_http_requests_total', { method: 'GET', route: UNMATCHED_ROUTE, status: '404' })).toBe(2);
  });

  it('counts a request whose client went away before the answer was complete as 499', async () => {
    const server = app(registry).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as { port: number };
      const controller = new AbortController();
      const response = await fetch(`http://127.0.0.1:${port}/slow`, { signal: controller.signal });
      expect(response.status).toBe(200);
      controller.abort();
      const deadline = Date.now() + 2000;
      while ((await value(registry, 'tessera_http_requests_total', { route: '/slow' })) === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await value(registry, 'tessera_http_requests_total', { method: 'GET', route: '/slow', status: CLIENT_CLOSED_STATUS })).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('serves the registry as Prometheus text, with the service label and the process metrics', async () => {
    const withDefaults = createMetricsRegistry('gateway');
    const server = app(withDefaults);
    await request(server).get('/healthz').expect(200);
    const response = await request(server).get('/metrics').expect(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.text).toContain('# TYPE tessera_http_requests_total counter');
    expect(response.text).toContain('tessera_http_requests_total{method="GET",route="/healthz",status="200",service="gateway"} 1');
    expect(response.text).toMatch(/^process_cpu_user_seconds_total\{service="gateway"\} /m);
    expect(response.text).toMatch(/^nodejs_eventloop_lag_seconds\{service="gateway"\} /m);
  });
});
