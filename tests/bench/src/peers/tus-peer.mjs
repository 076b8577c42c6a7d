// The peer: @tus/server 2.x with @tus/file-store, on its own port and temp folder.
// Usage: node tus-peer.mjs <port> <dir>   (prints "ready <port>" once listening)
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const port = Number(process.argv[2] ?? 0);
const dir = process.argv[3];
mkdirSync(dir, { recursive: true });

const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
const server = createServer((req, res) => {
  if (req.url === '/healthz') return void res.writeHead(200).end();
  tus.handle(req, res);
});
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
