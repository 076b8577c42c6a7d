import { TesseraError, type TesseraClient, type UploadTask, type UploadView } from '@tessera/client';
import { h, ProgressBar, uid } from './dom';
import { formatBytes, formatDuration, formatSpeed, percentOf, SpeedMeter } from './format';
import { fingerprint, type ResumeStore } from './resume-store';

/** What a row shows; also its `data-state`, which tests and styles read. */
export type TransferState = 'queued' | 'checking' | 'uploading' | 'paused' | 'finishing' | 'completed' | 'failed' | 'canceled';

const STATE_TEXT: Record<TransferState, string> = {
  queued: 'Waiting',
  checking: 'Starting…',
  uploading: 'Uploading',
  paused: 'Paused',
  finishing: 'Verifying…',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
};

/** States that take one of the page's upload slots. */
const BUSY: ReadonlySet<TransferState> = new Set(['checking', 'uploading', 'finishing']);
const OVER: ReadonlySet<TransferState> = new Set(['completed', 'failed', 'canceled']);

export interface TransferContext {
  client: TesseraClient;
  resumables: ResumeStore;
  /** Says something in the page's live region. */
  announce(message: string): void;
  /** Called on every state change (the page starts queued files and refreshes its list). */
  changed(transfer: Transfer): void;
}

/** Why a chunk request failed, in a few words. */
function reasonOf(error: TesseraError): string {
  if (error.status === 0) return 'network error';
  return `HTTP ${error.status}${error.type && !error.type.startsWith('http-') ? ` ${error.type}` : ''}`;
}

/** Bytes the server already has of `upload`: everything but its missing chunks. */
function bytesAlreadySent(upload: UploadView): number {
  const size = upload.size ?? 0;
  let missing = 0;
  for (const index of upload.missing) missing += Math.max(0, Math.min(upload.chunkSize, size - index * upload.chunkSize));
  return size - missing;
}

/**
 * One file on the page: its row (two progress bars, speed, time left, buttons, notices)
 * and the client's UploadTask behind it. The file's fingerprint is remembered with its
 * upload id until the upload completes, so the same file chosen again after a reload
 * resumes instead of starting over.
 */
export class Transfer {
  readonly element: HTMLLIElement;
  readonly key: string;
  state: TransferState = 'queued';
  uploadId: string | null = null;

  private task: UploadTask | null = null;
  private size: number;
  private chunkCount = 0;
  private bytesSent = 0;
  private bytesStored = 0;
  private readonly meter = new SpeedMeter();
  private readonly retries = new Map<number, { count: number; reason: string }>();

  private readonly sent = new ProgressBar('', 'bar-sent');
  private readonly stored = new ProgressBar('', 'bar-stored');
  private readonly stateText: HTMLSpanElement;
  private readonly stats: HTMLParagraphElement;
  private readonly notice: HTMLParagraphElement;
  private readonly meta: HTMLParagraphElement;
  private readonly pauseButton: HTMLButtonElement;
  private readonly resumeButton: HTMLButtonElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly retryButton: HTMLButtonElement;

  constructor(
    readonly file: File,
    private readonly context: TransferContext,
  ) {
    this.key = fingerprint(file);
    this.size = file.size;
    const nameId = uid('file');
    const name = file.name;
    this.sent.element.setAttribute('aria-label', `Sent: ${name}`);
    this.stored.element.setAttribute('aria-label', `Stored and verified: ${name}`);
    this.stateText = h('span', { class: 'state' }, STATE_TEXT.queued);
    this.stats = h('p', { class: 'stats' });
    this.notice = h('p', { class: 'notice', hidden: true });
    this.meta = h('p', { class: 'meta', hidden: true });
    this.pauseButton = h('button', { type: 'button', class: 'pause', 'aria-label': `Pause ${name}` }, 'Pause');
    this.resumeButton = h('button', { type: 'button', class: 'resume', 'aria-label': `Resume ${name}`, hidden: true }, 'Resume');
    this.cancelButton = h('button', { type: 'button', class: 'cancel danger', 'aria-label': `Cancel ${name}` }, 'Cancel');
    this.retryButton = h('button', { type: 'button', class: 'retry', 'aria-label': `Try ${name} again`, hidden: true }, 'Try again');
    this.pauseButton.addEventListener('click', () => this.pause());
    this.resumeButton.addEventListener('click', () => this.resume());
    this.cancelButton.addEventListener('click', () => void this.cancel());
    this.retryButton.addEventListener('click', () => this.retry());

    const barRow = (label: string, bar: ProgressBar) =>
      h('div', { class: 'bar-row' }, h('span', { class: 'bar-label', 'aria-hidden': 'true' }, label), bar.element, bar.percentText);
    this.element = h(
      'li',
      { class: 'transfer', 'data-state': 'queued', 'aria-labelledby': nameId, tabindex: '-1' },
      h('div', { class: 'transfer-head' }, h('span', { class: 'name', id: nameId }, name), h('span', { class: 'size' }, formatBytes(file.size)), this.stateText),
      h('div', { class: 'bars' }, barRow('Sent', this.sent), barRow('Stored & verified', this.stored)),
      this.stats,
      this.notice,
      this.meta,
      h('div', { class: 'actions' }, this.pauseButton, this.resumeButton, this.retryButton, this.cancelButton),
    );
    this.render();
  }

