import { createHash, randomBytes } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export const sha256Hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** RFC 9530 `Content-Digest` of `bytes`. */
export const contentDigest = (bytes: Buffer) => `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;

/** Random bytes made at run time, cut into the chunks a client sends. */
export class TestFile {
  readonly sha256: string;

  constructor(
    readonly name: string,
    readonly data: Buffer,
    readonly chunkSize: number,
  ) {
    this.sha256 = sha256Hex(data);
  }

  static random(name: string, size: number, chunkSize: number): TestFile {
    return new TestFile(name, randomBytes(size), chunkSize);
  }

  get chunkCount(): number {
    return Math.ceil(this.data.length / this.chunkSize);
  }

  chunk(index: number): Buffer {
    return this.data.subarray(index * this.chunkSize, Math.min(this.data.length, (index + 1) * this.chunkSize));
  }

  /** Every index, shuffled: clients send in any order. */
  shuffledIndices(): number[] {
    const indices = [...Array(this.chunkCount).keys()];
    for (let i = indices.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [indices[i], indices[j]] = [indices[j]!, indices[i]!];
    }
    return indices;
  }
}

/** Runs `work` over `items` with at most `limit` in flight; the first failure is thrown once all have settled. */
export async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        await work(item).catch((error: unknown) => failures.push(error));
      }
    }),
  );
  if (failures.length > 0) throw failures[0];
}

