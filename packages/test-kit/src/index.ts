/**
 * Public API of @tern/test-kit: protocol-faithful emulated servers (Elasticsearch, LogScale,
 * Parseable, generic webhook and Slack) that sink tests, benchmarks and examples talk to over real
 * HTTP instead of real servers, and emulated senders (Falco's http_output, kube-apiserver's audit
 * webhook) that post to tern's http_server source. Behaviour follows /work/shared/protocols/
 * (README.md, senders.md); see README.md.
 */
export type { BodyLimits, CommonOptions, Emulator, FaultAction, FaultRule, RecordedRequest, RequestLogEntry } from './server.ts';
export { startElasticsearch } from './elasticsearch.ts';
export type {
  ElasticsearchEmulator,
  ElasticsearchOptions,
  ElasticsearchStats,
  ItemFaultRule,
  MappingConflictRule,
  MappingType,
  StoredDocument,
} from './elasticsearch.ts';
export { startLogScale } from './logscale.ts';
export type { LogScaleEmulator, LogScaleEvent, LogScaleOptions, LogScaleStats } from './logscale.ts';
export { startParseable } from './parseable.ts';
export type { ParseableEmulator, ParseableOptions, ParseableRow, ParseableStats } from './parseable.ts';
export { startWebhook } from './webhook.ts';
export type { WebhookEmulator, WebhookMessage, WebhookOptions, WebhookStats } from './webhook.ts';
export { AuditWebhookSender, FalcoSender, apiserverShouldRetry } from './senders.ts';
export type { AuditAttempt, AuditWebhookSenderOptions, FalcoDropped, FalcoSenderOptions, SenderTls } from './senders.ts';
export { sampleLines, samplePath, type SampleName } from './samples.ts';
export { TEST_TLS_CERT, TEST_TLS_KEY, writeTestTls } from './tls.ts';
export { checkReadmeTable } from './readme.ts';
