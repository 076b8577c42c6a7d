import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  BodyTimeoutError,
  ChecksumMismatchError,
  ChunkAlreadyReceivedError,
  FinalUploadNotWritableError,
  NotFoundError,
  OffsetMismatchError,
  PayloadTooLargeError,
  UploadLockedError,
  ValidationError,
} from '../shared/errors';
import { assertReceiving } from '../upload/upload.entity';
import { MAX_CHUNK_COUNT } from '../upload/upload.schemas';
import type { UploadProps } from '../upload/upload.types';
import type { BlobStore, ChunkQueue, Clock, IdGenerator, PartialChunk, TusProgress, TusRepository, UploadRepository } from '../ports';
import type { ChunkIntake } from '../use-cases/chunk-intake';
import { findVisibleUpload } from '../use-cases/visible-upload';
import { durableOffset } from './tus-status.use-case';
import { assertChecksumAlgorithm, type TusSettings } from './tus-settings';

export interface WriteTusBytesInput {
  ownerId: string;
  uploadId: string;
  /** `Upload-Offset`: where the client believes the durable bytes end. */
  offset: number;
  body: Readable;
  /** Declared body length, when the request has one. */
  contentLength?: number;
  /** `Upload-Length` sent with this request, for an upload created with a deferred length. */
  length?: number;
  /** `Upload-Checksum`, its digest decoded from base64. */
  checksum?: { algorithm: string; digest: Buffer };
  /** Called once the request is accepted, just before its body is read (HTTP answers `100 Continue` here). */
  onAccepted?: () => void;
}

export interface TusWriteResult {
  upload: UploadProps;
  /** The durable offset after the request. */
  offset: number;
}

/**
 * `PATCH /files/:id` (and the body of a creation-with-upload): appends bytes at the
 * upload's offset and cuts them into the upload's chunks. A chunk filled by this request
 * or by several is staged and queued like a native chunk as soon as it is whole; the
 * chunk being filled waits in its partial file, whose durable length is recorded at the
 * end of the request, also when the client went away mid-body. With a checksum nothing is
 * recorded or queued until the whole body has matched it. One writer per upload at a time.
 */
export class WriteTusBytes {
  constructor(
    private readonly repo: UploadRepository,
    private readonly tus: TusRepository,
    private readonly blobs: BlobStore,
    private readonly intake: ChunkIntake,
    private readonly queue: ChunkQueue,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly settings: TusSettings,
  ) {}

  async execute(input: WriteTusBytesInput): Promise<TusWriteResult> {
    assertChecksumAlgorithm(input.checksum?.algorithm);
    let upload = await findVisibleUpload(this.repo, input.ownerId, input.uploadId);
    const record = await this.tus.find(upload.id);
    if (!record) throw new NotFoundError('tus upload');
    if (record.concat === 'final') throw new FinalUploadNotWritableError();
    if (FINISHED_BYTES.includes(upload.state) && upload.size !== null) {
      // Every byte is in: the only acceptable request is an empty one at the end.
      if (input.offset !== upload.size) throw new OffsetMismatchError(upload.size, input.offset);
      if (input.contentLength !== 0) throw new PayloadTooLargeError(upload.size + (input.contentLength ?? 1), upload.size);
      return { upload, offset: input.offset };
    }
    assertReceiving(upload, this.clock.now());

    const lock = { uploadId: upload.id, token: this.ids.token() };
    if (!(await this.tus.lock({ ...lock, now: this.clock.now(), leaseMs: this.settings.lockLeaseMs }))) throw new UploadLockedError();
    const lease = this.keepLocked(lock, input.body);
    try {
      // Read again under the lock: the writer before may have fixed the length or finished the upload.
      upload = await findVisibleUpload(this.repo, input.ownerId, input.uploadId);
      assertReceiving(upload, this.clock.now());
      const progress = await this.tus.progress(upload.id);
      const offset = durableOffset(upload, progress);
      if (input.offset !== offset) throw new OffsetMismatchError(offset, input.offset);
      // A length sent with this request counts for its bytes, but is kept only if the request succeeds.
      const length = this.checkLength(upload, input.length, offset);
      const target = length === upload.size ? upload : { ...upload, size: length };
      const limit = target.size ?? deferredLimit(this.settings, upload.chunkSize);
      if (input.contentLength !== undefined && offset + input.contentLength > limit) throw new PayloadTooLargeError(offset + input.contentLength, limit);
      const checksum = input.checksum ? { ...input.checksum, hash: createHash(input.checksum.algorithm) } : null;
      const deps = { repo: this.repo, tus: this.tus, blobs: this.blobs, intake: this.intake };
      const newLength = target.size !== upload.size ? target.size : null;
      let lengthFixed = newLength === null;
      // Fixed just before the last chunk is queued: the worker must know the length when it stores that chunk.
      const fixLength = async (): Promise<void> => {
        if (lengthFixed || newLength === null) return;
        await this.fixLength(upload.id, newLength);
        lengthFixed = true;
      };
      const holding = checksum !== null || input.contentLength === undefined;
      const writer = new PatchWriter(deps, target, lock.token, this.settings, checksum, holding, progress, { assertLocked: lease.assert, beforeLastChunk: fixLength });
      input.onAccepted?.();
      const end = await writer.write(input.body, progress.partialBytes);
      await fixLength();
      return { upload: (await this.repo.findById(upload.id)) ?? upload, offset: end };
    } finally {
      lease.stop();
      await this.tus.unlock(lock).catch(() => undefined);
    }
  }

