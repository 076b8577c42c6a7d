// The machine's ceiling: a bare Node http server that, for a PUT, writes the body to a
// file while SHA-256-hashing it, fsyncs the file and answers 201. Nothing else.
// Usage: node ceiling.mjs <port> <dir>   (prints "ready <port>" once listening)
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { createWriteStream, mkdirSync } from 'node:fs';
import { close, fsync } from 'node:fs';
import { join } from 'node:path';

const port = Number(process.argv[2] ?? 0);
const dir = process.argv[3];
mkdirSync(dir, { recursive: true });
let counter = 0;

const server = createServer((req, res) => {
  if (req.method !== 'PUT') {
    res.writeHead(req.url === '/healthz' ? 200 : 405).end();
    return;
  }
  const hash = createHash('sha256');
  const out = createWriteStream(join(dir, `${process.pid}-${++counter}`), { highWaterMark: 1024 * 1024, autoClose: false });
  let size = 0;
  req.on('data', (buf) => {
    hash.update(buf);
    size += buf.length;
    if (!out.write(buf)) {
      req.pause();
      out.once('drain', () => req.resume());
    }
  });
  req.on('end', () => {
    out.end();
  });
  req.on('error', () => out.destroy());
  out.on('finish', () => {
    fsync(out.fd, (err) => {
      const sha256 = hash.digest('hex');
      close(out.fd, () => {});
      if (err) return res.writeHead(500).end();
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ size, sha256 }));
    });
  });
});
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
