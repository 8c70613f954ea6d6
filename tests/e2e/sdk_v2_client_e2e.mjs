// The official MCP TypeScript client 2.x (@modelcontextprotocol/client, pinned in tests/package.json) against
// the real server over https (NODE_EXTRA_CA_CERTS trusts the test CA): initialize, tools/list, then
//  - with the fixture tools (with_server.sh --tls): a plain call, a call with progress over SSE, and a call
//    whose POST stream the server closes after priming, so the client must resume with GET + Last-Event-ID;
//  - with --sync (rollout_e2e.sh --inbound-tls, a team already set up against the fake Rollout): a
//    sync_tour_data to every connected CRM;
// then session termination.
//   node sdk_v2_client_e2e.mjs --url https://localhost:PORT/mcp [--bearer KEY --sync] [--timeout-ms 50000]
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { arg, check, deadline, expect, finish, flag } from './tap_checks.mjs';

const url = new URL(arg('--url', ''));
const timeoutMs = Number(arg('--timeout-ms', '50000'));
const bearer = arg('--bearer', '');
const syncMode = flag('--sync');
deadline(timeoutMs);

const client = new Client({ name: 'rollout-mcp-e2e-v2', version: '1.0.0' });
// Every request the client sends, to see the resumption GET on the wire.
const wire = [];
const recordingFetch = async (input, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  wire.push({ method: init.method ?? 'GET', lastEventId: headers.get('last-event-id') });
  return fetch(input, init);
};
const transport = new StreamableHTTPClientTransport(url, {
  fetch: recordingFetch,
  requestInit: bearer ? { headers: { Authorization: `Bearer ${bearer}` } } : undefined,
});
await check(`client 2.x connects to ${url.protocol}//${url.host}${url.pathname}`, async () => {
  await client.connect(transport);
  expect(transport.sessionId, 'no session id');
  return `session ${transport.sessionId}, protocol ${transport.protocolVersion ?? '(default)'}`;
});
await check('tools/list names the tools', async () => {
  const { tools } = await client.listTools();
  const names = tools.map(t => t.name);
  const want = syncMode ? ['sync_tour_data', 'get_sync_status'] : ['test_simple_text', 'test_tool_with_progress'];
  expect(want.every(n => names.includes(n)), names.join(', '));
  return `${names.length} tools`;
});
if (syncMode) {
  await check('tools/call sync_tour_data (client 2.x) -> success in every connected CRM', async () => {
    const tourId = `v2-tour-${Date.now()}`;
    const r = await client.callTool({ name: 'sync_tour_data', arguments: {
      tourData: { tourId, agentId: 'agent-v2', buyerId: `buyer-${tourId}`,
                  buyer: { name: 'Vera Two', email: `vera.${tourId}@example.com` }, timeZone: 'America/Chicago',
                  properties: [{ propertyId: 'p-v2', address: '2 Second St, Austin, TX 78701',
                                 visitTime: '2026-12-02T10:00:00-06:00', durationMinutes: 30 }] },
      crmType: 'all' } });
    const sc = r.structuredContent ?? {};
    expect(!r.isError && sc.status === 'success', JSON.stringify(r).slice(0, 400));
    return `${tourId}: ${(sc.results ?? []).map(x => `${x.crmType}=${x.status}`).join(', ')}`;
  });
} else {
await check('tools/call test_simple_text answers its text', async () => {
  const r = await client.callTool({ name: 'test_simple_text', arguments: {} });
  expect(!r.isError && r.content?.[0]?.type === 'text', JSON.stringify(r));
  return r.content[0].text.slice(0, 60);
});
await check('tools/call test_tool_with_progress delivers progress notifications over SSE', async () => {
  const seen = [];
  const r = await client.callTool({ name: 'test_tool_with_progress', arguments: {} },
                                  { onprogress: p => seen.push(p.progress) });
  expect(!r.isError, JSON.stringify(r));
  expect(seen.length >= 1, `progress seen: ${JSON.stringify(seen)}`);
  return `progress ${seen.join(',')}`;
});
await check('tools/call test_reconnection: the result arrives after the client resumes with GET + Last-Event-ID', async () => {
  const before = wire.length;
  const r = await client.callTool({ name: 'test_reconnection', arguments: {} });
  expect(!r.isError, JSON.stringify(r));
  const resumes = wire.slice(before).filter(w => w.method === 'GET' && w.lastEventId);
  expect(resumes.length >= 1, `no GET with Last-Event-ID among ${JSON.stringify(wire.slice(before))}`);
  return `resumed after ${resumes[0].lastEventId}`;
});
}
await check('DELETE ends the session', async () => {
  await transport.terminateSession();
  await client.close();
});
finish();
