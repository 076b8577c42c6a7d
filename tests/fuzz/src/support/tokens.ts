import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { signWith } from './fuzz-stack';

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A JWT signed with HMAC over exactly these header and payload values, whatever they are. */
function hmacToken(secret: string, header: unknown, payload: unknown, hash = 'sha256'): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

/** How a bad credential was made, for failure messages, and the Authorization header carrying it. */
export interface BadCredential {
  how: string;
  authorization?: string;
  /** The bad token itself, where the badness is in the token rather than in the header around it. */
  token?: string;
}

/**
 * Tokens no verifier may accept for `owner`, though many are close to valid ones: forged,
 * expired, unsigned (`alg: none`), signed with another algorithm or secret, tampered with,
 * or without the claims the README requires (`sub`, `exp`).
 */
export async function forgedTokens(secret: string, owner: string): Promise<BadCredential[]> {
  const valid = await signWith(secret, { sub: owner });
  const [header = '', payload = '', signature = ''] = valid.split('.');
  const otherSecret = randomBytes(32).toString('base64url');
  const tokens: [string, string][] = [
    ['alg none, no signature', `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: owner, exp: now() + 3600 })}.`],
    ['alg none, valid signature kept', `${b64url({ alg: 'none' })}.${payload}.${signature}`],
    ['alg NONE', `${b64url({ alg: 'NONE' })}.${b64url({ sub: owner, exp: now() + 3600 })}.`],
    ['HS512 with the right secret', await signWith(secret, { sub: owner }, { alg: 'HS512' })],
    ['HS384 with the right secret', await signWith(secret, { sub: owner }, { alg: 'HS384' })],
    ['RS256 header over an HMAC signature', hmacToken(secret, { alg: 'RS256' }, { sub: owner, exp: now() + 3600 })],
    ['another secret', await signWith(otherSecret, { sub: owner })],
    ['empty secret', hmacToken('', { alg: 'HS256' }, { sub: owner, exp: now() + 3600 })],
    ['expired an hour ago', await signWith(secret, { sub: owner, iat: now() - 7200, exp: now() - 3600 })],
    ['expired ten minutes ago', await signWith(secret, { sub: owner, exp: now() - 600 })],
    ['not valid for another hour', await signWith(secret, { sub: owner, nbf: now() + 3600 })],
    ['no exp', hmacToken(secret, { alg: 'HS256' }, { sub: owner })],
    ['exp as a string', hmacToken(secret, { alg: 'HS256' }, { sub: owner, exp: 'never' })],
    ['no sub', await signWith(secret, {})],
    ['empty sub', await signWith(secret, { sub: '' })],
    ['sub a number', hmacToken(secret, { alg: 'HS256' }, { sub: 42, exp: now() + 3600 })],
    ['sub an object', hmacToken(secret, { alg: 'HS256' }, { sub: { id: owner }, exp: now() + 3600 })],
    ['payload an array', hmacToken(secret, { alg: 'HS256' }, [owner])],
    ['payload not JSON', `${header}.${b64url('not json')}.${createHmac('sha256', secret).update(`${header}.${b64url('not json')}`).digest('base64url')}`],
    ['header not JSON', hmacToken(secret, 'not json', { sub: owner, exp: now() + 3600 })],
    ['unknown critical header', hmacToken(secret, { alg: 'HS256', crit: ['x-must'], 'x-must': 1 }, { sub: owner, exp: now() + 3600 })],
    ['payload swapped for another owner', `${header}.${b64url({ sub: 'someone-else', exp: now() + 3600 })}.${signature}`],
    ['signature cut', `${header}.${payload}.${signature.slice(0, -4)}`],
    ['signature of another token', `${header}.${payload}.${(await signWith(secret, { sub: `${owner}x` })).split('.')[2]}`],
    ['two parts', `${header}.${payload}`],
    ['four parts', `${valid}.${signature}`],
    ['JWE-shaped', `${b64url({ alg: 'dir', enc: 'A256GCM' })}....`],
    ['empty', ''],
    ['dots', '...'],
    ['very long', 'a'.repeat(8000)],
  ];
  return [
    ...tokens.map(([how, token]) => ({ how, token, authorization: `Bearer ${token}` })),
    { how: 'no Authorization header' },
    { how: 'Basic credentials', authorization: `Basic ${Buffer.from(`${owner}:password`).toString('base64')}` },
    { how: 'a token without "Bearer"', authorization: valid },
    { how: 'Bearer twice', authorization: `Bearer Bearer ${valid}` },
    { how: 'a token and more', authorization: `Bearer ${valid} ${valid}` },
    { how: 'a token in the wrong scheme', authorization: `Token ${valid}` },
  ];
}

/** A valid token damaged at a generated place: every such change must be refused. */
export function tamperedToken(valid: string): fc.Arbitrary<BadCredential> {
  return fc
    .tuple(fc.nat({ max: valid.length - 1 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.='.split('')))
    .filter(([at, c]) => valid[at] !== c && !(at === valid.length - 1 && sameLastBits(valid[at]!, c)))
    .map(([at, c]) => ({ how: `character ${at} changed to ${c}`, authorization: `Bearer ${valid.slice(0, at)}${c}${valid.slice(at + 1)}` }));
}

/**
 * Base64url decoders ignore the unused low bits of the last character, so changing only
 * those leaves the token's bytes, and its validity, intact: not a tampering at all.
 */
function sameLastBits(a: string, b: string): boolean {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const i = alphabet.indexOf(a);
  const j = alphabet.indexOf(b);
  return i >= 0 && j >= 0 && i >> 2 === j >> 2;
}

/** Arbitrary garbage in the Authorization header. */
export const garbageCredential: fc.Arbitrary<BadCredential> = fc
  .oneof(
    fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 80 }).map((s) => `Bearer ${s}`),
    fc.tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 80 }), fc.base64String({ maxLength: 50 })).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
    fc.jsonValue({ maxDepth: 2 }).map((payload) => `Bearer ${b64url({ alg: 'HS256' })}.${b64url(payload)}.${randomBytes(32).toString('base64url')}`),
  )
  .map((authorization) => ({ how: `garbage ${JSON.stringify(authorization).slice(0, 80)}`, authorization }));