  /** True once the row left `checking` (Cancel was pressed) while the server was being asked. */
  private canceledMeanwhile(): boolean {
    return this.state !== 'checking';
  }

  get busy(): boolean {
    return BUSY.has(this.state);
  }

  get over(): boolean {
    return OVER.has(this.state);
  }

  /** Starts (or, for a file seen before, resumes) the upload. */
  async start(): Promise<void> {
    if (this.state !== 'queued') return;
    this.setState('checking');
    const saved = this.context.resumables.get(this.file);
    let resumeId: string | undefined;
    if (saved) {
      try {
        const upload = await this.context.client.get(saved.uploadId);
        if (upload.size !== this.file.size) {
          this.context.resumables.remove(this.file);
        } else if (upload.state === 'completed') {
          // Finished while the page was away: nothing left to send.
          this.context.resumables.remove(this.file);
          this.showUploadId(upload.id, 'already uploaded');
          this.finish(upload);
          return;
        } else if (upload.state === 'pending' || upload.state === 'receiving' || upload.state === 'finalizing') {
          resumeId = upload.id;
        } else {
          this.context.resumables.remove(this.file);
        }
      } catch (error) {
        if (this.canceledMeanwhile()) return;
        if (error instanceof TesseraError && (error.status === 404 || error.status === 400)) {
          this.context.resumables.remove(this.file); // gone, or another owner's: start afresh
        } else {
          this.failWith(error);
          return;
        }
      }
      if (this.canceledMeanwhile()) return;
    }
    this.begin(resumeId);
  }

  pause(): void {
    if (!this.task || this.state !== 'uploading') return;
    this.task.pause();
  }

  resume(): void {
    if (!this.task || this.state !== 'paused') return;
    this.task.resume();
  }

  async cancel(): Promise<void> {
    if (this.over && this.state !== 'failed') return;
    this.cancelButton.disabled = true;
    try {
      if (this.task && this.task.state !== 'failed') await this.task.cancel();
      else if (this.uploadId) await this.context.client.delete(this.uploadId).catch(() => undefined);
    } finally {
      this.context.resumables.remove(this.file);
      this.setState('canceled');
      this.stats.textContent = `Canceled after ${formatBytes(this.bytesSent)} of ${formatBytes(this.size)}; the server deleted what it had.`;
      this.context.announce(`${this.file.name}: canceled.`);
    }
  }

  private retry(): void {
    if (this.state !== 'failed') return;
    this.notice.hidden = true;
    this.retries.clear();
    if (this.task) {
      this.begin(this.uploadId ?? undefined);
    } else {
      // It failed before any upload existed (checking a remembered one): check again.
      this.setState('queued');
      void this.start();
    }
  }

  private begin(uploadId: string | undefined): void {
    const task = this.context.client.upload(this.file, uploadId ? { uploadId } : {});
    this.task = task;
    this.setState('uploading');
    task.on('created', (upload) => {
      this.chunkCount = upload.chunkCount ?? 0;
      this.size = upload.size ?? this.file.size;
      this.uploadId = upload.id;
      this.element.dataset.uploadId = upload.id;
      if (uploadId) {
        const already = bytesAlreadySent(upload);
        this.element.dataset.resumed = 'true';
        this.element.dataset.resumedFrom = String(already);
        this.showUploadId(upload.id, `resumed: ${formatBytes(already)} were already on the server`);
        this.context.announce(`${this.file.name}: resuming, ${formatBytes(already)} of ${formatBytes(this.size)} already uploaded.`);
        this.setSent(already);
      } else {
        this.showUploadId(upload.id, null);
        this.context.announce(`${this.file.name}: uploading.`);
      }
      this.context.resumables.put(this.file, upload.id, upload.expiresAt ?? null);
      this.meter.reset(this.bytesSent);
      this.context.changed(this);
    });
    task.on('sent', ({ bytesSent, index }) => {
      this.setSent(bytesSent);
      this.meter.add(bytesSent);
      const retried = this.retries.get(index);
      if (retried) this.showNotice(`Chunk ${index + 1} failed (${retried.reason}) and was sent again: ${retried.count} ${retried.count === 1 ? 'retry' : 'retries'}.`);
      if (bytesSent >= this.size && this.state === 'uploading') this.setState('finishing');
      this.render();
    });
    task.on('stored', ({ bytesStored, percent }) => {
      this.bytesStored = bytesStored;
      // A chunk the server stored was sent, even if its answer was lost to a pause.
      if (bytesStored > this.bytesSent) this.setSent(bytesStored);
      this.stored.set(Math.min(percent, percentOf(bytesStored, this.size)), `${formatBytes(bytesStored)} of ${formatBytes(this.size)}`);
      this.element.dataset.bytesStored = String(bytesStored);
    });
    task.on('retry', ({ index, attempt, delayMs, error }) => {
      const reason = reasonOf(error);
      this.retries.set(index, { count: attempt, reason });
      const total = [...this.retries.values()].reduce((sum, r) => sum + r.count, 0);
      this.element.dataset.retries = String(total);
      this.showNotice(`Chunk ${index + 1}${this.chunkCount ? ` of ${this.chunkCount}` : ''} failed (${reason}); retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1}).`);
      if (attempt === 1) this.context.announce(`${this.file.name}: a chunk failed (${reason}) and is being retried.`);
    });
    task.on('paused', () => {
      this.setState('paused');
      this.context.announce(`${this.file.name}: paused at ${percentOf(this.bytesSent, this.size)} %.`);
    });
    task.on('resumed', () => {
      this.meter.reset(this.bytesSent);
      this.setState(this.bytesSent >= this.size ? 'finishing' : 'uploading');
      this.context.announce(`${this.file.name}: resumed.`);
    });
    task.on('completed', (upload) => this.finish(upload));
    task.on('error', (error) => this.failWith(error));
  }

