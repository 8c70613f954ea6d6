// The official MCP TypeScript client 2.x (@modelcontextprotocol/client, pinned in tests/package-lock.json) in
// its three version-negotiation modes against one rollout-mcp endpoint (issue 18 "Proof"):
//  - 'legacy': the 2025 initialize handshake and a session;
//  - 'auto': server/discover first, then the sessionless 2026-07-28 era;
//  - { pin: '2026-07-28' }: the 2026-07-28 era only.
// In each: tools/list, then a call (get_sync_status of an unknown tour: an answer, not a protocol error). In
// 'auto' and pinned mode: sync_tour_data in line with crmType (the client mirrors it as Mcp-Param-CrmType, which
// the server checks); then, with the Tasks extension declared: sync_tour_data answered as a task (stored before the
// answer: tasks/get right away finds it), polled with tasks/get to `completed`, whose result is exactly a sync
// result (status success in every connected CRM); another team's key gets "no such task" for the same id.
//   node sdk_v2_eras_e2e.mjs --url URL --bearer KEY_A --other-bearer KEY_B [--timeout-ms 50000]
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { arg, check, deadline, expect, finish, flag } from './tap_checks.mjs';

const url = new URL(arg('--url', ''));
const timeoutMs = Number(arg('--timeout-ms', '50000'));
const bearer = arg('--bearer', '');
const otherBearer = arg('--other-bearer', '');
deadline(timeoutMs);

// Any JSON-RPC result (a Standard Schema that accepts everything), for tasks/get.
const anyResult = { '~standard': { version: 1, vendor: 'rollout-mcp-e2e', validate: value => ({ value }) } };
const TASKS = 'io.modelcontextprotocol/tasks';
// Client 2.4.0 has no Tasks API, and its result funnel refuses resultType "task" even from request(); so the
// task-creating call goes out on the client's own transport (its headers, its connection) with the 2026 _meta,
// and its answer is taken off the transport before the client sees it.
let rawIds = 0;
async function rawRequest(c, method, params) {
  const id = `raw-${++rawIds}`;
  const previous = c.transport.onmessage;
  const answer = new Promise((resolve, reject) => {
    c.transport.onmessage = (message, extra) => {
      if (message?.id !== id) return previous?.(message, extra);
      c.transport.onmessage = previous;
      if (message.error) reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
      else resolve(message.result);
    };
  });
  await c.transport.send({ jsonrpc: '2.0', id, method, params: { ...params, _meta: {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'rollout-mcp-e2e', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS]: {} } } } } });
  return answer;
}

