// What changes_e2e.mjs (CRM changes flowing back, issue 20 "Proof") builds on: the fake Rollout's control API,
// one official MCP client 2.x per team pinned to 2026-07-28 (tools and the Events extension's methods), a
// loopback Events webhook receiver that verifies every Standard Webhooks signature itself, polling with a bound,
// and the handshake through which the launcher (changes_e2e.sh) SIGKILLs and restarts the server.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

export const sleep = ms => new Promise(r => setTimeout(r, ms));
export const short = (v, n = 300) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s && s.length > n ? `${s.slice(0, n)}...` : s;
};

// Polls `fn` until it returns a truthy value (returned), at most `ms`; the error names `what` and the last value.
export async function waitFor(fn, ms, what, every = 25) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last && (!Array.isArray(last) || last.length)) return last;
    if (Date.now() >= until) throw new Error(`${what}: not within ${ms} ms (last: ${short(last)})`);
    await sleep(every);
  }
}

// ---- the fake Rollout's control API and its CRM API, as the CRM's users (not rollout-mcp) use it ----------
export function fakeApi(base) {
  const call = async (path, { method = 'GET', body, headers = {} } = {}) => {
    const res = await fetch(`${base}${path}`, {
      method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10000),
      headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers } });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`fake ${method} ${path}: HTTP ${res.status}: ${short(text)}`);
    return text ? JSON.parse(text) : null;
  };
  const api = {
    call,
    // A CRM user's edit through the CRM host (the fake records it like any Rollout request).
    async crm(team, method, path, body) {
      const { token } = await call('/_fake/jwt', { method: 'POST', body: { sub: team.tenant } });
      return call(`/crm/api${path}`, { method, body,
                                       headers: { Authorization: `Bearer ${token}`, 'X-Rollout-Credential-Id': team.credential } });
    },
    // Rollout's signed notification to each of the team's subscriptions to `event`: [{status, body}].
    deliver: (team, event, resourceIds, extra = {}) =>
      call('/_fake/deliver', { method: 'POST', body: { credentialId: team.credential, event, resourceIds, ...extra } }),
    requestsSince: seq => call(`/_fake/requests?since=${seq}`),
    lastSeq: async () => (await call('/_fake/state')).requestCount,
  };
  return api;
}

// ---- MCP: the official client 2.x, sessionless 2026-07-28 ---------------------------------------------------
// Any JSON-RPC result (a Standard Schema that accepts everything): the client has no Events API of its own.
const anyResult = { '~standard': { version: 1, vendor: 'rollout-mcp-e2e', validate: value => ({ value }) } };

export async function connectTeam(url, team) {
  const client = new Client({ name: `changes-e2e-${team.label}`, version: '1.0.0' },
                            { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${team.key}` } } }));
  await client.listTools();   // the client learns which arguments it mirrors into Mcp-Param-* headers
  team.client = client;
  return client;
}

// tools/call; returns structuredContent, throwing on isError (with the message).
export async function tool(team, name, args = {}) {
  const r = await team.client.callTool({ name, arguments: args }, undefined, { timeout: 15000 });
  const sc = r.structuredContent ?? {};
  if (r.isError) throw new Error(`${name} (${team.label}): isError: ${short(sc.message ?? r.content)}`);
  return sc;
}

export const events = (team, method, params) => team.client.request({ method, params }, anyResult, { timeout: 10000 });

// ---- the Events webhook receiver ----------------------------------------------------------------------
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

// Standard Webhooks: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>, key = the base64 after "whsec_";
// the header may list several space-separated signatures; the timestamp must be within 5 minutes.
export function verifySignature(secret, headers, body) {
  const id = headers['webhook-id'], ts = headers['webhook-timestamp'], sig = headers['webhook-signature'];
  if (!id || !ts || !sig) return 'missing webhook-id, webhook-timestamp or webhook-signature';
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return `timestamp ${ts} out of tolerance`;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const want = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  for (const part of sig.split(' ')) {
    const [version, b64] = part.split(',');
    const got = Buffer.from(b64 ?? '', 'base64');
    if (version === 'v1' && got.length === want.length && timingSafeEqual(got, want)) return '';
  }
  return 'no v1 signature matches';
}

// Listens on 127.0.0.1:port; `paths` maps a path to its whsec_ secret. Challenges are answered with their
// echo; events get 204. Everything is recorded per path: {challenges, events: [{id, body, at}], bad: [why]}.
export function startReceiver(port, paths) {
  const got = Object.fromEntries(Object.keys(paths).map(p => [p, { challenges: 0, events: [], bad: [] }]));
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const box = got[req.url];
      if (!box || req.method !== 'POST') { res.writeHead(404).end(); return; }
      const problem = verifySignature(paths[req.url], req.headers, body);
      let json = null;
      try { json = JSON.parse(body); } catch { /* recorded as bad below */ }
      if (problem || !json) {
        box.bad.push(problem || `not JSON: ${short(body)}`);
        res.writeHead(401).end();
        return;
      }
      if (json.type === 'verification') {
        box.challenges++;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ challenge: json.challenge }));
        return;
      }
      box.events.push({ id: req.headers['webhook-id'], subscription: req.headers['x-mcp-subscription-id'], body: json,
                        at: Date.now() });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ got, close: () => server.close() }));
  });
}

// ---- the launcher's kill/start handshake ----------------------------------------------------------------
// Writes `command` ("kill": SIGKILL the server; "start": start it again on the same data and port, healthy)
// into CONTROL_DIR/request and waits for CONTROL_DIR/done ("ok ..." or "fail ...").
export async function launcher(controlDir, command, ms = 25000) {
  const done = join(controlDir, 'done');
  rmSync(done, { force: true });
  writeFileSync(join(controlDir, 'request.tmp'), command);
  renameSync(join(controlDir, 'request.tmp'), join(controlDir, 'request'));
  await waitFor(() => existsSync(done), ms, `the launcher's answer to "${command}"`, 20);
  const answer = readFileSync(done, 'utf8').trim();
  if (!answer.startsWith('ok')) throw new Error(`launcher ${command}: ${answer}`);
  return answer.slice(2).trim();
}
