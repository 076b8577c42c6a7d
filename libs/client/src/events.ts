import { io, type Socket } from 'socket.io-client';
import type { UploadEvent, UploadView } from './types';

const EVENT_TYPES: UploadEvent['type'][] = ['chunk.stored', 'chunk.rejected', 'upload.progress', 'upload.completed', 'upload.failed', 'upload.aborted', 'upload.expired'];

export type Watcher = (update: { event?: UploadEvent; snapshot?: UploadView }) => void;

/**
 * One Socket.IO connection to the notifier for every watched upload. Events older than the
 * highest `seq` seen are dropped; after a reconnect each upload is subscribed again and its
 * snapshot replaces whatever was missed.
 */
export class ProgressSocket {
  private socket: Socket | null = null;
  private readonly watchers = new Map<string, { watcher: Watcher; seq: number }>();

  constructor(
    private readonly url: string,
    private readonly token: () => Promise<string>,
  ) {}

  async watch(uploadId: string, watcher: Watcher): Promise<void> {
    this.watchers.set(uploadId, { watcher, seq: -1 });
    const socket = this.connect();
    if (socket.connected) await this.subscribe(uploadId);
  }

  unwatch(uploadId: string): void {
    this.watchers.delete(uploadId);
    this.socket?.emit('unsubscribe', { uploadId });
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }

  private connect(): Socket {
    if (this.socket) return this.socket;
    const socket = io(this.url, {
      auth: (callback) => void this.token().then((token) => callback({ token }), () => callback({})),
      transports: ['websocket'],
    });
    socket.on('connect', () => {
      for (const uploadId of this.watchers.keys()) void this.subscribe(uploadId);
    });
    for (const type of EVENT_TYPES) {
      socket.on(type, (event: UploadEvent) => {
        const entry = this.watchers.get(event.uploadId);
        if (!entry || event.seq <= entry.seq) return;
        entry.seq = event.seq;
        entry.watcher({ event: { ...event, type } });
      });
    }
    this.socket = socket;
    return socket;
  }

  private async subscribe(uploadId: string): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    try {
      const ack = (await socket.timeout(10_000).emitWithAck('subscribe', { uploadId })) as { ok: boolean; upload?: UploadView };
      const entry = this.watchers.get(uploadId);
      if (!ack.ok || !ack.upload || !entry || ack.upload.seq < entry.seq) return;
      entry.seq = ack.upload.seq;
      entry.watcher({ snapshot: ack.upload });
    } catch {
      // No ack (disconnected meanwhile): the next 'connect' subscribes again; uploads also poll.
    }
  }
}
