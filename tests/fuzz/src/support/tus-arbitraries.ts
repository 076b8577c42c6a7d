// Generators of tus request headers, each value carrying what the contract
// (/work/tus-contract.md) makes of it: valid (and then what it means), or the refusal due.
import fc from 'fast-check';
import { notUuidSegment } from '../arbitraries';
import type { ProblemType } from './problems';
import { b64, digest64 } from './tus-client';

/** HTTP strips spaces and tabs around a header value (RFC 9110 OWS): a value wrapped in them is the same value. */
const ows = fc.constantFrom('', '', '', ' ', '\t', '  ');
const wrapped = (value: string) => fc.tuple(ows, ows).map(([a, b]) => `${a}${value}${b}`);
/** fc.integer stops at 32 bits; lengths go up to 2^53. */
const wide = (min: number, max: number) => fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);

export type LengthField =
  | { kind: 'absent' }
  | { kind: 'valid'; header: string; value: number }
  | { kind: 'too-large'; header: string }
  /** A whole number too big to hold: 400 (not a byte count) or 413 (too large) are both right. */
  | { kind: 'huge'; header: string }
  | { kind: 'bad'; header: string };

/** `Upload-Length` at creation; `small` bounds valid lengths (the bytes of a creation-with-upload are sent). */
export function uploadLength(maxSize: number, small = 3 * 65_536): fc.Arbitrary<LengthField> {
  const valid = fc.oneof(fc.nat({ max: small }), fc.constantFrom(0, 1, 65_535, 65_536, 65_537)).chain((value) => wrapped(String(value)).map((header) => ({ kind: 'valid' as const, header, value })));
  const tooLarge = fc.oneof(wide(maxSize + 1, Number.MAX_SAFE_INTEGER), fc.constantFrom(maxSize + 1, Number.MAX_SAFE_INTEGER)).map((n) => ({ kind: 'too-large' as const, header: String(n) }));
  const huge = fc.oneof(fc.constantFrom(String(2 ** 53), String(2 ** 53 + 1), '18446744073709551616', '9'.repeat(30)), fc.stringMatching(/^[1-9]\d{16,40}$/)).map((header) => ({ kind: 'huge' as const, header }));
  const bad = fc
    .oneof(
      fc.integer({ min: -1e9, max: -1 }).map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 1e9 }).filter((d) => !Number.isInteger(d)).map(String),
      fc.nat().map((n) => `${n}.0`),
      fc.nat().map((n) => `0x${n.toString(16)}`),
      fc.nat().map((n) => `${n}e0`),
      fc.nat().map((n) => `+${n}`),
      fc.tuple(fc.nat(999), fc.nat(999)).map(([a, b]) => `${a} ${b}`),
      fc.tuple(fc.nat(999), fc.nat(999)).map(([a, b]) => `${a},${b}`),
      fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
      fc.constantFrom('', '-0', 'NaN', 'Infinity', 'null', 'true', '\u00b2', '5\u00a0', '\u00a05', '1_000', '1,000', '١', '5;q=1'),
    )
    // Digits with only spaces or tabs around them are a valid length.
    .filter((s) => !/^[ \t]*\d+[ \t]*$/.test(s) && [...s].every((c) => c.charCodeAt(0) <= 0xff))
    .map((header) => ({ kind: 'bad' as const, header }));
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: tooLarge }, { weight: 1, arbitrary: huge }, { weight: 2, arbitrary: bad }, { weight: 2, arbitrary: fc.constant({ kind: 'absent' as const }) });
}

export type DeferField = { kind: 'absent' } | { kind: 'valid'; header: string } | { kind: 'bad'; header: string };

export const deferLength: fc.Arbitrary<DeferField> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'absent' as const }) },
  { weight: 2, arbitrary: wrapped('1').map((header) => ({ kind: 'valid' as const, header })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(fc.constantFrom('0', '2', '01', '1.0', 'true', 'yes', '', '-1', '1,1', '11', '+1', '\u00b91'), fc.string({ unit: 'grapheme-ascii', maxLength: 6 }))
      .filter((s) => s.replace(/^[ \t]+|[ \t]+$/g, '') !== '1')
      .map((header) => ({ kind: 'bad' as const, header })),
  },
);

