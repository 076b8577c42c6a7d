// Hand-written nasty tus headers, each with what a client is entitled to expect under
// /work/tus-contract.md. `either` marks what the contract leaves open (accepted or refused
// with 400): such a case must still never be a 5xx, and is reported when accepted.
import { createHash, randomUUID } from 'node:crypto';
import type { ProblemType } from './problems';
import { b64, digest64 } from './tus-client';

export type Expectation = 'created' | 'either' | readonly ProblemType[];

export interface HeaderCase {
  why: string;
  headers: Record<string, string | string[]>;
  expect: Expectation;
  /** The status a parser-level refusal comes with (the request never reaches the tus routes). */
  parserStatus?: number;
}

const VF = ['validation-failed'] as const;
const PTL = ['payload-too-large'] as const;

/** Tus-Resumable values every request but OPTIONS must be refused for (412). */
export const REFUSED_TUS_VERSIONS: readonly (string | string[])[] = [
  '',
  '1',
  '1.0',
  '1.0.0.0',
  '1.0.1',
  '0.2.2',
  '2.0.0',
  'v1.0.0',
  '1.0.0,1.0.0',
  '1.0.0, 0.2.2',
  '1.0.0;q=1',
  '1 .0.0',
  '1.0.0\u00a0',
  '01.0.0',
  'true',
  '*',
  'x'.repeat(4000),
  ['1.0.0', '1.0.0'],
  ['0.2.2', '1.0.0'],
];

/** The same version with the spaces and tabs HTTP strips around any header value. */
export const ACCEPTED_TUS_VERSIONS: readonly string[] = [' 1.0.0', '1.0.0 ', '\t1.0.0\t'];

/** Upload-Length and Upload-Defer-Length at creation. */
export function lengthCases(maxSize: number): HeaderCase[] {
  const length = (value: string | string[], expect: Expectation, why = `Upload-Length ${JSON.stringify(value).slice(0, 60)}`): HeaderCase => ({ why, headers: { 'Upload-Length': value }, expect });
  const defer = (value: string | string[], expect: Expectation): HeaderCase => ({ why: `Upload-Defer-Length ${JSON.stringify(value)}`, headers: { 'Upload-Defer-Length': value }, expect });
  return [
    ...['-1', '-0', '1.5', '1.0', '1e3', '0x10', '+5', '5 5', '', ' ', 'abc', '\u00b2', '5\u00a0', '1,000', '1_000', 'NaN', 'Infinity', '5;q=1'].map((v) => length(v, VF)),
    length(['5', '5'], VF, 'Upload-Length twice, the same'),
    length(['5', '6'], VF, 'Upload-Length twice, different'),
    length('007', 'either', 'Upload-Length with leading zeros'),
    length(`${'0'.repeat(20)}5`, 'either', 'Upload-Length with 20 leading zeros'),
    length('0', 'created'),
    length(' 7 ', 'created'),
    length('\t7', 'created'),
    length(String(2 ** 53 + 1), [...VF, ...PTL], 'Upload-Length 2^53+1'),
    length(String(2 ** 64), [...VF, ...PTL], 'Upload-Length 2^64'),
    length('9'.repeat(30), [...VF, ...PTL], 'Upload-Length of 30 digits'),
    length(String(maxSize), 'created', 'Upload-Length = Tus-Max-Size'),
    length(String(maxSize + 1), PTL, 'Upload-Length = Tus-Max-Size + 1'),
    length(String(Number.MAX_SAFE_INTEGER), PTL, 'Upload-Length 2^53-1'),
    { why: 'both Upload-Length and Upload-Defer-Length', headers: { 'Upload-Length': '5', 'Upload-Defer-Length': '1' }, expect: VF },
    { why: 'Upload-Length 0 and Upload-Defer-Length', headers: { 'Upload-Length': '0', 'Upload-Defer-Length': '1' }, expect: VF },
    { why: 'neither Upload-Length nor Upload-Defer-Length', headers: {}, expect: VF },
    { why: 'only Upload-Metadata', headers: { 'Upload-Metadata': `filename ${b64('a.txt')}` }, expect: VF },
    ...['0', '2', 'true', '', '01', '1.0', '-1', '1,1', 'yes'].map((v) => defer(v, VF)),
    defer(['1', '1'], VF),
    defer(' 1 ', 'created'),
    { why: 'a deferred partial upload', headers: { 'Upload-Defer-Length': '1', 'Upload-Concat': 'partial' }, expect: 'created' },
  ];
}

const pairs = (n: number, pair: (i: number) => string) => Array.from({ length: n }, (_, i) => pair(i)).join(',');

