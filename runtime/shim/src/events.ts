import { silentLogger, type Logger } from '@kata-cc/log';
import { TtrpcClient } from '@kata-cc/ttrpc';
import { EVENTS_SERVICE, NAMESPACE_METADATA_KEY, codec, timestamp, type Msg } from './protos.js';

/** Topics of `core/runtime/events.go` and the event message of each. */
export const TOPICS = {
  '/tasks/create': 'TaskCreate',
  '/tasks/start': 'TaskStart',
  '/tasks/exit': 'TaskExit',
  '/tasks/delete': 'TaskDelete',
  '/tasks/exec-added': 'TaskExecAdded',
  '/tasks/exec-started': 'TaskExecStarted',
  '/tasks/oom': 'TaskOOM',
  '/tasks/paused': 'TaskPaused',
  '/tasks/resumed': 'TaskResumed',
} as const;
export type Topic = keyof typeof TOPICS;

export interface EventSink {
  publish(topic: Topic, event: Msg): void;
  /** Resolves when everything queued so far was sent (or given up on). */
  flush(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Publishes task events to containerd through `containerd.services.events.ttrpc.v1.Events/Forward`
 * on `$TTRPC_ADDRESS`, in order, retrying each up to 5 times with backoff (containerd
 * `pkg/shim/publisher.go`). Without an address (not under containerd) events are only logged.
 */
export class EventPublisher implements EventSink {
  readonly #address: string | undefined;
  readonly #namespace: string;
  readonly #log: Logger;
  #client: TtrpcClient | undefined;
  #chain: Promise<void> = Promise.resolve();

  constructor(address: string | undefined, namespace: string, logger: Logger = silentLogger) {
    this.#address = address || undefined;
    this.#namespace = namespace;
    this.#log = logger.child({ component: 'events' });
  }

  publish(topic: Topic, event: Msg): void {
    const type = `containerd.events.${TOPICS[topic]}`;
    const envelope = {
      timestamp: timestamp(new Date()),
      namespace: this.#namespace,
      topic,
      // typeurl v2: the proto full name without the type.googleapis.com/ prefix
      event: { type_url: type, value: codec(type).encode(event) },
    };
    this.#chain = this.#chain.then(() => this.#send(topic, envelope));
  }

  flush(): Promise<void> {
    return this.#chain;
  }

  async #send(topic: string, envelope: Msg): Promise<void> {
    if (this.#address === undefined) {
      this.#log.info({ topic }, 'event (no TTRPC_ADDRESS: not forwarded)');
      return;
    }
    const req = codec('containerd.services.events.ttrpc.v1.ForwardRequest');
    const empty = codec('google.protobuf.Empty');
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        if (this.#client === undefined || this.#client.closed) this.#client = await TtrpcClient.connect(this.#address, { connectTimeoutMs: 5000 });
        await this.#client.request(EVENTS_SERVICE, 'Forward', req, empty, { envelope }, { timeoutMs: 5000, metadata: [{ key: NAMESPACE_METADATA_KEY, value: this.#namespace }] });
        this.#log.debug({ topic }, 'event forwarded');
        return;
      } catch (err) {
        this.#log.warn({ err, topic, attempt }, 'forwarding an event failed');
        this.#client?.close();
        this.#client = undefined;
        await sleep(100 * 2 ** attempt);
      }
    }
    this.#log.error({ topic }, 'dropping event after 5 attempts');
  }

  close(): void {
    this.#client?.close();
  }
}
