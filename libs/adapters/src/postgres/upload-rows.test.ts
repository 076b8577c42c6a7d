import { toDate, toNumber } from './upload-rows';

describe('toDate', () => {
  it.each([
    ['2026-03-01 12:00:00+00', '2026-03-01T12:00:00.000Z'],
    ['2026-03-01 12:00:00.5+00', '2026-03-01T12:00:00.500Z'],
    ['2026-03-01 12:00:00.123456+00', '2026-03-01T12:00:00.123Z'],
    ['2026-03-01 17:30:00.123+05:30', '2026-03-01T12:00:00.123Z'],
    ['2026-03-01 04:00:00-08', '2026-03-01T12:00:00.000Z'],
    ['2026-03-01T12:00:00.001Z', '2026-03-01T12:00:00.001Z'],
  ])('reads %s', (text, iso) => {
    expect(toDate(text).toISOString()).toBe(iso);
  });

  it('passes a Date through and refuses text it does not understand', () => {
    const now = new Date();
    expect(toDate(now)).toBe(now);
    expect(() => toDate('infinity')).toThrow(/unexpected timestamp/);
  });
});

describe('toNumber', () => {
  it('reads bigint text beyond 32 bits', () => {
    expect(toNumber('107374182400')).toBe(107_374_182_400);
    expect(toNumber(7)).toBe(7);
  });
});
