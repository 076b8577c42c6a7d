// Hand-written nasty inputs: the cases a generator finds rarely or never, each with what a
// client is entitled to expect. Generated inputs (arbitraries.ts) cover the space around them.
import type { ProblemType } from './support/problems';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Path ids that are not UUIDs, exactly as they go on the wire (percent-encoding kept). */
export const NASTY_IDS: readonly string[] = [
  '.',
  '..',
  '...',
  '%2e%2e',
  '%2E%2E',
  '.%2e',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '..%5c..%5cwindows',
  '%252e%252e',
  '%c0%ae%c0%ae',
  '%00',
  '%0d%0aSet-Cookie:%20injected=1',
  '%E0%A4%A',
  '%',
  '%zz',
  '%F0%9F%92%A9',
  'null',
  'undefined',
  '0',
  '-1',
  '1e400',
  NIL_UUID.slice(1),
  `${NIL_UUID}0`,
  `{${NIL_UUID}}`,
  NIL_UUID.replace(/-/g, ''),
  `g${NIL_UUID.slice(1)}`,
  `${NIL_UUID}%20`,
  `%20${NIL_UUID}`,
  `${NIL_UUID}%00`,
  `${NIL_UUID};drop`,
  "'%20OR%201=1--",
  '$%7Bjndi:ldap:%2F%2Fx%7D',
  'a'.repeat(300),
  '9'.repeat(4000),
  'x'.repeat(8000),
];

/** Chunk indices in the path that are not whole numbers from 0. */
export const NASTY_INDICES: readonly string[] = ['-1', '-0', '+1', '1.5', '1e3', '0x1', '%201', '1%20', 'NaN', 'Infinity', '%EF%BC%91', '%D9%A3', '9'.repeat(10), '9'.repeat(400), '..', '%2e%2e', '0;1', '0,1'];

export interface FilenameCase {
  sent: string;
  /** What the upload is called afterwards, or null when the name must be refused. */
  kept: string | null;
}

export const NASTY_FILENAMES: readonly FilenameCase[] = [
  { sent: '../../etc/passwd', kept: 'passwd' },
  { sent: '..\\..\\Windows\\System32\\cmd.exe', kept: 'cmd.exe' },
  { sent: 'C:\\Users\\me\\report.pdf', kept: 'report.pdf' },
  { sent: '/absolute/path/photo.jpg', kept: 'photo.jpg' },
  { sent: 'mixed/sep\\arators/x.txt', kept: 'x.txt' },
  { sent: '%2e%2e%2fencoded.txt', kept: '%2e%2e%2fencoded.txt' },
  { sent: '..', kept: '..' },
  { sent: 'a\u0000b.txt', kept: 'ab.txt' },
  { sent: '\u0000../\u0000', kept: null },
  { sent: 'evil\r\nContent-Type: text/html.txt', kept: 'html.txt' },
  { sent: '\u0007\u001b[31mred\u001b[0m', kept: '[31mred[0m' },
  { sent: 'next\u0085line\u009f.txt', kept: 'nextline.txt' },
  { sent: '\t  padded name.txt \n', kept: 'padded name.txt' },
  { sent: 'dir/\u0000', kept: null },
  { sent: '/', kept: null },
  { sent: '\\', kept: null },
  { sent: 'trailing/', kept: null },
  { sent: '', kept: null },
  { sent: ' ', kept: null },
  { sent: '\u3000\u2003', kept: null },
  { sent: '\u0001\u0002\u0003', kept: null },
  { sent: 'x'.repeat(255), kept: 'x'.repeat(255) },
  { sent: 'x'.repeat(256), kept: null },
  { sent: `${'d/'.repeat(1000)}short.txt`, kept: 'short.txt' },
  { sent: 'x'.repeat(5000), kept: null },
  // 255 characters, counted in code points: 510 UTF-16 units.
  { sent: '💩'.repeat(255), kept: '💩'.repeat(255) },
  { sent: '💩'.repeat(256), kept: null },
  { sent: 'gpj\u202Eexe.txt', kept: 'gpjexe.txt' },
  { sent: '\u2066\u2069\u200e\u200f', kept: null },
  { sent: 'Cafe\u0301.txt', kept: 'Caf\u00e9.txt' },
  { sent: 'Ω≈ç√∫˜µ≤≥÷ 日本語 עברית العربية.txt', kept: 'Ω≈ç√∫˜µ≤≥÷ 日本語 עברית العربية.txt' },
  { sent: 'e\u0301\u0301\u0301.txt', kept: '\u00e9\u0301\u0301.txt' },
  { sent: 'CON', kept: 'CON' },
  { sent: '<script>alert(1)</script>', kept: 'script>' },
  { sent: '"; rm -rf /; echo ".txt', kept: '; echo ".txt' },
];

