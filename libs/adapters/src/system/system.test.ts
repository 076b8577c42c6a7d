import { isUuid, storeChunkJobSchema } from '@tessera/domain';
import { SystemClock } from './system-clock';
import { UuidV7Ids } from './uuid-v7-ids';

describe('UuidV7Ids', () => {
  const ids = new UuidV7Ids();

  it('makes RFC 9562 version 7 ids with the RFC variant', () => {
    for (let i = 0; i < 100; i += 1) {
      const id = ids.uploadId();
      expect(isUuid(id)).toBe(true);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it('carries the current time in its first 48 bits', () => {
    const before = Date.now();
    const id = ids.uploadId();
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('is strictly increasing across 10,000 calls', () => {
    const made = Array.from({ length: 10_000 }, () => ids.uploadId());
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
  });

  it('counts up within one millisecond, keeping its timestamp', () => {
    const fresh = new UuidV7Ids();
    const now = jest.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    try {
      const made = Array.from({ length: 1000 }, () => fresh.uploadId());
      expect([...made].sort()).toEqual(made);
      expect(new Set(made).size).toBe(made.length);
      expect(new Set(made.map((id) => id.slice(0, 13))).size).toBe(1);
    } finally {
      now.mockRestore();
    }
  });

  it('stays increasing when the clock steps back', () => {
    const fresh = new UuidV7Ids();
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(2_000_000_000_000);
      const first = fresh.uploadId();
      now.mockReturnValue(1_000_000_000_000);
      const second = fresh.uploadId();
      expect(second > first).toBe(true);
    } finally {
      now.mockRestore();
    }
  });

  it('makes filename-safe tokens that staging and job ids accept', () => {
    const tokens = Array.from({ length: 1000 }, () => ids.token());
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(() => storeChunkJobSchema.shape.stagingToken.parse(token)).not.toThrow();
    }
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});

describe('SystemClock', () => {
  it('tells the current time', () => {
    const before = Date.now();
    const now = new SystemClock().now().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
