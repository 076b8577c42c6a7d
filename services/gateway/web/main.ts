import { TesseraClient, TesseraError } from '@tessera/client';
import { byId, h } from './dom';
import { formatBytes } from './format';
import { ResumeStore, fingerprint } from './resume-store';
import { claimsOf, storedToken, TokenSource } from './token';
import { Transfer, type TransferContext } from './transfer';
import { UploadsList } from './uploads-list';
import './styles.css';

/** `GET /page-config.json`: where the notifier is, and a development token when the gateway hands one out. */
interface PageConfig {
  notifierUrl: string;
  devToken?: string;
}

/** Files uploading at once; more wait their turn (each sends up to 4 chunks in parallel). */
const MAX_ACTIVE = 3;

const status = byId<HTMLParagraphElement>('status');
const identity = byId<HTMLParagraphElement>('identity');
const tokenSection = byId<HTMLElement>('token-section');
const tokenForm = byId<HTMLFormElement>('token-form');
const tokenInput = byId<HTMLInputElement>('token-input');
const tokenError = byId<HTMLParagraphElement>('token-error');
const uploadSection = byId<HTMLElement>('upload-section');
const listSection = byId<HTMLElement>('list-section');
const fileInput = byId<HTMLInputElement>('file-input');
const pickButton = byId<HTMLButtonElement>('pick-button');
const dropZone = byId<HTMLDivElement>('drop-zone');
const transfersList = byId<HTMLUListElement>('transfers');
const resumableBox = byId<HTMLDivElement>('resumable');
const resumableList = byId<HTMLUListElement>('resumable-list');

/** The live region: one message at a time, read out politely. */
function announce(message: string): void {
  status.textContent = message;
}

async function fetchConfig(): Promise<PageConfig> {
  const response = await fetch(new URL('page-config.json', document.baseURI), { cache: 'no-store', credentials: 'same-origin' });
  if (!response.ok) throw new Error(`page-config.json answered ${response.status}`);
  return (await response.json()) as PageConfig;
}

