/// <reference lib="dom" />
// A minimal Uppy page: the unmodified @uppy/core + @uppy/tus, a plain file input, and a
// status list. Bundled by esbuild at test time (see ../support/bundle.ts).
//
// Configuration comes from the page URL:
//   ?endpoint=<tus endpoint, e.g. http://127.0.0.1:1234/files/>&chunkSize=<bytes, optional>
//   #token=<JWT>   (in the fragment, so it never reaches a server or a log)
// or from `window.tesseraUppyConfig`, set before this script runs (playwright's addInitScript).
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';

interface PageConfig {
  endpoint: string;
  token?: string;
  chunkSize?: number;
}

declare global {
  interface Window {
    tesseraUppyConfig?: Partial<PageConfig>;
    uppy?: Uppy;
  }
}

function readConfig(): PageConfig {
  const query = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const injected = window.tesseraUppyConfig ?? {};
  const endpoint = injected.endpoint ?? query.get('endpoint');
  if (!endpoint) throw new Error('no tus endpoint: give ?endpoint=<url> or window.tesseraUppyConfig');
  const token = injected.token ?? hash.get('token') ?? query.get('token') ?? undefined;
  const chunk = injected.chunkSize ?? Number(query.get('chunkSize') ?? NaN);
  return { endpoint, token, chunkSize: Number.isFinite(chunk) && chunk > 0 ? chunk : undefined };
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;
const config = readConfig();
$('#endpoint').textContent = `tus endpoint: ${config.endpoint}`;

const uppy = new Uppy({ id: 'tessera', autoProceed: true, debug: false });
uppy.use(Tus, {
  endpoint: config.endpoint,
  headers: config.token ? { authorization: `Bearer ${config.token}` } : {},
  ...(config.chunkSize ? { chunkSize: config.chunkSize } : {}),
});
window.uppy = uppy;

/** The status row of one file, created on first use. */
function row(fileId: string, name: string): HTMLLIElement {
  const list = $<HTMLUListElement>('#files');
  let li = Array.from(list.children).find((el) => (el as HTMLElement).dataset.fileId === fileId) as HTMLLIElement | undefined;
  if (!li) {
    li = document.createElement('li');
    li.dataset.fileId = fileId;
    li.dataset.state = 'waiting';
    li.dataset.percent = '0';
    const title = document.createElement('div');
    title.className = 'name';
    title.textContent = name;
    const bar = document.createElement('progress');
    bar.max = 100;
    bar.value = 0;
    const percent = document.createElement('span');
    percent.className = 'percent';
    percent.textContent = ' 0 %';
    const state = document.createElement('div');
    state.className = 'state';
    state.textContent = 'Waiting';
    li.append(title, bar, percent, state);
    list.append(li);
  }
  return li;
}

function setState(li: HTMLLIElement, state: string, text: string): void {
  li.dataset.state = state;
  li.querySelector('.state')!.textContent = text;
}

uppy.on('file-added', (file) => void row(file.id, file.name ?? 'unnamed'));

uppy.on('upload-progress', (file, progress) => {
  if (!file) return;
  const li = row(file.id, file.name ?? 'unnamed');
  const total = progress.bytesTotal ?? file.size ?? 0;
  const percent = total > 0 ? Math.floor((progress.bytesUploaded / total) * 100) : 0;
  li.dataset.percent = String(percent);
  li.dataset.bytesUploaded = String(progress.bytesUploaded);
  li.dataset.progressEvents = String(Number(li.dataset.progressEvents ?? 0) + 1);
  li.querySelector('progress')!.value = percent;
  li.querySelector('.percent')!.textContent = ` ${percent} %`;
  if (li.dataset.state !== 'complete') setState(li, 'uploading', 'Uploading');
});

uppy.on('upload-success', (file, response) => {
  if (!file) return;
  const li = row(file.id, file.name ?? 'unnamed');
  setState(li, 'complete', 'Upload complete');
  const link = document.createElement('a');
  link.className = 'upload-url';
  link.href = response.uploadURL ?? '';
  link.textContent = response.uploadURL ?? '(no upload URL)';
  li.append(link);
});

uppy.on('upload-error', (file, error) => {
  console.error(`upload of ${file?.name ?? '?'} failed: ${error.message}`);
  if (file) setState(row(file.id, file.name ?? 'unnamed'), 'error', `Upload failed: ${error.message}`);
});

uppy.on('complete', (result) => {
  $('#summary').textContent = `${result.successful?.length ?? 0} uploaded, ${result.failed?.length ?? 0} failed`;
});

const input = $<HTMLInputElement>('#file-input');
input.addEventListener('change', () => {
  for (const file of Array.from(input.files ?? [])) {
    try {
      uppy.addFile({ source: 'file-input', name: file.name, type: file.type, data: file });
    } catch (error) {
      console.error(`could not add ${file.name}: ${(error as Error).message}`);
    }
  }
  input.value = '';
});