  /** The upload's length after this request: a deferred one may be fixed now, a known one cannot change. */
  private checkLength(upload: UploadProps, length: number | undefined, offset: number): number | null {
    if (length === undefined || length === upload.size) return upload.size;
    const refuse = (message: string): never => {
      throw new ValidationError(message, [{ path: 'Upload-Length', message }]);
    };
    if (upload.size !== null) refuse(`the upload's length is already ${upload.size} and cannot change.`);
    if (length < offset) refuse(`Upload-Length ${length} is below the ${offset} bytes already received.`);
    const limit = deferredLimit(this.settings, upload.chunkSize);
    if (length > limit) throw new PayloadTooLargeError(length, limit);
    return length;
  }

  private async fixLength(uploadId: string, size: number): Promise<void> {
    const sized = await this.repo.setLength({ uploadId, size, now: this.clock.now() });
    // Every chunk is already stored: the worker saw no length when it stored the last one, so finalize starts here.
    if (sized.state === 'finalizing') await this.queue.enqueueFinalize(uploadId);
  }

  /**
   * Renews the lock while the request runs, however slowly its body comes (a silent one ends
   * at the body idle timeout). Once the lock may have lapsed — renewals failing for most of
   * a lease, or another writer holding it — no further byte is written.
   */
  private keepLocked(lock: { uploadId: string; token: string }, body: Readable): { stop: () => void; assert: () => void } {
    const lease = this.settings.lockLeaseMs;
    let confirmedAt = this.clock.now().getTime();
    let lost = false;
    let stopped = false;
    const timer = setInterval(() => {
      const at = this.clock.now();
      this.tus.renew({ ...lock, now: at }).then(
        (held) => {
          // A renewal answered after the request ended (and unlocked) is no news.
          if (stopped) return;
          if (held) {
            confirmedAt = at.getTime();
          } else {
            lost = true;
            body.destroy(new UploadLockedError());
          }
        },
        () => undefined,
      );
    }, Math.max(250, Math.floor(lease / 3)));
    timer.unref();
    return {
      stop: () => {
        stopped = true;
        clearInterval(timer);
      },
      assert: () => {
        if (lost || this.clock.now().getTime() - confirmedAt > (lease * 3) / 4) throw new UploadLockedError();
      },
    };
  }
}

/** The most bytes an upload of deferred length may reach. */
function deferredLimit(settings: TusSettings, chunkSize: number): number {
  return Math.min(settings.maxUploadBytes, MAX_CHUNK_COUNT * chunkSize);
}

/** States in which every byte of the upload has arrived. */
const FINISHED_BYTES: readonly UploadProps['state'][] = ['finalizing', 'completed', 'failed'];

interface Checksum {
  algorithm: string;
  hash: Hash;
  digest: Buffer;
}

/** One request's bytes, cut at the upload's chunk boundaries. */
class PatchWriter {
  private index: number;
  private partial: PartialChunk | null = null;
  /** Whole chunks (durable, closed) waiting for the end of the body before they are queued. */
  private readonly held: { index: number; length: number }[] = [];
  private readonly open = new Set<PartialChunk>();
  /** Indices whose partial file this request created. */
  private readonly created = new Set<number>();
  private readonly chunkSize: number;

