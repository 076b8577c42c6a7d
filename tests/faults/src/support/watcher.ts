import { io, type Socket } from 'socket.io-client';
import type { UploadEvent, UploadView } from '@tessera/domain';
import { sleep } from './processes';

const EVENT_TYPES = ['chunk.stored', 'chunk.rejected', 'upload.progress', 'upload.completed', 'upload.failed', 'upload.aborted', 'upload.expired'] as const;

type Ack = { ok: boolean; upload?: UploadView & { seq: number }; error?: { type: string } };

/**
 * A Socket.IO client that behaves as the README asks of one: it reconnects, subscribes
 * again to every upload it watches, and takes the ack's snapshot as the truth. It records
 * every event it is sent, so scenarios can count what a user saw.
 */
export class UploadWatcher {
  readonly events: UploadEvent[] = [];
  /** Latest snapshot per upload, from subscribe acks. */
  readonly snapshots = new Map<string, UploadView & { seq: number }>();
  /** How often the connection came back after it was lost. */
  reconnects = 0;
  /** Why each disconnection happened, as Socket.IO names it ("io server disconnect", "transport close"...). */
  readonly disconnects: string[] = [];
  private readonly watched = new Set<string>();
  private waiters: { test: (e: UploadEvent) => boolean; resolve: (e: UploadEvent) => void }[] = [];

  private constructor(private readonly socket: Socket) {
    for (const type of EVENT_TYPES) {
      socket.on(type, (event: UploadEvent) => {
        this.events.push(event);
        this.waiters = this.waiters.filter((w) => (w.test(event) ? (w.resolve(event), false) : true));
      });
    }
    socket.on('disconnect', (reason) => {
      this.disconnects.push(reason);
      // Socket.IO does not come back by itself after the server said goodbye; its docs say to reconnect.
      if (reason === 'io server disconnect') socket.connect();
    });
    // Constructed connected, so every later `connect` is a reconnection, whether Socket.IO
    // made it or the goodbye handler above did: the snapshot of each upload is read again.
    socket.on('connect', () => {
      this.reconnects++;
      for (const id of this.watched) void this.watch(id).catch(() => undefined);
    });
  }

  static async connect(url: string, token: string): Promise<UploadWatcher> {
    const socket = io(url, {
      auth: { token },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
      randomizationFactor: 0,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return new UploadWatcher(socket);
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Subscribes (retrying while the notifier cannot answer) and remembers the upload for reconnects. */
  async watch(uploadId: string, timeoutMs = 30_000): Promise<UploadView> {
    this.watched.add(uploadId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ack = await this.subscribe(uploadId).catch((error: Error) => ({ ok: false, error: { type: error.message } }) as Ack);
      if (ack.ok && ack.upload) return ack.upload;
      if (Date.now() > deadline) throw new Error(`could not subscribe to ${uploadId}: ${JSON.stringify(ack.error)}`);
      await sleep(200);
    }
  }

  of(uploadId: string): UploadEvent[] {
    return this.events.filter((e) => e.uploadId === uploadId);
  }

  /** The upload.completed events of an upload, one per distinct `seq` (a re-announcement repeats its seq). */
  completions(uploadId: string): UploadEvent[] {
    const bySeq = new Map<number, UploadEvent>();
    for (const e of this.of(uploadId)) if (e.type === 'upload.completed') bySeq.set(e.seq, e);
    return [...bySeq.values()];
  }

  /** Resolves with the first event (already seen or coming) that passes `test`. */
  waitFor(test: (e: UploadEvent) => boolean, timeoutMs: number, what = 'a matching event'): Promise<UploadEvent> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; saw ${this.events.length} events`)), timeoutMs);
      this.waiters.push({ test, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  close(): void {
    this.socket.close();
  }

  private async subscribe(uploadId: string): Promise<Ack> {
    const ack = (await this.socket.timeout(5000).emitWithAck('subscribe', { uploadId })) as Ack;
    if (ack.ok && ack.upload) this.snapshots.set(uploadId, ack.upload);
    return ack;
  }
}
