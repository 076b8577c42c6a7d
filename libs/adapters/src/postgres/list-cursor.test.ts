import { ValidationError } from '@tessera/domain';
import { decodeListCursor, encodeListCursor } from './list-cursor';

const ID = '0193a4f2-7b1c-7e3d-9a4b-5c6d7e8f9a0b';
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('list cursors', () => {
  it('round-trips a position', () => {
    const position = { createdAt: new Date('2026-11-29T09:00:00.123Z'), id: ID };
    expect(decodeListCursor(encodeListCursor(position))).toEqual(position);
  });

  it.each([
    ['not base64url JSON', '%%%'],
    ['the wrong shape', cursorOf({ createdAt: '2026-01-01T00:00:00.000Z', id: ID })],
    ['an id that is not a UUID', cursorOf(['2026-01-01T00:00:00.000Z', '../etc'])],
    ['a date that is not one', cursorOf(['yesterday', ID])],
    ['a year before 1 (extended ISO form)', cursorOf(['-271821-04-20T00:00:00.000Z', ID])],
    ['a year after 9999 (extended ISO form)', cursorOf(['+275760-09-13T00:00:00.000Z', ID])],
  ])('refuses %s as a ValidationError, never reaching the database', (_what, cursor) => {
    expect(() => decodeListCursor(cursor)).toThrow(ValidationError);
  });
});