/** Characters a metadata key may hold: visible ASCII but the comma that separates pairs. */
const KEY_CHARS = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => c !== ',');
const NAMING_KEYS = ['filename', 'name', 'filetype', 'type'];
const metadataKey = fc.string({ unit: fc.constantFrom(...KEY_CHARS), minLength: 1, maxLength: 16 }).filter((k) => !NAMING_KEYS.includes(k));
/** A value: none (key only), base64 of any bytes (binary, empty, not UTF-8) or of any text. */
const metadataValue = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 48 }).map((bytes) => b64(Buffer.from(bytes))),
  fc.string({ unit: 'binary', maxLength: 40 }).map((text) => b64(text)),
);
/** Names and types the upload must take over as they are. */
const simpleName = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._ -]{0,40}[A-Za-z0-9_]$/);
const simpleType = fc.tuple(fc.stringMatching(/^[a-z]{1,12}$/), fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,15}$/)).map(([a, b]) => `${a}/${b}`);

export interface MetadataField {
  /** Absent: no header. */
  header?: string;
  valid: boolean;
  /** For failure messages. */
  damage?: string;
  filename?: string;
  filetype?: string;
}

function join(pairs: string[], separators: string[]): string {
  return pairs.map((p, i) => (i === 0 ? p : `${separators[i % separators.length] ?? ','}${p}`)).join('');
}

const pairsOf = fc
  .record({
    others: fc.uniqueArray(fc.tuple(metadataKey, metadataValue), { maxLength: 10, selector: ([k]) => k }),
    filename: fc.option(fc.tuple(fc.constantFrom('filename', 'name'), simpleName), { nil: undefined }),
    filetype: fc.option(fc.tuple(fc.constantFrom('filetype', 'type'), simpleType), { nil: undefined }),
    separators: fc.array(fc.constantFrom(',', ', '), { minLength: 1, maxLength: 3 }),
  })
  .map(({ others, filename, filetype, separators }) => {
    const entries: [string, string | undefined][] = [...others];
    if (filename) entries.unshift([filename[0], b64(filename[1])]);
    if (filetype) entries.push([filetype[0], b64(filetype[1])]);
    return { entries, separators, filename: filename?.[1], filetype: filetype?.[1] };
  });

const pairText = ([k, v]: [string, string | undefined]) => (v === undefined ? k : `${k} ${v}`);

const badBase64 = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHabcdefgh0123+/'), minLength: 1, maxLength: 15 }).filter((s) => s.length % 4 !== 0),
  fc.tuple(fc.uint8Array({ minLength: 3, maxLength: 30 }), fc.nat(), fc.constantFrom('-', '_', '!', '*', '.', '~', '"', '\u00e9', '=', ':')).map(([bytes, at, c]) => {
    const text = b64(Buffer.from(bytes));
    const i = at % text.length;
    return text.slice(0, i) + c + text.slice(i + 1);
  }),
  fc.constantFrom('====', '=AAA', 'A=AA', 'AA=A', 'Y===', 'YQ==YQ==', 'YQ', 'YQ=', 'YWJj=', '@@@@'),
  // A damage can land on a spelling that is still base64 ("AAAA" → "AAA="): that one is not bad.
).filter((v) => !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v));

