import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one KBS process (`GET /metrics`). */
export class KbsMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'kbs_http_requests_total', help: 'HTTP requests by endpoint and status', labelNames: ['endpoint', 'status'] as const, registers: [this.registry] });
  readonly duration = new Histogram({ name: 'kbs_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['endpoint'] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  readonly attestations = new Counter({ name: 'kbs_attestations_total', help: 'Attestation results by TEE and outcome', labelNames: ['tee', 'result'] as const, registers: [this.registry] });
  readonly policyEvals = new Counter({ name: 'kbs_policy_evaluations_total', help: 'Resource policy evaluations by result', labelNames: ['result'] as const, registers: [this.registry] });
  readonly authRefused = new Counter({ name: 'kbs_auth_refused_total', help: 'POST /auth calls refused by the session bound (max_sessions) or the per-address rate (rate)', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly liveSessions = new Gauge({ name: 'kbs_sessions_live', help: 'Unexpired handshake sessions in the store (sampled at most once a second by /auth)', registers: [this.registry] });
  readonly resources = new Counter({ name: 'kbs_resources_released_total', help: 'Resources released (JWE-wrapped)', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'kbs_' });
  }
}