export interface JsonBodyCase {
  why: string;
  text: string;
  /** The refusal expected, or 'created' when the body is, surprisingly, a valid request. */
  expect: ProblemType | 'created';
  contentType?: string;
}

const ok = '"filename":"a.bin"';
export const NASTY_JSON_BODIES: readonly JsonBodyCase[] = [
  { why: 'empty body', text: '', expect: 'validation-failed' },
  { why: 'whitespace only', text: ' \n\t ', expect: 'validation-failed' },
  { why: 'cut off', text: `{${ok},"size":`, expect: 'validation-failed' },
  { why: 'unclosed string', text: '{"filename":"a', expect: 'validation-failed' },
  { why: 'null', text: 'null', expect: 'validation-failed' },
  { why: 'array', text: `[{${ok},"size":1}]`, expect: 'validation-failed' },
  { why: 'string', text: '"a.bin"', expect: 'validation-failed' },
  { why: 'number', text: '42', expect: 'validation-failed' },
  { why: 'trailing comma', text: `{${ok},"size":1,}`, expect: 'validation-failed' },
  { why: 'single quotes', text: "{'filename':'a.bin','size':1}", expect: 'validation-failed' },
  { why: 'comment', text: `{${ok},/* c */"size":1}`, expect: 'validation-failed' },
  { why: 'garbage after', text: `{${ok},"size":1}garbage`, expect: 'validation-failed' },
  { why: 'two documents', text: `{${ok},"size":1}{${ok},"size":2}`, expect: 'validation-failed' },
  { why: 'hex number', text: `{${ok},"size":0x10}`, expect: 'validation-failed' },
  { why: 'NaN', text: `{${ok},"size":NaN}`, expect: 'validation-failed' },
  { why: 'Infinity', text: `{${ok},"size":Infinity}`, expect: 'validation-failed' },
  { why: 'overflowing exponent', text: `{${ok},"size":1e400}`, expect: 'validation-failed' },
  { why: 'beyond 2^53', text: `{${ok},"size":9007199254740993}`, expect: 'validation-failed' },
  { why: '30 digits', text: `{${ok},"size":123456789012345678901234567890}`, expect: 'validation-failed' },
  { why: 'huge but safe size', text: `{${ok},"size":9007199254740991}`, expect: 'payload-too-large' },
  { why: 'one byte over 100 GiB', text: `{${ok},"size":${100 * 1024 ** 3 + 1}}`, expect: 'payload-too-large' },
  { why: 'negative size', text: `{${ok},"size":-1}`, expect: 'validation-failed' },
  { why: 'fractional size', text: `{${ok},"size":0.5}`, expect: 'validation-failed' },
  { why: 'size as a string', text: `{${ok},"size":"10"}`, expect: 'validation-failed' },
  { why: 'size as an array', text: `{${ok},"size":[10]}`, expect: 'validation-failed' },
  { why: 'size true', text: `{${ok},"size":true}`, expect: 'validation-failed' },
  { why: 'size null', text: `{${ok},"size":null}`, expect: 'validation-failed' },
  { why: 'size missing', text: `{${ok}}`, expect: 'validation-failed' },
  { why: 'duplicate key, last one negative', text: `{${ok},"size":1,"size":-1}`, expect: 'validation-failed' },
  { why: 'minus zero is zero', text: `{${ok},"size":-0}`, expect: 'created' },
  { why: 'underflowing exponent is zero', text: `{${ok},"size":1e-400}`, expect: 'created' },
  { why: 'exponent notation of a whole number', text: `{${ok},"size":1e3}`, expect: 'created' },
  { why: 'chunk size as a fraction', text: `{${ok},"size":1,"chunkSize":65536.5}`, expect: 'validation-failed' },
  { why: 'chunk size below 64 KiB', text: `{${ok},"size":1,"chunkSize":65535}`, expect: 'validation-failed' },
  { why: 'chunk size above 64 MiB', text: `{${ok},"size":1,"chunkSize":67108865}`, expect: 'validation-failed' },
  { why: 'more chunks than allowed', text: `{${ok},"size":${16_385 * 65536},"chunkSize":65536}`, expect: 'validation-failed' },
  { why: '__proto__ key', text: `{"__proto__":{"size":1},${ok}}`, expect: 'validation-failed' },
  { why: 'constructor key', text: `{"constructor":{"prototype":{"size":1}},${ok},"size":1}`, expect: 'validation-failed' },
  { why: 'unknown key', text: `{${ok},"size":1,"ownerId":"someone-else"}`, expect: 'validation-failed' },
  { why: 'state smuggled in', text: `{${ok},"size":1,"state":"completed"}`, expect: 'validation-failed' },
  { why: 'filename a number', text: '{"filename":1,"size":1}', expect: 'validation-failed' },
  { why: 'filename an object', text: '{"filename":{"toString":"x"},"size":1}', expect: 'validation-failed' },
  { why: 'sha256 too short', text: `{${ok},"size":1,"sha256":"${'a'.repeat(63)}"}`, expect: 'validation-failed' },
  { why: 'sha256 not hex', text: `{${ok},"size":1,"sha256":"${'g'.repeat(64)}"}`, expect: 'validation-failed' },
  { why: 'content type without subtype', text: `{${ok},"size":1,"contentType":"text"}`, expect: 'validation-failed' },
  { why: 'content type with a newline', text: `{${ok},"size":1,"contentType":"text/plain\\r\\nX-Injected: 1"}`, expect: 'validation-failed' },
  { why: 'metadata an array', text: `{${ok},"size":1,"metadata":["a"]}`, expect: 'validation-failed' },
  { why: 'metadata value a number', text: `{${ok},"size":1,"metadata":{"a":1}}`, expect: 'validation-failed' },
  { why: 'metadata with 33 entries', text: `{${ok},"size":1,"metadata":{${Array.from({ length: 33 }, (_, i) => `"k${i}":"v"`).join(',')}}}`, expect: 'validation-failed' },
  { why: 'deep nesting', text: `{${ok},"size":1,"metadata":${'['.repeat(5000)}${']'.repeat(5000)}}`, expect: 'validation-failed' },
  { why: 'a byte order mark (RFC 8259 lets a parser skip it)', text: `\ufeff{${ok},"size":1}`, expect: 'created' },
  { why: 'body over 64 KiB', text: `{${ok},"size":1,"contentType":"${'a'.repeat(70_000)}"}`, expect: 'payload-too-large' },
  { why: 'UTF-8 bytes declared as UTF-16', text: `{${ok},"size":1}`, contentType: 'application/json; charset=utf-16', expect: 'validation-failed' },
  { why: 'an unknown charset', text: `{${ok},"size":1}`, contentType: 'application/json; charset=klingon', expect: 'unsupported-media-type' },
  { why: 'declared as text', text: `{${ok},"size":1}`, contentType: 'text/plain', expect: 'created' },
];

