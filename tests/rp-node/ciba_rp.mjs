// A CIBA relying party built only on the certified `openid-client` library.
// tests/openid_client.rs runs it against a live trustid; it can also be run by
// hand against `trustid serve`:
//
//   ISSUER=http://127.0.0.1:8080 CLIENT_ID=... CLIENT_SECRET=... \
//   LOGIN_HINT=alice BINDING_MESSAGE='Sign in' node ciba_rp.mjs [--mode poll]
//
// Protocol on stdout, one JSON object per line:
//   1. {"auth_req_id": ..., "expires_in": ..., "interval": ...} as soon as the
//      backchannel acknowledgement arrives;
//   2. {"claims": {...}, "token_type": ..., "has_access_token": true|false}
//      once the token endpoint issues tokens (exit 0);
//   or, at any point, {"error": ..., "code": ..., ...} (exit 1).
//
// Optional env: SCOPE (default "openid email"), POLL_TIMEOUT (seconds; stop
// polling earlier than the request's expires_in), TRACE_HTTP=1 (one JSON line
// per HTTP exchange on stderr: {"http": {"method", "path", "status", "error"}}).

import * as client from 'openid-client';

function usage(message) {
  return new Error(`${message}; usage: node ciba_rp.mjs [--mode poll]`);
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
  switch (mode) {
    case 'poll':
      tokens = await pollMode(config, params);
      break;
    case 'ping':
      // To come: listen for the client_notification_endpoint, send
      // client_notification_token, wait for the ping, then one token request.
      throw new Error('ping mode is not implemented yet');
    default:
      throw usage(`unknown mode ${mode}`);
  }

  await emit({
    claims: tokens.claims() ?? null,
    token_type: tokens.token_type ?? null,
    has_access_token: typeof tokens.access_token === 'string' && tokens.access_token.length > 0,
    scope: tokens.scope ?? null,
    expires_in: tokens.expiresIn() ?? null,
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