/** `Upload-Metadata`: absent, a valid list of pairs, or one made invalid in one place. */
export const uploadMetadata: fc.Arbitrary<MetadataField> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ valid: true }) },
  {
    weight: 4,
    arbitrary: pairsOf.filter((p) => p.entries.length > 0).map((p) => ({ header: join(p.entries.map(pairText), p.separators), valid: true, ...(p.filename ? { filename: p.filename } : {}), ...(p.filetype ? { filetype: p.filetype } : {}) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        pairsOf.filter((p) => p.entries.length > 0),
        fc.nat(),
        fc.constantFrom('empty-pair', 'bad-base64', 'three-tokens', 'two-spaces', 'tab', 'duplicate-key'),
        badBase64,
      )
      .map(([p, at, damage, bad]) => {
        const pairs = p.entries.map(pairText);
        const i = at % pairs.length;
        const [key, value] = p.entries[i]!;
        if (damage === 'empty-pair') pairs.splice(at % (pairs.length + 1), 0, '');
        if (damage === 'bad-base64') pairs[i] = `${key} ${bad}`;
        // A non-empty value: whitespace at the end of the header is no part of it (HTTP trims it).
        const v = value || 'YQ==';
        if (damage === 'three-tokens') pairs[i] = `${key} ${v} ${v}`;
        if (damage === 'two-spaces') pairs[i] = `${key}  ${v}`;
        if (damage === 'tab') pairs[i] = `${key}\t${v}`;
        if (damage === 'duplicate-key') pairs.splice(at % (pairs.length + 1), 0, `${key} ${b64('again')}`);
        return { header: join(pairs, p.separators), valid: false, damage };
      }),
  },
);

/** Where a part of a final upload points. */
export interface PartRef {
  /** What goes into Upload-Concat. */
  text: string;
  /** The upload id it names, when it is a valid part. */
  id?: string;
  why: string;
}

export interface PartPool {
  /** The caller's own partial uploads (finished or not): valid parts. */
  own: string[];
  /** References that are not partial uploads of the caller, with why. */
  refused: PartRef[];
  gatewayUrl: string;
}

export type ConcatField =
  | { kind: 'absent' }
  | { kind: 'partial'; header: string }
  | { kind: 'garbage'; header: string }
  | { kind: 'final'; header: string; parts: PartRef[]; valid: boolean };

export function uploadConcat(pool: PartPool): fc.Arbitrary<ConcatField> {
  const own: fc.Arbitrary<PartRef> = fc.tuple(fc.constantFrom(...pool.own), fc.constantFrom('path', 'absolute')).map(([id, form]) => ({ text: form === 'path' ? `/files/${id}` : `${pool.gatewayUrl}/files/${id}`, id, why: `own partial (${form})` }));
  const notUuid: fc.Arbitrary<PartRef> = notUuidSegment.filter((s) => s.length <= 200).map((s) => ({ text: `/files/${s}`, why: 'not a UUID' }));
  const unknown: fc.Arbitrary<PartRef> = fc.uuid().map((id) => ({ text: `/files/${id}`, why: 'unknown id' }));
  const refused: fc.Arbitrary<PartRef> = fc.oneof(fc.constantFrom(...pool.refused), notUuid, unknown);
  const parts = fc.array(fc.oneof({ weight: 4, arbitrary: own }, { weight: 1, arbitrary: refused }), { minLength: 1, maxLength: 5 });
  const final = parts.map((list) => {
    const ids = list.map((p) => p.id);
    const valid = ids.every((id) => id !== undefined) && new Set(ids).size === ids.length;
    return { kind: 'final' as const, header: `final;${list.map((p) => p.text).join(' ')}`, parts: list, valid };
  });
  const garbage = fc
    .oneof(
      fc.constantFrom('partial;', 'final', 'final;', 'final; ', 'final;  ', 'none', 'PARTIAL', 'partial,partial', 'partial final', 'final:/files/x', 'finally;', 'partialx', '\u00e9'),
      fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
    )
    .filter((s) => {
      const t = s.replace(/^[ \t]+|[ \t]+$/g, '');
      // Not "partial", and not a final with parts (one naming no part is garbage too).
      return t !== 'partial' && (!t.startsWith('final;') || /^final;\s*$/.test(t));
    })
    .map((header) => ({ kind: 'garbage' as const, header }));
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant({ kind: 'absent' as const }) },
    { weight: 2, arbitrary: wrapped('partial').map((header) => ({ kind: 'partial' as const, header })) },
    { weight: 1, arbitrary: garbage },
    { weight: 3, arbitrary: final },
  );
}