/** Upload-Metadata at creation (with Upload-Length: 5). */
export function metadataCases(): HeaderCase[] {
  const meta = (why: string, value: string, expect: Expectation, parserStatus?: number): HeaderCase => ({
    why,
    headers: { 'Upload-Length': '5', 'Upload-Metadata': value },
    expect,
    ...(parserStatus ? { parserStatus } : {}),
  });
  return [
    meta('a key without a value', 'filename', 'created'),
    meta('a NUL inside the filename value', `filename ${b64('a\u0000b.txt')}`, 'created'),
    meta('a NUL inside another value', `note ${b64('a\u0000b')}`, 'created'),
    meta('a value that is only NUL', `note ${b64('\u0000')}`, 'created'),
    meta('a value that is not UTF-8', `k ${b64(Buffer.from([0xff, 0xfe, 0x00, 0xc3]))}`, 'created'),
    meta('a filename that is not UTF-8', `filename ${b64(Buffer.from([0xc3, 0x28, 0xa0, 0xa1]))}`, 'created'),
    meta('a 9,000-byte filename', `filename ${b64('x'.repeat(9000))}`, 'created'),
    meta('a 1,025-byte value', `k ${b64('v'.repeat(1025))}`, 'created'),
    meta('1,500 keys without values', pairs(1500, (i) => `k${i}`), 'created'),
    meta('300 pairs with values', pairs(300, (i) => `k${i} ${b64(`value ${i}`)}`), 'created'),
    meta('1,500 times the same key', pairs(1500, () => 'k'), VF),
    meta('3,000 pairs: headers over 16 KiB', pairs(3000, (i) => `k${i}`), ['headers-too-large'], 431),
    meta('only commas', ',,,', VF),
    meta('one comma', ',', VF),
    meta('a trailing comma', 'a YQ==,', VF),
    meta('a leading comma', ',a YQ==', VF),
    meta('an empty pair in the middle', 'a YQ==,,b Yg==', VF),
    meta('only spaces (empty once trimmed)', '   ', 'either'),
    meta('three tokens', 'a YQ== b', VF),
    meta('a tab between key and value', 'a\tYQ==', VF),
    meta('two spaces between key and value', 'a  YQ==', VF),
    meta('unpadded base64', 'a YQ', VF),
    meta('base64 of the wrong length', 'a YQ=', VF),
    meta('three padding characters', 'a Y===', VF),
    meta('only padding', 'a ====', VF),
    meta('base64url characters', 'a -_-_', VF),
    meta('padding in the middle', 'a YQ==YQ==', VF),
    meta('punctuation', 'a !!!!', VF),
    meta('a Latin-1 letter in the value', 'a YQ\u00e9=', VF),
    meta('a Latin-1 letter in the key', 'filename\u00e9 YQ==', 'either'),
    meta('a duplicate key', 'a YQ==,a Yg==', VF),
    meta('a duplicate key, one without a value', 'a,a YQ==', VF),
    meta('keys differing in case only', 'a YQ==,A Yg==', 'created'),
    meta('filename and name both', `filename ${b64('one.txt')},name ${b64('two.txt')}`, 'created'),
    meta('the key __proto__', '__proto__ YQ==', 'created'),
    meta('the key constructor', 'constructor YQ==', 'created'),
    meta('the key toString', 'toString YQ==', 'created'),
    meta('the key hasOwnProperty', 'hasOwnProperty YQ==', 'created'),
    meta('the key valueOf without a value', 'valueOf', 'created'),
    meta('a path as filename', `filename ${b64('../../etc/passwd')}`, 'created'),
    meta('a filename with a right-to-left override', `filename ${b64('\u202egpj.exe')}`, 'created'),
    meta('a filetype with a header injection', `filetype ${b64('text/html\r\nX-Injected: 1')}`, 'created'),
    meta('a filetype that is not a media type', `filetype ${b64('not a type')}`, 'created'),
  ];
}

/** What the concatenation corpus needs of the stack's uploads. */
export interface ConcatContext {
  gatewayUrl: string;
  /** Two finished partial uploads of the caller. */
  p: string;
  q: string;
  /** Another owner's partial, the caller's own upload that is not partial, a native one, a final, a terminated partial. */
  strangers: string;
  plain: string;
  native: string;
  final: string;
  terminated: string;
  /** Many finished empty partials of the caller. */
  empties: string[];
}

