// PostgreSQL through MikroORM: the ORM, its migrations, and the UploadRepository on top.
export { initOrm, ormOptions, type OrmOptions, type TesseraOrm } from './orm';
export { migrateDatabase, dropDatabase } from './migrate';
export { describeDatabaseUrl, explainDatabaseError, type DatabaseTarget } from './database-url';
export { MikroOrmUploadRepository } from './mikro-orm-upload-repository';
export { MikroOrmTusRepository } from './mikro-orm-tus-repository';
export { UploadSchema, ChunkSchema, BlobSchema, TusUploadSchema, ENTITIES, type UploadRecord, type ChunkRecord, type BlobRecord, type TusUploadRecord } from './entities';
export { MIGRATIONS } from './migrations';