async function connect(mode, key, tasks = true) {
  const client = new Client({ name: `rollout-mcp-e2e-${typeof mode === 'string' ? mode : 'pin'}`, version: '1.0.0' },
                            { capabilities: tasks ? { extensions: { [TASKS]: {} } } : {}, versionNegotiation: { mode } });
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

const tourData = tourId => ({
  tourId, agentId: 'agent-eras', buyerId: `buyer-${tourId}`,
  buyer: { name: 'Era Buyer', email: `era.${tourId}@example.com` }, timeZone: 'America/Chicago',
  properties: [{ propertyId: 'p-era', address: '3 Third St, Austin, TX 78701',
                 visitTime: '2026-12-03T10:00:00-06:00', durationMinutes: 30 }] });

for (const [label, mode, era] of [['legacy', 'legacy', 'legacy'], ['auto', 'auto', 'modern'],
                                  ['pinned 2026-07-28', { pin: '2026-07-28' }, 'modern']]) {
  let c;
  await check(`${label}: connects in the ${era} era`, async () => {
    c = await connect(mode, bearer);
    expect(c.client.getProtocolEra() === era, `era ${c.client.getProtocolEra()}`);
    if (era === 'legacy') expect(c.transport.sessionId, 'a legacy connection has a session');
    else expect(!c.transport.sessionId, `a 2026-07-28 connection has no session (got ${c.transport.sessionId})`);
    return era === 'legacy' ? `session ${c.transport.sessionId}` : `discover: ${JSON.stringify(c.client.getDiscoverResult()?.supportedVersions)}`;
  });
  if (!c) continue;
  await check(`${label}: tools/list names the product tools`, async () => {
    const { tools } = await c.client.listTools();
    const names = tools.map(t => t.name);
    expect(['sync_tour_data', 'sync_feedback_data', 'get_sync_status', 'retry_sync'].every(n => names.includes(n)),
           names.join(', '));
    return `${names.length} tools`;
  });
  await check(`${label}: tools/call get_sync_status answers`, async () => {
    const r = await c.client.callTool({ name: 'get_sync_status', arguments: { tourId: `no-such-tour-${Date.now()}` } });
    expect(r.isError && /no sync jobs/.test(r.content?.[0]?.text ?? ''), JSON.stringify(r).slice(0, 300));
    return 'isError: no sync jobs';
  });
  if (era !== 'modern') { await c.client.close(); continue; }
  await check(`${label}: sync_tour_data in line (no Tasks extension), crmType mirrored in Mcp-Param-CrmType`, async () => {
    const plain = await connect(mode, bearer, false);
    await plain.client.listTools();   // the client learns which arguments it mirrors into Mcp-Param-* headers
    const tourId = `era-inline-${label.replace(/\W/g, '')}-${Date.now()}`;
    const r = await plain.client.callTool({ name: 'sync_tour_data', arguments: { tourData: tourData(tourId), crmType: 'all' } });
    await plain.client.close();
    const sc = r.structuredContent ?? {};
    expect(!r.isError && sc.status === 'success', JSON.stringify(r).slice(0, 400));
    return `${tourId}: ${(sc.results ?? []).map(x => `${x.crmType}=${x.status}`).join(', ')}`;
  });
  await check(`${label}: sync_tour_data as a task, polled with tasks/get to completed`, async () => {
    const tourId = `era-${label.replace(/\W/g, '')}-${Date.now()}`;
    // crmType left to its default ("all"): this raw call carries no Mcp-Param-CrmType header.
    const created = await rawRequest(c, 'tools/call', { name: 'sync_tour_data', arguments: { tourData: tourData(tourId) } });
    expect(created.resultType === 'task' && /^st_[0-9a-f]{32}$/.test(created.taskId ?? ''),
           `not a task: ${JSON.stringify(created).slice(0, 300)}`);
    expect(!('result' in created) && !('requestState' in created), 'a task handle carries no result');
    let task = await c.client.request({ method: 'tasks/get', params: { taskId: created.taskId } }, anyResult);
    expect(task.taskId === created.taskId, 'tasks/get right after the answer finds the task');
    const seen = new Set([task.status]);
    for (let i = 0; i < 100 && task.status === 'working'; i++) {
      await new Promise(r => setTimeout(r, 200));
      task = await c.client.request({ method: 'tasks/get', params: { taskId: created.taskId } }, anyResult);
      seen.add(task.status);
    }
    expect(task.status === 'completed', `status ${task.status}: ${JSON.stringify(task).slice(0, 400)}`);
    const sc = task.result?.structuredContent ?? {};
    expect(task.result?.resultType === 'complete' && !task.result.isError && sc.status === 'success',
           JSON.stringify(task.result).slice(0, 400));
    if (otherBearer) {   // possession is not authorization: another team's key learns nothing
      const other = await connect(mode, otherBearer);
      let refused = '';
      try {
        await other.client.request({ method: 'tasks/get', params: { taskId: created.taskId } }, anyResult);
      } catch (e) {
        refused = `${e.code}`;
      }
      await other.client.close();
      expect(refused === '-32602', `team B's tasks/get of team A's task: ${refused || 'answered'}`);
    }
    return `${created.taskId}: ${[...seen].join(' -> ')}; ${(sc.results ?? []).map(x => `${x.crmType}=${x.status}`).join(', ')}`;
  });
  await c.client.close();
}

finish();
