// A CIBA relying party built only on the certified `openid-client` library.
// tests/api/openid_client.rs runs it against a live trustid; it can also be run by
// hand against `trustid serve`:
//
//   ISSUER=http://127.0.0.1:8080 CLIENT_ID=... CLIENT_SECRET=... \
//   LOGIN_HINT=alice BINDING_MESSAGE='Sign in' node ciba_rp.mjs [--mode poll|ping]
//
// Protocol on stdout, one JSON object per line:
//   1. {"auth_req_id": ..., "expires_in": ..., "interval": ...} as soon as the
//      backchannel acknowledgement arrives (ping mode adds the
//      "client_notification_token" it sent);
//   2. {"claims": {...}, "token_type": ..., "has_access_token": true|false}
//      once the token endpoint issues tokens (exit 0); ping mode adds
//      "ping": {"authorization", "content_type", "body"} as received;
//   or, at any point, {"error": ..., "code": ..., ...} (exit 1).
//
// Ping mode (the client must be registered for ping with the notification
// endpoint http://127.0.0.1:$NOTIFY_PORT/cb) listens there before it starts
// the request, sends a fresh client_notification_token, waits for the one
// ping, checks its Bearer token and that its body is exactly {auth_req_id},
// answers 204 and then makes a single token request.
//
// Optional env: SCOPE (default "openid email"), POLL_TIMEOUT (seconds; stop
// polling earlier than the request's expires_in), PING_TIMEOUT (seconds to
// wait for the ping, default 60), TRACE_HTTP=1 (one JSON line per HTTP
// exchange on stderr: {"http": {"method", "path", "status", "error"}}).

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import * as client from 'openid-client';

const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

function usage(message) {
  return new Error(`${message}; usage: node ciba_rp.mjs [--mode poll|ping]`);
}

function parseArgs(argv) {
  const args = { mode: 'poll' };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--mode') {
      args.mode = argv[(i += 1)];
    } else if (arg.startsWith('--mode=')) {
      args.mode = arg.slice('--mode='.length);
    } else {
      throw usage(`unknown argument ${arg}`);
    }
  }
  if (!['poll', 'ping'].includes(args.mode)) {
    throw usage(`unknown mode ${args.mode}`);
  }
  return args;
}

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

// Writes one JSON line and resolves once it is handed to the OS, so the
// reader sees it while this process keeps waiting.
function emit(object) {
  return new Promise((resolve, reject) => {
    process.stdout.write(`${JSON.stringify(object)}\n`, (err) => (err ? reject(err) : resolve()));
  });
}

// A JSON-safe copy of an error's `cause` (it may hold a Response, a Headers,
// or claims objects).
function plain(value, depth = 0) {
  if (value === undefined || value === null || depth > 4) return value ?? null;
  if (typeof Response !== 'undefined' && value instanceof Response) {
    return { status: value.status, url: value.url };
  }
  if (value instanceof Error) return { error: String(value), code: value.code };
  if (Array.isArray(value)) return value.map((v) => plain(v, depth + 1));
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, depth + 1)]));
  }
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') {
    return String(value);
  }
  return value;
}

// What went wrong, with the OAuth error code when the server sent one. A 401
// with `WWW-Authenticate` surfaces as a challenge error whose body
// openid-client did not read, so read it here.
async function describe(e) {
  const out = {
    error: String(e),
    code: e?.code ?? null,
    status: e?.status ?? null,
    oauth_error: e?.error ?? null,
    error_description: e?.error_description ?? null,
    cause: plain(e?.cause),
  };
  if (e?.ping) out.ping = e.ping;
  const response = e?.response;
  if (out.oauth_error === null && response && !response.bodyUsed) {
    try {
      const body = await response.json();
      out.oauth_error = body?.error ?? null;
      out.error_description = body?.error_description ?? null;
    } catch {
      // not JSON: nothing to add
    }
  }
  return out;
}

// fetch, logging each exchange to stderr (the OAuth `error` of a failed one
// is read from a clone, so the library still gets the untouched response).
async function tracingFetch(url, options) {
  const response = await fetch(url, options);
  let error = null;
  if (!response.ok) {
    try {
      error = (await response.clone().json())?.error ?? null;
    } catch {
      // not JSON
    }
  }
  const http = { method: options?.method ?? 'GET', path: new URL(url).pathname, status: response.status, error };
  process.stderr.write(`${JSON.stringify({ http })}\n`);
  return response;
}

async function pollMode(config, params) {
  const ack = await client.initiateBackchannelAuthentication(config, params);
  await emit({ auth_req_id: ack.auth_req_id, expires_in: ack.expires_in, interval: ack.interval });

  const timeout = process.env.POLL_TIMEOUT;
  const options = timeout ? { signal: AbortSignal.timeout(Number(timeout) * 1000) } : undefined;
  // Waits `interval` before each poll; +5 s after every slow_down.
  return client.pollBackchannelAuthenticationGrant(config, ack, undefined, options);
}