/** Content-Length values the HTTP parser itself refuses. */
export const UNPARSEABLE_CONTENT_LENGTHS: readonly (string | string[])[] = [
  'abc',
  '-1',
  '1.5',
  '1e3',
  '+5',
  '0x10',
  '99999999999999999999999',
  ['65536', '1'],
  ['1', '65536'],
];

/** Content-Length values HTTP accepts but no chunk request may carry. */
export const REFUSED_CONTENT_LENGTHS: readonly string[] = ['1000000000000000', '0000000000000000065536', '999999999999999', String(2 ** 53)];

export interface DigestCase {
  header: string;
  /**
   * `refused`: a malformed sha-256 member, 400 before a byte is read. `ignored`: no sha-256
   * member, the chunk is stored unchecked. `checked`: a well-formed sha-256 member is used.
   */
  expect: 'refused' | 'ignored' | 'checked';
}

const b64 = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64');
export const NASTY_DIGESTS: readonly DigestCase[] = [
  { header: 'sha-256=:abc:', expect: 'refused' },
  { header: 'sha-256=::', expect: 'refused' },
  { header: 'sha-256=', expect: 'refused' },
  { header: `sha-256=${b64(32)}`, expect: 'refused' },
  { header: `sha-256=:${b64(32).replace(/=$/, '')}:`, expect: 'refused' },
  { header: `sha-256=:${b64(31)}:`, expect: 'refused' },
  { header: `sha-256=:${b64(33)}:`, expect: 'refused' },
  { header: `sha-256=:${b64(32).replace(/[+/]/g, '-')}-_:`, expect: 'refused' },
  { header: `sha-256=:${b64(32)}:;param=1`, expect: 'refused' },
  { header: `sha-256=:${'A'.repeat(10_000)}:`, expect: 'refused' },
  { header: `sha-256=:${b64(32)}:, sha-256=:bad:`, expect: 'checked' },
  { header: `sha-512=:${b64(64)}:`, expect: 'ignored' },
  { header: 'md5=:bad:', expect: 'ignored' },
  { header: ',,,', expect: 'ignored' },
];

