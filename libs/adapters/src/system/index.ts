export { UuidV7Ids } from './uuid-v7-ids';
export { SystemClock } from './system-clock';
