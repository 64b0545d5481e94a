import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { KccError } from '@kata-cc/errors';
import { silentLogger, type Logger } from '@kata-cc/log';
import { KBS_SESSION_COOKIE } from '@kata-cc/kbs-types';
import { AdminAuth } from './admin-auth.js';
import { kbsError, toHttpFailure } from './http-error.js';
import { KbsCore, type KbsCoreOptions } from './kbs-core.js';
import { KbsMetrics } from './metrics.js';
import { AddressRateLimiter } from './rate-limit.js';
import { parseKbsPath, resourcePath } from './request-path.js';

export interface KbsServerOptions extends Omit<KbsCoreOptions, 'metrics'> {
  /** Admin public keys (PEM). Empty: the admin API refuses every call. */
  adminKeys: string[];
  /** Request body limit; the default fits TDX evidence with large event logs. */
  bodyLimitBytes?: number;
  https?: { cert: string | Buffer; key: string | Buffer };
  /** `POST /kbs/v0/auth` calls allowed per client address per minute (per replica); unset: no rate. */
  authRatePerMinute?: number;
}

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
const MAX_HEADER_BYTES = 1024 * 1024;

export interface KbsServer {
  app: FastifyInstance;
  core: KbsCore;
  metrics: KbsMetrics;
  close(): Promise<void>;
}

