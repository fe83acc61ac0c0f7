// The requests Parse Dashboard's Jobs, Logs and Webhooks pages send (parse-dashboard's ParseApp,
// JobsStore and WebhookStore: Parse._request with the master key), and webhooks the SDK reaches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Parse from './setup.mjs';

const master = { useMasterKey: true };
const request = (method, path, body = {}) => Parse._request(method, path, body, master);

async function webhookServer(answer) {
  const calls = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', chunk => { raw += chunk; });
    req.on('end', () => {
      calls.push({ path: req.url, key: req.headers['x-parse-webhook-key'], body: JSON.parse(raw) });
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(answer(JSON.parse(raw))));
    });
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  return { server, calls, url: `http://127.0.0.1:${server.address().port}` };
}

test('serverInfo declares the features that show the Jobs, Logs and Webhooks pages', async () => {
  const { features } = await request('GET', 'serverInfo');
  assert.deepEqual(features.cloudCode, { jobs: true });
  assert.deepEqual(features.hooks, { create: true, read: true, update: true, delete: true });
  assert.deepEqual(features.logs, { level: true, size: true, order: true, until: true, from: true });
});

test('Logs page: scriptlog?level=info&n=100 and level=error list what cloud code logged', async () => {
  await Parse.Cloud.run('chatty', { word: 'dashboard' });
  await assert.rejects(Parse.Cloud.run('chatty', { fail: true }), err => err.code === Parse.Error.SCRIPT_FAILED);
  const info = await request('GET', 'scriptlog?level=info&n=100');
  assert.ok(info.some(e => e.message === 'chatty says dashboard' && e.level === 'info'));
  assert.ok(info.every(e => typeof e.timestamp === 'string' && 'message' in e));
  const errors = await request('GET', 'scriptlog?level=error&n=100');
  assert.ok(errors.length > 0 && errors.every(e => e.level === 'error'));
  await assert.rejects(Parse._request('GET', 'scriptlog?level=info&n=100', {}, {}), /master key/);
});

test('Jobs page: jobs data, schedules, run now and its status', async () => {
  const data = await request('GET', 'cloud_code/jobs/data');
  assert.ok(Array.isArray(data.jobs) && Array.isArray(data.in_use));
  assert.ok(Array.isArray(await request('GET', 'cloud_code/jobs')));
  const jobStatusId = await Parse.Cloud.startJob('ballast.pruneJobRuns', { days: 30 });
  const status = await new Parse.Query('_JobStatus').get(jobStatusId, master);
  assert.equal(status.get('jobName'), 'ballast.pruneJobRuns');
});

test('Webhooks page: list, create, edit and delete function and trigger hooks', async () => {
  assert.deepEqual(await request('GET', 'hooks/functions'), []);
  assert.deepEqual(await request('GET', 'hooks/triggers'), []);
  const fn = { functionName: 'dashHook', url: 'http://127.0.0.1:9/fn' };
  assert.deepEqual(await request('POST', 'hooks/functions', fn), fn);
  const trigger = { className: 'DashHooked', triggerName: 'beforeSave', url: 'http://127.0.0.1:9/bs' };
  assert.deepEqual(await request('POST', 'hooks/triggers', trigger), trigger);
  await assert.rejects(request('POST', 'hooks/functions', fn), err => err.code === 143);
  const moved = await request('PUT', 'hooks/functions/dashHook', { url: 'http://127.0.0.1:9/moved' });
  assert.equal(moved.url, 'http://127.0.0.1:9/moved');
  assert.deepEqual(await request('GET', 'hooks/triggers'), [trigger]);
  await request('PUT', 'hooks/functions/dashHook', { __op: 'Delete' });
  await request('PUT', 'hooks/triggers/DashHooked/beforeSave', { __op: 'Delete' });
  assert.deepEqual(await request('GET', 'hooks/functions'), []);
  assert.deepEqual(await request('GET', 'hooks/triggers'), []);
});

test('a function webhook answers Parse.Cloud.run, and a beforeSave webhook shapes the saved object', async () => {
  const hook = await webhookServer(body => (body.triggerName === 'beforeSave'
    ? { success: { ...body.object, shout: String(body.object.word).toUpperCase() } }
    : { success: { echoed: body.params.word } }));
  try {
    await request('POST', 'hooks/functions', { functionName: 'echoRemote', url: `${hook.url}/fn` });
    await request('POST', 'hooks/triggers', { className: 'Shouted', triggerName: 'beforeSave', url: `${hook.url}/bs` });
    assert.deepEqual(await Parse.Cloud.run('echoRemote', { word: 'hey' }), { echoed: 'hey' });
    const saved = await new Parse.Object('Shouted').save({ word: 'quiet' });
    const fetched = await new Parse.Query('Shouted').get(saved.id);
    assert.equal(fetched.get('shout'), 'QUIET');
    assert.deepEqual(hook.calls.map(c => c.path), ['/fn', '/bs']);
    assert.equal(hook.calls[1].body.object.className, 'Shouted');
  } finally {
    await request('PUT', 'hooks/functions/echoRemote', { __op: 'Delete' });
    await request('PUT', 'hooks/triggers/Shouted/beforeSave', { __op: 'Delete' });
    hook.server.close();
  }
});
