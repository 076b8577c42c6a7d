import { once } from 'node:events';
import { Agent, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { closeGracefully, createHttpServer } from './http-server';

function get(port: number, path: string, agent: Agent): Promise<IncomingMessage & { text: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(Object.assign(res, { text })));
    })
      .on('error', reject)
      .end();
  });
}

describe(closeGracefully.name, () => {
  it('stops accepting, finishes the request in flight, and closes kept-alive connections so it resolves at once', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const app = express();
    app.get('/slow', async (_req, res) => {
      await released;
      res.send('done');
    });
    app.get('/fast', (_req, res) => void res.send('ok'));
    const server = createHttpServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    // Keep-alive connections, as every HTTP/1.1 client keeps them: one idle, one busy.
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    try {
      expect((await get(port, '/fast', agent)).text).toBe('ok');
      const slow = get(port, '/slow', agent);
      await new Promise((r) => setTimeout(r, 50));

      let closed = false;
      const closing = closeGracefully(server).then(() => (closed = true));
      await expect(get(port, '/fast', new Agent())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      expect(closed).toBe(false);

      release();
      const answer = await slow;
      expect(answer.text).toBe('done');
      expect(answer.headers.connection).toBe('close');
      // Well before any keep-alive timeout: the connections were closed, not left to time out.
      let timer: NodeJS.Timeout | undefined;
      const tooLate = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('still open after 2 s')), 2000)));
      await Promise.race([closing, tooLate]).finally(() => clearTimeout(timer));
      expect(closed).toBe(true);
    } finally {
      agent.destroy();
      server.close();
    }
  });
});
