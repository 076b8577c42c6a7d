// Generators of bad (and, to keep the refusals honest, good) input. Where an outcome is
// predicted, it is built into the value as it is generated, from the API contract
// (design.md), never computed by the code under test.
import fc from 'fast-check';
import { NASTY_IDS, NASTY_INDICES } from './corpus';
import { multipartBody, type PartSpec } from './support/multipart';

const GiB = 1024 ** 3;
const MAX_UPLOAD_BYTES = 100 * GiB;
const DEFAULT_CHUNK_SIZE = 8 * 1024 ** 2;
const MIN_CHUNK_SIZE = 64 * 1024;
const MAX_CHUNK_SIZE = 64 * 1024 ** 2;
const MAX_CHUNK_COUNT = 16_384;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (s: string): boolean => UUID.test(s);

/** What a filename loses (README): control characters and bidirectional overrides. */
// eslint-disable-next-line no-control-regex
const DROPPED = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** Filename lengths count characters, that is code points, not UTF-16 units. */
const charCount = (s: string) => [...s].length;
const isSeparator = (c: string) => c === '/' || c === '\\';

/** One field of a generated request: the value sent, or absent, and whether the API must take it. */
export interface Field {
  value?: unknown;
  absent?: true;
  valid: boolean;
}
const good = (value: unknown): Field => ({ value, valid: true });
const bad = (value: unknown): Field => ({ value, valid: false });
const absent = (valid: boolean): Field => ({ absent: true, valid });

const droppedChar = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0x7f, max: 0x9f }), fc.constantFrom(0x200e, 0x200f, 0x202a, 0x202e, 0x2066, 0x2069)).map((c) => String.fromCharCode(c));
/** fc.integer stops at 32 bits; sizes go up to 2^53. */
const wide = (min: number, max: number) => fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);

const anyChar = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
/** A character a filename keeps: anything but dropped characters and path separators. */
const keptChar = fc.oneof(anyChar, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })).filter((c) => !DROPPED.test(c) && ![...c].some(isSeparator));

/** Inserts `noise` strings at random places of `base`. */
function sprinkle(base: fc.Arbitrary<string>, noise: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat(), noise), { maxLength: 4 })).map(([text, inserts]) => {
    // Code points, not UTF-16 units: splitting a surrogate pair would make a different name.
    const out = [...text];
    for (const [at, piece] of inserts) out.splice(at % (out.length + 1), 0, piece);
    return out.join('');
  });
}

/** Anything followed by a path separator: all of it is dropped from a filename. */
const pathPrefix = fc.tuple(fc.string({ unit: 'binary', maxLength: 30 }), fc.constantFrom('/', '\\')).map(([dir, sep]) => dir + sep);

export interface FilenameField extends Field {
  /** The name the upload must get, when valid. */
  kept?: string;
}

/**
 * A valid name hidden among dropped characters after a path. It is already in NFC and has
 * no surrounding spaces: the README promises NFC and trimming, and such a name stays as it is.
 */
const validFilename: fc.Arbitrary<FilenameField> = fc
  .tuple(fc.string({ unit: keptChar, minLength: 1, maxLength: 40 }).filter((b) => b.trim() === b && b.normalize('NFC') === b), fc.option(pathPrefix, { nil: '' }))
  .chain(([kept, prefix]) => sprinkle(fc.constant(kept), droppedChar).map((body) => ({ value: prefix + body, valid: true, kept })));

const filenameField: fc.Arbitrary<FilenameField> = fc.oneof(
  { weight: 6, arbitrary: validFilename },
  { weight: 1, arbitrary: fc.string({ unit: keptChar, minLength: 256, maxLength: 300 }).filter((b) => charCount(b.normalize('NFC').trim()) > 255).map(bad) },
  { weight: 1, arbitrary: fc.tuple(fc.option(pathPrefix, { nil: '' }), fc.string({ unit: fc.oneof(droppedChar, fc.constantFrom(' ', '\t', '\u3000', '\u2028')), maxLength: 8 })).map(([p, s]) => bad(p + s)) },
  { weight: 1, arbitrary: fc.constant('x'.repeat(4097)).map(bad) },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.constant({ name: 'a' })).map(bad) },
  { weight: 1, arbitrary: fc.constant(absent(false)) },
);