function failure(message, code, ping) {
  const err = new Error(message);
  err.code = code;
  if (ping) err.ping = ping;
  return err;
}

// Listens on 127.0.0.1:`port` for the client notification endpoint `/cb`.
// Resolves once listening, with `ping`: a promise of the first request that
// reaches the server ({method, path, authorization, content_type, body}; the
// body parsed as JSON when it is JSON) and `answer(status)` to reply to it.
// Any later request gets 409 and is kept in `extra`.
async function notificationEndpoint(port) {
  let first;
  const ping = new Promise((resolve) => {
    first = resolve;
  });
  let taken = false;
  const extra = [];
  const server = createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= 64 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text
      }
      const received = {
        method: req.method,
        path: req.url,
        authorization: req.headers.authorization ?? null,
        content_type: req.headers['content-type'] ?? null,
        body,
      };
      if (taken) {
        extra.push(received);
        res.writeHead(409, { connection: 'close' }).end();
        return;
      }
      taken = true;
      first({
        received,
        answer: (status) =>
          new Promise((resolve) => {
            res.writeHead(status, { connection: 'close' }).end(resolve);
          }),
      });
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { ping, extra, close: () => server.close() };
}

async function pingMode(config, params) {
  const port = Number(env('NOTIFY_PORT'));
  const waitSecs = Number(env('PING_TIMEOUT', '60'));
  const endpoint = await notificationEndpoint(port);
  try {
    const token = randomBytes(32).toString('base64url');
    const ack = await client.initiateBackchannelAuthentication(config, {
      ...params,
      client_notification_token: token,
    });
    await emit({
      auth_req_id: ack.auth_req_id,
      expires_in: ack.expires_in,
      interval: ack.interval,
      client_notification_token: token,
    });

    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(failure(`no ping within ${waitSecs} s`, 'PING_TIMEOUT')),
        waitSecs * 1000,
      );
    });
    const { received, answer } = await Promise.race([endpoint.ping, timeout]).finally(() => clearTimeout(timer));

    const problems = [];
    if (received.method !== 'POST') problems.push(`method ${received.method}`);
    if (received.path !== '/cb') problems.push(`path ${received.path}`);
    if (received.authorization !== `Bearer ${token}`) problems.push('Bearer token differs from client_notification_token');
    const body = received.body;
    const exact =
      body !== null &&
      typeof body === 'object' &&
      !Array.isArray(body) &&
      Object.keys(body).length === 1 &&
      body.auth_req_id === ack.auth_req_id;
    if (!exact) problems.push('body is not exactly {"auth_req_id": <the acknowledged id>}');
    if (problems.length > 0) {
      await answer(400);
      throw failure(`bad ping: ${problems.join('; ')}`, 'PING_MISMATCH', received);
    }
    await answer(204);

    // One token request: the ping says the result is ready, so no polling.
    // The response goes through the same checks as a poll's (ID token
    // iss/aud/exp/iat/azp), and the result has the same helpers.
    const tokens = await client.genericGrantRequest(config, CIBA_GRANT, { auth_req_id: ack.auth_req_id });
    if (endpoint.extra.length > 0) {
      throw failure(`${endpoint.extra.length} more request(s) after the ping`, 'PING_REPEATED', endpoint.extra);
    }
    const { authorization, content_type, body: pingBody } = received;
    return { tokens, ping: { authorization, content_type, body: pingBody } };
  } finally {
    endpoint.close();
  }
}

async function main() {
  const { mode } = parseArgs(process.argv.slice(2));
  const issuer = new URL(env('ISSUER'));
  const clientId = env('CLIENT_ID');
  const clientSecret = env('CLIENT_SECRET');
  const params = {
    scope: env('SCOPE', 'openid email'),
    login_hint: env('LOGIN_HINT'),
  };
  if (process.env.BINDING_MESSAGE) params.binding_message = process.env.BINDING_MESSAGE;

  const execute = issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [];
  const options = { execute };
  if (process.env.TRACE_HTTP === '1') options[client.customFetch] = tracingFetch;
  const config = await client.discovery(
    issuer,
    clientId,
    clientSecret,
    // trustid registers clients with client_secret_basic by default;
    // openid-client would otherwise default to client_secret_post.
    client.ClientSecretBasic(clientSecret),
    options,
  );

  let tokens;
  let extra = {};
  switch (mode) {
    case 'poll':
      tokens = await pollMode(config, params);
      break;
    case 'ping': {
      let ping;
      ({ tokens, ping } = await pingMode(config, params));
      extra = { ping };
      break;
    }
    default:
      throw usage(`unknown mode ${mode}`);
  }

  await emit({
    claims: tokens.claims() ?? null,
    token_type: tokens.token_type ?? null,
    has_access_token: typeof tokens.access_token === 'string' && tokens.access_token.length > 0,
    scope: tokens.scope ?? null,
    expires_in: tokens.expiresIn() ?? null,
    ...extra,
  });
}

try {
  await main();
  process.exit(0);
} catch (e) {
  try {
    await emit(await describe(e));
  } finally {
    process.exit(1);
  }
}
