import { TesseraError, type TesseraClient, type UploadView } from '@tessera/client';
import { byId, h } from './dom';
import { formatBytes, formatDate } from './format';

/** Above this, a download is not hashed in the browser (it would have to be held in memory twice). */
const VERIFY_LIMIT_BYTES = 512 * 1024 * 1024;
const PAGE_SIZE = 20;

/** Hands `blob` to the browser as a file download. */
function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * "Your uploads": the owner's uploads, newest first (GET /v1/uploads, a page at a time),
 * with state, size, SHA-256 and a download link. Downloads need the bearer token, so the
 * link's click fetches the content with it, checks its SHA-256 and saves it from a blob URL.
 */
export class UploadsList {
  private readonly body = byId<HTMLTableSectionElement>('uploads-body');
  private readonly empty = byId<HTMLParagraphElement>('uploads-empty');
  private readonly more = byId<HTMLButtonElement>('more-button');
  private readonly refreshButton = byId<HTMLButtonElement>('refresh-button');
  private cursor: string | null = null;
  private loading: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly client: TesseraClient,
    private readonly announce: (message: string) => void,
  ) {
    this.refreshButton.addEventListener('click', () => void this.refresh(true));
    this.more.addEventListener('click', () => void this.loadMore());
  }

  /** Reloads the first page; calls made while one runs are folded into one more reload. */
  async refresh(announce = false): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        try {
          const page = await this.client.list({ limit: PAGE_SIZE });
          this.body.replaceChildren(...page.items.map((upload) => this.row(upload)));
          this.cursor = page.nextCursor;
          this.show();
          if (announce) this.announce(`Your uploads: ${page.items.length}${page.nextCursor ? ' shown, more available' : ''}.`);
        } catch (error) {
          this.announce(`Could not load your uploads: ${(error as Error).message}`);
        }
      } while (this.again);
    })().finally(() => (this.loading = null));
    return this.loading;
  }

  private async loadMore(): Promise<void> {
    if (!this.cursor) return;
    this.more.disabled = true;
    try {
      const page = await this.client.list({ limit: PAGE_SIZE, cursor: this.cursor });
      const rows = page.items.map((upload) => this.row(upload));
      this.body.append(...rows);
      this.cursor = page.nextCursor;
      this.announce(`${page.items.length} more uploads shown.`);
    } catch (error) {
      this.announce(`Could not load more uploads: ${(error as Error).message}`);
    } finally {
      this.more.disabled = false;
      this.show();
    }
  }

  private show(): void {
    this.empty.hidden = this.body.children.length > 0;
    this.more.hidden = this.cursor === null;
  }

  private row(upload: UploadView): HTMLTableRowElement {
    const sha = upload.sha256 ?? null;
    const download = upload.state === 'completed' ? this.downloadLink(upload) : '';
    return h(
      'tr',
      { 'data-upload-id': upload.id, 'data-state': upload.state },
      h('td', { class: 'name' }, upload.filename),
      h('td', {}, h('span', { class: `badge badge-${upload.state}` }, upload.state)),
      h('td', { class: 'num', 'data-size': String(upload.size ?? '') }, upload.size === null ? '—' : formatBytes(upload.size)),
      h('td', { class: 'sha-cell' }, sha ? h('code', { class: 'sha', title: sha }, sha) : h('span', { class: 'muted' }, upload.state === 'completed' ? '—' : 'when complete')),
      h('td', {}, h('time', { datetime: upload.createdAt }, formatDate(upload.createdAt))),
      h('td', {}, download),
    );
  }

  private downloadLink(upload: UploadView): HTMLAnchorElement {
    // A real link (the content URL), so it is announced and focusable as one; the click adds the token.
    const link = h(
      'a',
      { class: 'download', href: `/v1/uploads/${encodeURIComponent(upload.id)}/content`, download: upload.filename, 'aria-label': `Download ${upload.filename}` },
      'Download',
    );
    link.addEventListener('click', (event) => {
      event.preventDefault();
      if (link.getAttribute('aria-busy') === 'true') return;
      void this.download(upload, link);
    });
    return link;
  }

  private async download(upload: UploadView, link: HTMLAnchorElement): Promise<void> {
    link.setAttribute('aria-busy', 'true');
    link.textContent = 'Downloading…';
    this.announce(`Downloading ${upload.filename}…`);
    try {
      const size = upload.size ?? 0;
      if (size <= VERIFY_LIMIT_BYTES) {
        const bytes = await this.client.downloadVerified(upload.id);
        save(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: upload.contentType || 'application/octet-stream' }), upload.filename);
        this.announce(`${upload.filename} downloaded; its SHA-256 matches.`);
      } else {
        const { body } = await this.client.download(upload.id);
        save(await new Response(body).blob(), upload.filename);
        this.announce(`${upload.filename} downloaded (too large to check its SHA-256 in the browser).`);
      }
    } catch (error) {
      const detail = error instanceof TesseraError ? error.detail : (error as Error).message;
      this.announce(`Could not download ${upload.filename}: ${detail}`);
    } finally {
      link.removeAttribute('aria-busy');
      link.textContent = 'Download';
    }
  }
}