const sizeField: fc.Arbitrary<Field & { tooLarge?: boolean }> = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.integer({ min: 0, max: 10 * MIN_CHUNK_SIZE }), fc.constantFrom(0, 1, MIN_CHUNK_SIZE - 1, MIN_CHUNK_SIZE, MIN_CHUNK_SIZE + 1, MAX_UPLOAD_BYTES), wide(0, MAX_UPLOAD_BYTES)).map(good) },
  { weight: 1, arbitrary: wide(MAX_UPLOAD_BYTES + 1, Number.MAX_SAFE_INTEGER).map((v) => ({ ...good(v), tooLarge: true })) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -100, max: -1 }), wide(Number.MIN_SAFE_INTEGER, -1)).map(bad) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e12 }).filter((d) => !Number.isInteger(d)).map(bad) },
  { weight: 1, arbitrary: fc.constantFrom(2 ** 53, 2 ** 64, 1e20, 1e308, Number.MAX_VALUE).map(bad) },
  { weight: 1, arbitrary: fc.oneof(wide(0, MAX_UPLOAD_BYTES).map(String), fc.constant(null), fc.boolean(), fc.constant([1]), fc.constant({})).map(bad) },
  { weight: 1, arbitrary: fc.constant(absent(false)) },
);

const chunkSizeField: fc.Arbitrary<Field> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(absent(true)) },
  { weight: 3, arbitrary: fc.oneof(fc.integer({ min: MIN_CHUNK_SIZE, max: MAX_CHUNK_SIZE }), fc.constantFrom(MIN_CHUNK_SIZE, MAX_CHUNK_SIZE)).map(good) },
  { weight: 2, arbitrary: fc.oneof(fc.integer({ min: -1e9, max: MIN_CHUNK_SIZE - 1 }), wide(MAX_CHUNK_SIZE + 1, 2 ** 40), fc.constantFrom(0, MIN_CHUNK_SIZE + 0.5, 1e300)).map(bad) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(String(MIN_CHUNK_SIZE)), fc.constant(null), fc.constant([MIN_CHUNK_SIZE])).map(bad) },
);

const mimeToken = fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,15}$/);
const contentTypeField: fc.Arbitrary<Field> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(absent(true)) },
  { weight: 3, arbitrary: fc.tuple(mimeToken, mimeToken, fc.constantFrom('', '; charset=utf-8', ';q=1', '; name="a b"')).map(([t, s, p]) => good(`${t}/${s}${p}`)) },
  { weight: 2, arbitrary: fc.oneof(fc.constantFrom('', 'text', 'text/', '/plain', 'a/b/c', 'text/plain\r\nx: y', 'te xt/plain', `${'a'.repeat(300)}/b`), mimeToken).map(bad) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.constant(['text/plain'])).map(bad) },
);

const sha256Field: fc.Arbitrary<Field> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(absent(true)) },
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9a-fA-F]{64}$/).map(good) },
  { weight: 2, arbitrary: fc.oneof(fc.stringMatching(/^[0-9a-f]{63}$/), fc.stringMatching(/^[0-9a-f]{65}$/), fc.stringMatching(/^[0-9a-f]{10}[g-z][0-9a-f]{53}$/), fc.constant('')).map(bad) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null)).map(bad) },
);

// NUL is refused (PostgreSQL's jsonb cannot hold it): valid metadata leaves it out, and a
// generated invalid entry below carries one.
const metadataText = (min: number, max: number) => fc.string({ unit: 'binary', minLength: min, maxLength: max }).filter((s) => !s.includes('\u0000'));
const metadataEntries = (keys: fc.Arbitrary<string>, values: fc.Arbitrary<string>, min: number, max: number) =>
  fc.uniqueArray(fc.tuple(keys, values), { minLength: min, maxLength: max, selector: ([k]) => k });

export interface MetadataField extends Field {
  entries?: [string, string][];
}
const metadataField: fc.Arbitrary<MetadataField> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(absent(true)) },
  { weight: 3, arbitrary: metadataEntries(metadataText(1, 64), metadataText(0, 64), 0, 32).map((entries) => ({ entries, valid: true })) },
  { weight: 1, arbitrary: metadataEntries(metadataText(1, 64), metadataText(0, 8), 33, 40).map((entries) => ({ entries, valid: false })) },
  { weight: 1, arbitrary: fc.tuple(metadataText(65, 80), metadataText(0, 8)).map((e) => ({ entries: [e], valid: false })) },
  { weight: 1, arbitrary: fc.tuple(fc.constant(''), metadataText(0, 8)).map((e) => ({ entries: [e], valid: false })) },
  { weight: 1, arbitrary: fc.tuple(metadataText(1, 8), fc.constant('v'.repeat(1025))).map((e) => ({ entries: [e], valid: false })) },
  { weight: 1, arbitrary: fc.tuple(metadataText(0, 8), metadataText(0, 8)).map(([a, b]) => ({ entries: [[`k${a}`, `${b}\u0000`]] as [string, string][], valid: false })) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(['a']), fc.constant('a=b'), fc.constant(null), fc.constant({ a: 1 }), fc.constant({ a: { b: 'c' } })).map(bad) },
);