export type ChecksumField =
  | { kind: 'none' }
  | { kind: 'right'; algorithm: 'sha1' | 'sha256'; spelled: string }
  | { kind: 'wrong'; algorithm: 'sha1' | 'sha256'; spelled: string; digest: string }
  | { kind: 'unsupported'; header: string }
  | { kind: 'malformed'; header: string };

const supported = fc.tuple(fc.constantFrom<'sha1' | 'sha256'>('sha1', 'sha256'), fc.boolean()).map(([algorithm, upper]) => ({ algorithm, spelled: upper ? algorithm.toUpperCase() : algorithm }));

export const checksumField: fc.Arbitrary<ChecksumField> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 2, arbitrary: supported.map((s) => ({ kind: 'right' as const, ...s })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(supported, fc.oneof(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 1, maxLength: 40 })))
      .map(([s, bytes]) => ({ kind: 'wrong' as const, ...s, digest: b64(Buffer.from(bytes)) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(fc.constantFrom('md5', 'crc32', 'sha512', 'sha-256', 'sha-1', 'sha224', 'sha384', 'sha3-256', 'blake2b', 'adler32', 'md4', 'SHA-1', '0', 'x'), fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/)), fc.uint8Array({ minLength: 1, maxLength: 64 }))
      .filter(([alg]) => !['sha1', 'sha256'].includes(alg.toLowerCase()))
      .map(([alg, bytes]) => ({ kind: 'unsupported' as const, header: `${alg} ${b64(Buffer.from(bytes))}` })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.constantFrom('sha1', 'sha256', 'sha1 ', 'sha1 !!!!', 'sha256 ab-_', 'sha1 YQ== YQ==', 'sha1,YQ==', 'sha1:YQ==', 'sha1=YQ==', ' YQ==', 'sha1 YQ===', 'sha1 Y=Q=', 'sha256 \u00e9\u00e9\u00e9\u00e9', 'sha1 YQ==, sha256 YQ=='),
        fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
      )
      .filter((s) => !/^\s*([A-Za-z0-9-]+) +([A-Za-z0-9+/]+={0,2})\s*$/.test(s))
      .map((header) => ({ kind: 'malformed' as const, header })),
  },
);

/** The Upload-Checksum header a checksum field makes for `body`, or undefined. */
export function checksumHeader(field: ChecksumField, body: Buffer): string | undefined {
  switch (field.kind) {
    case 'none':
      return undefined;
    case 'right':
      return `${field.spelled} ${digest64(field.algorithm, body)}`;
    case 'wrong': {
      // A generated digest that happens to be right is made wrong.
      const right = digest64(field.algorithm, body);
      return `${field.spelled} ${field.digest === right ? digest64(field.algorithm, Buffer.concat([body, Buffer.from('x')])) : field.digest}`;
    }
    default:
      return field.header;
  }
}

/** The refusal a checksum field alone is due, if any. */
export function checksumFault(field: ChecksumField): ProblemType | null {
  if (field.kind === 'wrong') return 'checksum-mismatch';
  if (field.kind === 'unsupported') return 'checksum-algorithm-unsupported';
  if (field.kind === 'malformed') return 'validation-failed';
  return null;
}

/** Tus-Resumable values that are not 1.0.0, whatever HTTP trims around them. */
export const otherTusVersion: fc.Arbitrary<string | string[] | false> = fc
  .oneof(
    fc.constant(false as const),
    fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3)).map(([a, b, c]) => `${a}.${b}.${c}`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 16 }),
    fc.constantFrom('1.0.0;q=1', '1.0.0,1.0.0', '1.0.0, 0.2.2', 'v1.0.0', '1.0', '1', '1.0.0.0', '1.00.0', '01.0.0', '1.0.0\u00a0', '\u00a01.0.0', '1 .0.0', 'x'.repeat(4000)),
    fc.constantFrom(['1.0.0', '1.0.0'], ['1.0.0', '0.2.2'], ['0.2.2', '1.0.0']).map((v): string[] => [...v]),
  )
  .filter((v) => v === false || typeof v !== 'string' || v.replace(/^[ \t]+|[ \t]+$/g, '') !== '1.0.0');