async function main(): Promise<void> {
  let config: PageConfig;
  try {
    config = await fetchConfig();
  } catch (error) {
    identity.textContent = 'Not connected';
    announce(`The page could not load its settings: ${(error as Error).message}. Reload to try again.`);
    return;
  }

  const dev = typeof config.devToken === 'string' && config.devToken.length > 0;
 // A token kept from earlier in this tab that has expired since is forgotten rather than tried.
  let kept = dev ? null : storedToken.get();
  const keptExp = kept ? claimsOf(kept)?.exp : undefined;
  if (kept && keptExp !== undefined && keptExp * 1000 <= Date.now()) {
    storedToken.clear();
    kept = null;
  }
  const tokens = new TokenSource(dev ? config.devToken! : kept, dev ? async () => (await fetchConfig()).devToken ?? null : null);
  const client = new TesseraClient({ baseUrl: location.origin, notifierUrl: config.notifierUrl, token: tokens.get });
  const resumables = new ResumeStore();
  const uploads = new UploadsList(client, announce);
  const transfers: Transfer[] = [];

  const showIdentity = (): void => {
    const token = tokens.token;
    const who = token ? claimsOf(token)?.sub ?? 'unknown owner' : null;
    identity.replaceChildren();
    if (!who) {
      identity.textContent = 'Not signed in';
    } else if (dev) {
      identity.append('Signed in as ', h('strong', {}, who), ' (development token)');
    } else {
      const signOut = h('button', { type: 'button', class: 'link-button' }, 'Sign out');
      signOut.addEventListener('click', () => {
        storedToken.clear();
        tokens.set(null);
        showSignedIn(false);
        announce('Signed out. The token was removed from this tab.');
      });
      identity.append('Signed in as ', h('strong', {}, who), ' ', signOut);
    }
  };

  const showSignedIn = (signedIn: boolean): void => {
    tokenSection.hidden = signedIn || dev;
    uploadSection.hidden = !signedIn;
    listSection.hidden = !signedIn;
    showIdentity();
    if (signedIn) {
      showResumables();
      void uploads.refresh();
    } else {
      tokenInput.focus();
    }
  };

  /** Unfinished uploads remembered from an earlier visit, not being uploaded now. */
  const showResumables = (): void => {
    const active = new Set(transfers.filter((t) => !t.over).map((t) => t.key));
    const waiting = resumables.all().filter((r) => !active.has(fingerprint(r)));
    resumableList.replaceChildren(
      ...waiting.map((r) => h('li', { 'data-upload-id': r.uploadId }, h('span', { class: 'name' }, r.name), ` (${formatBytes(r.size)})`)),
    );
    resumableBox.hidden = waiting.length === 0;
  };

  /** Starts waiting files while fewer than MAX_ACTIVE are busy. */
  let pumping = false;
  const pump = (): void => {
    // start() reports its state change, which calls pump() again: that inner call must not start more.
    if (pumping) return;
    pumping = true;
    try {
      for (const transfer of transfers) {
        if (transfers.filter((t) => t.busy).length >= MAX_ACTIVE) break;
        if (transfer.state !== 'queued') continue;
        void transfer.start();
      }
    } finally {
      pumping = false;
    }
  };

  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  const context: TransferContext = {
    client,
    resumables,
    announce,
    changed(transfer) {
      pump();
      showResumables();
      // The list follows: a new upload appears, a finished one gets its SHA-256 and link.
      if (transfer.state === 'uploading' || transfer.over) {
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(() => void uploads.refresh(), 300);
      }
    },
  };

  const addFiles = (files: Iterable<File>): void => {
    let added = 0;
    for (const file of files) {
      const key = fingerprint(file);
      if (transfers.some((t) => t.key === key && !t.over)) {
        announce(`${file.name} is already being uploaded.`);
        continue;
      }
      const transfer = new Transfer(file, context);
      transfers.push(transfer);
      transfersList.prepend(transfer.element);
      added += 1;
    }
    if (added > 0) announce(`${added} ${added === 1 ? 'file' : 'files'} added.`);
    pump();
    showResumables();
  };

  // Speed and time left keep moving between acknowledged chunks.
  setInterval(() => {
    for (const transfer of transfers) transfer.render();
  }, 1000);

  pickButton.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', () => {
    addFiles(Array.from(fileInput.files ?? []));
    fileInput.value = ''; // the same file can be chosen again
  });

  // Files may be dropped anywhere on the page; the drop zone shows it.
  let dragDepth = 0;
  const hasFiles = (event: DragEvent) => Array.from(event.dataTransfer?.types ?? []).includes('Files');
  document.addEventListener('dragenter', (event) => {
    if (!hasFiles(event) || uploadSection.hidden) return;
    dragDepth += 1;
    dropZone.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) dropZone.classList.remove('dragging');
  });
  document.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault(); // allows the drop (and keeps the browser from opening the file)
    if (event.dataTransfer) event.dataTransfer.dropEffect = uploadSection.hidden ? 'none' : 'copy';
  });
  document.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    dropZone.classList.remove('dragging');
    if (!uploadSection.hidden) addFiles(Array.from(event.dataTransfer?.files ?? []));
  });

  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    tokenError.textContent = '';
    if (!claimsOf(token)) {
      tokenError.textContent = 'This does not look like a JWT (three dot-separated parts).';
      return;
    }
    tokens.set(token);
    void client.list({ limit: 1 }).then(
      () => {
        storedToken.set(token);
        tokenInput.value = '';
        showSignedIn(true);
        announce('Signed in.');
      },
      (error: unknown) => {
        tokens.set(null);
        tokenError.textContent =
          error instanceof TesseraError && error.status === 401 ? 'The server refused this token (expired, or not for this service).' : `Could not check the token: ${(error as Error).message}`;
        tokenInput.focus();
      },
    );
  });

  showSignedIn(tokens.token !== null);
  document.body.dataset.ready = 'true';
}

void main();