/** Upload-Concat at creation. */
export function concatCases(c: ConcatContext): HeaderCase[] {
  const final = (why: string, list: string, expect: Expectation, more: Record<string, string> = {}): HeaderCase => ({ why, headers: { 'Upload-Concat': `final;${list}`, ...more }, expect });
  const partial = (why: string, value: string, expect: Expectation, more: Record<string, string> = { 'Upload-Length': '5' }): HeaderCase => ({ why, headers: { 'Upload-Concat': value, ...more }, expect });
  const P = c.p.toUpperCase();
  return [
    partial('"partial" with spaces around', ' partial ', 'created'),
    partial('"Partial"', 'Partial', 'either'),
    partial('"partial;"', 'partial;', VF),
    partial('"final" without a list', 'final', VF, {}),
    partial('"final;" with an empty list', 'final;', VF, {}),
    partial('"final; " with only a space', 'final; ', VF, {}),
    partial('"partial" without a length', 'partial', VF, {}),
    partial('"partial" of length 0', 'partial', 'created', { 'Upload-Length': '0' }),
    final('a final with Upload-Length', `/files/${c.p}`, VF, { 'Upload-Length': '300' }),
    final('a final with Upload-Defer-Length', `/files/${c.p}`, VF, { 'Upload-Defer-Length': '1' }),
    final('a final of two partials', `/files/${c.p} /files/${c.q}`, 'created'),
    final('a final of absolute URLs', `${c.gatewayUrl}/files/${c.p} ${c.gatewayUrl}/files/${c.q}`, 'created'),
    final('a final naming an unknown id', `/files/${randomUUID()}`, VF),
    final('a final naming the nil UUID', '/files/00000000-0000-0000-0000-000000000000', VF),
    final("a final naming another owner's partial", `/files/${c.strangers}`, VF),
    final('a final naming an own upload that is not partial', `/files/${c.plain}`, VF),
    final('a final naming an own native upload', `/files/${c.native}`, VF),
    final('a final naming an own final upload', `/files/${c.final}`, VF),
    final('a final naming an own terminated partial', `/files/${c.terminated}`, VF),
    final('a final naming a partial twice', `/files/${c.p} /files/${c.p}`, VF),
    final('a final naming a partial twice, differently cased', `/files/${c.p} /files/${P}`, 'either'),
    final('/files/../x', '/files/../x', VF),
    final('/files/../../etc/passwd', '/files/../../etc/passwd', VF),
    final('/files/..', '/files/..', VF),
    final('/files/ and no id', '/files/', VF),
    final('the collection URL', `${c.gatewayUrl}/files/`, VF),
    final('an encoded traversal before the id', `/files/%2e%2e%2f${c.p}`, VF),
    final('..%2f before the id', `/files/..%2f${c.p}`, VF),
    final('an id with a query', `/files/${c.p}?x=1`, 'either'),
    final('a part list separated by commas', `/files/${c.p},/files/${c.q}`, VF),
    final('a part list separated by commas and spaces', `/files/${c.p}, /files/${c.q}`, VF),
    final('a part list separated by a tab', `/files/${c.p}\t/files/${c.q}`, 'either'),
    final('a part list separated by two spaces', `/files/${c.p}  /files/${c.q}`, 'either'),
    final('a traversal that resolves to /files/<id>', `/files/../files/${c.p}`, 'either'),
    final('a traversal that resolves to /<id>', `/files/x/../${c.p}`, 'either'),
    final('../<id>', `../${c.p}`, 'either'),
    final("another server's URL", `http://evil.example/files/${c.p}`, 'either'),
    final('a native API path', `/v1/uploads/${c.p}`, 'either'),
    final('a bare id', c.p, 'either'),
    final('a trailing slash', `/files/${c.p}/`, 'either'),
    final('an upper-case id', `/files/${P}`, 'either'),
    final('300 unknown ids', Array.from({ length: 300 }, () => `/files/${randomUUID()}`).join(' '), VF),
    final('300 times the same partial', Array.from({ length: 300 }, () => `/files/${c.p}`).join(' '), VF),
    final(`${c.empties.length} distinct empty partials`, c.empties.map((id) => `/files/${id}`).join(' '), 'created'),
    final('one part, then 299 unknown ids', [`/files/${c.p}`, ...Array.from({ length: 299 }, () => `/files/${randomUUID()}`)].join(' '), VF),
  ];
}

export interface PatchCase {
  why: string;
  headers: Record<string, string | string[]>;
  /** Omit the named default headers (Content-Type, Upload-Offset). */
  omit?: string[];
  expect: 'accepted' | 'either' | readonly ProblemType[];
}

