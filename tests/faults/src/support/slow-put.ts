import { request, type ClientRequest } from 'node:http';
import { contentDigest } from './test-file';

export type SlowOutcome = { answered: true; status: number; body: string } | { answered: false; error: string };

/**
 * A chunk PUT whose body the test sends piece by piece, so a fault can strike while the
 * gateway is in the middle of reading it. The outcome never rejects: a request cut by the
 * fault resolves with `answered: false`.
 */
export class SlowPut {
  readonly outcome: Promise<SlowOutcome>;
  private readonly req: ClientRequest;

  constructor(baseUrl: string, token: string, uploadId: string, index: number, bytes: Buffer) {
    this.req = request(`${baseUrl}/v1/uploads/${uploadId}/chunks/${index}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/octet-stream',
        'content-length': String(bytes.length),
        'content-digest': contentDigest(bytes),
      },
    });
    this.outcome = new Promise((resolve) => {
      this.req.once('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.once('end', () => resolve({ answered: true, status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
        res.once('error', (error) => resolve({ answered: false, error: error.message }));
      });
      this.req.once('error', (error) => resolve({ answered: false, error: (error as NodeJS.ErrnoException).code ?? error.message }));
    });
  }

  write(piece: Buffer): void {
    this.req.write(piece);
  }

  end(piece?: Buffer): void {
    this.req.end(piece);
  }

  destroy(): void {
    this.req.destroy();
  }
}