const KNOWN_KEYS = ['filename', 'size', 'contentType', 'chunkSize', 'sha256', 'metadata'];
const extraField: fc.Arbitrary<[string, unknown] | null> = fc.option(
  fc.tuple(
    fc.oneof(fc.constantFrom('__proto__', 'constructor', 'ownerId', 'state', 'id', 'FileName', 'size '), fc.string({ unit: 'binary', maxLength: 12 })).filter((k) => !KNOWN_KEYS.includes(k)),
    fc.jsonValue({ maxDepth: 2 }),
  ),
  { freq: 6 },
);

/** JSON text of an object with exactly these members, `__proto__` included as a plain key. */
function objectText(members: [string, unknown][]): string {
  return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

export interface CreateCase {
  text: string;
  filename: FilenameField;
  size: Field & { tooLarge?: boolean };
  chunkSize: Field;
  contentType: Field;
  sha256: Field;
  metadata: MetadataField;
  extra: [string, unknown] | null;
  notAnObject?: unknown;
}

export const createCase: fc.Arbitrary<CreateCase> = fc.oneof(
  {
    weight: 19,
    arbitrary: fc.record({ filename: filenameField, size: sizeField, chunkSize: chunkSizeField, contentType: contentTypeField, sha256: sha256Field, metadata: metadataField, extra: extraField }).map((c) => {
      const members: [string, unknown][] = [];
      const put = (name: string, field: Field) => {
        if (!field.absent) members.push([name, field.value]);
      };
      put('filename', c.filename);
      put('size', c.size);
      put('chunkSize', c.chunkSize);
      put('contentType', c.contentType);
      put('sha256', c.sha256);
      if (c.metadata.entries) members.push(['metadata', 'ENTRIES']);
      else put('metadata', c.metadata);
      if (c.extra) members.push(c.extra);
      const text = objectText(members).replace('"ENTRIES"', () => objectText(c.metadata.entries ?? []));
      return { ...c, text };
    }),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }), fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null), fc.boolean()).map((notAnObject) => ({
      text: JSON.stringify(notAnObject),
      notAnObject,
      filename: bad(undefined),
      size: bad(undefined),
      chunkSize: absent(true),
      contentType: absent(true),
      sha256: absent(true),
      metadata: absent(true),
      extra: null,
    })),
  },
);

export type CreateOutcome = { created: true; chunkCount: number; chunkSize: number } | { created: false; type: 'validation-failed' | 'payload-too-large' };

/** What the contract says must happen to a generated upload description. */
export function expectedCreateOutcome(c: CreateCase): CreateOutcome {
  const fields = [c.filename, c.size, c.chunkSize, c.contentType, c.sha256, c.metadata];
  if (c.notAnObject !== undefined || c.extra || fields.some((f) => !f.valid)) return { created: false, type: 'validation-failed' };
  if (c.size.tooLarge) return { created: false, type: 'payload-too-large' };
  const size = c.size.value as number;
  const chunkSize = c.chunkSize.absent ? DEFAULT_CHUNK_SIZE : (c.chunkSize.value as number);
  const chunkCount = Math.ceil(size / chunkSize);
  if (chunkCount > MAX_CHUNK_COUNT) return { created: false, type: 'validation-failed' };
  return { created: true, chunkCount, chunkSize };
}

/** A JSON document damaged the way a buggy client or a cut connection damages one. */
export const damagedJson: fc.Arbitrary<string> = fc.oneof(
  createCase.chain((c) => fc.nat({ max: Math.max(0, c.text.length - 1) }).map((n) => c.text.slice(0, n))),
  createCase.chain((c) => fc.tuple(fc.nat({ max: c.text.length }), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })).map(([n, s]) => c.text.slice(0, n) + s + c.text.slice(n))),
  createCase.chain((c) => fc.nat({ max: Math.max(0, c.text.length - 1) }).map((n) => c.text.slice(0, n) + c.text.slice(n + 1))),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

/** A path segment that is not a UUID, percent-encoded as a client would put it on the wire. */
export const notUuidSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NASTY_IDS),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }).map(encodeURIComponent),
  fc.uuid().chain((u) =>
    fc.oneof(
      fc.nat({ max: 35 }).map((i) => u.slice(0, i) + u.slice(i + 1)),
      fc.tuple(fc.nat({ max: 36 }), fc.constantFrom('0', 'a', '-', 'z', '%20', '.')).map(([i, s]) => u.slice(0, i) + s + u.slice(i)),
      fc.nat({ max: 35 }).map((i) => `${u.slice(0, i)}${u[i] === '-' ? 'a' : 'g'}${u.slice(i + 1)}`),
      fc.constant(u.replace(/-/g, '')),
      fc.integer({ min: 2, max: 200 }).map((n) => u.repeat(n)),
    ),
  ),
).filter((s) => s !== '' && !isUuid(decodeSafely(s)));

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A chunk index in the path that is not a whole number from 0. */
export const notAnIndex: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NASTY_INDICES),
  fc.integer({ min: -1e9, max: -1 }).map(String),
  fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)).map((d) => encodeURIComponent(String(d))),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((s) => !/^\d+$/.test(s)).map(encodeURIComponent),
);