/** Upload-Offset values refused on an upload at `offset` of `size` bytes. */
export function offsetCases(offset: number, size: number): PatchCase[] {
  const at = (value: string | string[], expect: readonly ProblemType[]): PatchCase => ({ why: `Upload-Offset ${JSON.stringify(value).slice(0, 40)}`, headers: { 'Upload-Offset': value }, expect });
  const OM = ['offset-mismatch'] as const;
  return [
    { why: 'no Upload-Offset', headers: {}, omit: ['Upload-Offset'], expect: VF },
    ...['', ' ', '-1', '-0', '1.5', `${offset}.0`, `0x${offset.toString(16)}`, `${offset}e0`, `+${offset}`, `${offset} ${offset}`, `${offset},${offset}`, 'abc', '9'.repeat(17), '\u00b2', `${offset}\u00a0`, 'NaN', 'null'].map((v) =>
      at(v, VF),
    ),
    at([String(offset), String(offset)], VF),
    at(String(2 ** 53 + 1), [...VF, ...OM]),
    at(String(Number.MAX_SAFE_INTEGER), OM),
    at('0', OM),
    at(String(offset - 1), OM),
    at(String(offset + 1), OM),
    at(String(size), OM),
    at(String(size + 1), OM),
  ];
}

export const REFUSED_CONTENT_TYPES: readonly (string | null)[] = [
  null,
  '',
  'application/octet-stream',
  'text/plain',
  'application/offset+octet-streamx',
  'application/offset-octet-stream',
  'application/offset+octet',
  'offset+octet-stream',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/json',
  '*/*',
  'application/*',
  'application/offset+octet-stream, text/plain',
];

export const ACCEPTED_CONTENT_TYPES: readonly string[] = [
  'application/offset+octet-stream; charset=binary',
  'APPLICATION/OFFSET+OCTET-STREAM',
  'Application/Offset+Octet-Stream',
  ' application/offset+octet-stream ',
  'application/offset+octet-stream ; q=1',
];

/** Upload-Checksum values for `body`, and what they must bring. */
export function checksumCases(body: Buffer): PatchCase[] {
  const sum = (value: string, expect: PatchCase['expect'], why = `Upload-Checksum ${JSON.stringify(value).slice(0, 60)}`): PatchCase => ({ why, headers: { 'Upload-Checksum': value }, expect });
  const CAU = ['checksum-algorithm-unsupported'] as const;
  const CM = ['checksum-mismatch'] as const;
  const sha1 = digest64('sha1', body);
  const sha256 = digest64('sha256', body);
  const url = sha256.replace(/\+/g, '-').replace(/\//g, '_');
  const other = Buffer.concat([body, Buffer.from('!')]);
  return [
    sum(`md5 ${createHash('md5').update(body).digest('base64')}`, CAU),
    sum('crc32 AAAAAA==', CAU),
    sum(`sha512 ${createHash('sha512').update(body).digest('base64')}`, CAU, 'a right sha512 digest (not supported)'),
    sum(`sha-256 ${sha256}`, CAU, 'a right digest named sha-256'),
    sum(`sha-1 ${sha1}`, CAU, 'a right digest named sha-1'),
    sum(`sha256\u00e9 ${sha256}`, [...VF, ...CAU], 'an algorithm name with a Latin-1 letter'),
    sum('sha1', VF),
    sum('sha1 ', VF),
    sum('', VF),
    sum('sha1 !!!!', VF),
    sum(`sha256 ${url === sha256 ? `${url}-` : url}`, [...VF, ...CM], 'the digest in base64url'),
    sum(`sha1 ${sha1}, sha256 ${sha256}`, VF, 'two checksums'),
    sum(`sha1:${sha1}`, VF),
    sum(`sha1=${sha1}`, VF),
    sum(`sha1 ${sha1} ${sha1}`, VF),
    sum(`sha1 ${sha256}`, CM, 'the sha256 digest named sha1'),
    sum(`sha256 ${sha1}`, CM, 'the sha1 digest named sha256'),
    sum(`sha256 ${digest64('sha256', other)}`, CM, 'the digest of other bytes'),
    sum(`sha256 ${'A'.repeat(10_000)}`, CM, 'a 10,000-character digest'),
    sum('sha256 AAAA', CM),
    sum(`SHA256 ${sha256}`, 'accepted', 'a right digest, algorithm in capitals'),
    sum(`sha256  ${sha256}`, 'either', 'a right digest after two spaces'),
    sum(`sha256 ${sha256.replace(/=+$/, '')}`, 'either', 'a right digest without padding'),
  ];
}

export const METHOD_OVERRIDES: readonly string[] = [
  'PATCH',
  'HEAD',
  'patch',
  'Patch',
  ' PATCH ',
  'GET',
  'POST',
  'PUT',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PROPFIND',
  'MKCOL',
  'M-SEARCH',
  'PATCH, DELETE',
  'PATCH DELETE',
  'HEAD,PATCH',
  '',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'x'.repeat(2000),
  '\u00e9',
];
