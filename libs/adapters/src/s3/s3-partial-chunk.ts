import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { EMPTY_SHA256, type PartialChunk, type PartialKey, type StagedBytes, type StagingKey } from '@tessera/domain';
import { ByteBuffer } from './byte-buffer';
import type { S3Bucket } from './s3-bucket';
import type { S3Keys } from './s3-keys';

/** One object holding the bytes `[offset, offset + size)` of a partial chunk. */
interface Segment {
  offset: number;
  size: number;
}

/**
 * A partial chunk on a store without append: the bytes written since the last `sync` wait in
 * memory (at most `segmentBytes`; a full buffer is written out before more is taken), and each
 * `sync` writes them as one segment object `<index>.partial/<offset>`. `stageAs` concatenates
 * the segments into the staged attempt. A partial opened empty hashes every byte on its way
 * in, so staging it never reads anything back to hash it.
 */
export class S3PartialChunk implements PartialChunk {
  private readonly pending: ByteBuffer;
  private hash: Hash | null;
  private digest: string | null = null;
  private durable: number;

  private constructor(
    private readonly bucket: S3Bucket,
    private readonly keys: S3Keys,
    private readonly key: PartialKey,
    private readonly segments: Segment[],
    segmentBytes: number,
  ) {
    this.durable = segments.reduce((sum, segment) => sum + segment.size, 0);
    this.hash = this.durable === 0 ? createHash('sha256') : null;
    this.pending = new ByteBuffer(segmentBytes);
  }

  /**
   * Lists the segments, then cuts them back to `length`: segments starting at or after it are
   * deleted, one straddling it is rewritten as its first bytes. Null (touching nothing) when
   * the segments below `length` do not hold exactly its bytes, without gap or overlap.
   */
  static async open(bucket: S3Bucket, keys: S3Keys, key: PartialKey, length: number, segmentBytes: number): Promise<S3PartialChunk | null> {
    const prefix = keys.partialOf(key);
    const found: Segment[] = [];
    const strays: string[] = [];
    for await (const page of bucket.list(prefix)) {
      for (const object of page.Contents ?? []) {
        const offset = object.Key === undefined ? null : keys.segmentOffset(prefix, object.Key);
        if (offset === null) strays.push(object.Key!);
        else found.push({ offset, size: object.Size ?? 0 });
      }
    }
    found.sort((a, b) => a.offset - b.offset);

    const kept: Segment[] = [];
    const doomed: Segment[] = [];
    let cut: Segment | null = null;
    let position = 0;
    for (const segment of found) {
      if (segment.offset >= length) {
        doomed.push(segment);
        continue;
      }
      if (segment.offset !== position) return null;
      const end = segment.offset + segment.size;
      if (end > length) {
        cut = { offset: segment.offset, size: length - segment.offset };
        kept.push(cut);
        position = length;
      } else {
        kept.push(segment);
        position = end;
      }
    }
    if (position < length) return null;

    await bucket.deleteAll([...doomed.map((segment) => keys.segment(key, segment.offset)), ...strays]);
    if (cut) {
      const segmentKey = keys.segment(key, cut.offset);
      const head = await bucket.read(segmentKey, { start: 0, end: cut.size - 1 });
      if (!head || head.length !== cut.size) throw new Error(`Segment ${segmentKey} changed while its partial chunk was being reopened.`);
      await bucket.putBuffer(segmentKey, head);
    }
    return new S3PartialChunk(bucket, keys, key, kept, segmentBytes);
  }

  get length(): number {
    return this.durable + this.pending.length;
  }

  async write(data: Buffer): Promise<void> {
    // Bytes after a stage: the running digest no longer covers them, so the next stage reads back.
    this.digest = null;
    let at = 0;
    while (at < data.length) {
      if (this.pending.full) await this.flush();
      const taken = this.pending.append(data.subarray(at));
      this.hash?.update(data.subarray(at, at + taken));
      at += taken;
    }
  }

  async sync(): Promise<void> {
    await this.flush();
  }

  async stageAs(target: StagingKey): Promise<StagedBytes> {
    const targetKey = this.keys.staged(target);
    await this.flush();
    const bytes = this.durable;
    const known = this.runningDigest();
    if (this.segments.length === 0) {
      await this.bucket.putBuffer(targetKey, Buffer.alloc(0));
      return { bytes: 0, sha256: EMPTY_SHA256 };
    }
    if (this.segments.length === 1) {
      // One segment: the store copies it, and at most a read is needed to hash it.
      const segmentKey = this.keys.segment(this.key, 0);
      const sha256 = known ?? (await this.hashSegments());
      await this.bucket.copy(segmentKey, targetKey);
      return { bytes, sha256 };
    }
    const hash = known ? null : createHash('sha256');
    try {
      await this.bucket.putReadable(targetKey, Readable.from(this.segmentBytes(hash)), bytes);
    } catch (error) {
      await this.bucket.delete(targetKey).catch(() => undefined);
      throw error;
    }
    return { bytes, sha256: known ?? hash!.digest('hex') };
  }

  async close(): Promise<void> {
    try {
      // What was written stays, as a file's bytes would.
      await this.flush();
    } finally {
      this.pending.release();
    }
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const offset = this.durable;
    await this.bucket.putBuffer(this.keys.segment(this.key, offset), this.pending.view());
    this.segments.push({ offset, size: this.pending.length });
    this.durable += this.pending.length;
    this.pending.clear();
  }

  private runningDigest(): string | null {
    if (this.hash) {
      this.digest = this.hash.digest('hex');
      this.hash = null;
    }
    return this.digest;
  }

  private async hashSegments(): Promise<string> {
    const hash = createHash('sha256');
    for await (const _piece of this.segmentBytes(hash));
    return hash.digest('hex');
  }

  /** The segments' bytes in order, each checked against its recorded size, hashed into `hash` if given. */
  private async *segmentBytes(hash: Hash | null): AsyncGenerator<Buffer> {
    for (const segment of this.segments) {
      const segmentKey = this.keys.segment(this.key, segment.offset);
      const object = await this.bucket.get(segmentKey);
      if (!object) throw new Error(`Segment ${segmentKey} of a partial chunk is gone; the chunk must be sent again.`);
      let seen = 0;
      for await (const piece of object.body) {
        const bytes = piece as Buffer;
        seen += bytes.length;
        if (seen > segment.size) break;
        hash?.update(bytes);
        yield bytes;
      }
      if (seen !== segment.size) {
        object.body.destroy();
        throw new Error(`Segment ${segmentKey} holds ${seen > segment.size ? 'more' : 'fewer'} bytes than the ${segment.size} written; the chunk must be sent again.`);
      }
    }
  }
}