/** A Range header on a completed upload of `size` bytes, and what it must produce. */
export interface RangeCase {
  header: string;
  /** 206 with these inclusive bounds, the whole file, or 416. */
  expect: { start: number; end: number } | 'whole' | 'unsatisfiable';
}

export function nastyRanges(size: number): RangeCase[] {
  return [
    { header: 'bytes=0-0', expect: { start: 0, end: 0 } },
    { header: 'bytes=-1', expect: { start: size - 1, end: size - 1 } },
    { header: `bytes=${size - 1}-`, expect: { start: size - 1, end: size - 1 } },
    { header: `bytes=0-${'9'.repeat(30)}`, expect: { start: 0, end: size - 1 } },
    { header: `bytes=-${'9'.repeat(30)}`, expect: { start: 0, end: size - 1 } },
    { header: `bytes=${size}-`, expect: 'unsatisfiable' },
    { header: `bytes=${'9'.repeat(400)}-`, expect: 'unsatisfiable' },
    { header: 'bytes=-0', expect: 'unsatisfiable' },
    { header: 'bytes=5-2', expect: 'whole' },
    { header: 'bytes=0-1,3-4', expect: 'whole' },
    { header: 'bytes=-', expect: 'whole' },
    { header: 'bytes=', expect: 'whole' },
    { header: 'bytes=a-b', expect: 'whole' },
    { header: 'bytes=1.5-2', expect: 'whole' },
    { header: 'bytes=--1', expect: 'whole' },
    { header: 'items=0-1', expect: 'whole' },
    { header: 'bytes 0-1', expect: 'whole' },
    { header: `bytes=${'0-1,'.repeat(2000)}0-1`, expect: 'whole' },
  ];
}

export interface QueryCase {
  query: string;
  expect: 'listed' | 'validation-failed';
}

