import type { EntityManager } from '@mikro-orm/postgresql';
import type { UploadProps } from '@tessera/domain';
import { toUploadProps, type UploadRow } from './upload-rows';

export type Sql = Pick<EntityManager, 'execute'>;

export async function rows<T>(em: Sql, sql: string, params: unknown[] = []): Promise<T[]> {
  return em.execute<T[]>(sql, params, 'all');
}

export async function affected(em: Sql, sql: string, params: unknown[] = []): Promise<number> {
  const result = await em.execute<{ affectedRows: number }>(sql, params, 'run');
  return result.affectedRows;
}

export async function oneUpload(em: Sql, sql: string, params: unknown[]): Promise<UploadProps | null> {
  const [row] = await rows<UploadRow>(em, sql, params);
  return row ? toUploadProps(row) : null;
}