  private finish(upload: UploadView): void {
    this.context.resumables.remove(this.file);
    this.size = upload.size ?? this.size;
    this.setSent(this.size);
    this.stored.set(100, `${formatBytes(this.size)} of ${formatBytes(this.size)}`);
    this.element.dataset.sha256 = upload.sha256 ?? '';
    this.setState('completed');
    const sha = h('code', { class: 'sha' }, upload.sha256 ?? '');
    this.stats.replaceChildren(`${formatBytes(this.size)} stored, SHA-256 `, sha);
    this.context.announce(`${this.file.name}: completed and verified.`);
  }

  private failWith(error: unknown): void {
    const detail = error instanceof TesseraError ? error.detail : (error as Error)?.message ?? String(error);
    // The server gave up on the upload itself: there is nothing left to resume.
    const final = error instanceof TesseraError && (error.type === 'upload-failed' || error.type === 'source-mismatch' || error.status === 404);
    if (final) this.context.resumables.remove(this.file);
    this.setState('failed', final ? { noRetry: true } : {});
    this.showNotice(`Failed: ${detail}`, true);
    this.context.announce(`${this.file.name}: failed. ${detail}`);
  }

  private showUploadId(id: string, note: string | null): void {
    this.meta.replaceChildren('Upload ', h('code', { class: 'upload-id' }, id), note ? ` (${note})` : '');
    this.meta.hidden = false;
  }

  private showNotice(text: string, error = false): void {
    this.notice.textContent = text;
    this.notice.classList.toggle('error', error);
    this.notice.hidden = false;
  }

  private setSent(bytes: number): void {
    this.bytesSent = Math.max(bytes, this.bytesStored);
    this.sent.set(percentOf(bytes, this.size), `${formatBytes(bytes)} of ${formatBytes(this.size)}`);
    this.element.dataset.bytesSent = String(bytes);
  }

  private setState(state: TransferState, options: { noRetry?: boolean } = {}): void {
    if (this.state === state) return;
    const focused = this.element.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
    this.state = state;
    this.element.dataset.state = state;
    this.stateText.textContent = STATE_TEXT[state];
    this.pauseButton.hidden = state === 'paused' || this.over;
    this.pauseButton.disabled = state !== 'uploading';
    this.resumeButton.hidden = state !== 'paused';
    this.cancelButton.hidden = state === 'completed' || state === 'canceled';
    this.cancelButton.disabled = false;
    this.retryButton.hidden = state !== 'failed' || options.noRetry === true;
    // The button that had keyboard focus may be gone (Pause turns into Resume): focus the
    // row's next action, or the row itself, rather than dropping focus to the page.
    if (focused && (focused.hidden || (focused as HTMLButtonElement).disabled)) {
      const next = [this.resumeButton, this.pauseButton, this.retryButton, this.cancelButton].find((b) => !b.hidden && !b.disabled);
      (next ?? this.element).focus();
    }
    this.render();
    this.context.changed(this);
  }

  /** Speed, time left and bytes: called on each acknowledged chunk and once a second by the page. */
  render(): void {
    if (this.over) return;
    const bytes = `${formatBytes(this.bytesSent)} of ${formatBytes(this.size)}`;
    if (this.state === 'uploading') {
      const speed = this.meter.speed();
      const left = speed && speed > 0 ? formatDuration((this.size - this.bytesSent) / speed) : '—';
      this.stats.textContent = `${bytes} · ${speed === null ? 'measuring speed…' : formatSpeed(speed)} · ${left === '—' ? 'time left unknown' : `${left} left`}`;
    } else if (this.state === 'finishing') {
      this.stats.textContent = `${bytes} sent · waiting for the server to store and verify the last chunks`;
    } else if (this.state === 'paused') {
      this.stats.textContent = `${bytes} · paused`;
    } else {
      this.stats.textContent = this.state === 'queued' ? `${formatBytes(this.size)} · waiting for a free slot` : bytes;
    }
  }
}
