export { UuidV7Ids } from './uuid-v7-ids';
export { SystemClock } from './system-clock';
export { runReadinessChecks, withTimeout, READINESS_TIMEOUT_MS, type ReadinessChecks } from './readiness';
