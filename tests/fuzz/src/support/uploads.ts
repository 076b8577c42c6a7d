import { createHash, randomBytes } from 'node:crypto';
import type { Answer, HttpClient } from './http-client';

export const KiB = 1024;
/** The smallest chunk size the API takes: keeps the fixtures' bodies small. */
export const CHUNK = 64 * KiB;

export interface UploadView {
  id: string;
  filename: string;
  size: number | null;
  chunkSize: number;
  chunkCount: number | null;
  state: string;
  bytesReceived: number;
  chunksStored: number;
  missing: number[];
  sha256?: string;
}

export interface RealUpload {
  id: string;
  owner: string;
  data: Buffer;
  chunkSize: number;
  chunkCount: number;
  /** Exact length of chunk `index`. */
  lengthOf(index: number): number;
}

export const digestOf = (data: Buffer): string => `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;

/** A well-behaved client of one owner, for setting up and checking real uploads. */
export class Owner {
  constructor(
    readonly name: string,
    readonly token: string,
    private readonly http: HttpClient,
  ) {}

  get auth(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  request(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Answer> {
    return this.http.send({ method, path, headers: { ...this.auth, ...headers }, ...(body !== undefined ? { body } : {}) });
  }

  async create(size: number, chunkSize = CHUNK): Promise<RealUpload> {
    const data = randomBytes(size);
    // The declared SHA-256 makes `completed` mean "the stored bytes are exactly these".
    const sha256 = createHash('sha256').update(data).digest('hex');
    const answer = await this.request('POST', '/v1/uploads', { 'content-type': 'application/json' }, JSON.stringify({ filename: 'fixture.bin', size, chunkSize, sha256 }));
    if (answer.status !== 201) throw new Error(`could not create a fixture upload: ${answer.status} ${answer.text}`);
    const view = JSON.parse(answer.text) as UploadView;
    const chunkCount = view.chunkCount ?? 0;
    return {
      id: view.id,
      owner: this.name,
      data,
      chunkSize,
      chunkCount,
      lengthOf: (index) => (index < chunkCount - 1 ? chunkSize : size - chunkSize * (chunkCount - 1)),
    };
  }

  chunkOf(upload: RealUpload, index: number): Buffer {
    return upload.data.subarray(index * upload.chunkSize, index * upload.chunkSize + upload.lengthOf(index));
  }

  async sendChunk(upload: RealUpload, index: number): Promise<void> {
    const chunk = this.chunkOf(upload, index);
    const answer = await this.request('PUT', `/v1/uploads/${upload.id}/chunks/${index}`, { 'content-digest': digestOf(chunk) }, chunk);
    if (answer.status !== 202) throw new Error(`chunk ${index} of ${upload.id} was refused: ${answer.status} ${answer.text}`);
  }

  async view(id: string): Promise<UploadView> {
    const answer = await this.request('GET', `/v1/uploads/${id}`);
    if (answer.status !== 200) throw new Error(`GET /v1/uploads/${id}: ${answer.status} ${answer.text}`);
    return JSON.parse(answer.text) as UploadView;
  }

  /** Polls the upload until `test` holds: the worker settles chunks after the 202. */
  async waitFor(id: string, test: (view: UploadView) => boolean, timeoutMs = 30_000): Promise<UploadView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.view(id);
      if (test(view)) return view;
      if (Date.now() > deadline) throw new Error(`upload ${id} never reached the expected state; last seen ${JSON.stringify(view)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async remove(id: string): Promise<void> {
    const answer = await this.request('DELETE', `/v1/uploads/${id}`);
    if (answer.status !== 204) throw new Error(`DELETE /v1/uploads/${id}: ${answer.status} ${answer.text}`);
  }
}

/** Real uploads of one owner in every state a chunk request can meet, plus a stranger's. */
export interface Fixtures {
  /** Two chunks, nothing sent yet. */
  pending: RealUpload;
  /** Two chunks, chunk 0 stored by the worker, chunk 1 free. */
  receiving: RealUpload;
  /** One small chunk, stored and verified. */
  completed: RealUpload;
  /** Deleted by its owner. */
  aborted: RealUpload;
  /** Another owner's, in the receiving state: invisible to the owner under test. */
  strangers: RealUpload;
}

export async function createFixtures(owner: Owner, stranger: Owner): Promise<Fixtures> {
  const pending = await owner.create(CHUNK + 1000);
  const receiving = await owner.create(CHUNK + 1000);
  await owner.sendChunk(receiving, 0);
  const completed = await owner.create(1000);
  await owner.sendChunk(completed, 0);
  const aborted = await owner.create(CHUNK + 1000);
  await owner.remove(aborted.id);
  const strangers = await stranger.create(CHUNK + 1000);
  await stranger.sendChunk(strangers, 0);
  await owner.waitFor(receiving.id, (v) => v.chunksStored === 1);
  await owner.waitFor(completed.id, (v) => v.state === 'completed');
  await stranger.waitFor(strangers.id, (v) => v.chunksStored === 1);
  return { pending, receiving, completed, aborted, strangers };
}