  constructor(
    private readonly deps: { repo: UploadRepository; tus: TusRepository; blobs: BlobStore; intake: ChunkIntake },
    private readonly upload: UploadProps,
    private readonly lockToken: string,
    private readonly settings: TusSettings,
    private readonly checksum: Checksum | null,
    /**
     * Whole chunks wait for the end of the body before they are queued: with a checksum, or
     * when the body's length is unknown and may run past the upload's, so that a refused
     * request leaves nothing behind.
     */
    private readonly holding: boolean,
    start: TusProgress,
    private readonly hooks: {
      /** Throws once this request may no longer hold the upload's lock. */
      assertLocked: () => void;
      /** Runs before the chunk that ends the upload is queued. */
      beforeLastChunk: () => Promise<void>;
    },
  ) {
    this.chunkSize = upload.chunkSize;
    this.index = start.nextIndex;
  }

  /** Writes the body after the durable bytes of `start`; resolves with the durable offset after it. */
  async write(body: Readable, startBytes: number): Promise<number> {
    let start = { index: this.index, bytes: startBytes };
    let failure: unknown = null;
    try {
      if (startBytes > 0) this.partial = await this.reopen(startBytes);
      // A whole chunk left unqueued by an earlier request goes first.
      if (this.partial && this.partial.length === this.room()) {
        await this.promote(this.index, this.partial);
        this.partial = null;
        this.index += 1;
        start = { index: this.index, bytes: 0 };
      }
      await this.consume(body);
      const checksum = this.checksum;
      if (checksum && !checksum.hash.digest().equals(checksum.digest)) throw new ChecksumMismatchError(checksum.algorithm);
    } catch (error) {
      failure = error;
    }
    // The lock may be another writer's now: no file is changed any more. What this request
    // wrote to its chunk is recorded only if the lock turns out to be still ours (the record
    // is taken under the lock token); whole chunks it held are left for the next request.
    if (failure instanceof UploadLockedError) {
      try {
        if (this.checksum === null && this.partial) {
          await this.partial.sync();
          await this.deps.tus.recordPartial({ uploadId: this.upload.id, token: this.lockToken, index: this.index, bytes: this.partial.length });
        }
      } finally {
        await this.closeAll();
      }
      throw failure;
    }
    // A refused request keeps nothing, and neither does one whose checksum could not be checked.
    const refused = failure instanceof ChecksumMismatchError || failure instanceof PayloadTooLargeError;
    if (failure !== null && this.holding && (refused || this.checksum !== null)) {
      await this.discard(start);
      throw failure;
    }
    try {
      const partial = this.partial;
      if (partial && partial.length > 0 && this.upload.size !== null && this.position() === this.upload.size) await this.completeChunk(partial);
      for (const { index, length } of this.held.splice(0)) {
        const whole = await this.deps.blobs.openPartial({ uploadId: this.upload.id, index }, length);
        if (!whole) throw new Error(`The partial file of chunk ${index} of upload ${this.upload.id} lost bytes while the request ran.`);
        this.open.add(whole);
        await this.promote(index, whole);
      }
      // Recorded even when no chunk is being filled, so a record of a chunk promoted since never counts again.
      await this.partial?.sync();
      this.hooks.assertLocked();
      const recorded = await this.deps.tus.recordPartial({ uploadId: this.upload.id, token: this.lockToken, index: this.index, bytes: this.partial?.length ?? 0 });
      if (!recorded) throw new UploadLockedError();
    } finally {
      await this.closeAll();
    }
    if (failure !== null) throw failure;
    return this.position();
  }

  /** Puts the staging area back as the request found it: new partial files go, the one it appended to is cut back. */
  private async discard(start: { index: number; bytes: number }): Promise<void> {
    await this.closeAll();
    const uploadId = this.upload.id;
    await Promise.allSettled([...this.created].map((index) => this.deps.blobs.deletePartial({ uploadId, index })));
    if (start.bytes > 0) await (await this.deps.blobs.openPartial({ uploadId, index: start.index }, start.bytes))?.close();
  }

  private async closeAll(): Promise<void> {
    await Promise.allSettled([...this.open].map((partial) => partial.close()));
    this.open.clear();
  }

