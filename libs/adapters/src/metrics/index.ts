export { createMetricsRegistry, metricOf, metricsHandler, type MetricsRegistryOptions, type Registry } from './registry';
export { httpMetrics, httpMetricsMiddleware, HTTP_DURATION_BUCKETS, UNMATCHED_ROUTE, CLIENT_CLOSED_STATUS, type HttpMetrics } from './http-metrics';
export { registerQueueMetrics, QUEUE_STATES, type QueueState, type InspectedQueue, type QueueMetricsOptions } from './queue-metrics';
export {
  uploadMetrics,
  receivedBytesObserver,
  MeteredUploadRepository,
  UPLOAD_OUTCOMES,
  type UploadMetrics,
  type UploadMetricsOptions,
  type UploadOutcome,
} from './upload-metrics';
