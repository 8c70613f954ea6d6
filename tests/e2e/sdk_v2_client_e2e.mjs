// The official MCP TypeScript client 2.x (@modelcontextprotocol/client, pinned in tests/package.json) against
// the real server: initialize, tools/list, a plain tool call, a call with progress notifications, then
// session termination. Run by with_server.sh (plain and --tls: https with NODE_EXTRA_CA_CERTS).
//   node sdk_v2_client_e2e.mjs --url https://localhost:PORT/mcp [--timeout-ms 50000]
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const url = new URL(arg('--url', ''));
const timeoutMs = Number(arg('--timeout-ms', '50000'));
setTimeout(() => { console.error(`FAIL: timed out after ${timeoutMs} ms`); process.exit(1); }, timeoutMs).unref();

let failures = 0;
async function check(name, fn) {
  try {
    const detail = await fn();
    console.log(`ok - ${name}${detail ? ` (${detail})` : ''}`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${name}: ${e?.stack ?? e}`);
  }
}
const expect = (cond, what) => { if (!cond) throw new Error(what); };

const client = new Client({ name: 'rollout-mcp-e2e-v2', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(url);
await check(`client 2.x connects to ${url.protocol}//${url.host}${url.pathname}`, async () => {
  await client.connect(transport);
  expect(transport.sessionId, 'no session id');
  return `session ${transport.sessionId}, protocol ${transport.protocolVersion ?? '(default)'}`;
});
await check('tools/list names the fixture tools', async () => {
  const { tools } = await client.listTools();
  const names = tools.map(t => t.name);
  expect(names.includes('test_simple_text') && names.includes('test_tool_with_progress'), names.join(', '));
  return `${names.length} tools`;
});
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
await check('DELETE ends the session', async () => {
  await transport.terminateSession();
  await client.close();
});
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
