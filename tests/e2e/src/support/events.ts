import { io, type Socket } from 'socket.io-client';
import type { UploadEvent, UploadView } from '@tessera/domain';

const EVENT_TYPES = ['chunk.stored', 'chunk.rejected', 'upload.progress', 'upload.completed', 'upload.failed', 'upload.aborted', 'upload.expired'] as const;

/** A socket.io client that records every upload event it is sent. */
export class EventRecorder {
  readonly events: UploadEvent[] = [];
  private waiters: { test: (e: UploadEvent) => boolean; resolve: (e: UploadEvent) => void }[] = [];

  private constructor(readonly socket: Socket) {
    for (const type of EVENT_TYPES) {
      socket.on(type, (event: UploadEvent) => {
        this.events.push(event);
        this.waiters = this.waiters.filter((w) => (w.test(event) ? (w.resolve(event), false) : true));
      });
    }
  }

  static async connect(url: string, token: string): Promise<EventRecorder> {
    const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return new EventRecorder(socket);
  }

  subscribe(uploadId: string): Promise<{ ok: boolean; upload?: UploadView; error?: { type: string } }> {
    return this.socket.timeout(5000).emitWithAck('subscribe', { uploadId });
  }

  /** Resolves with the first event (already seen or coming) that passes `test`. */
  waitFor(test: (e: UploadEvent) => boolean, timeoutMs: number): Promise<UploadEvent> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; saw ${this.events.length} events`)), timeoutMs);
      this.waiters.push({ test, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  close(): void {
    this.socket.close();
  }
}