export const NASTY_LIST_QUERIES: readonly QueryCase[] = [
  { query: 'limit=0', expect: 'validation-failed' },
  { query: 'limit=101', expect: 'validation-failed' },
  { query: 'limit=-1', expect: 'validation-failed' },
  { query: 'limit=1.5', expect: 'validation-failed' },
  { query: 'limit=abc', expect: 'validation-failed' },
  { query: 'limit=', expect: 'validation-failed' },
  { query: 'limit=%00', expect: 'validation-failed' },
  { query: `limit=${'9'.repeat(400)}`, expect: 'validation-failed' },
  { query: 'limit=1&limit=2', expect: 'validation-failed' },
  { query: 'limit=100', expect: 'listed' },
  { query: 'state=bogus', expect: 'validation-failed' },
  { query: 'state=PENDING', expect: 'validation-failed' },
  { query: 'state=pending&state=completed', expect: 'validation-failed' },
  { query: 'state=completed', expect: 'listed' },
  { query: 'cursor=garbage', expect: 'validation-failed' },
  { query: `cursor=${'a'.repeat(201)}`, expect: 'validation-failed' },
  { query: `cursor=${Buffer.from('["not a date","x"]').toString('base64url')}`, expect: 'validation-failed' },
  { query: `cursor=${Buffer.from(`["2026-01-01T00:00:00.000Z","${NIL_UUID}"]`).toString('base64url')}`, expect: 'listed' },
  { query: 'cursor=', expect: 'listed' },
  { query: '%zz=1&%=%', expect: 'listed' },
  { query: 'state[]=pending', expect: 'listed' },
  { query: `${'x'.repeat(5000)}=1`, expect: 'listed' },
];

/** Subscribe payloads a client may send instead of `{uploadId: "<uuid>"}`. */
export const NASTY_SUBSCRIBE_PAYLOADS: readonly unknown[][] = [
  [],
  [null],
  [''],
  [NIL_UUID],
  [42],
  [true],
  [[]],
  [[NIL_UUID]],
  [{}],
  [{ uploadId: null }],
  [{ uploadId: 42 }],
  [{ uploadId: '' }],
  [{ uploadId: [NIL_UUID] }],
  [{ uploadId: { $ne: '' } }],
  [{ uploadid: NIL_UUID }],
  [{ uploadId: '../' }],
  [{ uploadId: '%2e%2e' }],
  [{ uploadId: `${NIL_UUID} ` }],
  [{ uploadId: `${NIL_UUID}\n` }],
  [{ uploadId: `${NIL_UUID}\u0000` }],
  [{ uploadId: 'x'.repeat(15_000) }],
  [{ uploadId: Buffer.from(NIL_UUID) }],
  [Buffer.alloc(1000, 1)],
  [JSON.parse(`{"__proto__":{"uploadId":"${NIL_UUID}"}}`)],
];

export interface RawCase {
  why: string;
  lines: string[];
  body?: Buffer;
  /** The status Node's HTTP layer answers with, before any route runs. */
  status: number;
}

/** Requests broken below the API: framing, header syntax, expectations, protocol. */
export function malformedHttp(path: string, token: string): RawCase[] {
  const head = [`PUT ${path} HTTP/1.1`, 'Host: fuzz', `Authorization: Bearer ${token}`];
  const abc = Buffer.from('abc');
  return [
    { why: 'an expectation nobody knows', lines: [...head, 'Expect: teapot', 'Content-Length: 3'], body: abc, status: 417 },
    { why: 'headers of 20 KB', lines: [...head, `X-Big: ${'a'.repeat(20_000)}`, 'Content-Length: 3'], body: abc, status: 431 },
    { why: 'chunked and a Content-Length (request smuggling)', lines: [...head, 'Transfer-Encoding: chunked', 'Content-Length: 3'], body: Buffer.from('0\r\n\r\n'), status: 400 },
    { why: 'a transfer coding other than chunked', lines: [...head, 'Transfer-Encoding: identity'], body: abc, status: 400 },
    { why: 'a NUL in a header value', lines: [...head, 'X-A: a\u0000b', 'Content-Length: 0'], status: 400 },
    { why: 'a folded header line', lines: [...head, 'X-A: a', ' folded', 'Content-Length: 0'], status: 400 },
    { why: 'a method with a space', lines: ['FOO BAR /v1/uploads HTTP/1.1', 'Host: fuzz'], status: 400 },
    { why: 'an HTTP/2 preface', lines: ['PRI * HTTP/2.0', '', 'SM'], status: 400 },
  ];
}