/** Builds the KBS HTTP server (not listening yet). */
export async function createKbsServer(o: KbsServerOptions): Promise<KbsServer> {
  const log: Logger = o.logger ?? silentLogger;
  const metrics = new KbsMetrics();
  const core = await KbsCore.create({ ...o, metrics });
  const admin = new AdminAuth(o.adminKeys);
  const limiter = o.authRatePerMinute === undefined ? undefined : new AddressRateLimiter(o.authRatePerMinute);
  const app = Fastify({
    logger: false,
    bodyLimit: o.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    // Large headers: EAR tokens with event-log claims exceed Node's 16 KiB default as Bearer
    // (trustee#1563 hit actix's limit the same way).
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    ...(o.https === undefined ? {} : { https: { cert: o.https.cert, key: o.https.key, maxHeaderSize: MAX_HEADER_BYTES } }),
    // A URL fastify cannot decode (`%`, `%zz`) is the same refusal parseKbsPath gives, not fastify's 400 body.
    frameworkErrors: (_err: Error, req: FastifyRequest, reply: FastifyReply) =>
      sendFailure(req, reply, kbsError('KBS_INVALID_REQUEST_PATH', 'The path has a malformed percent-encoding', 'InvalidRequestPath', 'NOT_FOUND')),
  }) as unknown as FastifyInstance;

  // Bodies are parsed by our own validators so malformed JSON gets a KBS error, not fastify's.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    let e: unknown = err;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new KccError({ kind: 'RESOURCE_EXHAUSTED', code: 'KBS_BODY_TOO_LARGE', message: `The request body exceeds the limit of ${o.bodyLimitBytes ?? DEFAULT_BODY_LIMIT} bytes` });
    else if (err.code?.startsWith('FST_ERR_CTP') === true) e = kbsError('KBS_MALFORMED_BODY', `Malformed request body: ${err.message}`, 'AttestationError');
    return sendFailure(req, reply, e);
  });

  // Methods and paths without a route (PATCH, OPTIONS, outside /kbs/v0) answer like every other
  // KBS error ({type, detail}, README: wrong method = InvalidRequestPath), not fastify's own body.
  app.setNotFoundHandler((req, reply) => sendFailure(req, reply, kbsError('KBS_INVALID_REQUEST_PATH', `No KBS endpoint for ${req.method} on this path`, 'InvalidRequestPath', 'NOT_FOUND')));

  function sendFailure(req: FastifyRequest, reply: FastifyReply, e: unknown): FastifyReply {
    const f = toHttpFailure(e);
    // The reason goes to the log (never a secret: messages are written to be safe to show).
    const level = f.code === 'KBS_INTERNAL' ? 'error' : 'warn';
    log[level]({ method: req.method, path: req.url.split('?')[0], status: f.status, code: f.code, err: f.code === 'KBS_INTERNAL' ? String(e) : undefined }, f.body.detail);
    for (const [k, v] of Object.entries(f.headers ?? {})) void reply.header(k, v);
    return reply.code(f.status).header('content-type', 'application/json').send(JSON.stringify(f.body));
  }

  app.addHook('onResponse', async (req, reply) => {
    const endpoint = endpointLabel(req.url);
    metrics.requests.inc({ endpoint, status: String(reply.statusCode) });
    metrics.duration.observe({ endpoint }, reply.elapsedTime / 1000);
  });

  // 503 when the storage is unreachable, so a Service stops routing to this replica.
  app.get('/healthz', async (_req, reply) => {
    try {
      await core.store.ping();
      return await reply.code(200).send('ok');
    } catch (e) {
      log.warn({ err: String(e) }, 'health check: storage unreachable');
      return reply.code(503).send('storage unreachable');
    }
  });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()));

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    try {
      return await route(req, reply);
    } catch (e) {
      return sendFailure(req, reply, e);
    }
  };
  app.route({ method: ['GET', 'POST', 'PUT', 'DELETE'], url: '/kbs/v0/*', handler });

  const body = (req: FastifyRequest): Uint8Array => (Buffer.isBuffer(req.body) ? req.body : new Uint8Array());
  const json = (reply: FastifyReply, value: unknown): FastifyReply => reply.code(200).header('content-type', 'application/json').send(JSON.stringify(value));
  const setCookie = (reply: FastifyReply, id: string, expiresAt: number): void => {
    // trustee sets only Expires (no Path/HttpOnly/Secure); the Rust client keeps it in its jar.
    reply.header('set-cookie', `${KBS_SESSION_COOKIE}=${id}; Expires=${new Date(expiresAt).toUTCString()}`);
  };

  async function route(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const p = parseKbsPath(req.raw.url ?? '');
    const m = req.method;
    const noRest = (): void => {
      if (p.rest.length !== 0) throw kbsError('KBS_INVALID_REQUEST_PATH', `Unexpected path after /kbs/v0/${p.plugin}`, 'InvalidRequestPath', 'NOT_FOUND');
    };
    switch (p.plugin) {
      case 'auth': {
        noRest();
        if (m !== 'POST') break;
        const wait = limiter?.take(req.ip, core.now()) ?? 0;
        if (wait > 0) {
          metrics.authRefused.inc({ reason: 'rate' });
          throw new KccError({ kind: 'RESOURCE_EXHAUSTED', code: 'KBS_AUTH_RATE_LIMITED', message: `Too many /auth calls from this address; retry in ${wait} s`, details: { retryAfterSeconds: wait } });
        }
        const { session, challenge } = await core.auth(body(req));
        setCookie(reply, session.id, session.expiresAt);
        return json(reply, challenge);
      }
      case 'attest': {
        noRest();
        if (m !== 'POST') break;
        const { session, token } = await core.attest(cookieValue(req.headers.cookie, KBS_SESSION_COOKIE), body(req));
        setCookie(reply, session.id, session.expiresAt);
        return json(reply, { token });
      }
      case 'resource': {
        const path = resourcePath(p.rest);
        if (m === 'GET') {
          const token = (await core.sessionToken(cookieValue(req.headers.cookie, KBS_SESSION_COOKIE))) ?? bearer(req.headers.authorization);
          return json(reply, await core.getResource(token, path, p.query));
        }
        await admin.check(req.headers.authorization);
        if (m === 'POST' || m === 'PUT') {
          await core.setResource(path, body(req));
          log.info({ path: path.join('/') }, 'resource set');
          return reply.code(200).send();
        }
        if (m === 'DELETE') {
          await core.deleteResource(path);
          log.info({ path: path.join('/') }, 'resource deleted');
          return reply.code(200).send();
        }
        break;
      }
      case 'resource-policy': {
        await admin.check(req.headers.authorization);
        if (m === 'GET' && p.rest.length > 0) return json(reply, await core.getResourcePolicy(p.rest.join('/')));
        noRest();
        if (m === 'POST') {
          await core.setResourcePolicy(body(req));
          log.info({}, 'resource policy set');
          return reply.code(200).send();
        }
        if (m === 'GET') return json(reply, await core.listResourcePolicies());
        break;
      }
      case 'attestation-policy': {
        noRest();
        await admin.check(req.headers.authorization);
        if (m === 'POST') {
          await core.setAttestationPolicy(body(req));
          return reply.code(200).send();
        }
        break;
      }
      case 'reference-value': {
        await admin.check(req.headers.authorization);
        if (m === 'POST') {
          noRest();
          const names = await core.setReferenceValues(body(req));
          log.info({ names }, 'reference values set');
          return reply.code(200).send();
        }
        if (m === 'GET') {
          if (p.rest.length === 0) throw kbsError('KBS_INVALID_REQUEST_PATH', 'GET /kbs/v0/reference-value/<id> needs an id', 'InvalidRequestPath', 'NOT_FOUND');
          return json(reply, await core.getReferenceValue(p.rest.join('/')));
        }
        break;
      }
      default:
        throw kbsError('KBS_PLUGIN_NOT_FOUND', `No endpoint or plugin "${p.plugin}"`, 'PluginNotFound', 'NOT_FOUND');
    }
    throw kbsError('KBS_INVALID_REQUEST_PATH', `Method ${m} is not supported on /kbs/v0/${p.plugin}`, 'InvalidRequestPath', 'NOT_FOUND');
  }

  const sweep = setInterval(() => {
    core.store.deleteExpiredSessions(core.now()).catch((e: unknown) => log.warn({ err: String(e) }, 'session cleanup failed'));
  }, 60_000);
  sweep.unref();

  return {
    app,
    core,
    metrics,
    close: async () => {
      clearInterval(sweep);
      await app.close();
      await core.store.close();
    },
  };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)$/.exec(header ?? '');
  return m?.[1];
}

function endpointLabel(url: string): string {
  const seg = url.split('?')[0]?.split('/') ?? [];
  if (seg[1] !== 'kbs') return seg[1] ?? '';
  const known = ['auth', 'attest', 'resource', 'resource-policy', 'attestation-policy', 'reference-value'];
  return known.includes(seg[3] ?? '') ? (seg[3] as string) : 'other';
}
