import { SignJWT } from 'jose';
import { UnauthorizedError } from '@tessera/domain';
import { JoseTokenVerifier, rolesOf, signToken } from './jose-token-verifier';

const secret = 'a-test-secret-that-is-at-least-32-characters';
const key = new TextEncoder().encode(secret);
const nowSeconds = () => Math.floor(Date.now() / 1000);
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function refusal(verifier: JoseTokenVerifier, token: string): Promise<UnauthorizedError> {
  const error = await verifier.verify(token).then(
    () => {
      throw new Error('the token was accepted');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnauthorizedError);
  if (token !== '') expect((error as Error).message).not.toContain(token);
  return error as UnauthorizedError;
}

describe('JoseTokenVerifier', () => {
  const verifier = new JoseTokenVerifier({ secret });

  it('accepts a valid token and names its subject as owner', async () => {
    await expect(verifier.verify(await signToken(secret, 'alice'))).resolves.toEqual({ ownerId: 'alice', roles: [] });
  });

  it('checks issuer and audience when configured', async () => {
    const strict = new JoseTokenVerifier({ secret, issuer: 'tessera', audience: 'uploads' });
    await expect(strict.verify(await signToken(secret, 'alice', { issuer: 'tessera', audience: 'uploads' }))).resolves.toEqual({ ownerId: 'alice', roles: [] });
    expect((await refusal(strict, await signToken(secret, 'alice', { issuer: 'other', audience: 'uploads' }))).message).toMatch(/another service/);
    expect((await refusal(strict, await signToken(secret, 'alice'))).message).toMatch(/another service|claim/);
  });

  it('refuses an expired token', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(nowSeconds() - 60).sign(key);
    expect((await refusal(verifier, token)).message).toMatch(/expired/);
  });

  it('honours the clock tolerance', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(nowSeconds() - 5).sign(key);
    await expect(new JoseTokenVerifier({ secret, clockToleranceSeconds: 30 }).verify(token)).resolves.toEqual({ ownerId: 'alice', roles: [] });
  });

  it('refuses a token it accepted before once the token has expired', async () => {
    jest.useFakeTimers({ now: Date.now(), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const remembering = new JoseTokenVerifier({ secret });
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(nowSeconds() + 60).sign(key);
      await expect(remembering.verify(token)).resolves.toEqual({ ownerId: 'alice', roles: [] });
      await expect(remembering.verify(token)).resolves.toEqual({ ownerId: 'alice', roles: [] });
      jest.setSystemTime(Date.now() + 61_000);
      expect((await refusal(remembering, token)).message).toMatch(/expired/);
    } finally {
      jest.useRealTimers();
    }
  });

  it('refuses a token that is not valid yet', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setNotBefore(nowSeconds() + 600).setExpirationTime(nowSeconds() + 1200).sign(key);
    expect((await refusal(verifier, token)).message).toMatch(/not valid yet/);
  });

  it('refuses a token that never expires', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(key);
    expect((await refusal(verifier, token)).message).toMatch(/no valid expiry/);
  });

  it('refuses a token signed with another secret', async () => {
    const token = await signToken('another-secret-that-is-also-32-characters-long', 'alice');
    expect((await refusal(verifier, token)).message).toMatch(/signature/);
  });

  it('refuses an unsigned (alg: none) token', async () => {
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'alice', exp: nowSeconds() + 600 })}.`;
    await refusal(verifier, token);
  });

  it('refuses an HS512 token made with the same secret', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject('alice').setExpirationTime('1h').sign(key);
    expect((await refusal(verifier, token)).message).toMatch(/HS256/);
  });

  it.each([
    ['no sub', {}],
    ['an empty sub', { sub: '' }],
  ])('refuses a token with %s', async (_case, claims) => {
    const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    expect((await refusal(verifier, token)).message).toMatch(/subject/);
  });

  it.each(['garbage', '', 'a.b.c', 'Bearer xyz'])('refuses the malformed token %j', async (token) => {
    const error = await refusal(verifier, token);
    expect(error.message).toMatch(/malformed/);
    expect(error.code).toBe('unauthorized');
  });

  describe('roles', () => {
    it('reads them from the `roles` claim by default, an array or one string', async () => {
      await expect(verifier.verify(await signToken(secret, 'ops', { claims: { roles: ['admin', 'billing'] } }))).resolves.toEqual({ ownerId: 'ops', roles: ['admin', 'billing'] });
      await expect(verifier.verify(await signToken(secret, 'ops', { claims: { roles: 'admin' } }))).resolves.toEqual({ ownerId: 'ops', roles: ['admin'] });
    });

    it('reads them from the configured claim only', async () => {
      const groups = new JoseTokenVerifier({ secret, rolesClaim: 'groups' });
      await expect(groups.verify(await signToken(secret, 'ops', { claims: { groups: ['admin'] } }))).resolves.toEqual({ ownerId: 'ops', roles: ['admin'] });
      await expect(groups.verify(await signToken(secret, 'ops', { claims: { roles: ['admin'] } }))).resolves.toEqual({ ownerId: 'ops', roles: [] });
    });

    it('returns roles that cannot be changed through a remembered principal', async () => {
      const token = await signToken(secret, 'ops', { claims: { roles: ['reader'] } });
      const first = await verifier.verify(token);
      expect(() => (first.roles as string[]).push('admin')).toThrow();
      await expect(verifier.verify(token)).resolves.toEqual({ ownerId: 'ops', roles: ['reader'] });
    });

    it('does not let a role claim in an unsigned or foreign token through', async () => {
      const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'eve', roles: ['admin'], exp: nowSeconds() + 600 })}.`;
      await refusal(verifier, unsigned);
      await refusal(verifier, await signToken('another-secret-that-is-also-32-characters-long', 'eve', { claims: { roles: ['admin'] } }));
    });
  });

  describe(rolesOf.name, () => {
    it.each([
      ['an array of strings', { roles: ['admin', 'ops'] }, 'roles', ['admin', 'ops']],
      ['one string', { roles: 'admin' }, 'roles', ['admin']],
      ['a space-separated string (as `scope`)', { scope: 'read  admin\twrite' }, 'scope', ['read', 'admin', 'write']],
      ['an array with other entries', { roles: ['admin', 1, null, { a: 1 }, '', ['x']] }, 'roles', ['admin']],
      ['no such claim', { sub: 'x' }, 'roles', []],
      ['a number', { roles: 1 }, 'roles', []],
      ['an object', { roles: { admin: true } }, 'roles', []],
      ['a nested claim by dotted name (Keycloak)', { realm_access: { roles: ['admin'] } }, 'realm_access.roles', ['admin']],
      ['a claim whose name has dots (Auth0)', { 'https://tessera.example/roles': ['admin'] }, 'https://tessera.example/roles', ['admin']],
      ['a dotted path through an array', { realm_access: [{ roles: ['admin'] }] }, 'realm_access.0.roles', []],
      ['a dotted path into the prototype', { a: {} }, 'a.constructor.name', []],
      ['a claim literally named __proto__', JSON.parse('{"__proto__": ["admin"]}') as Record<string, unknown>, '__proto__', ['admin']],
      ['a prototype name that is not a claim', {}, 'constructor', []],
    ])('reads %s', (_case, payload, claim, roles) => {
      expect(rolesOf(payload, claim)).toEqual(roles);
    });
  });

  it('refuses to start without a secret', () => {
    expect(() => new JoseTokenVerifier({ secret: '' })).toThrow(/AUTH_JWT_SECRET/);
  });
});
