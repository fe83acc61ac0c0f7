// The official MCP TypeScript SDK client (what the Inspector and desktop/IDE agents build on) against a live
// Ballast: discovery, client credentials, authorization code + PKCE with the consent page posted by script,
// tools/list, a read, a write, a write that waits for approval, tool errors, an unknown tool.
// Every result is checked against the SDK's own zod schema (CallToolResultSchema), and the client itself
// checks structuredContent against each tool's output schema: a mismatch would throw -32602.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { discoverOAuthServerInfo, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { CallToolResultSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

const ORIGIN = process.env.BALLAST_ORIGIN;
const MCP = new URL(`${ORIGIN}/mcp`);
const REDIRECT = 'http://127.0.0.1:9/callback';
const transcript = [];

function note(step, value) {
  transcript.push({ step, value });
}

async function connect(authProvider) {
  const client = new Client({ name: 'ballast-ts-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(MCP, { authProvider }));
  return client;
}

function textOf(result) {
  CallToolResultSchema.parse(result);
  assert.equal(result.content[0].type, 'text');
  return result.content[0].text;
}

test('discovery: protected resource and authorization server metadata as the SDK reads them', async () => {
  const info = await discoverOAuthServerInfo(MCP);
  const server = info.authorizationServerMetadata;
  assert.equal(server.authorization_endpoint, `${ORIGIN}/oauth/authorize`);
  assert.equal(server.token_endpoint, `${ORIGIN}/oauth/token`);
  assert.equal(server.registration_endpoint, `${ORIGIN}/oauth/register`);
  assert.deepEqual(server.code_challenge_methods_supported, ['S256']);
  assert.ok(server.grant_types_supported.includes('client_credentials'));
  note('discovery', { resource: info.resourceMetadata?.resource, authorizationServer: server.issuer });
});

test('client credentials: list, read, write, approval, errors, all accepted by the client', async () => {
  const auth = new ClientCredentialsProvider({
    clientId: process.env.AGENT_ID, clientSecret: process.env.AGENT_SECRET, expectedIssuer: ORIGIN,
  });
  const client = await connect(auth);
  const { tools } = await client.listTools();
  const ajv = new AjvJsonSchemaValidator();
  for (const tool of tools) {
    assert.ok(tool.outputSchema, tool.name);
    ajv.getValidator(tool.outputSchema); // compiles: a schema Ajv cannot read would throw here
  }
  note('tools/list', tools.map((tool) => ({ name: tool.name, annotations: tool.annotations })));
  const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
  assert.equal(byName.update_object.annotations.destructiveHint, true);
  assert.equal(byName.bulk_update.annotations.destructiveHint, true);
  assert.equal(byName.get_object.annotations.readOnlyHint, true);

  const order = process.env.ORDER_ID;
  const read = await client.callTool({ name: 'get_object', arguments: { className: 'Order', objectId: order } });
  CallToolResultSchema.parse(read);
  assert.equal(read.structuredContent.result.object.status, 'new');
  note('read get_object', read);
  const wrote = await client.callTool({
    name: 'update_object', arguments: { className: 'Order', objectId: order, fields: { status: 'paid' } } });
  assert.ok(!wrote.isError);
  assert.equal(wrote.structuredContent.runId, read.structuredContent.runId); // one MCP session, one run
  note('write update_object', wrote.structuredContent);

  const pending = await client.callTool({ name: 'delete_object', arguments: { className: 'Order', objectId: order } });
  assert.equal(pending.structuredContent.status, 'pending');
  assert.match(textOf(pending), /approval_status/);
  const approvalId = pending.structuredContent.approval.id;
  const polled = await client.callTool({ name: 'approval_status', arguments: { approvalId } });
  assert.equal(polled.structuredContent.result.status, 'pending');
  note('write waiting for approval', { pending: pending.structuredContent, polled: polled.structuredContent });

  const errors = {
    notFound: await client.callTool({ name: 'get_object', arguments: { className: 'Order', objectId: 'nope' } }),
    badInput: await client.callTool({ name: 'get_object', arguments: { className: 'Order' } }),
    notGranted: await client.callTool({ name: 'create_object', arguments: { className: 'Invoice', fields: {} } }),
  };
  for (const [kind, result] of Object.entries(errors)) {
    assert.equal(result.isError, true, kind);
    assert.equal(result.structuredContent, undefined, kind);
    note(`tool error (${kind})`, textOf(result));
  }
  assert.match(textOf(errors.notFound), /not found.*rule tool\.error/i);
  assert.match(textOf(errors.badInput), /objectId.*rule input\.invalid/);
  assert.match(textOf(errors.notGranted), /rule grant\.missing.*ask an admin/);
  await assert.rejects(client.callTool({ name: 'drop_database', arguments: {} }), (error) => {
    assert.ok(error instanceof McpError);
    assert.equal(error.code, ErrorCode.InvalidParams);
    note('unknown tool (JSON-RPC error)', { code: error.code, message: error.message });
    return true;
  });
  await client.close();
});

class ScriptedBrowserProvider {
  // an interactive client's OAuthClientProvider, with a person (this script) filling in the consent page
  constructor() {
    this.info = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.code = undefined;
  }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return { redirect_uris: [REDIRECT], client_name: 'TS desk client', token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'tools:read tools:write' };
  }
  clientInformation() { return this.info; }
  saveClientInformation(info) { this.info = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }
  async redirectToAuthorization(url) {
    const sent = await fetch(url, { redirect: 'manual' });
    assert.equal(sent.status, 302);
    const consentUrl = sent.headers.get('location');
    const page = await (await fetch(consentUrl)).text();
    const signed = page.match(/name="request" value="([^"]+)"/)[1];
    const form = new URLSearchParams({ request: signed, as: 'admin', username: process.env.ADMIN_NAME,
      password: process.env.ADMIN_PASSWORD, agent: 'ts-desk-agent',
      grants: 'read:*,write:*', 'scope:tools:read': '1', 'scope:tools:write': '1', decision: 'allow' });
    const decided = await fetch(consentUrl.split('?')[0], { method: 'POST', body: form, redirect: 'manual' });
    assert.equal(decided.status, 302);
    this.code = new URL(decided.headers.get('location')).searchParams.get('code');
  }
}

test('authorization code + PKCE: registration, consent page, then tools', async () => {
  const provider = new ScriptedBrowserProvider();
  const first = new Client({ name: 'ballast-ts-desk', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(MCP, { authProvider: provider });
  await assert.rejects(first.connect(transport), UnauthorizedError); // the SDK sent the person to the browser
  assert.ok(provider.code);
  await transport.finishAuth(provider.code);
  assert.ok(provider.saved.access_token && provider.saved.refresh_token);
  const client = await connect(provider);
  const names = (await client.listTools()).tools.map((tool) => tool.name);
  assert.ok(names.includes('update_object') && names.includes('get_object'));
  const read = await client.callTool({ name: 'get_object', arguments: { className: 'Order', objectId: process.env.ORDER_ID } });
  CallToolResultSchema.parse(read);
  assert.ok(!read.isError);
  note('auth code + PKCE: tools/list', names);
  await client.close();
});

test.after(() => {
  if (process.env.TRANSCRIPT) writeFileSync(process.env.TRANSCRIPT, JSON.stringify(transcript, null, 2));
});
