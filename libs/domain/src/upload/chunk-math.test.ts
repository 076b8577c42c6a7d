import { chunkCountFor, expectedChunkLength, progressPercent } from './chunk-math';
import { canTransition } from './upload.entity';
import { createUploadBodySchema, sanitizeFilename } from './upload.schemas';

describe('chunk arithmetic', () => {
  it('counts chunks and the length of each, the last one short', () => {
    expect(chunkCountFor(0, 8)).toBe(0);
    expect(chunkCountFor(16, 8)).toBe(2);
    expect(chunkCountFor(17, 8)).toBe(3);
    expect([0, 1, 2].map((i) => expectedChunkLength(17, 8, i))).toEqual([8, 8, 1]);
    expect(() => expectedChunkLength(17, 8, 3)).toThrow(RangeError);
  });

  it('reaches 100 percent only when every chunk is stored', () => {
    expect(progressPercent(999, 1000, 1, 2)).toBe(99);
    expect(progressPercent(1000, 1000, 2, 2)).toBe(100);
    expect(progressPercent(0, 0, 0, 0)).toBe(100);
  });
});

describe('upload state machine', () => {
  it('allows only the documented transitions', () => {
    expect(canTransition('pending', 'receiving')).toBe(true);
    expect(canTransition('receiving', 'finalizing')).toBe(true);
    expect(canTransition('finalizing', 'completed')).toBe(true);
    expect(canTransition('completed', 'receiving')).toBe(false);
    expect(canTransition('completed', 'expired')).toBe(false);
    expect(canTransition('aborted', 'aborted')).toBe(false);
  });
});

describe(sanitizeFilename.name, () => {
  it('drops control characters and any directory part', () => {
    expect(sanitizeFilename('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFilename('invoice\u202Efdp.exe')).toBe('invoicefdp.exe');
    expect(sanitizeFilename('cafe\u0301.txt')).toBe('caf\u00e9.txt');
    expect(sanitizeFilename('C:\\Users\\x\\report.pdf')).toBe('report.pdf');
    expect(sanitizeFilename('a\u0000b\u001fc.txt')).toBe('abc.txt');
    expect(sanitizeFilename('dir/')).toBe('');
  });
});

describe('createUploadBodySchema metadata', () => {
  it('refuses NUL in a key or a value (PostgreSQL cannot store it) and keeps other text as given', () => {
    const body = (metadata: Record<string, string>) => createUploadBodySchema.safeParse({ filename: 'a', size: 1, metadata });
    expect(body({ note: 'a\u0000b' }).success).toBe(false);
    expect(body({ 'n\u0000te': 'ab' }).success).toBe(false);
    expect(body({ note: 'ünïcödé ✓ \t tab' })).toMatchObject({ success: true, data: { metadata: { note: 'ünïcödé ✓ \t tab' } } });
  });
});