  private async consume(body: Readable): Promise<void> {
    const idle = this.settings.bodyIdleTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (idle === undefined) return;
      clearTimeout(timer);
      timer = setTimeout(() => body.destroy(new BodyTimeoutError(idle, this.checksum === null)), idle);
    };
    arm();
    try {
      // Not destroyed when a refusal ends the loop early: the caller may still answer on its connection.
      for await (const data of body.iterator({ destroyOnReturn: false })) {
        arm();
        await this.append(data as Buffer);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async append(data: Buffer): Promise<void> {
    this.hooks.assertLocked();
    this.checksum?.hash.update(data);
    let at = 0;
    while (at < data.length) {
      const room = this.room() - (this.partial?.length ?? 0);
      if (room <= 0) throw new PayloadTooLargeError(this.position() + data.length - at, this.limit());
      const partial = this.partial ?? (this.partial = await this.create());
      const take = Math.min(room, data.length - at);
      await partial.write(data.subarray(at, at + take));
      at += take;
      if (partial.length === this.room()) await this.completeChunk(partial);
    }
  }

  /**
   * The chunk being filled is whole: queue it now, or hold it (durable, its handle and
   * buffers released) until the request has been accepted whole.
   */
  private async completeChunk(partial: PartialChunk): Promise<void> {
    // Until it is queued it stays the chunk being filled, so a failure records it whole and the next request queues it.
    if (this.holding) {
      await partial.sync();
      this.open.delete(partial);
      await partial.close();
      this.held.push({ index: this.index, length: partial.length });
    } else {
      await this.promote(this.index, partial);
    }
    this.partial = null;
    this.index += 1;
  }

  /** Bytes chunk `index` holds when whole: a full chunk, the rest of a known length, or nothing past a limit. */
  private room(): number {
    const start = this.index * this.chunkSize;
    const size = this.upload.size;
    if (size !== null) return Math.max(0, Math.min(this.chunkSize, size - start));
    if (this.index >= MAX_CHUNK_COUNT) return 0;
    return Math.max(0, Math.min(this.chunkSize, this.settings.maxUploadBytes - start));
  }

  private limit(): number {
    return this.upload.size ?? deferredLimit(this.settings, this.chunkSize);
  }

  private position(): number {
    const position = this.index * this.chunkSize + (this.partial?.length ?? 0);
    return this.upload.size === null ? position : Math.min(position, this.upload.size);
  }

  private async create(): Promise<PartialChunk> {
    const partial = await this.deps.blobs.openPartial({ uploadId: this.upload.id, index: this.index }, 0);
    if (!partial) throw new Error(`The blob store could not create the partial file of chunk ${this.index} of upload ${this.upload.id}.`);
    this.open.add(partial);
    this.created.add(this.index);
    return partial;
  }

  private async reopen(length: number): Promise<PartialChunk> {
    const partial = await this.deps.blobs.openPartial({ uploadId: this.upload.id, index: this.index }, length);
    if (partial) {
      this.open.add(partial);
      return partial;
    }
    // The recorded bytes are gone (the staging area lost them): the chunk starts again.
    await this.deps.tus.recordPartial({ uploadId: this.upload.id, token: this.lockToken, index: this.index, bytes: 0 });
    throw new OffsetMismatchError(this.index * this.chunkSize, this.index * this.chunkSize + length);
  }

  /** Queues a whole chunk through the ordinary intake; its partial file goes once it is received. */
  private async promote(index: number, partial: PartialChunk): Promise<void> {
    this.hooks.assertLocked();
    await partial.sync();
    if (this.upload.size !== null && index * this.chunkSize + partial.length === this.upload.size) await this.hooks.beforeLastChunk();
    try {
      await this.deps.intake.receiveStaged(this.upload.id, index, (key) => partial.stageAs(key), { takeOverClaims: true });
    } catch (error) {
      if (!(error instanceof ChunkAlreadyReceivedError)) throw error;
      const chunk = await this.deps.repo.findChunk(this.upload.id, index);
      if (chunk?.state !== 'received' && chunk?.state !== 'stored') {
        // Another request holds this index: keep the bytes (recorded as a whole partial) and let the client come back.
        await this.deps.tus.recordPartial({ uploadId: this.upload.id, token: this.lockToken, index, bytes: partial.length });
        throw new UploadLockedError();
      }
      // Received already: a promotion cut short by a crash, repeated.
    }
    this.open.delete(partial);
    await partial.close();
    await this.deps.blobs.deletePartial({ uploadId: this.upload.id, index });
  }
}