/** A Content-Digest header: absent, malformed, another algorithm's, or well-formed but of other bytes. */
export type DigestField = { kind: 'none' } | { kind: 'malformed'; header: string } | { kind: 'other-algorithm'; header: string } | { kind: 'wrong-bytes'; header: string };

const base64Of = (length: number) => fc.uint8Array({ minLength: length, maxLength: length }).map((b) => Buffer.from(b).toString('base64'));
export const digestField: fc.Arbitrary<DigestField> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        base64Of(32).map((b) => `sha-256=${b}`),
        base64Of(32).map((b) => `sha-256=:${b.slice(0, -1)}:`),
        fc.integer({ min: 0, max: 64 }).filter((n) => n !== 32).chain((n) => base64Of(n)).map((b) => `sha-256=:${b}:`),
        fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => `sha-256=:${s}:`),
        fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => `sha-256=${s}`),
      )
      .filter((h) => !/^sha-256=:[A-Za-z0-9+/]{43}=:$/i.test(h))
      .map((header) => ({ kind: 'malformed' as const, header })),
  },
  { weight: 1, arbitrary: fc.constantFrom('sha-512', 'md5', 'sha', 'unixsum').chain((alg) => base64Of(16).map((b) => ({ kind: 'other-algorithm' as const, header: `${alg}=:${b}:` }))) },
  { weight: 1, arbitrary: base64Of(32).map((b) => ({ kind: 'wrong-bytes' as const, header: `sha-256=:${b}:` })) },
);

/** A multipart body whose first file part can never be a whole chunk of `expectedLength` bytes. */
export interface MultipartCase {
  contentType: string;
  body: Buffer;
  /** For failure messages: what was generated, without the bytes. */
  shape: string;
}

const bchars = fc.stringMatching(/^[A-Za-z0-9'()+_,.:=?-]{1,70}$/);
const partName = fc.string({ unit: fc.constantFrom(...'abcxyz_-. 0123'.split(''), 'é', '💩'), maxLength: 10 });

export function multipartCase(expectedLength: number): fc.Arbitrary<MultipartCase> {
  const part = fc.record({
    file: fc.boolean(),
    name: partName,
    filename: partName,
    length: fc.oneof(fc.constantFrom(0, 1, expectedLength - 1, expectedLength + 1), fc.integer({ min: 0, max: expectedLength * 2 })).filter((n) => n !== expectedLength && n >= 0),
    contentType: fc.constantFrom(undefined, 'application/octet-stream', 'text/plain', 'x'),
  });
  const damage = fc.oneof(
    fc.constant({ kind: 'none' as const }),
    fc.constant({ kind: 'unclosed' as const }),
    fc.nat().map((at) => ({ kind: 'truncated' as const, at })),
    fc.constant({ kind: 'other-boundary' as const }),
    fc.constant({ kind: 'no-boundary' as const }),
    fc.constantFrom('application/octet-stream', 'application/json', 'multipart/mixed; boundary=b', 'text/plain').map((type) => ({ kind: 'not-form-data' as const, type })),
    fc.constant({ kind: 'bare-newlines' as const }),
    fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((junk) => ({ kind: 'junk-before' as const, junk })),
  );
  return fc.record({ boundary: bchars, parts: fc.array(part, { maxLength: 3 }), damage }).map(({ boundary, parts, damage: d }) => {
    const specs = parts.map((p) => ({
      name: p.name,
      ...(p.file ? { filename: p.filename } : {}),
      ...(p.contentType ? { contentType: p.contentType } : {}),
      data: Buffer.alloc(p.length, 0x61),
    }));
    let body = multipartBody(boundary, specs as PartSpec[], { close: d.kind !== 'unclosed', newline: d.kind === 'bare-newlines' ? '\n' : '\r\n' });
    if (d.kind === 'truncated') body = body.subarray(0, d.at % (body.length + 1));
    if (d.kind === 'junk-before') body = Buffer.concat([Buffer.from(`--${boundary}junk${d.junk}\r\n`), body]);
    const contentType =
      d.kind === 'other-boundary' ? `multipart/form-data; boundary=${boundary}x`
      : d.kind === 'no-boundary' ? 'multipart/form-data'
      : d.kind === 'not-form-data' ? d.type
      : `multipart/form-data; boundary="${boundary}"`;
    const shape = JSON.stringify({ boundary, damage: d, parts: parts.map((p) => ({ file: p.file, name: p.name, filename: p.filename, length: p.length })) });
    return { contentType, body, shape };
  });
}

