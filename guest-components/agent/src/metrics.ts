import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of the agent, served as text by `GetMetrics` (kata-monitor scrapes the
 * agent through the runtime this way; the guest has no port the host could scrape).
 */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'code'>;
  readonly duration: Histogram<'method'>;
  readonly containers: Gauge;

  constructor(containers: () => number) {
    this.requests = new Counter({ name: 'kata_agent_requests_total', help: 'Agent API requests by method and result code', labelNames: ['method', 'code'], registers: [this.registry] });
    this.duration = new Histogram({ name: 'kata_agent_request_duration_seconds', help: 'Agent API request duration', labelNames: ['method'], buckets: [0.01, 0.05, 0.25, 1, 5, 30, 120], registers: [this.registry] });
    this.containers = new Gauge({ name: 'kata_agent_containers', help: 'Containers in the sandbox', registers: [this.registry], collect() { this.set(containers()); } });
    collectDefaultMetrics({ register: this.registry, prefix: 'kata_agent_' });
  }

  async text(): Promise<{ metrics: string }> {
    return { metrics: await this.registry.metrics() };
  }
}
